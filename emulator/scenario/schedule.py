"""A phase's nemesis schedule resolved into timed faults (pure: the seed decides every choice).

``interval`` mode starts a fault every ``interval`` seconds from ``first`` (default: one
interval in), each lasting ``duration`` (default: half the interval), picked from ``faults``
in turn (``cycle``) or at random (``random``), as long as it ends inside the phase. ``at`` mode
takes the listed faults as they are. Both may be given; the result is in time order.
"""

from __future__ import annotations

import random

from emulator.scenario.model import Nemesis, TimedFault


def resolve(nemesis: Nemesis, phase_s: float, rng: random.Random) -> list[TimedFault]:
    out = [f for f in nemesis.at if f.at < phase_s]
    if nemesis.faults and nemesis.interval:
        duration = nemesis.duration if nemesis.duration is not None else nemesis.interval / 2
        t = nemesis.first if nemesis.first is not None else nemesis.interval
        n = 0
        while t + duration <= phase_s:
            if nemesis.pick == "random":
                fault = rng.choice(nemesis.faults)
            else:
                fault = nemesis.faults[n % len(nemesis.faults)]
            out.append(TimedFault(round(t, 6), dict(fault), duration))
            t += nemesis.interval
            n += 1
    out.sort(key=lambda f: f.at)
    return out
