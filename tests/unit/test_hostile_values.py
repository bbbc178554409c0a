"""Values that lint accepts always compile: what Hypothesis would refuse while drawing is a
``cannot-generate`` problem of ``check``, never a traceback; odd but valid values work."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mbtspec.compiler import DrawContext, State, compile_plan
from mbtspec.errors import SpecError
from mbtspec.spec import load_spec

HEAD = """\
version: 1
targets:
  model: {base_url: "http://127.0.0.1:8081"}
  candidate: {base_url: "http://127.0.0.1:8080"}
reset: [{request: POST /__reset}]
actions:
  a:
    request: GET /items
"""


def plan_of(tmp_path: Path, part: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "spec.yaml"
    path.write_text(HEAD + part)
    return compile_plan(load_spec(path), environ={})


def draws(plan, count: int = 30) -> list[object]:  # type: ignore[no-untyped-def]
    seen: list[object] = []

    class Draws:
        def __init__(self, data: st.DataObject) -> None:
            self.data = data

        def draw(self, strategy: st.SearchStrategy[object]) -> object:
            return self.data.draw(strategy)

    @settings(max_examples=count, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def draw(data: st.DataObject) -> None:
        seen.append(plan.actions[0].draw(DrawContext(Draws(data), State(frozenset()),
                                                     plan.targets)))

    draw()
    return seen


def test_what_only_hypothesis_would_refuse_is_a_cannot_generate_problem(tmp_path: Path) -> None:
    # lint does not follow ${two} to count its values; Hypothesis refuses when compiling
    with pytest.raises(SpecError) as caught:
        plan_of(tmp_path, '    query: {q: {list: "${two}", min_size: 3, unique: true}}\n'
                          "generators:\n  two: {one_of: [a, b]}\n")
    [problem] = caught.value.problems
    assert problem.code == "cannot-generate"
    assert "Cannot create a collection of min_size=3 unique elements" in problem.message


def test_integer_bounds_without_an_exact_float_are_rounded_in(tmp_path: Path) -> None:
    low = 10**300 + 1
    plan = plan_of(tmp_path, f"    query: {{q: {{number: {{min: {low}}}}}}}\n")
    assert all(draft.query[0][1] >= low for draft in draws(plan))  # type: ignore[attr-defined]


def test_drawn_header_values_are_printable_ascii(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, "    headers: {X-Name: {string: {alphabet: 'aé€\\u0007', "
                             "min_size: 1}}}\n")
    values = [draft.headers["X-Name"] for draft in draws(plan)]  # type: ignore[attr-defined]
    assert values and all(all(" " <= c <= "~" for c in v) for v in values)
    assert any(v for v in values)  # the ASCII 'a's are kept
