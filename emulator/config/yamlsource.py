"""Reading typed values (text, numbers, durations, sections) from a located YAML tree.

Theory of operation. :func:`parse_yaml` (from :mod:`.yamltree`, re-exported here with the tree's
types) gives a tree of :class:`YNode` where each node knows its line in the user's file and its
key path. Readers never raise on the user's mistakes: they record a :class:`Problem` in a
:class:`ProblemLog` (:mod:`.problems`) and carry on, so one run reports every problem, in file
order. The scalar readers (:func:`text`, :func:`integer`, …) raise ``ValueError`` with a message;
:func:`read_section` turns that into a problem at the value's line. Hyphen and underscore
spellings of a key are the same key (:func:`norm`), as coreos-cloudinit has it.

This module is the one config readers import: it re-exports the tree and the problem types.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar

from emulator.config.problems import ConfigErrors, Loc, Problem, ProblemLog, Severity, Where
from emulator.config.yamltree import (
    Entry,
    Kind,
    LineMap,
    YNode,
    child_path,
    empty_map,
    merge,
    norm,
    parse_embedded,
    parse_yaml,
)
from emulator.faults import parse_duration

__all__ = [
    "ConfigErrors", "Entry", "Kind", "LineMap", "Loc", "LocatedError", "Problem", "ProblemLog",
    "Reader", "Section", "Severity", "Where", "YNode", "boolean", "checked", "child_path",
    "choice", "empty_map", "enum_reader", "integer", "known_keys_hint", "merge", "millis",
    "nonempty", "norm", "parse_embedded", "parse_yaml", "read_section", "seconds", "substitute",
    "text", "text_list",
]  # fmt: skip

E = TypeVar("E", bound=Enum)
T = TypeVar("T")

Reader = Callable[[YNode], Any]


def text(node: YNode) -> str:
    """A string; numbers and booleans are taken as written (``off`` is "off", ``0644`` "0644")."""
    if node.kind is not Kind.SCALAR or node.value is None:
        raise ValueError(f"expected text, got {node.describe()}")
    if node.style is None and not isinstance(node.value, str):
        return node.raw
    return str(node.value)


def integer(node: YNode, *, minimum: int | None = None, maximum: int | None = None) -> int:
    if (
        node.kind is not Kind.SCALAR
        or isinstance(node.value, bool)
        or not isinstance(node.value, int)
    ):
        raise ValueError(f"expected a whole number, got {node.describe()}")
    if minimum is not None and node.value < minimum:
        raise ValueError(f"must be at least {minimum}, got {node.value}")
    if maximum is not None and node.value > maximum:
        raise ValueError(f"must be at most {maximum}, got {node.value}")
    return node.value


def boolean(node: YNode) -> bool:
    if node.kind is not Kind.SCALAR or not isinstance(node.value, bool):
        raise ValueError(f"expected true or false, got {node.describe()}")
    return node.value


def choice(*allowed: str) -> Reader:
    """A reader for one of ``allowed`` (YAML's ``off``/``on`` booleans count as the words)."""

    def read(node: YNode) -> str:
        value = text(node)
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return value

    return read


def text_list(node: YNode) -> tuple[str, ...]:
    if node.kind is not Kind.SEQ:
        raise ValueError(f"expected a list of text, got {node.describe()}")
    out = []
    for item in node.items:
        try:
            out.append(text(item))
        except ValueError as exc:
            raise LocatedError(item, str(exc)) from None
    return tuple(out)


def enum_reader(enum: type[E]) -> Callable[[YNode], E]:
    """A reader for a str-valued Enum's values."""
    read_word = choice(*(m.value for m in enum))
    return lambda node: enum(read_word(node))


def checked(value: T, check: Callable[[T], Any]) -> T:
    """``value`` after ``check(value)`` had no complaint (it raises ValueError if it has)."""
    check(value)
    return value


def nonempty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def substitute(value: str, subs: Mapping[str, str]) -> str:
    """Replace ``$name`` for each name in ``subs`` (longest names first), as coreos-cloudinit."""
    for name in sorted(subs, key=len, reverse=True):
        value = value.replace(f"${name}", subs[name])
    return value


def seconds(node: YNode, *, default_unit: str = "s", positive: bool = True) -> float:
    """A duration (``30s``, ``500ms``, ``2m``, or a bare number in ``default_unit``) in seconds."""
    if node.kind is not Kind.SCALAR or node.value is None:
        raise ValueError(f"expected a duration like 10s or 500ms, got {node.describe()}")
    value = node.value if isinstance(node.value, (int, float)) else text(node)
    result = parse_duration(value, default_unit=default_unit)
    if positive and result <= 0:
        raise ValueError(f"must be more than zero, got {node.raw}")
    return result


def millis(node: YNode) -> int:
    """Milliseconds: a whole number (``100``) or a duration (``100ms``, ``1s``)."""
    return round(seconds(node, default_unit="ms") * 1000)


def known_keys_hint(key: str, known: Iterable[str]) -> str:
    known = list(known)
    close = difflib.get_close_matches(norm(key), [norm(k) for k in known], n=1, cutoff=0.75)
    if close:
        spelled = next(k for k in known if norm(k) == close[0])
        return f"did you mean {spelled!r}?"
    return f"known keys: {', '.join(known)}"


@dataclass
class Section:
    """What :func:`read_section` found: values by normalized key, and each key's entry."""

    values: dict[str, Any] = field(default_factory=dict)
    entries: dict[str, Entry] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(norm(key), default)

    def where(self, key: str) -> Entry | None:
        return self.entries.get(norm(key))


def read_section(
    node: YNode | None,
    readers: Mapping[str, Reader],
    log: ProblemLog,
    *,
    not_emulated: Iterable[str] = (),
) -> Section:
    """Read a mapping against a schema of ``key -> reader``; every problem goes to ``log``.

    Unknown keys are warnings (with a did-you-mean); keys CoreOS knows but the emulator does not
    model are warnings saying so; a reader's ValueError is an error at the value's line."""
    section = Section()
    if node is None or node.is_null:
        return section
    if node.kind is not Kind.MAP:
        log.error(node, f"expected a mapping, got {node.describe()}")
        return section
    by_norm = {norm(k): r for k, r in readers.items()}
    ignored = {norm(k) for k in not_emulated}
    for entry in node.entries:
        key = norm(entry.key)
        reader = by_norm.get(key)
        if reader is None:
            if key in ignored:
                log.warning(entry, f"{entry.key!r} is accepted by CoreOS but not emulated; ignored")
            else:
                log.warning(
                    entry, f"unknown key {entry.key!r}; {known_keys_hint(entry.key, readers)}"
                )
            continue
        section.entries[key] = entry
        if entry.node.is_null:
            continue  # ``key:`` with no value leaves the default, as coreos-cloudinit does
        try:
            section.values[key] = reader(entry.node)
        except ValueError as exc:
            log.error(getattr(exc, "where", None) or entry.node, str(exc))
    return section


class LocatedError(ValueError):
    """A reader's error that knows a more precise place than the value it was given."""

    def __init__(self, where: Where, message: str):
        super().__init__(message)
        self.where = where
