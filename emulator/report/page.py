"""Placeholder until the page lands."""

from pathlib import Path
from typing import Any


def write_report(run: Path, results: dict[str, Any]) -> Path:
    path = run / "report.html"
    path.write_text("<html><body>pending</body></html>")
    return path
