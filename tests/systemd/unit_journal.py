"""Reading what a unit's own processes wrote to its journal, for tests that start real units."""

from __future__ import annotations

from actors.systemd import SystemdManager


def unit_output(systemd: SystemdManager, unit: str) -> list[str]:
    """The messages of the unit's processes in its journal, without systemd's own lines.

    A unit's output reaches its journal on its own, as journald reads a unit's output stream: the
    unit may already be reported exited or failed before its last lines are in (real systemd makes
    no promise of that order either). Wait on these lines; don't read them once the state is seen.
    """
    return [
        line.split("]: ", 1)[1]
        for line in systemd.journal(unit)
        if "]: " in line and " systemd[1]: " not in line
    ]
