"""The linter on random and mutated input: it may report problems, it must never crash."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mbtspec.spec import Problem, lint_spec

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = (REPO / "examples" / "employees" / "spec.yaml").read_text().replace(
    "openapi: openapi.yaml", f"openapi: {REPO / 'examples' / 'employees' / 'openapi.yaml'}")
SETTINGS = settings(max_examples=int(os.environ.get("LINT_FUZZ_EXAMPLES", "150")), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
KEYS = ["version", "openapi", "targets", "model", "candidate", "app", "base_url", "command",
        "reset", "request", "generators", "actions", "path", "query", "body", "store", "when",
        "pick", "or", "one_of", "integer", "string", "format", "compare", "ignore", "invariants",
        "check", "run", "sequences", "${x}", "${env.Y}", "GET /a/{id}"]


def lint_text(tmp: Path, text: str) -> list[Problem]:
    path = tmp / "spec.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    problems = lint_spec(path)
    for problem in problems:  # every problem is well-formed and points into the file
        assert problem.line >= 1 and problem.column >= 1
        assert problem.code and problem.message and "\n" not in problem.message
    return problems


@SETTINGS
@given(st.text(max_size=300))
def test_random_text(tmp_path: Path, text: str) -> None:
    lint_text(tmp_path, text)


@st.composite
def mutated_example(draw: Any) -> str:
    lines = EXAMPLE.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["delete", "duplicate", "indent", "chars", "swap"]))
        i = draw(st.integers(0, len(lines) - 1))
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "indent":
            lines[i] = draw(st.sampled_from(["  ", "\t", " "])) + lines[i]
        elif kind == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            position = draw(st.integers(0, len(lines[i])))
            noise = draw(st.text(alphabet=":{}[]$-,'\"#&*!|> \\x0a", max_size=3))
            lines[i] = lines[i][:position] + noise + lines[i][position:]
    return "\n".join(lines) + "\n"


@SETTINGS
@given(mutated_example())
def test_mutated_example(tmp_path: Path, text: str) -> None:
    lint_text(tmp_path, text)


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.sampled_from(KEYS) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(KEYS) | st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


@SETTINGS
@given(st.dictionaries(st.sampled_from(KEYS), values, max_size=8))
def test_random_structures(tmp_path: Path, data: dict[str, Any]) -> None:
    lint_text(tmp_path, yaml.safe_dump(data, allow_unicode=True))


def test_the_unmutated_example_lints_clean(tmp_path: Path) -> None:
    assert [p for p in lint_text(tmp_path, EXAMPLE) if p.severity == "error"] == []
