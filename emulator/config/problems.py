"""Problems found in a config file, each pointing at a file, a line and a key path.

Readers never raise on the user's mistakes: they record a :class:`Problem` in a
:class:`ProblemLog` and carry on, so one run reports every problem, in file order; at the end
:meth:`ProblemLog.raise_if_errors` raises :class:`ConfigErrors` listing them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or suspicious) in a config file."""

    file: str
    line: int | None
    key_path: str
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return (
            f"{where}: {self.key_path}: {self.message}"
            if self.key_path
            else f"{where}: {self.message}"
        )


class ConfigErrors(ValueError):
    """A config has errors: ``problems`` lists every one (file order); ``warnings`` rides along."""

    def __init__(self, problems: Iterable[Problem], warnings: Iterable[Problem] = ()):
        self.problems = list(problems)
        self.warnings = list(warnings)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class Where(Protocol):
    """Anything that knows where it is: a YNode, an Entry, a Loc."""

    @property
    def line(self) -> int | None: ...

    @property
    def path(self) -> str: ...


@dataclass(frozen=True)
class Loc:
    line: int | None
    path: str


class ProblemLog:
    """Collects problems; the same problem found twice (say, once per node) is kept once."""

    def __init__(self, file: str):
        self.file = file
        self._items: list[Problem] = []
        self._seen: set[tuple[Any, ...]] = set()

    def add(self, where: Where, message: str, severity: Severity = Severity.ERROR) -> None:
        problem = Problem(self.file, where.line, where.path, message, severity)
        key = (problem.severity, problem.line, problem.key_path, problem.message)
        if key not in self._seen:
            self._seen.add(key)
            self._items.append(problem)

    def error(self, where: Where, message: str) -> None:
        self.add(where, message, Severity.ERROR)

    def warning(self, where: Where, message: str) -> None:
        self.add(where, message, Severity.WARNING)

    def _sorted(self, severity: Severity) -> list[Problem]:
        chosen = [p for p in self._items if p.severity is severity]
        return sorted(chosen, key=lambda p: (p.line is None, p.line or 0))  # stable: found order

    @property
    def errors(self) -> list[Problem]:
        return self._sorted(Severity.ERROR)

    @property
    def warnings(self) -> list[Problem]:
        return self._sorted(Severity.WARNING)

    def raise_if_errors(self) -> None:
        if self.errors:
            raise ConfigErrors(self.errors, self.warnings)
