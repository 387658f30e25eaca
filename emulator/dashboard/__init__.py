"""The live dashboard of a run: served by its supervisor on loopback, behind a per-run secret.

``start_dashboard(run_dir, port)`` → a :class:`Dashboard` with ``url`` and ``stop()``.
"""

from emulator.dashboard.server import Dashboard, start_dashboard

__all__ = ["Dashboard", "start_dashboard"]
