"""Render spec problems: compiler-style text and GitHub workflow annotations."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from mbtspec.report.text import printable
from mbtspec.spec.problems import Problem


def render_text(problems: Iterable[Problem]) -> Iterator[str]:
    """``file:line:column: severity[code] path: message``, one per line (control characters
    quoted from the file written as escapes: they would be commands to a terminal)."""
    for problem in problems:
        yield printable(problem.format())


def _escape(text: str, *, property_value: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def render_github(problems: Iterable[Problem]) -> Iterator[str]:
    """GitHub Actions workflow commands (``::error file=...,line=...::message``)."""
    for p in problems:
        title = _escape(f"mbtspec {p.code}", property_value=True)
        where = f"{p.json_path}: " if p.json_path else ""
        yield printable(
            f"::{p.severity} file={_escape(p.file, property_value=True)},line={p.line},"
            f"col={p.column},title={title}::{_escape(where + p.message)}")
