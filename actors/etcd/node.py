"""The keyspace tree: directories and values, their indexes and expiry times, and key paths.

A :class:`Node` is mutable and private to the store; readers get :class:`NodeView` pictures.
Children keep insertion order, so an unsorted listing is the same on every member (etcd's Go
map order is random; clients that care ask for ``sorted``). Names starting with ``_`` are
hidden from listings but can be read, written and watched directly.
"""

from __future__ import annotations

from actors.etcd.event import NodeView

NS_PER_S = 1_000_000_000
PERMANENT = 0  # expire_ns of a node without TTL
# etcd treats expiry times before 2000-01-01T00:00:00Z as "no TTL" when creating a node.
MIN_EXPIRE_NS = 946_684_800 * NS_PER_S


def clean_path(path: str) -> str:
    """Go's ``path.Clean(path.Join("/", p))``: absolute, no ``//``, ``.``, ``..`` or trailing ``/``."""
    if "//" not in path and "/." not in path and path.startswith("/") and not path.endswith("/"):
        return path
    out: list[str] = []
    for part in path.split("/"):
        if part == "" or part == ".":
            continue
        if part == "..":
            if out:
                out.pop()
            continue
        out.append(part)
    return "/" + "/".join(out)


def split_path(path: str) -> tuple[str, str]:
    """Go's ``path.Split`` on a cleaned path: ``("/a/", "b")`` for ``/a/b``."""
    cut = path.rfind("/") + 1
    return path[:cut], path[cut:]


def join_path(parent: str, name: str) -> str:
    return parent + name if parent.endswith("/") else f"{parent}/{name}"


def ttl_seconds(expire_ns: int, now_ns: int) -> int:
    """etcd's ttl: ceil of the seconds left when positive, truncated toward zero otherwise."""
    left = expire_ns - now_ns
    if left > 0:
        return -(-left // NS_PER_S)
    return -((-left) // NS_PER_S)


def compare_failure(node: Node, prev_value: str, prev_index: int) -> str | None:
    """etcd's compare for CAS/CAD on a file: None if it holds, else the 101 cause text."""
    index_ok = prev_index == 0 or node.modified_index == prev_index
    value_ok = prev_value == "" or node.value == prev_value
    if index_ok and value_ok:
        return None
    if not value_ok and not index_ok:
        return f"[{prev_value} != {node.value}] [{prev_index} != {node.modified_index}]"
    if not value_ok:
        return f"[{prev_value} != {node.value}]"
    return f"[{prev_index} != {node.modified_index}]"


class Node:
    __slots__ = (
        "path",
        "created_index",
        "modified_index",
        "expire_ns",
        "value",
        "children",
        "parent",
    )

    def __init__(
        self,
        path: str,
        created_index: int,
        parent: Node | None,
        expire_ns: int = PERMANENT,
        value: str = "",
        is_dir: bool = False,
    ):
        self.path = path
        self.created_index = created_index
        self.modified_index = created_index
        self.expire_ns = expire_ns
        self.value = value
        self.children: dict[str, Node] | None = {} if is_dir else None
        self.parent = parent

    @property
    def is_dir(self) -> bool:
        return self.children is not None

    @property
    def name(self) -> str:
        return self.path[self.path.rfind("/") + 1 :]

    @property
    def is_hidden(self) -> bool:
        return self.name.startswith("_")

    @property
    def is_permanent(self) -> bool:
        return self.expire_ns == PERMANENT

    def _expiry(self, now_ns: int) -> tuple[int | None, int]:
        if self.expire_ns == PERMANENT:
            return None, 0
        return self.expire_ns, ttl_seconds(self.expire_ns, now_ns)

    def repr(self, now_ns: int, recursive: bool = False, sorted_: bool = False) -> NodeView:
        """etcd's ``node.Repr``: a directory lists its children only when ``recursive``."""
        expiration, ttl = self._expiry(now_ns)
        if self.children is None:
            return NodeView(
                self.path,
                self.value,
                False,
                expiration,
                ttl,
                None,
                self.modified_index,
                self.created_index,
            )
        nodes = self._children_views(now_ns, sorted_) if recursive else None
        return NodeView(
            self.path, None, True, expiration, ttl, nodes, self.modified_index, self.created_index
        )

    def listing(self, now_ns: int, recursive: bool, sorted_: bool) -> NodeView:
        """etcd's ``loadInternalNode`` (what a GET shows): a directory always lists one level."""
        if self.children is None:
            return self.repr(now_ns)
        expiration, ttl = self._expiry(now_ns)
        nodes = self._children_views(now_ns, sorted_, recursive)
        return NodeView(
            self.path, None, True, expiration, ttl, nodes, self.modified_index, self.created_index
        )

    def _children_views(
        self, now_ns: int, sorted_: bool, recursive: bool = True
    ) -> tuple[NodeView, ...]:
        assert self.children is not None
        kids = [c for name, c in self.children.items() if not name.startswith("_")]
        if sorted_:
            kids.sort(key=lambda c: c.path)
        return tuple(c.repr(now_ns, recursive, sorted_) for c in kids)

    def walk(self):
        """This node and everything below it, parents before children, in insertion order."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            if node.children:
                stack.extend(reversed(node.children.values()))

    def __repr__(self) -> str:
        kind = "dir" if self.is_dir else repr(self.value)
        return f"Node({self.path} {kind} c={self.created_index} m={self.modified_index})"
