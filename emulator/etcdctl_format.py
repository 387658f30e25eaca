"""What ``ETCDCTL_API=2 etcdctl`` 3.4 prints, byte for byte: responses in the simple, extended
and json formats, ``ls`` listings, member lines and the ``member add`` environment block.

Pure functions from decoded answers to text; ``-o json`` re-encodes the response the way the
Go client's structs marshal (field order, ``nodes: null``, omitted zero ``ttl``, HTML-safe
escapes, RFC 3339 times with trailing zeros trimmed).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from actors.etcd.gojson import dumps as go_json
from emulator.etcdctl_client import KeysResponse

OUTPUTS = ("simple", "extended", "json")
_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", re.I)


def go_time(text: str) -> str:
    """An RFC 3339 time as Go's ``time.Time`` marshals it (fraction trimmed, UTC as ``Z``)."""
    m = _RFC3339.fullmatch(text)
    if not m:
        return text
    stamp, fraction, zone = m.groups()
    fraction = (fraction or "").rstrip("0")
    zone = "Z" if zone.upper() == "Z" or zone in ("+00:00", "-00:00") else zone
    return stamp + ("." + fraction if fraction else "") + zone


def node_object(node: dict[str, Any] | None) -> dict[str, Any] | None:
    """A node as the Go client's ``Node`` struct marshals it."""
    if node is None:
        return None
    obj: dict[str, Any] = {"key": str(node.get("key", ""))}
    if node.get("dir"):
        obj["dir"] = True
    obj["value"] = str(node.get("value", ""))
    children = node.get("nodes")
    obj["nodes"] = [node_object(c) for c in children] if isinstance(children, list) else None
    obj["createdIndex"] = int(node.get("createdIndex", 0))
    obj["modifiedIndex"] = int(node.get("modifiedIndex", 0))
    if node.get("expiration"):
        obj["expiration"] = go_time(str(node["expiration"]))
    ttl = int(node.get("ttl", 0) or 0)
    if ttl:
        obj["ttl"] = ttl
    return obj


def response_json(resp: KeysResponse) -> str:
    return go_json(
        {
            "action": resp.action,
            "node": node_object(resp.node),
            "prevNode": node_object(resp.prev_node),
        }
    )


def format_response(resp: KeysResponse, output: str) -> str:
    """``printResponseKey``: the lines etcdctl prints for a key's response."""
    value = str(resp.node.get("value", ""))
    prev_value = str((resp.prev_node or {}).get("value", ""))
    if output == "simple":
        if resp.action == "delete":
            return f"PrevNode.Value: {prev_value}\n"
        return value + "\n"
    if output == "extended":
        lines = [
            f"Key: {resp.node.get('key', '')}",
            f"Created-Index: {int(resp.node.get('createdIndex', 0))}",
            f"Modified-Index: {int(resp.node.get('modifiedIndex', 0))}",
        ]
        if resp.prev_node is not None:
            lines.append(f"PrevNode.Value: {prev_value}")
        lines.append(f"TTL: {int(resp.node.get('ttl', 0) or 0)}")
        lines.append(f"Index: {resp.index}")
        if resp.action != "delete":
            lines += ["", value]
        return "\n".join(lines) + "\n"
    if output == "json":
        return response_json(resp) + "\n"
    raise ValueError(f"unsupported output format: {output}")


def ls_lines(resp: KeysResponse, slash_dirs: bool) -> Iterator[str]:
    """``ls``: a file lists itself; a directory lists its children, depth first."""
    if not resp.node.get("dir"):
        yield str(resp.node.get("key", ""))
    for child in resp.node.get("nodes") or ():
        yield from _ls_node(child, slash_dirs)


def _ls_node(node: dict[str, Any], slash_dirs: bool) -> Iterator[str]:
    key = str(node.get("key", ""))
    yield key + "/" if node.get("dir") and slash_dirs else key
    for child in node.get("nodes") or ():
        yield from _ls_node(child, slash_dirs)


def member_line(member: dict[str, Any], leader_id: str) -> str:
    peers = ",".join(member.get("peerURLs") or ())
    mid = member.get("id", "")
    if not member.get("name"):
        return f"{mid}[unstarted]: peerURLs={peers}"
    clients = ",".join(member.get("clientURLs") or ())
    leader = "true" if mid == leader_id else "false"
    return f"{mid}: name={member['name']} peerURLs={peers} clientURLs={clients} isLeader={leader}"


def go_quote(text: str) -> str:
    """Go's ``%q`` for ordinary text."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif not ch.isprintable():
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x80 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def member_added(name: str, new_id: str, members: list[dict[str, Any]]) -> str:
    """What ``member add`` prints: the new ID and the environment for the new member."""
    conf = [
        f"{name if m.get('id') == new_id else m.get('name', '')}={url}"
        for m in members
        for url in m.get("peerURLs") or ()
    ]
    return (
        f"Added member named {name} with ID {new_id} to cluster\n\n"
        f"ETCD_NAME={go_quote(name)}\n"
        f"ETCD_INITIAL_CLUSTER={go_quote(','.join(conf))}\n"
        'ETCD_INITIAL_CLUSTER_STATE="existing"\n'
    )
