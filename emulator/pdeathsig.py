"""A child that dies with its parent: Linux's ``PR_SET_PDEATHSIG``, set between fork and exec."""

from __future__ import annotations

import ctypes
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """A ``preexec_fn``: the child gets SIGTERM when its parent dies. SIGTERM, not SIGKILL, so a
    child that must clean up (a unit's guard killing its process group) can still do it."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux's libc: the child lives on, as it would anywhere else
