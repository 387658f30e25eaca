"""systemd unit files: the parser shared by fleet and the emulated systemd.

A unit file is a list of ``(section, name, value)`` options in file order; a key may repeat and
keeps every value. The rules follow coreos/go-systemd's ``unit.Deserialize`` (what fleet uses),
so fleet's canonical text and SHA-1 hash of a unit come out as fleet computes them:

- leading whitespace of a line is ignored; blank lines are skipped;
- a line starting with ``#`` or ``;`` is a comment (only at the start: ``a=b # c`` keeps `` # c``);
- ``[Name]`` opens a section (the name verbatim between the brackets; text after ``]`` is an
  error);
- ``Name = Value``: both sides trimmed; a value line ending in ``\\`` continues on the next line,
  the backslash replaced by one space and the next line appended as it is;
- unlike go-systemd, which skips such lines silently, a line outside any section or without
  ``=`` is an error naming its line, so a typo never vanishes.

:func:`serialize` writes go-systemd's canonical form: each section once, in first-seen order, as
``[Section]`` then its ``Name=Value`` lines, sections separated by one blank line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from actors.unitname import (  # re-exported: one import for unit files and their names
    UnitName,
    UnitNameError,
    expand_specifiers,
    parse_unit_name,
    validate_unit_name,
)

__all__ = [
    "UnitFile",
    "UnitFileError",
    "UnitName",
    "UnitNameError",
    "UnitOption",
    "expand_specifiers",
    "parse_unit",
    "parse_unit_name",
    "serialize",
    "validate_unit_name",
]


@dataclass(frozen=True)
class UnitOption:
    section: str
    name: str
    value: str


class UnitFileError(ValueError):
    """A malformed unit file: what is wrong and on which (1-based) line."""

    def __init__(self, message: str, line: int, source: str = "<unit>"):
        super().__init__(message, line, source)
        self.message, self.line, self.source = message, line, source

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"


@dataclass(frozen=True)
class UnitFile:
    options: tuple[UnitOption, ...]

    def get(self, section: str, name: str) -> list[str]:
        """Every value of ``name`` in ``section``, in file order ([] when absent)."""
        return [o.value for o in self.options if o.section == section and o.name == name]

    def first(self, section: str, name: str, default: str | None = None) -> str | None:
        values = self.get(section, name)
        return values[0] if values else default

    def last(self, section: str, name: str, default: str | None = None) -> str | None:
        values = self.get(section, name)
        return values[-1] if values else default

    def sections(self) -> list[str]:
        """Section names in first-seen order."""
        return list(dict.fromkeys(o.section for o in self.options))

    def section(self, section: str) -> list[UnitOption]:
        return [o for o in self.options if o.section == section]

    def serialize(self) -> str:
        return serialize(self.options)

    @classmethod
    def from_options(cls, options: Iterable[UnitOption]) -> UnitFile:
        return cls(tuple(options))


def serialize(options: Iterable[UnitOption]) -> str:
    """go-systemd's canonical text: sections grouped in first-seen order, one blank line apart."""
    grouped: dict[str, list[UnitOption]] = {}
    for opt in options:
        grouped.setdefault(opt.section, []).append(opt)
    blocks = []
    for section, opts in grouped.items():
        lines = [f"[{section}]"] + [f"{o.name}={o.value}" for o in opts]
        blocks.append("".join(line + "\n" for line in lines))
    return "\n".join(blocks)


LINE_MAX = 2048  # go-systemd refuses longer lines (systemd would truncate them)


def _is_comment(line: str) -> bool:
    return line.startswith(("#", ";"))


def parse_unit(text: str, source: str = "<unit>", keep_continuations: bool = False) -> UnitFile:
    """Parse a unit file's text; raise :class:`UnitFileError` at the first malformed line.

    ``keep_continuations``: read a continued value as fleet does (go-systemd keeps the backslash
    and the line break in the value, so fleet's hash covers them); by default as systemd does.
    """
    lines = text.split("\n")
    if keep_continuations:
        for number, line in enumerate(lines, 1):
            if len(line.encode()) > LINE_MAX:
                raise UnitFileError(f"line too long (max {LINE_MAX} bytes)", number, source)
    options: list[UnitOption] = []
    section: str | None = None
    i = 0
    while i < len(lines):
        number = i + 1
        line = lines[i].removesuffix("\r").lstrip()
        i += 1
        if not line or _is_comment(line):
            # go-systemd: a comment ending in a backslash swallows the following line too
            while line and line.removesuffix(" ").endswith("\\") and i < len(lines):
                line = lines[i].removesuffix("\r")
                i += 1
            continue
        if line.startswith("["):
            end = line.find("]")
            if end == -1:
                raise UnitFileError("unable to find end of section (missing ']')", number, source)
            name, garbage = line[1:end], line[end + 1 :].strip()
            if garbage:
                raise UnitFileError(
                    f"found garbage after section name [{name}]: {garbage!r}", number, source
                )
            if not name:
                raise UnitFileError("empty section name '[]'", number, source)
            section = name
            continue
        if "=" not in line:
            raise UnitFileError(
                f"expected 'Name=Value' or '[Section]', got {line.strip()!r}", number, source
            )
        key, value = line.split("=", 1)
        key = key.strip()
        if not key:
            raise UnitFileError(f"option without a name: {line.strip()!r}", number, source)
        if section is None:
            raise UnitFileError(
                f"option {key!r} outside any section (add a [Section] line above it)",
                number,
                source,
            )
        if keep_continuations:
            value, i = _kept_value(lines, i, value)
        else:
            value, i = _joined_value(lines, i, value)
        options.append(UnitOption(section, key, value))
    return UnitFile(tuple(options))


def _joined_value(lines: list[str], i: int, value: str) -> tuple[str, int]:
    """systemd: each trailing backslash becomes one space and the next line is appended."""
    parts: list[str] = []
    while value.endswith("\\"):
        parts.append(value[:-1] + " ")
        if i >= len(lines):
            value = ""
            break
        value = lines[i].removesuffix("\r")
        i += 1
    parts.append(value)
    return "".join(parts).strip(), i


def _kept_value(lines: list[str], i: int, first: str) -> tuple[str, int]:
    """go-systemd as fleet ships it: continued lines kept as written, backslashes and newlines
    included; a blank line ends the value."""
    partial, line = "", first
    while True:
        if not line.strip():
            break
        partial += line
        if not line.endswith("\\") or i >= len(lines):
            break
        partial += "\n"
        line = lines[i].removesuffix("\r")
        i += 1
    if partial.endswith("\n"):  # the value ended on a blank line: go-systemd keeps one newline
        return partial.strip() + "\n", i
    return partial.strip(), i
