"""``Expression.quick``: the invariants most specs have, worked out without CEL, must give
exactly what CEL gives, or leave the expression to CEL."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mbtspec.spec._yaml import Mark
from mbtspec.spec.expressions import (
    SLOW,
    ExpressionEvaluationError,
    compile_expression,
    held,
    prepare_context,
)

OPERATORS = ["<", "<=", ">", ">=", "==", "!="]
values = (st.integers() | st.integers(-600, 600) | st.booleans() | st.floats(allow_nan=False)
          | st.text(max_size=3) | st.none() | st.lists(st.integers(), max_size=2))


def _by_cel(expression: Any, variables: dict[str, Any], functions: Any = None) -> Any:
    try:
        return expression.run(prepare_context([expression], variables, functions))
    except ExpressionEvaluationError:
        return "error"


@given(st.sampled_from(OPERATORS), st.integers(-600, 600), values,
       st.sampled_from(["present", "missing", "not a map"]))
def test_a_field_compared_with_a_number_as_cel_compares_it(
        op: str, number: int, value: Any, shape: str) -> None:
    expression = compile_expression(f"candidate.status {op} {number}", Mark(1, 1))
    assert expression.shortcut is not None
    holder: Any = {"present": {"status": value}, "missing": {"other": value},
                   "not a map": [value]}[shape]
    variables = {"candidate": holder}
    quick = expression.quick(variables, None)
    if quick is not SLOW:
        assert quick == _by_cel(expression, variables)
    if shape == "present" and type(value) is int and abs(value) < 2**63:
        assert quick is not SLOW  # (the usual case is the quick one)


def test_a_function_of_a_variable_is_called_as_cel_calls_it() -> None:
    seen: list[Any] = []

    def conforms(response: Any) -> bool:  # (as mbtspec's functions do: see conformance)
        response = held(response)
        seen.append(response)
        return bool(response.get("status") == 200)

    expression = compile_expression("conforms_to_openapi(candidate)", Mark(1, 1))
    functions = {"conforms_to_openapi": conforms}
    for response in ({"status": 200, "body": [1, 2]}, {"status": 500, "body": None}):
        variables = {"candidate": response}
        assert expression.quick(variables, functions) == _by_cel(expression, variables,
                                                                  functions)
    assert seen[0] == {"status": 200, "body": [1, 2]}
    assert expression.quick({}, functions) is SLOW  # (not there: CEL says so)
    assert expression.quick({"candidate": {}}, {}) is SLOW


@pytest.mark.parametrize("source", [
    "candidate.status < 500.0", "size(candidate.body) > 0", "candidate.status < 500 || true",
    "header(candidate)", "has(candidate.status)", "candidate.status < 99999999999999999999",
    "math.abs(candidate.status) < 3", "[1].all(x, x < candidate.status)",
])
def test_other_forms_go_to_cel(source: str) -> None:
    try:
        expression = compile_expression(source, Mark(1, 1))
    except ValueError:
        return  # (not an expression at all)
    assert expression.shortcut is None
    assert expression.quick({"candidate": {"status": 3, "body": [1]}}, {}) is SLOW


nested = st.recursive(values | st.floats(), lambda inner: st.dictionaries(
    st.sampled_from(["id", "body", "x"]), inner, max_size=3), max_leaves=6)


@given(nested, st.sampled_from(["response.body.id", "response.body", "response.x.body.id"]))
def test_a_field_path_as_cel_reads_it(response: Any, source: str) -> None:
    expression = compile_expression(source, Mark(1, 1))
    assert expression.shortcut is not None
    variables = {"response": response}
    quick = expression.quick(variables, None)
    if quick is not SLOW:
        by_cel = _by_cel(expression, variables)
        assert quick == by_cel and type(quick) is type(by_cel)
        assert expression.evaluate(variables) == by_cel  # (evaluate takes the shortcut)


@given(st.sampled_from(OPERATORS), st.integers(-3, 5),
       st.lists(st.integers(), max_size=4) | st.text(max_size=4) | st.none()
       | st.dictionaries(st.text(max_size=2), st.integers(), max_size=3) | st.integers())
def test_a_size_compared_with_a_number_as_cel_compares_it(op: str, number: int,
                                                           value: Any) -> None:
    expression = compile_expression(f"size(known) {op} {number}", Mark(1, 1))
    assert expression.shortcut is not None
    variables = {"known": value}
    quick = expression.quick(variables, None)
    if quick is not SLOW:
        assert quick == _by_cel(expression, variables)
    else:
        assert not isinstance(value, list | dict) and not (isinstance(value, str)
                                                           and value.isascii())
