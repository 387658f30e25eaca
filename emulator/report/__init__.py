"""``report.html``: one self-contained page per run (see :mod:`.page`)."""

from emulator.report.page import write_report

__all__ = ["write_report"]
