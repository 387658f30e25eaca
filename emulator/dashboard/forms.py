"""The page's fault forms → the fault mapping ``run.py fault`` sends (one vocabulary).

A form is the JSON the page posts, e.g.::

    {"kind": "kill", "targets": ["core-01"]}
    {"kind": "partition", "sides": [["core-01"], ["core-02", "core-03"]], "one_way": false}
    {"kind": "partition", "mode": "majorities-ring"}
    {"kind": "drop", "value": "30", "nodes": "core-01", "for": "20s"}
    {"kind": "delay", "value": "200", "jitter": "50", "for": "10s"}
    {"kind": "clear"}

It is turned into the arguments a user would type after ``run.py fault``, parsed by the CLI's
own parser and ``fault_mapping``, then checked with ``parse_fault``: the dashboard can say
neither more nor less than ``run.py fault`` does.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Collection, Mapping
from typing import Any

from emulator.faults import (
    PARTITION_MODES,
    PROCESS_KINDS,
    FaultError,
    FaultKind,
    parse_duration,
    parse_fault,
)

PROCESS = tuple(k.value for k in PROCESS_KINDS)
PROBABILITY = tuple(k.value for k in (FaultKind.DROP, FaultKind.DUPLICATE, FaultKind.REORDER))


class FormError(ValueError):
    """The form does not describe a fault; the message says what to fix."""


def _names(value: Any, what: str) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise FormError(f"{what}: expected node names")
    names = [v.strip() for v in value if v.strip()]
    if not names:
        raise FormError(f"{what}: choose at least one node")
    return names


def _words(form: Mapping[str, Any]) -> list[str]:
    kind = form.get("kind")
    if kind in PROCESS:
        return [kind, ",".join(_names(form.get("targets"), kind))]
    if kind == "partition" and form.get("mode") in PARTITION_MODES[1:]:
        return [kind, form["mode"]]  # generated sides: random-halves, bridge, majorities-ring
    if kind == "partition":
        sides = form.get("sides")
        if not isinstance(sides, (list, tuple)) or len(sides) < 2:
            raise FormError("partition: put nodes on at least two sides")
        return [
            kind,
            *(",".join(_names(s, f"partition side {i + 1}")) for i, s in enumerate(sides)),
        ]
    if kind in PROBABILITY:
        return [kind, f"{str(form.get('value', '')).strip().rstrip('%')}%"]
    if kind == "delay":
        return [kind, f"{str(form.get('value', '')).strip().removesuffix('ms')}ms"]
    if kind == "clear":
        return [kind]
    raise FormError(
        f"unknown fault kind {kind!r} (one of: {', '.join(k.value for k in FaultKind)})"
    )


def _optional_names(form: Mapping[str, Any], key: str) -> str | None:
    value = form.get(key)
    if value in (None, "", []):
        return None
    return ",".join(_names(value, key))


@functools.lru_cache(maxsize=1)
def _cli_parser() -> argparse.ArgumentParser:
    from emulator.cli import build_parser

    return build_parser()


def cli_args(form: Mapping[str, Any]) -> list[str]:
    """The arguments of ``run.py fault`` that say what the form says (without ``--for``)."""
    if not isinstance(form, Mapping):
        raise FormError("expected a JSON object describing a fault")
    argv = ["fault", *_words(form)]
    kind = argv[1]
    if kind == "partition" and form.get("one_way"):
        argv.append("--one-way")
    if kind in (*PROBABILITY, "delay"):
        for key in ("nodes", "to"):
            names = _optional_names(form, key)
            if names:
                argv += [f"--{key}", names]
    jitter = str(form.get("jitter") or "").strip().removesuffix("ms")
    if kind == "delay" and jitter:
        argv += ["--jitter", f"{jitter}ms"]
    for word in argv:
        if word.startswith("-") and not word.startswith("--"):
            raise FormError(f"{word!r}: no value may start with '-'")
    return argv


def fault_request(
    form: Mapping[str, Any], node_names: Collection[str]
) -> tuple[dict[str, Any], float | None]:
    """The fault mapping and duration (seconds or None) a form asks for; FormError if wrong."""
    from emulator.cli import fault_mapping  # the CLI's own words → mapping

    argv = cli_args(form)
    try:
        # parsed by run.py's own parser, so every option the CLI grows has its default here
        args = _cli_parser().parse_args(argv)
        mapping = fault_mapping(list(args.words), args)
    except SystemExit as exc:  # the CLI reports a bad fault by exiting with its message
        raise FormError(str(exc.code).removeprefix("error: ")) from None
    try:
        parse_fault(mapping, node_names)
    except FaultError as exc:
        raise FormError(f"{exc.key}: {exc.message}" if exc.key else exc.message) from None
    duration = None
    text = str(form.get("for") or "").strip()
    if text:
        try:
            duration = parse_duration(text)
        except ValueError as exc:
            raise FormError(f"for: {exc}") from None
        duration = duration or None  # "0" means until healed, as no --for does
    return mapping, duration
