"""Deterministic simulation of etcd members and the Raft core: many seeded fault schedules, no sockets.

    python -m emulator.simulator --seeds 1000 --nodes 5     # whole etcd members (the default)
    python -m emulator.simulator --seeds 500 [--nodes 3|5] [--start N] [--state-machine kv|etcd]
    python -m emulator.simulator --seed 1234 --trace        # replay one seed with its trace
    python -m emulator.simulator --seeds 50 --broken ack-before-quorum   # must find failures

By default (``--state-machine member``) each node is the member core a node runs — Ready order,
send-before-fsync, request tracking, failing requests in flight on a leader change, ReadIndex —
on its real WAL over a simulated disk, with clients whose history must be linearizable
(``emulator.sim.memberrun``). ``--broken`` swaps in a deliberately broken member to show the
checks catch it.

With ``kv`` or ``etcd``:

Each seed runs N RaftCores over a seeded network that drops, delays, duplicates and reorders
messages, with partitions, crashes and restarts (a node keeps only what it persisted), leader
transfers, log compaction and, in some runs, one membership change. Clients drive either a
small kv store (``kv``) or etcd's v2 keyspace (``etcd``: packed V2Requests with TTLs, leader
SYNCs on the simulated clock, snapshots from ``KeyStore.snapshot``). The checks are listed in
``emulator.sim.checker``. A failing seed prints its number (and with ``--trace`` the event
trace); the same seed replays exactly. Exit code 0 when every seed passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable

from emulator.sim.member import BROKEN
from emulator.sim.memberrun import MemberSimOptions, MemberSimulation
from emulator.sim.scenario import SimOptions, SimResult, Simulation
from emulator.sim.statemachine import MachineKind


def run_seeds(seeds: Iterable[int], options: SimOptions) -> list[SimResult]:
    return [Simulation(seed, options).run() for seed in seeds]


MEMBER = "member"


def summary(results: list) -> str:
    failures = sum(1 for r in results if not r.ok)
    ticks = sum(r.ticks for r in results)
    if results and isinstance(results[0], SimResult):
        commits = sum(r.commits for r in results)
        return f"{len(results)} seeds, {failures} failures, {ticks} ticks, {commits} commits"
    ops = sum(r.ops for r in results)
    acked = sum(r.acked_writes for r in results)
    return (
        f"{len(results)} seeds, {failures} failures, {ticks} ticks, {ops} client ops, "
        f"{acked} acknowledged writes"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m emulator.simulator", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seeds", type=int, default=100, help="how many seeds to run")
    parser.add_argument("--start", type=int, default=0, help="the first seed")
    parser.add_argument("--seed", type=int, help="run only this seed")
    parser.add_argument("--nodes", type=int, default=3, choices=(1, 2, 3, 4, 5, 6, 7))
    parser.add_argument("--ticks", type=int, help="ticks of chaos per seed")
    parser.add_argument(
        "--state-machine",
        choices=[MEMBER, *(k.value for k in MachineKind)],
        default=MEMBER,
        help="whole etcd members (default), or the Raft core with a small kv store or etcd's "
        "v2 keyspace",
    )
    parser.add_argument(
        "--broken", choices=sorted(BROKEN), help="run a deliberately broken member (member only)"
    )
    parser.add_argument(
        "--trace", action="store_true", help="print the event trace of failing seeds"
    )
    args = parser.parse_args(argv)

    if args.state_machine == MEMBER:
        ticks = {"ticks": args.ticks} if args.ticks else {}
        mopts = MemberSimOptions(nodes=args.nodes, broken=args.broken, trace=args.trace, **ticks)
        run = lambda seed: MemberSimulation(seed, mopts).run()  # noqa: E731
    else:
        options = SimOptions(
            nodes=args.nodes,
            ticks=args.ticks or SimOptions.ticks,
            state_machine=MachineKind(args.state_machine),
            trace=args.trace,
        )
        run = lambda seed: Simulation(seed, options).run()  # noqa: E731
    seeds = [args.seed] if args.seed is not None else range(args.start, args.start + args.seeds)
    results = []
    for seed in seeds:
        result = run(seed)
        results.append(result)
        if not result.ok:
            print(
                f"seed {seed} FAILED ({args.nodes} nodes, {args.state_machine}): {result.error}",
                flush=True,
            )
        if args.trace and (not result.ok or args.seed is not None):
            print("\n".join(result.trace))
    print(summary(results))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
