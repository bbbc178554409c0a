"""Expressions: only the fields an expression reads are handed to CEL, with the same results."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mbtspec.spec._yaml import Mark
from mbtspec.spec.expressions import (
    HANDLE,
    ExpressionEvaluationError,
    _fields_read,
    compile_expression,
    held,
    prepare_context,
)

MARK = Mark("spec.yaml", 1, 1)


@pytest.mark.parametrize(("source", "fields"), [
    ("candidate.status < 500", {"status"}),
    ("candidate.status < 500 && has(candidate.body)", {"status", "body"}),
    ("response.body.employeeNo", {"body"}),
    ("x.candidate == candidate.status", {"status"}),  # a field named candidate is not it
    ("candidates.size() + candidate.y", {"y"}),
    # the whole value goes to a Python function: a handle to it (``held``)
    ("conforms_to_openapi(candidate)", {HANDLE}),
    ("candidate.status < 500 && header(candidate, 'etag') != ''", {"status", HANDLE}),
    ("openapi_problems( candidate ).size() == 0", {HANDLE}),
    ("conforms_to_openapi(candidate.body)", {"body"}),
    ("conforms_to_openapi([candidate][0])", None),
    ("my_conforms_to_openapi(candidate)", None),
    ("candidate.size() > 1", None),  # a method on the map itself
    ('candidate["status"] == 1', None),
    ("candidate.?body.hasValue()", None),
    ("'status' in candidate", None),
    ("candidate.body.exists(candidate, candidate == 1)", None),
])
def test_fields_read(source: str, fields: set[str] | None) -> None:
    expected = None if fields is None else frozenset(fields)
    assert _fields_read(source, "candidate" if "candidate" in source else "response") \
        == expected


KEYS = ["a", "b", "c"]
VALUES = st.one_of(st.integers(-3, 3), st.text("xy", max_size=2), st.none(),
                   st.lists(st.integers(0, 2), max_size=2))
USES = st.sampled_from([
    "v.{k} == 1", "has(v.{k})", "size(v) == 2", "v['{k}'] == 1", "'{k}' in v", "v.{k}",
    "string(v.{k}) == 'x'", "v.all(k, k != '{k}')", "v.{k} == v.{j}", "size(v.{k}) > 0",
    "w.{k} == 1", "has(w.v)",
])


@settings(max_examples=300)
@given(value=st.dictionaries(st.sampled_from(KEYS), VALUES),
       parts=st.lists(st.tuples(USES, st.sampled_from(KEYS), st.sampled_from(KEYS)),
                      min_size=1, max_size=3),
       joiner=st.sampled_from([" || ", " && ", ", "]))
def test_projected_context_evaluates_like_the_whole_value(
        value: dict[str, Any], parts: list[tuple[str, str, str]], joiner: str) -> None:
    uses = [use.format(k=k, j=j) for use, k, j in parts]
    source = f"[{joiner.join(uses)}]" if joiner == ", " else joiner.join(uses)
    expression = compile_expression(source, MARK)
    variables = {"v": value, "w": {"v": value, "a": 1}}
    projected = _outcome(lambda: expression.run(prepare_context([expression], variables)))
    whole = _outcome(lambda: expression.run(variables))  # CEL converts all of each value
    assert projected == whole, (source, value)


def _outcome(run: Any) -> Any:
    try:
        return ("value", run())
    except ExpressionEvaluationError as err:
        return ("error", str(err))


def test_a_value_handed_whole_to_a_response_function_is_not_converted() -> None:
    seen: list[object] = []
    body = {"items": list(range(5))}
    candidate = {"status": 200, "body": body}

    def conforms_to_openapi(value: object) -> bool:
        seen.append(held(value))
        return True

    expression = compile_expression(
        "candidate.status == 200 && conforms_to_openapi(candidate)", MARK)
    assert expression.evaluate({"candidate": candidate},
                               {"conforms_to_openapi": conforms_to_openapi}) is True
    assert seen == [candidate]
    assert seen[0] is candidate  # the value itself: no copy through CEL and back
    assert held({"status": 1}) == {"status": 1}
