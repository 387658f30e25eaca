"""How long the linearizability checker takes on a 10,000-op register history.

    python bench/linearizability.py [--ops 10000] [--keys 5] [--clients 10] [--seed 1]

The history (emulator.checkers.synthetic) has 5 keys and 10 clients and plays a leader kill
every second: ops caught in it end as info (unknown) or fail. It is linearizable by
construction; a copy with one planted stale read must come out invalid, with a counterexample
shrunk to a few ops. Target: the valid history decided in under 2 s on this machine.
"""

from __future__ import annotations

import argparse
import time

from emulator.checkers import linearizable
from emulator.checkers.ops import Outcome
from emulator.checkers.shrink import shrink
from emulator.checkers.synthetic import register_history, stale_read


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ops", type=int, default=10_000)
    p.add_argument("--keys", type=int, default=5)
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    ops = register_history(args.ops, args.keys, args.clients, args.seed)
    counts = {o.value: sum(1 for x in ops if x.outcome is o) for o in Outcome}
    print(f"history: {len(ops)} ops, {args.keys} keys, {args.clients} clients; "
          f"ok {counts['ok']}, fail {counts['fail']}, info {counts['info']}")  # fmt: skip
    started = time.perf_counter()
    result = linearizable.check(ops, time_limit=60)
    valid_s = time.perf_counter() - started
    print(f"valid history:   {result.valid} in {valid_s:.3f} s "
          f"({result.ops_searched} ops searched after pruning)")  # fmt: skip
    bad = stale_read(ops, args.seed)
    started = time.perf_counter()
    result = linearizable.check(bad, time_limit=60)
    invalid_s = time.perf_counter() - started
    print(f"one stale read:  {result.valid} in {invalid_s:.3f} s")
    if result.valid is False:
        key = result.failed_keys[0]
        started = time.perf_counter()
        blocked = result.keys[key].blocked
        small = shrink(linearizable.prune([o for o in bad if o.key == key]), hint=blocked[0])
        print(
            f"counterexample shrunk to {len(small)} ops in {time.perf_counter() - started:.3f} s:"
        )
        for op in small:
            print(f"  {op.describe()}")
    print(f"check time (10,000-op target under 2 s): {valid_s:.3f} s")
    return 0 if valid_s < 2.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
