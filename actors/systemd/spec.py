"""A service unit as the emulated systemd runs it: the [Unit]/[Service] options read into values.

``service_spec(name, text)`` parses the unit text with :mod:`actors.unitfile` (the one parser of
the house) and checks the values systemd would refuse (``Restart=sometimes``, ``RestartSec=x``),
raising :class:`UnitFileError` with the offending line. Exec lines keep their text: they are
split and ``$VAR``-expanded only when they run (:mod:`.cmdline`), as systemd does.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from actors.unitfile import UnitFile, UnitFileError, parse_unit
from actors.unitname import UnitNameError, expand_specifiers

RESTART_POLICIES = ("no", "always", "on-success", "on-failure", "on-abnormal", "on-abort")
# Types run like simple: the emulator has no sd_notify/D-Bus, the main process counts as started
_SIMPLE_TYPES = ("simple", "exec", "notify", "dbus", "idle", "forking")
_TYPES = (*_SIMPLE_TYPES, "oneshot")
_TRUE = ("1", "yes", "true", "on")
_FALSE = ("0", "no", "false", "off")
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_UNITS.update({"hr": 3600.0, "d": 86400.0, "msec": 1e-3, "usec": 1e-6})


@dataclass(frozen=True)
class Command:
    """One Exec line: its text as written (less the prefixes) and what its prefixes ask."""

    text: str
    ignore_failure: bool = False  # "-" prefix: a failing exit counts as success


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    description: str = ""
    type: str = "simple"
    remain_after_exit: bool = False
    start_pre: tuple[Command, ...] = ()
    start: tuple[Command, ...] = ()
    start_post: tuple[Command, ...] = ()
    stop: tuple[Command, ...] = ()
    stop_post: tuple[Command, ...] = ()
    restart: str = "no"
    restart_sec: float = 0.1
    timeout_start: float | None = 90.0  # None: no limit (TimeoutStartSec=0 or infinity)
    timeout_stop: float | None = 90.0
    environment: tuple[tuple[str, str], ...] = ()
    environment_files: tuple[tuple[str, bool], ...] = ()  # (path, optional: "-" prefix)
    working_directory: str | None = None
    success_exit_status: frozenset[int] = frozenset({0})
    after: tuple[str, ...] = ()
    before: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    wants: tuple[str, ...] = ()
    start_limit_burst: int = 5
    start_limit_interval: float = 10.0
    options: UnitFile = field(default_factory=lambda: UnitFile(()))

    @property
    def label(self) -> str:
        """What systemd's "Starting …" lines name: the Description, else the unit name."""
        return self.description or self.name


def service_spec(name: str, text: str) -> ServiceSpec:
    """Read a unit file's text into a :class:`ServiceSpec`; UnitFileError names the bad line."""
    unit = parse_unit(text, source=name)
    reader = _Reader(name, text, unit)
    return reader.spec()


class _Reader:
    def __init__(self, name: str, text: str, unit: UnitFile):
        self.name, self.text, self.unit = name, text, unit

    def fail(self, section: str, key: str, value: str, why: str) -> UnitFileError:
        return UnitFileError(
            f"[{section}] {key}={value}: {why}", _line_of(self.text, key), self.name
        )

    def last(self, section: str, key: str) -> str | None:
        value = self.unit.last(section, key)
        return None if value is None else self.expand(value)

    def expand(self, value: str) -> str:
        try:
            return expand_specifiers(value, self.name)
        except UnitNameError:
            return value  # a name without a type suffix: no specifiers to offer

    def words(self, section: str, key: str) -> tuple[str, ...]:
        out: list[str] = []
        for value in self.unit.get(section, key):
            out.extend(self.expand(value).split())
        return tuple(out)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.last("Service", key)
        if value is None or value == "":
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise self.fail("Service", key, value, "expected a boolean (yes/no)")

    def seconds(self, key: str, default: float | None, zero_is_infinite: bool) -> float | None:
        value = self.last("Service", key)
        if value is None or value == "":
            return default
        try:
            secs = parse_timespan(value)
        except ValueError as exc:
            raise self.fail("Service", key, value, str(exc)) from None
        if secs is None or (zero_is_infinite and secs == 0):
            return None
        return secs

    def commands(self, key: str) -> tuple[Command, ...]:
        out = []
        for raw in self.unit.get("Service", key):
            if raw == "":
                out.clear()  # an empty assignment resets the list, as in drop-ins
                continue
            text, ignore = self.expand(raw), False
            while text[:1] in ("-", "@", "+", "!", ":"):
                ignore = ignore or text[0] == "-"
                text = text[1:]
            if not text.strip():
                raise self.fail("Service", key, raw, "no command to run")
            out.append(Command(text, ignore))
        return tuple(out)

    def environment(self) -> tuple[tuple[str, str], ...]:
        pairs: dict[str, str] = {}
        for raw in self.unit.get("Service", "Environment"):
            try:
                items = shlex.split(self.expand(raw))
            except ValueError as exc:
                raise self.fail("Service", "Environment", raw, str(exc)) from None
            for item in items:
                key, sep, value = item.partition("=")
                if not sep or not key:
                    raise self.fail("Service", "Environment", raw, f"{item!r} is not KEY=VALUE")
                pairs[key] = value
        return tuple(pairs.items())

    def spec(self) -> ServiceSpec:
        kind = self.last("Service", "Type") or "simple"
        if kind not in _TYPES:
            raise self.fail("Service", "Type", kind, f"expected one of {', '.join(_TYPES)}")
        restart = self.last("Service", "Restart") or "no"
        if restart not in RESTART_POLICIES:
            raise self.fail(
                "Service", "Restart", restart, f"expected one of {', '.join(RESTART_POLICIES)}"
            )
        start = self.commands("ExecStart")
        if kind != "oneshot" and len(start) > 1:
            raise self.fail(
                "Service", "ExecStart", start[1].text, "more than one ExecStart= needs Type=oneshot"
            )
        success = {0}
        for word in self.words("Service", "SuccessExitStatus"):
            if word.isdigit():
                success.add(int(word))
        burst = self.last("Unit", "StartLimitBurst") or self.last("Service", "StartLimitBurst")
        return ServiceSpec(
            name=self.name,
            description=self.last("Unit", "Description") or "",
            type="simple" if kind in _SIMPLE_TYPES else kind,
            remain_after_exit=self.boolean("RemainAfterExit", False),
            start_pre=self.commands("ExecStartPre"),
            start=start,
            start_post=self.commands("ExecStartPost"),
            stop=self.commands("ExecStop"),
            stop_post=self.commands("ExecStopPost"),
            restart=restart,
            restart_sec=self.seconds("RestartSec", 0.1, zero_is_infinite=False) or 0.0,
            timeout_start=self.seconds("TimeoutStartSec", 90.0, zero_is_infinite=True),
            timeout_stop=self.seconds("TimeoutStopSec", 90.0, zero_is_infinite=True),
            environment=self.environment(),
            environment_files=tuple(
                (v[1:], True) if v.startswith("-") else (v, False)
                for v in (self.expand(x) for x in self.unit.get("Service", "EnvironmentFile"))
            ),
            working_directory=self.last("Service", "WorkingDirectory"),
            success_exit_status=frozenset(success),
            after=self.words("Unit", "After"),
            before=self.words("Unit", "Before"),
            requires=self.words("Unit", "Requires") + self.words("Unit", "BindsTo"),
            wants=self.words("Unit", "Wants"),
            start_limit_burst=int(burst) if burst and burst.isdigit() else 5,
            options=self.unit,
        )


def parse_timespan(text: str) -> float | None:
    """systemd's time span: ``90``, ``5s``, ``1min 30s``, ``500ms``, ``infinity`` (None)."""
    text = text.strip()
    if text == "infinity":
        return None
    total, number, unit = 0.0, "", ""
    parts: list[tuple[str, str]] = []
    for ch in text + " ":
        if ch.isdigit() or ch == ".":
            if unit:
                parts.append((number, unit))
                number, unit = "", ""
            number += ch
        elif ch.isalpha():
            unit += ch
        elif ch == " ":
            if number and unit:
                parts.append((number, unit))
                number, unit = "", ""
        else:
            raise ValueError(f"not a time span: {text!r}")
    if number:
        parts.append((number, unit or "s"))
    if not parts:
        raise ValueError(f"not a time span: {text!r}")
    for num, u in parts:
        if u not in _UNITS:
            raise ValueError(f"unknown time unit {u!r} in {text!r}")
        try:
            total += float(num) * _UNITS[u]
        except ValueError:
            raise ValueError(f"not a time span: {text!r}") from None
    return total


def _line_of(text: str, key: str) -> int:
    """The last line assigning ``key`` (the one whose value counts), for error messages."""
    found = 1
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.lstrip()
        if stripped.startswith(key) and stripped[len(key) :].lstrip().startswith("="):
            found = number
    return found
