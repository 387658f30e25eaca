"""Network faults as per-link rules, and the decision the transport makes for each frame.

The supervisor turns each active network fault into rules on directed links ``(src, dst)``
(:func:`compile_fault`), merges all active faults (:func:`merge_rules`) and sends the whole table to
every node. A node's transport asks :class:`LinkShaper` what to do with each frame it sends: a list
of delays in seconds (empty: drop it; two: it is duplicated). No sockets and no clocks here.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from emulator.faults import FaultError, FaultKind, FaultSpec
from emulator.wire import message

Link = tuple[str, str]


@message("net.LinkRule")
class LinkRule:
    src: str
    dst: str
    blocked: bool = False
    drop: float = 0.0  # probability 0..1
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0


def _combine(a: LinkRule, b: LinkRule) -> LinkRule:
    """Two faults on one link: both apply (losses compound, delays add)."""
    return replace(
        a,
        blocked=a.blocked or b.blocked,
        drop=1 - (1 - a.drop) * (1 - b.drop),
        delay_ms=a.delay_ms + b.delay_ms,
        jitter_ms=a.jitter_ms + b.jitter_ms,
        duplicate=max(a.duplicate, b.duplicate),
        reorder=max(a.reorder, b.reorder),
    )


def merge_rules(rule_sets: Iterable[Iterable[LinkRule]]) -> tuple[LinkRule, ...]:
    merged: dict[Link, LinkRule] = {}
    for rules in rule_sets:
        for rule in rules:
            key = (rule.src, rule.dst)
            merged[key] = _combine(merged[key], rule) if key in merged else rule
    return tuple(merged[k] for k in sorted(merged))


# A resolver turns one selector or name ("all", "random", "leader", "core-01") into node names.
Resolver = Callable[[str], Sequence[str]]


def resolve_all(names: Sequence[str], resolver: Resolver) -> tuple[str, ...]:
    out: list[str] = []
    for name in names:
        for node in resolver(name):
            if node not in out:
                out.append(node)
    return tuple(out)


def partition_sides(
    spec: FaultSpec, nodes: Sequence[str], rng: random.Random, resolver: Resolver
) -> list[list[str]]:
    """The groups that can talk among themselves (a node may be in two for ``bridge``)."""
    if spec.mode == "random-halves":
        shuffled = list(nodes)
        rng.shuffle(shuffled)
        half = len(shuffled) // 2
        return [shuffled[:half], shuffled[half:]]
    if spec.mode == "bridge":
        shuffled = list(nodes)
        rng.shuffle(shuffled)
        half = len(shuffled) // 2
        bridge = shuffled[half]
        return [shuffled[:half] + [bridge], shuffled[half:]]
    sides = _disjoint_sides(spec.sides, nodes, rng, resolver)
    named = {n for side in sides for n in side}
    rest = [n for n in nodes if n not in named]
    if rest:  # unnamed nodes form the other side
        sides.append(rest)
    return sides


SIZED = {"majority": lambda n: n // 2 + 1, "minority": lambda n: (n - 1) // 2}


def _disjoint_sides(
    specs: Sequence[Sequence[str]], nodes: Sequence[str], rng: random.Random, resolver: Resolver
) -> list[list[str]]:
    """Partition sides never overlap: each side takes only nodes no earlier side took.

    ``majority``/``minority`` keep their size (of the whole cluster) but are drawn from the nodes
    still free, so ``partition leader majority`` is the leader against a majority of the others.
    Naming a node for two sides, or a side left with no node, is an error (FaultError).
    """
    taken: set[str] = set()
    sides: list[list[str]] = []
    for names in specs:
        side: list[str] = []
        for name in names:
            if name in SIZED:
                free = [n for n in nodes if n not in taken and n not in side]
                size = SIZED[name](len(nodes))
                if len(free) < size:
                    raise FaultError(
                        None,
                        f"partition: no {name} ({size} nodes) left once the earlier sides "
                        f"took {', '.join(sorted(taken))}",
                    )
                side += sorted(rng.sample(free, size))
                continue
            for node in resolver(name):
                if node in taken:
                    raise FaultError(
                        None,
                        f"partition: {node} ({name}) is already on an earlier side; sides are "
                        f"disjoint",
                    )
                if node not in side:
                    side.append(node)
        if not side:
            raise FaultError(None, f"partition: the side {','.join(names)} has no node")
        taken.update(side)
        sides.append(side)
    return sides


def _ring_links(nodes: Sequence[str], rng: random.Random) -> set[Link]:
    """Every node sees a majority, no two nodes the same one: blocked links of a ring."""
    ring = list(nodes)
    rng.shuffle(ring)
    n = len(ring)
    reach = n // 2 // 2 + (n // 2) % 2  # ceil((majority - 1) / 2) neighbours each way
    blocked = set()
    for i, a in enumerate(ring):
        for j, b in enumerate(ring):
            dist = min((i - j) % n, (j - i) % n)
            if i != j and dist > reach:
                blocked.add((a, b))
    return blocked


def compile_fault(
    spec: FaultSpec, nodes: Sequence[str], rng: random.Random, resolver: Resolver
) -> tuple[LinkRule, ...]:
    """The link rules one network fault puts in place, selectors resolved now."""
    if spec.kind is FaultKind.PARTITION:
        if spec.mode == "majorities-ring":
            blocked = _ring_links(nodes, rng)
        else:
            sides = partition_sides(spec, nodes, rng, resolver)
            together = {(a, b) for side in sides for a in side for b in side}
            senders = set(sides[0]) if spec.one_way else set(nodes)
            blocked = {
                (a, b)
                for a in nodes
                for b in nodes
                if a != b and a in senders and (a, b) not in together
            }
        return tuple(LinkRule(a, b, blocked=True) for a, b in sorted(blocked))
    sources = resolve_all(spec.targets or ("all",), resolver)
    dests = resolve_all(spec.peers or ("all",), resolver)
    rules = []
    for a in sources:
        for b in dests:
            if a == b:
                continue
            if spec.kind is FaultKind.DROP:
                rules.append(LinkRule(a, b, drop=spec.probability))
            elif spec.kind is FaultKind.DELAY:
                rules.append(LinkRule(a, b, delay_ms=spec.delay_ms, jitter_ms=spec.jitter_ms))
            elif spec.kind is FaultKind.DUPLICATE:
                rules.append(LinkRule(a, b, duplicate=spec.probability))
            elif spec.kind is FaultKind.REORDER:
                rules.append(LinkRule(a, b, reorder=spec.probability))
            else:
                raise ValueError(f"{spec.kind.value} is not a network fault")
    return tuple(rules)


@dataclass
class LinkShaper:
    """Per-node view of the rule table: what happens to a frame from ``me`` to ``dst``."""

    me: str
    rng: random.Random
    version: int = 0

    def __post_init__(self) -> None:
        self._out: dict[str, LinkRule] = {}
        self._blocked_in: set[str] = set()

    def install(self, version: int, rules: Iterable[LinkRule]) -> bool:
        """Take a new table; older versions (reordered control messages) are ignored."""
        if version < self.version:
            return False
        self.version = version
        rules = list(rules)
        self._out = {r.dst: r for r in rules if r.src == self.me}
        self._blocked_in = {r.src for r in rules if r.dst == self.me and r.blocked}
        return True

    @property
    def active(self) -> bool:
        return bool(self._out or self._blocked_in)

    def accepts_from(self, src: str) -> bool:
        """Inbound check, so a partition holds even if the sender missed a table update."""
        return src not in self._blocked_in

    def outbound(self, dst: str) -> list[float]:
        rule = self._out.get(dst)
        if rule is None:
            return [0.0]
        if rule.blocked or (rule.drop and self.rng.random() < rule.drop):
            return []
        delay = rule.delay_ms
        if rule.jitter_ms:
            delay = max(0.0, delay + self.rng.uniform(-rule.jitter_ms, rule.jitter_ms))
        if rule.reorder and self.rng.random() < rule.reorder:
            # held back long enough for frames sent after it to overtake it
            delay += self.rng.uniform(5.0, 20.0 + 2 * rule.delay_ms)
        delays = [delay / 1000.0]
        if rule.duplicate and self.rng.random() < rule.duplicate:
            delays.append(delays[0] + self.rng.uniform(0.0, 0.005))
        return delays
