"""Shaping the supervisor's report into what the page draws: links, rates, panels.

Pure functions over plain values (no clocks, sockets or threads), so each rule has a plain test.

Links combine two sources. The nodes' ``peers`` say what is *measured*: a peer is reachable when
it answered a ping lately (a round trip, so a one-way cut silences both directions). The
report's ``link_rules`` say what is *configured*: which directed links a fault blocks or shapes.
Only the rules can tell a one-way cut from a full one, and only the measurements show what the
cluster actually sees (a dead node, a paused one, loss so high nothing gets through).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations
from typing import Any

from actors.etcd import stats as etcd_stats

# Link statuses, as the page's CSS classes know them.
OK, CUT, ONE_WAY, DOWN, DEGRADED, UNREACHABLE = (
    "ok",
    "cut",
    "one-way",
    "down",
    "degraded",
    "unreachable",
)

# etcd's /v2/stats/store counters (named once, in actors.etcd.stats): reads are the gets; writes
# are the requests that went through Raft (expiries are the leader's, not clients').
READ_COUNTERS = (etcd_stats.GET_SUCCESS, etcd_stats.GET_FAIL)
WRITE_COUNTERS = tuple(
    c for c in etcd_stats.COUNTERS if c not in (*READ_COUNTERS, etcd_stats.EXPIRE_COUNT)
)


def _reach(node: Mapping[str, Any], peer: str) -> tuple[bool | None, float | None]:
    """What ``node`` measured of ``peer``: (reachable, rtt) or (None, None) when it has no say."""
    if node.get("state") != "up":
        return None, None
    info = (node.get("peers") or {}).get(peer)
    if not isinstance(info, Mapping):
        return None, None
    return bool(info.get("reachable")), info.get("rtt_ms")


def links(
    nodes: Sequence[Mapping[str, Any]], rules: Iterable[Mapping[str, Any]] = ()
) -> list[dict[str, Any]]:
    """One entry per pair of nodes: ``{a, b, status, rtt_ms, blocked: [[src, dst]...], note}``."""
    by_link: dict[tuple[str, str], Mapping[str, Any]] = {
        (r["src"], r["dst"]): r for r in rules if "src" in r and "dst" in r
    }
    out = []
    for na, nb in combinations(nodes, 2):
        a, b = na["name"], nb["name"]
        ab, ba = by_link.get((a, b), {}), by_link.get((b, a), {})
        blocked = [[s, d] for (s, d), r in (((a, b), ab), ((b, a), ba)) if r.get("blocked")]
        (reach_ab, rtt_ab), (reach_ba, rtt_ba) = _reach(na, b), _reach(nb, a)
        rtts = [r for r in (rtt_ab, rtt_ba) if isinstance(r, (int, float))]
        note = _shaping_note(ab, ba)
        if len(blocked) == 2:
            status = CUT
        elif len(blocked) == 1:
            status = ONE_WAY
            note = f"{blocked[0][0]} ↛ {blocked[0][1]}"
        elif na.get("state") != "up" or nb.get("state") != "up":
            status = DOWN
        elif reach_ab is False or reach_ba is False:
            status = UNREACHABLE
        elif note:
            status = DEGRADED
        else:
            status = OK
        out.append(
            {
                "a": a,
                "b": b,
                "status": status,
                "rtt_ms": round(max(rtts), 2) if rtts and status in (OK, DEGRADED) else None,
                "blocked": blocked,
                "note": note,
            }
        )
    return out


def _shaping_note(*rules: Mapping[str, Any]) -> str:
    """``30% loss, +200ms`` for a link some fault shapes (worst of both directions)."""
    drop = max((r.get("drop") or 0.0) for r in rules)
    delay = max((r.get("delay_ms") or 0.0) for r in rules)
    dup = max((r.get("duplicate") or 0.0) for r in rules)
    reorder = max((r.get("reorder") or 0.0) for r in rules)
    parts = []
    if drop:
        parts.append(f"{drop * 100:g}% loss")
    if delay:
        parts.append(f"+{delay:g}ms")
    if dup:
        parts.append(f"{dup * 100:g}% dup")
    if reorder:
        parts.append(f"{reorder * 100:g}% reorder")
    return ", ".join(parts)


def counter_total(stats: Mapping[str, Any], names: Iterable[str]) -> int:
    return sum(int(stats.get(n) or 0) for n in names)


def counter_rate(
    prev: Mapping[str, int], cur: Mapping[str, int], dt: float, combine: str = "sum"
) -> float | None:
    """Per-second rate of per-node counters between two samples.

    A node that restarted (counter went down) or is new contributes nothing rather than a
    negative or a whole-lifetime jump. ``combine``: ``sum`` (reads, served by whoever is asked)
    or ``max`` (writes, applied by every member, so each member's count is the cluster's).
    """
    if dt <= 0:
        return None
    deltas = [cur[n] - prev[n] for n in cur if n in prev and cur[n] >= prev[n]]
    if not deltas:
        return None
    total = sum(deltas) if combine == "sum" else max(deltas)
    return round(total / dt, 2)


def count_keys(tree: Mapping[str, Any] | None) -> int | None:
    """Keys (not directories) in a v2 ``node`` tree; hidden keys (``_name``) are not listed."""
    if not isinstance(tree, Mapping):
        return None
    count, stack = 0, [tree]
    while stack:
        node = stack.pop()
        if node.get("dir"):
            stack.extend(n for n in node.get("nodes") or () if isinstance(n, Mapping))
        else:
            count += 1
    return count


def leader_of(nodes: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The up node that says it leads, in the highest term (a stale leader may linger)."""
    leaders = [n for n in nodes if n.get("role") == "leader" and n.get("state") == "up"]
    return max(leaders, key=lambda n: n.get("term") or 0) if leaders else None


def leader_marks(nodes: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """``{name: "leader"}`` for the leader the cluster follows, ``"stale"`` for any other node
    that still says it leads: an older term, or cut off from a majority of the members (a leader
    on the minority side of a partition, until check-quorum makes it step down)."""
    members = [n for n in nodes if n.get("role") not in (None, "proxy")]
    names = {n["name"] for n in members}
    marks: dict[str, str] = {}
    best = leader_of(nodes)
    for n in nodes:
        if n.get("role") != "leader" or n.get("state") != "up":
            continue
        peers = n.get("peers") or {}
        heard = 1 + sum(1 for p, info in peers.items() if p in names and info.get("reachable"))
        quorum = not peers or heard > len(names) // 2  # no measurements yet: no verdict
        marks[n["name"]] = "leader" if n is best and quorum else "stale"
    return marks


def etcd_panel(nodes: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Leader, term and members; None when no node runs etcd."""
    if not any("role" in n for n in nodes):
        return None
    leader = leader_of(nodes)
    marks = leader_marks(nodes)
    members = [
        {
            "name": n["name"],
            "role": _member_role(n, marks.get(n["name"])),
            "voter": (n.get("membership") or {}).get("voter"),
            "client_url": n.get("client_url"),
            "applied_index": n.get("applied_index"),
        }
        for n in nodes
        if n.get("role") != "proxy"
    ]
    terms = [n.get("term") for n in nodes if isinstance(n.get("term"), int)]
    # "keys" appears when etcd publishes it; the leader's count is the committed one
    keys = [n.get("keys") for n in ([leader] if leader else []) + list(nodes)]
    keys = [k for k in keys if isinstance(k, int)]
    return {
        "leader": leader["name"] if leader and marks.get(leader["name"]) == "leader" else None,
        "term": max(terms) if terms else None,
        "keys": keys[0] if keys else None,
        "members": members,
    }


def _member_role(node: Mapping[str, Any], mark: str | None) -> Any:
    if node.get("state") != "up":
        return node.get("state")
    return "stale leader" if mark == "stale" else node.get("role")


def fleet_panel(
    nodes: Sequence[Mapping[str, Any]],
    machines: Iterable[Mapping[str, Any]],
    states: Iterable[Mapping[str, Any]],
) -> dict[str, Any]:
    """fleet's machines (node name, IP, metadata) each with its units' load/active/sub states,
    from fleet's API v1 shapes; units whose machine fleet no longer lists come last."""
    node_of = {n.get("machine_id"): n["name"] for n in nodes if n.get("machine_id")}
    units: dict[str, list[dict[str, Any]]] = {}
    for st in states:
        units.setdefault(st.get("machineID") or "", []).append(
            {
                "name": st.get("name"),
                "load": st.get("systemdLoadState"),
                "active": st.get("systemdActiveState"),
                "sub": st.get("systemdSubState"),
            }
        )
    out = []
    for m in sorted(machines, key=lambda m: node_of.get(m.get("id"), m.get("id") or "")):
        mid = m.get("id") or ""
        out.append(
            {
                "id": mid,
                "node": node_of.get(mid),
                "ip": m.get("primaryIP"),
                "metadata": m.get("metadata") or {},
                "units": sorted(units.pop(mid, []), key=lambda u: u["name"] or ""),
            }
        )
    for mid, orphans in sorted(units.items()):
        out.append(
            {"id": mid, "node": node_of.get(mid), "ip": None, "metadata": {}, "units": orphans}
        )
    leaders = {n.get("engine_leader") for n in nodes if n.get("engine_leader")}
    engine = next(iter(leaders)) if len(leaders) == 1 else None  # nodes agree on one engine
    return {"machines": out, "engine_leader": node_of.get(engine, engine)}


def rollout_panel(nodes: Sequence[Mapping[str, Any]], service: Mapping[str, Any]) -> dict[str, Any]:
    """The update service's view: the release on each channel, each group's policy, and each
    instance (named by its node) with the version it runs and where its update stands."""
    node_of = {n.get("machine_id"): n["name"] for n in nodes if n.get("machine_id")}
    releases = service.get("releases") or {}
    channels = [
        {
            "channel": channel,
            "version": (releases.get(rid) or {}).get("version") if rid else None,
            "release": rid,
        }
        for channel, rid in sorted((service.get("channels") or {}).items())
    ]
    groups = [
        {
            "name": name,
            "channel": g.get("channel"),
            "updates_enabled": g.get("updates_enabled"),
            "stopped": g.get("stopped"),
        }
        for name, g in sorted((service.get("groups") or {}).items())
    ]
    instances = sorted(
        (
            {
                "node": node_of.get(mid, mid),
                "group": i.get("group"),
                "version": i.get("version"),
                "status": i.get("status"),
                "last_event": i.get("last_event"),
            }
            for mid, i in (service.get("instances") or {}).items()
        ),
        key=lambda i: str(i["node"]),
    )
    return {"channels": channels, "groups": groups, "instances": instances}


def ends_in(faults: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Active faults with ``ends_in_s`` never negative (the supervisor ends them a tick later)."""
    out = []
    for f in faults:
        f = dict(f)
        if isinstance(f.get("ends_in_s"), (int, float)):
            f["ends_in_s"] = max(0.0, f["ends_in_s"])
        out.append(f)
    return out
