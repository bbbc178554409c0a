"""Errors that mbtspec raises on purpose.

Every error a user can cause or meet derives from one root, so callers (the CLI, the pytest
plugin) catch one type and never show a traceback for it::

    MbtspecError
    +-- SpecError         the spec file (or its OpenAPI document) is invalid; carries Problems
    +-- UsageError        a command-line or API argument is wrong (missing file, bad flag value)
    +-- TargetError       a target could not be started, reached or reset, or died mid-run
    +-- RunError          the run cannot proceed (e.g. no action can ever start)
    +-- WorkerError       a worker process of ``--workers`` died, or met an internal error

Behaviour differences are not errors: they are results (see ``mbtspec.executor.Failure``).

Any other exception is a bug in mbtspec (an *internal error*): the command line and the pytest
plugin say so in one line (``internal_error_message``), with exit code 4, and show the
traceback only when the environment variable ``MBTSPEC_DEBUG`` is set.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mbtspec.spec.problems import Problem


#: Signals (SIGINT, SIGTERM) that came before a run took them over, noted by the command's
#: own handler: a run that starts after one stops at once (``executor._interrupts``), even
#: when the exit that handler raised was swallowed on its way (it can land in any code).
SIGNALS_BEFORE_RUN: list[int] = []


class MbtspecError(Exception):
    """Root of every error mbtspec raises deliberately."""


class SpecError(MbtspecError):
    """The spec is invalid. ``problems`` lists every problem found, sorted by position."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(sorted(set(problems)))  # (each once: see iter_problems)
        first = self.problems[0].format() if self.problems else "invalid spec"
        more = len(self.problems) - 1
        super().__init__(first + (f" (and {more} more)" if more > 0 else ""))


class UsageError(MbtspecError):
    """A command-line or API argument is wrong."""


class RunError(MbtspecError):
    """The spec is valid but cannot be run as it is; the message says why and what to do."""


@dataclass
class TargetError(MbtspecError):
    """A target could not be started, reached or reset, or stopped answering.

    ``log_tail`` holds the last lines the target process wrote, when there is a process.
    """

    target: str
    message: str
    log_tail: list[str] = field(default_factory=list)
    log_path: str | None = None

    def __post_init__(self) -> None:
        super().__init__(f"target '{self.target}': {self.message}")

    def __str__(self) -> str:
        return f"target '{self.target}': {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:  # (as it was made: from a worker process)
        return type(self), (self.target, self.message, self.log_tail, self.log_path)


class WorkerError(MbtspecError):
    """A worker of ``--workers`` ended without finishing its part: it died (a crash, a
    signal: ``internal`` False, exit code 3 as for a dead target) or met a bug in mbtspec
    (``internal`` True, exit code 4; ``details`` is its traceback). The message says which
    worker, how it ended, its last output and the command that runs its part alone."""

    def __init__(self, message: str, *, internal: bool = False, details: str = "") -> None:
        super().__init__(message)
        self.internal = internal
        self.details = details


#: Set this environment variable (to anything but ``0``) to see an internal error's traceback.
DEBUG_VARIABLE = "MBTSPEC_DEBUG"


def debugging() -> bool:
    """Is ``MBTSPEC_DEBUG`` set (and not ``0``)?"""
    return os.environ.get(DEBUG_VARIABLE, "0") not in ("", "0")


def internal_error_message(error: BaseException) -> str:
    """One line for an unexpected exception: what it was, and what to do."""
    text = str(error).strip().splitlines()
    what = type(error).__name__ + (f": {text[0]}" if text else "")
    hint = ("the traceback follows" if debugging()
            else f"rerun with {DEBUG_VARIABLE}=1 to see the traceback")
    return f"internal error: {what} — a bug in mbtspec, please report it ({hint})"
