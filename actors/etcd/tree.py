"""The node tree with its TTL queue: lookups, implicit directories, removal of subtrees.

Errors name what etcd names: a missing key by its first missing component (``/nope`` for
``/nope/deeper/x``), a file in the way by the file's path. Their index is the store index the
caller passes, since a failed operation does not move it.
"""

from __future__ import annotations

from actors.etcd import errors as E
from actors.etcd.errors import EtcdError
from actors.etcd.expiry import ExpiryQueue
from actors.etcd.node import Node, join_path

ROOT = "/"


class Tree:
    def __init__(self, root: Node | None = None):
        self.root = root if root is not None else Node(ROOT, 0, None, is_dir=True)
        self.expiry = ExpiryQueue()
        if root is not None:
            for node in root.walk():
                self.expiry.set(node)

    def lookup(self, path: str, index: int) -> Node:
        """The node at cleaned ``path`` (100 or 104 errors at store index ``index``)."""
        node = self.root
        if path == ROOT:
            return node
        for name in path[1:].split("/"):
            children = node.children
            if children is None:
                raise EtcdError(E.NOT_DIR, node.path, index)
            child = children.get(name)
            if child is None:
                raise EtcdError(E.KEY_NOT_FOUND, join_path(node.path, name), index)
            node = child
        return node

    def make_dirs(self, dir_path: str, created_index: int, index: int) -> Node:
        """Walk to ``dir_path``, creating missing directories (permanent, at ``created_index``)."""
        node = self.root
        for name in dir_path.split("/"):
            if not name:
                continue
            assert node.children is not None
            child = node.children.get(name)
            if child is None:
                child = Node(join_path(node.path, name), created_index, node, is_dir=True)
                node.children[name] = child
            elif child.children is None:
                raise EtcdError(E.NOT_DIR, child.path, index)
            node = child
        return node

    def attach(self, parent: Node, name: str, node: Node) -> None:
        assert parent.children is not None
        parent.children[name] = node
        self.expiry.set(node)

    def detach(self, node: Node) -> list[str]:
        """Take ``node`` and everything below it out of the tree; the removed paths, deepest
        first (whose watchers must hear of the removal)."""
        if node.children is None:  # a key, the commonest case: nothing below it to walk
            removed = [node]
        else:
            removed = list(node.walk())
            removed.reverse()
        for n in removed:
            self.expiry.discard(n)
        parent = node.parent
        if parent is not None and parent.children is not None:
            name = node.name
            if parent.children.get(name) is node:
                del parent.children[name]
        return [n.path for n in removed]

    def set_ttl(self, node: Node, expire_ns: int) -> None:
        node.expire_ns = expire_ns
        self.expiry.set(node)
