"""Stage 1: load and validate a spec file.

``load_spec`` reads the YAML once (keeping positions), checks it against the format's JSON
Schema, then builds the ``Spec`` model while checking what the schema cannot: references,
operations of the OpenAPI document, expressions. No network, no Hypothesis, no HTTP.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from mbtspec.errors import SpecError, UsageError
from mbtspec.spec._build import Builder
from mbtspec.spec._files import MAX_SPEC_BYTES, FileReadError, read_text
from mbtspec.spec._rules import iter_rule_problems
from mbtspec.spec._schema import iter_schema_problems, spec_schema
from mbtspec.spec._validity import iter_document_problems
from mbtspec.spec._yaml import parse_yaml
from mbtspec.spec.model import Spec
from mbtspec.spec.problems import Problem

__all__ = ["Problem", "Spec", "iter_problems", "lint_spec", "load_spec", "spec_schema"]


def _read(path: Path) -> str:
    try:
        return read_text(path, MAX_SPEC_BYTES)
    except FileReadError as err:
        message = err.message.replace("not a file", "not a spec file")
        raise UsageError(f"{path}: {message}") from None


def _load(path: Path, *, lint: bool = False) -> tuple[Spec | None, list[Problem]]:
    text = _read(path)
    shown = str(path)
    parsed = parse_yaml(text, shown)
    problems = list(parsed.problems)
    if any(p.severity == "error" for p in problems):
        return None, problems
    if parsed.data is None:
        problems.append(Problem(shown, 1, 1, "", "empty-spec",
                                "the file is empty; start with 'version: 1'"))
        return None, problems
    schema_problems = list(iter_schema_problems(parsed.data, parsed.positions))
    if schema_problems:
        return None, problems + schema_problems
    builder = Builder(parsed.data, parsed.positions, path)
    spec = builder.build()
    problems.extend(builder.problems)
    problems.extend(iter_rule_problems(spec, parsed.positions))
    if lint and spec.openapi is not None:  # warnings only: check need not pay for it
        problems.extend(iter_document_problems(spec.openapi, parsed.positions))
    if not any(p.severity == "error" for p in problems):
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        spec = dataclasses.replace(spec, sha256=digest)
    return spec, problems


def iter_problems(path: str | Path) -> list[Problem]:
    """Every problem of the spec file at ``path`` (errors and warnings), sorted by position,
    each once (a check may meet the same mistake twice: ``optional: [b, b]``)."""
    _, problems = _load(Path(path), lint=True)
    return sorted(set(problems))


def lint_spec(path: str | Path) -> list[Problem]:
    """What ``mbtspec lint`` reports for ``path``: every error and warning, sorted."""
    return iter_problems(path)


def load_spec(path: str | Path) -> Spec:
    """Load and validate the spec at ``path``; raises ``SpecError`` listing every problem."""
    spec, problems = _load(Path(path))
    errors = [p for p in problems if p.severity == "error"]
    if errors or spec is None:
        raise SpecError(errors or problems)
    return spec
