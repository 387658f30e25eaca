"""The node's emulated systemd: units as real child processes, ActiveState/SubState, journals.

from actors.systemd import SystemdManager, UnitStatus, UnitFileError
"""

from actors.systemd.manager import SystemdManager, UnitFileError, UnitStatus

__all__ = ["SystemdManager", "UnitFileError", "UnitStatus"]
