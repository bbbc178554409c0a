"""The one type for everything a spec file can get wrong, and the "did you mean" helper."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Problem:
    """A problem at a place in a spec file. Lines and columns start at 1.

    Problems sort by file, line, column, so a list of them reads like a compiler's output.
    """

    file: str
    line: int
    column: int
    json_path: str
    code: str
    message: str
    severity: Severity = "error"

    def __post_init__(self) -> None:
        # one problem, one line: names quoted from the file may hold line breaks
        if "\n" in self.message or "\r" in self.message:
            clean = self.message.replace("\r", "\\r").replace("\n", "\\n")
            object.__setattr__(self, "message", clean)

    def format(self) -> str:
        """``file:line:column: error[code] json.path: message``."""
        where = f"{self.json_path}: " if self.json_path else ""
        return (
            f"{self.file}:{self.line}:{self.column}: {self.severity}[{self.code}] "
            f"{where}{self.message}"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "json_path": self.json_path,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
        }


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a known name is close to ``name``, else ``""``."""
    candidates = [k for k in known if isinstance(k, str)]
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if not close:
        lowered = {k.lower(): k for k in candidates}
        if name.lower() in lowered:
            close = [lowered[name.lower()]]
    return f" (did you mean '{close[0]}'?)" if close else ""


def format_path(path: Iterable[str | int]) -> str:
    """A JSON path as the user reads it: ``actions.create.body.name``, ``reset[0].request``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.replace("_", "").replace("-", "").isalnum() and part[:1] not in "0123456789":
            out += ("." if out else "") + part
        else:
            out += f"[{part!r}]"
    return out
