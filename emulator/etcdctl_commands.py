"""The commands of ``run.py etcdctl``: each takes a ``Ctx`` and its parsed arguments, prints
what ``ETCDCTL_API=2 etcdctl`` 3.4 prints and returns its exit code."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from emulator.etcdctl_client import (
    ClientError,
    ClusterError,
    EtcdError,
    KeysResponse,
    V2Client,
    check_health,
    validate_peer_url,
)
from emulator.etcdctl_format import format_response, ls_lines, member_added, member_line

EXIT_OK, EXIT_BAD_ARGS, EXIT_BAD_CONNECTION, EXIT_SERVER_ERROR, EXIT_NOT_HEALTHY = 0, 1, 2, 4, 5
REMOVE_DOC = (
    "https://github.com/etcd-io/etcd/blob/master/Documentation/"
    "runtime-configuration.md#remove-a-member"
)


@dataclass
class Ctx:
    client: V2Client
    output: str
    out: TextIO
    err: TextIO
    stdin: TextIO | None


# --- keys -----------------------------------------------------------------------------------


def _error(ctx: Ctx, exc: Exception) -> int:
    """etcdctl's handleError: ``Error:  <err>`` (and a cluster error's detail)."""
    ctx.err.write(f"Error:  {exc}\n")
    if isinstance(exc, ClusterError):
        ctx.err.write(exc.detail() + "\n")
        return EXIT_BAD_CONNECTION if exc.connection_only else EXIT_SERVER_ERROR
    return EXIT_SERVER_ERROR


def _usage(ctx: Ctx, message: str) -> int:
    ctx.err.write(f"Error:  {message}\n")
    return EXIT_BAD_ARGS


def _value(ctx: Ctx, ns: argparse.Namespace) -> str | None:
    """The value argument, or standard input when it is not given (as etcdctl)."""
    if ns.value is not None:
        return ns.value
    stdin = ctx.stdin
    try:
        if stdin is None or stdin.isatty():
            return None
        return stdin.read() or None
    except (OSError, ValueError):
        return None


def _keys_call(ctx: Ctx, call: Callable[[], KeysResponse]) -> KeysResponse | int:
    try:
        return call()
    except (EtcdError, ClusterError, ClientError) as exc:
        return _error(ctx, exc)


def _print_response(ctx: Ctx, resp: KeysResponse) -> int:
    ctx.out.write(format_response(resp, ctx.output))
    return EXIT_OK


def cmd_get(ctx: Ctx, ns: argparse.Namespace) -> int:
    if not ns.key:
        return _usage(ctx, "key required")
    resp = _keys_call(ctx, lambda: ctx.client.get(ns.key, sort=ns.sort, quorum=ns.quorum))
    if isinstance(resp, int):
        return resp
    if resp.node.get("dir"):
        ctx.err.write(f"{resp.node.get('key', '')}: is a directory\n")
        return EXIT_BAD_ARGS
    return _print_response(ctx, resp)


def cmd_ls(ctx: Ctx, ns: argparse.Namespace) -> int:
    key = ns.key or "/"
    resp = _keys_call(
        ctx, lambda: ctx.client.get(key, recursive=ns.recursive, sort=ns.sort, quorum=ns.quorum)
    )
    if isinstance(resp, int):
        return resp
    ctx.out.writelines(line + "\n" for line in ls_lines(resp, ns.slash))
    return EXIT_OK


def _write(ctx: Ctx, ns: argparse.Namespace, call: Callable[[str], KeysResponse]) -> int:
    if not ns.key:
        return _usage(ctx, "key required")
    value = _value(ctx, ns)
    if value is None:
        return _usage(ctx, "value required")
    resp = _keys_call(ctx, lambda: call(value))
    return resp if isinstance(resp, int) else _print_response(ctx, resp)


def cmd_set(ctx: Ctx, ns: argparse.Namespace) -> int:
    return _write(
        ctx,
        ns,
        lambda v: ctx.client.set(
            ns.key, v, ns.ttl, prev_value=ns.swap_with_value, prev_index=ns.swap_with_index
        ),
    )


def cmd_mk(ctx: Ctx, ns: argparse.Namespace) -> int:
    if ns.in_order:
        return _write(ctx, ns, lambda v: ctx.client.create_in_order(ns.key, v, ns.ttl))
    return _write(ctx, ns, lambda v: ctx.client.set(ns.key, v, ns.ttl, prev_exist=False))


def cmd_update(ctx: Ctx, ns: argparse.Namespace) -> int:
    return _write(ctx, ns, lambda v: ctx.client.set(ns.key, v, ns.ttl, prev_exist=True))


def cmd_dir(ctx: Ctx, ns: argparse.Namespace) -> int:
    """mkdir, setdir, updatedir: print nothing on success."""
    if not ns.key:
        return _usage(ctx, "key required")
    resp = _keys_call(
        ctx, lambda: ctx.client.set(ns.key, ttl=ns.ttl, prev_exist=ns.prev_exist, dir=True)
    )
    return resp if isinstance(resp, int) else EXIT_OK


def _remove(ctx: Ctx, call: Callable[[], KeysResponse]) -> int:
    resp = _keys_call(ctx, call)
    if isinstance(resp, int):
        return resp
    return EXIT_OK if resp.node.get("dir") else _print_response(ctx, resp)


def cmd_rm(ctx: Ctx, ns: argparse.Namespace) -> int:
    if not ns.key:
        return _usage(ctx, "key required")
    return _remove(
        ctx,
        lambda: ctx.client.delete(
            ns.key, ns.recursive, ns.dir, prev_value=ns.with_value, prev_index=ns.with_index
        ),
    )


def cmd_rmdir(ctx: Ctx, ns: argparse.Namespace) -> int:
    if not ns.key:
        return _usage(ctx, "key required")
    return _remove(ctx, lambda: ctx.client.delete(ns.key, dir=True))


def cmd_watch(ctx: Ctx, ns: argparse.Namespace) -> int:
    if not ns.key:
        return _usage(ctx, "key required")
    wait_index = ns.after_index + 1 if ns.after_index > 0 else None
    while True:
        resp = _keys_call(ctx, lambda i=wait_index: ctx.client.wait(ns.key, i, ns.recursive))
        if isinstance(resp, int):
            return resp
        if resp is None:  # an empty answer: ask again
            continue
        wait_index = int(resp.node.get("modifiedIndex", 0)) + 1
        if resp.node.get("dir"):
            continue
        if ns.recursive:
            ctx.out.write(f"[{resp.action}] {resp.node.get('key', '')}\n")
        _print_response(ctx, resp)
        ctx.out.flush()
        if not ns.forever:
            return EXIT_OK


# --- cluster --------------------------------------------------------------------------------


def cmd_cluster_health(ctx: Ctx, ns: argparse.Namespace) -> int:
    try:
        members = ctx.client.members()
    except (ClusterError, ClientError) as exc:
        ctx.out.write("cluster may be unhealthy: failed to list members\n")
        _error(ctx, exc)
        return EXIT_SERVER_ERROR
    while True:
        healthy = 0
        for m in members:
            mid, urls = m.get("id", ""), list(m.get("clientURLs") or ())
            if not urls:
                ctx.out.write(f"member {mid} is unreachable: no available published client urls\n")
                continue
            checked = False
            for url in urls:
                ok, problem = check_health(url)
                if ok is None:
                    ctx.out.write(
                        f"failed to check the health of member {mid} on {url}: {problem}\n"
                    )
                    continue
                checked = True
                if ok:
                    healthy += 1
                    ctx.out.write(f"member {mid} is healthy: got healthy result from {url}\n")
                else:
                    ctx.out.write(f"member {mid} is unhealthy: got unhealthy result from {url}\n")
                break
            if not checked:
                ctx.out.write(
                    f"member {mid} is unreachable: [{' '.join(urls)}] are all unreachable\n"
                )
        if healthy == len(members):
            ctx.out.write("cluster is healthy\n")
        else:
            ctx.out.write("cluster is unavailable\n" if healthy == 0 else "cluster is degraded\n")
        if not ns.forever:
            return EXIT_OK if healthy == len(members) else EXIT_NOT_HEALTHY
        ctx.out.write("\nnext check after 10 second...\n\n")
        ctx.out.flush()
        time.sleep(10)


def _member_failure(ctx: Ctx, exc: Exception, prefix: str = "") -> int:
    """A members API error: as etcdctl's sync would report it when nothing answered at all,
    else the error's text and exit 1."""
    if isinstance(exc, ClusterError) and exc.connection_only:
        return _error(ctx, exc)
    ctx.err.write(f"{prefix}{exc}\n")
    return EXIT_BAD_ARGS


def cmd_member(ctx: Ctx, ns: argparse.Namespace) -> int:
    words = list(ns.words)
    action, args = (words[0], words[1:]) if words else ("", [])
    if action == "list":
        return _member_list(ctx, args)
    if action == "add":
        return _member_add(ctx, args)
    if action == "remove":
        return _member_remove(ctx, args)
    ctx.err.write("usage: run.py etcdctl member list | add NAME PEER_URL | remove MEMBER_ID\n")
    return EXIT_BAD_ARGS


def _member_list(ctx: Ctx, args: list[str]) -> int:
    if args:
        ctx.err.write("No arguments accepted\n")
        return EXIT_BAD_ARGS
    try:
        members = ctx.client.members()
    except (ClusterError, ClientError) as exc:
        return _member_failure(ctx, exc)
    try:
        leader = ctx.client.leader()
    except (ClusterError, ClientError) as exc:
        ctx.err.write(f"Failed to get leader:  {exc}\n")
        return EXIT_BAD_ARGS
    ctx.out.writelines(member_line(m, leader.get("id", "")) + "\n" for m in members)
    return EXIT_OK


def _member_add(ctx: Ctx, args: list[str]) -> int:
    if len(args) != 2:
        ctx.err.write("Provide a name and a single member peerURL\n")
        return EXIT_BAD_ARGS
    name, url = args
    problem = validate_peer_url(url)
    if problem:
        ctx.err.write(problem + "\n")
        return EXIT_BAD_ARGS
    try:
        new_id = str(ctx.client.add_member(url).get("id", ""))
        members = ctx.client.members()
    except (ClusterError, ClientError) as exc:
        return _member_failure(ctx, exc)
    ctx.out.write(member_added(name, new_id, members))
    return EXIT_OK


def _member_remove(ctx: Ctx, args: list[str]) -> int:
    if len(args) != 1:
        ctx.err.write("Provide a single member ID\n")
        return EXIT_BAD_ARGS
    member_id = args[0]
    try:
        members = ctx.client.members()
    except (ClusterError, ClientError) as exc:
        return _member_failure(ctx, exc, "Error while verifying ID against known members: ")
    found = False
    for m in members:
        found = found or m.get("id") == member_id
        if m.get("name") == member_id:
            ctx.err.write(
                f"Found a member named {m['name']}; if this is correct, please use its ID, eg:\n"
                f"\tetcdctl member remove {m.get('id', '')}\n"
                f"For more details, read the documentation at {REMOVE_DOC}\n\n"
            )
    if not found:
        ctx.err.write(f"Couldn't find a member in the cluster with an ID of {member_id}.\n")
        return EXIT_BAD_ARGS
    try:
        ctx.client.remove_member(member_id)
    except (ClusterError, ClientError) as exc:
        ctx.err.write(f"Received an error trying to remove member {member_id}: {exc}")
        return EXIT_BAD_ARGS
    ctx.out.write(f"Removed member {member_id} from cluster\n")
    return EXIT_OK
