"""Applied marks: one CRC over each window of consecutive applied entries, for the run checker.

Every member applies the same committed entries in index order, so a window's CRC (of each entry's
term and data, chained) must be the same on every member that applied the whole window; the
``raft-invariants`` checker compares them across nodes. Chaining covers every entry with one log
record per window, where a mark of single entries would sample only those it names. A member that
skipped into a window (a snapshot restored, a restart from one) has no whole CRC for it and marks
nothing until the next window begins.
"""

from __future__ import annotations

import zlib

WINDOW = 100  # entries per mark: windows are [1, 100], [101, 200], ...


class AppliedMarks:
    def __init__(self, window: int = WINDOW):
        self.window = window
        self._last = 0  # the index applied last (0: none yet)
        self._crc = 0
        self._whole = False  # every entry of the current window so far was applied here

    def applied(self, index: int, term: int, data: bytes) -> int | None:
        """Take the entry just applied; the window's CRC when ``index`` completes a whole window."""
        if index % self.window == 1 % self.window:  # a window begins
            self._crc, self._whole = 0, True
        elif index != self._last + 1:  # a gap (snapshot) or a repeat: this window is not whole
            self._whole = False
        self._last = index
        self._crc = zlib.crc32(data, zlib.crc32(term.to_bytes(8, "little"), self._crc))
        if index % self.window == 0 and self._whole:
            return self._crc
        return None
