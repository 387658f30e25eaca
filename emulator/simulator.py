"""Deterministic simulation of the Raft core: many seeded fault schedules, no sockets.

    python -m emulator.simulator --seeds 500 [--nodes 3|5] [--start N] [--state-machine etcd]
    python -m emulator.simulator --seed 1234 --trace        # replay one seed with its trace

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

from emulator.sim.scenario import SimOptions, SimResult, Simulation
from emulator.sim.statemachine import MachineKind


def run_seeds(seeds: Iterable[int], options: SimOptions) -> list[SimResult]:
    return [Simulation(seed, options).run() for seed in seeds]


def summary(results: list[SimResult]) -> str:
    failures = sum(1 for r in results if not r.ok)
    ticks = sum(r.ticks for r in results)
    commits = sum(r.commits for r in results)
    return f"{len(results)} seeds, {failures} failures, {ticks} ticks, {commits} commits"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m emulator.simulator", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seeds", type=int, default=100, help="how many seeds to run")
    parser.add_argument("--start", type=int, default=0, help="the first seed")
    parser.add_argument("--seed", type=int, help="run only this seed")
    parser.add_argument("--nodes", type=int, default=3, choices=(1, 2, 3, 4, 5, 6, 7))
    parser.add_argument(
        "--ticks", type=int, default=SimOptions.ticks, help="ticks of chaos per seed"
    )
    parser.add_argument(
        "--state-machine",
        choices=[k.value for k in MachineKind],
        default=SimOptions.state_machine.value,
        help="what the clients drive: a small kv store or etcd's v2 keyspace",
    )
    parser.add_argument(
        "--trace", action="store_true", help="print the event trace of failing seeds"
    )
    args = parser.parse_args(argv)

    options = SimOptions(
        nodes=args.nodes,
        ticks=args.ticks,
        state_machine=MachineKind(args.state_machine),
        trace=args.trace,
    )
    seeds = [args.seed] if args.seed is not None else range(args.start, args.start + args.seeds)
    results = []
    for seed in seeds:
        result = Simulation(seed, options).run()
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
