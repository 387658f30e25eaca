"""YAML with line numbers: an immutable tree whose nodes know their line in the user's file.

Theory of operation. PyYAML's composer yields a node graph whose every node carries a start mark;
:func:`parse_yaml` turns it into a small immutable tree of :class:`YNode` where each node knows its
1-based line in the *user's* file and its key path (``cloud-config.coreos.update.reboot-strategy``,
``faults[1].kill``; list indexes count from 0, keys keep the user's spelling). A YAML text embedded
in a literal block (``cloud-config: |``) is parsed by :func:`parse_embedded` with the block's line
offset, so problems inside it still name the right line of the outer file. Syntax errors, keys
given twice, bad merge keys and recursive aliases go to a :class:`ProblemLog`, never raised.
Hyphen and underscore spellings of a key are the same key (:func:`norm`), as coreos-cloudinit has
it. Typed values are read out of the tree by :mod:`.yamlsource`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from emulator.config.problems import Loc, ProblemLog


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
