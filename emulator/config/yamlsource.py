"""YAML with line numbers: located nodes, and problems that point into the user's file.

Theory of operation. PyYAML's composer yields a node graph whose every node carries a start mark;
:func:`parse_yaml` turns it into a small immutable tree of :class:`YNode` where each node knows its
1-based line in the *user's* file and its key path (``cloud-config.coreos.update.reboot-strategy``,
``faults[1].kill``; list indexes count from 0, keys keep the user's spelling). A YAML text embedded
in a literal block (``cloud-config: |``) is parsed by :func:`parse_embedded` with the block's line
offset, so problems inside it still name the right line of the outer file.

Readers never raise on the user's mistakes: they record a :class:`Problem` in a :class:`ProblemLog`
and carry on, so one run reports every problem, in file order. The scalar readers (:func:`text`,
:func:`integer`, …) raise ``ValueError`` with a message; :func:`read_section` turns that into a
problem at the value's line. Hyphen and underscore spellings of a key are the same key
(:func:`norm`), as coreos-cloudinit has it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol, TypeVar

import yaml
from yaml.constructor import SafeConstructor

from emulator.faults import parse_duration

E = TypeVar("E", bound=Enum)
T = TypeVar("T")


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or suspicious) in a config file."""

    file: str
    line: int | None
    key_path: str
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return (
            f"{where}: {self.key_path}: {self.message}"
            if self.key_path
            else f"{where}: {self.message}"
        )


class ConfigErrors(ValueError):
    """A config has errors: ``problems`` lists every one (file order); ``warnings`` rides along."""

    def __init__(self, problems: Iterable[Problem], warnings: Iterable[Problem] = ()):
        self.problems = list(problems)
        self.warnings = list(warnings)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class Where(Protocol):
    """Anything that knows where it is: a YNode, an Entry, a Loc."""

    @property
    def line(self) -> int | None: ...

    @property
    def path(self) -> str: ...


@dataclass(frozen=True)
class Loc:
    line: int | None
    path: str


class ProblemLog:
    """Collects problems; the same problem found twice (say, once per node) is kept once."""

    def __init__(self, file: str):
        self.file = file
        self._items: list[Problem] = []
        self._seen: set[tuple[Any, ...]] = set()

    def add(self, where: Where, message: str, severity: Severity = Severity.ERROR) -> None:
        problem = Problem(self.file, where.line, where.path, message, severity)
        key = (problem.severity, problem.line, problem.key_path, problem.message)
        if key not in self._seen:
            self._seen.add(key)
            self._items.append(problem)

    def error(self, where: Where, message: str) -> None:
        self.add(where, message, Severity.ERROR)

    def warning(self, where: Where, message: str) -> None:
        self.add(where, message, Severity.WARNING)

    def _sorted(self, severity: Severity) -> list[Problem]:
        chosen = [p for p in self._items if p.severity is severity]
        return sorted(chosen, key=lambda p: (p.line is None, p.line or 0))  # stable: found order

    @property
    def errors(self) -> list[Problem]:
        return self._sorted(Severity.ERROR)

    @property
    def warnings(self) -> list[Problem]:
        return self._sorted(Severity.WARNING)

    def raise_if_errors(self) -> None:
        if self.errors:
            raise ConfigErrors(self.errors, self.warnings)


class Kind(Enum):
    MAP = "a mapping"
    SEQ = "a list"
    SCALAR = "a value"


@dataclass(frozen=True)
class Entry:
    """One ``key: value`` of a mapping; ``line`` is the key's line."""

    key: str
    line: int | None
    node: YNode

    @property
    def path(self) -> str:
        return self.node.path


@dataclass(frozen=True)
class YNode:
    kind: Kind
    line: int | None
    path: str
    value: Any = None  # SCALAR: the value as YAML resolves it (int, bool, None, str …)
    raw: str = ""  # SCALAR: the text as written (``0644``, ``off``, ``1.10``)
    style: str | None = None  # SCALAR: None (plain), "|", ">", "'", '"'
    entries: tuple[Entry, ...] = ()
    items: tuple[YNode, ...] = ()

    @property
    def is_null(self) -> bool:
        return self.kind is Kind.SCALAR and self.value is None

    def get(self, name: str) -> Entry | None:
        """The entry whose key is ``name`` in either spelling."""
        wanted = norm(name)
        return next((e for e in self.entries if norm(e.key) == wanted), None)

    def describe(self) -> str:
        """What the node is, for messages: ``a mapping``, ``a list``, ``the number 3``, ``'x'``."""
        if self.kind is not Kind.SCALAR:
            return self.kind.value
        if self.value is None:
            return "nothing"
        if isinstance(self.value, bool):
            return f"the boolean {self.raw}"
        if isinstance(self.value, (int, float)):
            return f"the number {self.raw}"
        return repr(self.value if isinstance(self.value, str) else self.raw)

    def to_plain(self) -> Any:
        if self.kind is Kind.MAP:
            return {e.key: e.node.to_plain() for e in self.entries}
        if self.kind is Kind.SEQ:
            return [i.to_plain() for i in self.items]
        return self.value


def norm(key: str) -> str:
    """Hyphen and underscore spellings are one key."""
    return key.replace("-", "_")


def child_path(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def empty_map(line: int | None, path: str) -> YNode:
    return YNode(Kind.MAP, line, path)


# --- building the tree ------------------------------------------------------------------------

LineMap = Callable[[int], int]  # 0-based line in the parsed text -> 1-based line in the user's file
_MERGE_TAG = "tag:yaml.org,2002:merge"


def parse_yaml(
    text: str, log: ProblemLog, *, path: str = "", line_map: LineMap | None = None
) -> YNode | None:
    """Parse one YAML document into a located tree; a syntax error is logged and gives None.

    An empty document gives an empty mapping."""
    lm = line_map or (lambda n: n + 1)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        detail = "; ".join(s for s in (exc.context, exc.problem) if s)
        log.error(Loc(lm(mark.line) if mark else None, path), f"YAML syntax error: {detail}")
        return None
    except yaml.YAMLError as exc:
        log.error(Loc(None, path), f"YAML error: {exc}")
        return None
    if root is None:
        return empty_map(lm(0), path)
    return _Builder(log, lm).build(root, path)


def parse_embedded(node: YNode, log: ProblemLog) -> YNode | None:
    """Parse YAML text held in a scalar (``cloud-config: |``), keeping the outer file's lines.

    A literal block (``|``) keeps line for line, so inner line k sits k lines below the indicator;
    other styles fold lines, so every inner problem is reported at the value's first line."""
    if node.style == "|" and node.line is not None:
        first = node.line + 1

        def line_map(n: int) -> int:
            return first + n
    else:

        def line_map(n: int) -> int:
            return node.line or 0

    return parse_yaml(str(node.value), log, path=node.path, line_map=line_map)


class _Builder:
    def __init__(self, log: ProblemLog, line_map: LineMap):
        self.log = log
        self.line_map = line_map
        self.constructor = SafeConstructor()
        self.active: set[int] = set()  # ids of nodes being built: catches recursive anchors

    def build(self, node: yaml.Node, path: str) -> YNode:
        line = self.line_map(node.start_mark.line)
        if id(node) in self.active:
            self.log.error(Loc(line, path), "recursive YAML alias")
            return YNode(Kind.SCALAR, line, path)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, line, path)
            if isinstance(node, yaml.SequenceNode):
                items = tuple(self.build(v, f"{path}[{i}]") for i, v in enumerate(node.value))
                return YNode(Kind.SEQ, line, path, items=items)
            return self._scalar(node, line, path)
        finally:
            self.active.discard(id(node))

    def _scalar(self, node: yaml.ScalarNode, line: int, path: str) -> YNode:
        try:
            value = self.constructor.construct_object(node)
        except yaml.YAMLError:
            value = node.value
        return YNode(Kind.SCALAR, line, path, value=value, raw=node.value, style=node.style)

    def _mapping(self, node: yaml.MappingNode, line: int, path: str) -> YNode:
        entries: list[Entry] = []
        inherited: list[Entry] = []  # from ``<<: *anchor`` merge keys; explicit keys win
        first_seen: dict[str, Entry] = {}
        for key_node, value_node in node.value:
            key_line = self.line_map(key_node.start_mark.line)
            if key_node.tag == _MERGE_TAG:
                sources = (
                    value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                )
                for src in sources:
                    if isinstance(src, yaml.MappingNode):
                        inherited.extend(self.build(src, path).entries)
                    else:
                        self.log.error(Loc(key_line, path), "'<<' merges mappings only")
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.log.error(Loc(key_line, path), "a key must be a plain name")
                continue
            key = key_node.value
            entry = Entry(key, key_line, self.build(value_node, child_path(path, key)))
            earlier = first_seen.get(norm(key))
            if earlier is not None:
                same = (
                    ""
                    if earlier.key == key
                    else f" ({earlier.key!r}: hyphen and underscore spellings are one key)"
                )
                self.log.error(
                    entry, f"key {key!r} given twice, first at line {earlier.line}{same}"
                )
                continue
            first_seen[norm(key)] = entry
            entries.append(entry)
        for e in inherited:  # the first merged mapping that has a key wins, as YAML says
            if norm(e.key) not in first_seen:
                first_seen[norm(e.key)] = e
                entries.append(e)
        return YNode(Kind.MAP, line, path, entries=tuple(entries))


def merge(base: YNode, over: YNode) -> YNode:
    """Deep merge for overrides: mappings merge key by key, anything else is replaced."""
    if base.kind is not Kind.MAP or over.kind is not Kind.MAP:
        return over
    entries = list(base.entries)
    index = {norm(e.key): i for i, e in enumerate(entries)}
    for e in over.entries:
        i = index.get(norm(e.key))
        if i is None:
            index[norm(e.key)] = len(entries)
            entries.append(e)
        else:
            entries[i] = Entry(e.key, e.line, merge(entries[i].node, e.node))
    return YNode(Kind.MAP, base.line, base.path, entries=tuple(entries))


# --- reading typed values ---------------------------------------------------------------------

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
