"""Every evaluation of an expression is bounded: refused when loading if it would go over the
budget whatever the data, stopped when running if it goes over it on the data at hand.

Also: the parser that reads expressions for this agrees with the engine, and the counting
rewrite of comprehensions does not change any result.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mbtspec.spec import _cel
from mbtspec.spec import expressions as ex
from mbtspec.spec._yaml import Mark
from mbtspec.spec.expressions import (
    ExpressionBudgetError,
    ExpressionEvaluationError,
    ExpressionLimitError,
    compile_expression,
    unknown_functions,
)

MARK = Mark(12, 7)
TEN = "[1,2,3,4,5,6,7,8,9,10]"


def nested(depth: int, body: str = "true") -> str:
    for level in range(depth):
        body = f"{TEN}.all(v{level}, {body})"
    return body


# --------------------------------------------------------------------------- when loading


@pytest.mark.parametrize(("source", "words", "column"), [
    (nested(6), "runs about 10^6 comprehension iterations", 24),
    ('"a"' + '.replace("a", "aa")' * 30, "makes a value of about 10^", 0),
    ("lists.range(1000000000).size() > 0", "makes a value of about 10^9", 7),
    ('["ab"]' + "".join(f".map(x{i}, x{i} + x{i})" for i in range(25)) + ".size() > 0",
     "makes a value of", 0),
    ("(" * 120 + "1" + ")" * 120 + " == 1", "nests more than 100 levels deep", 0),
    ("1" + " + 1" * 3000 + " > 0", "is 12,005 characters long", 1),
])
def test_what_explodes_whatever_the_data_is_refused_when_loading(
        source: str, words: str, column: int) -> None:
    started = time.process_time()
    with pytest.raises(ExpressionLimitError) as caught:
        compile_expression(source, MARK)
    assert time.process_time() - started < 1.0
    assert words in caught.value.message
    if column:
        assert (caught.value.line, caught.value.column) == (1, column)


def test_what_fits_the_budget_loads_and_is_guarded() -> None:
    expression = compile_expression(nested(5), MARK)  # 10^5 iterations: fine
    assert expression.guarded and expression.evaluate({}) is True
    plain = compile_expression("response.status == 200", MARK)
    assert not plain.guarded  # no comprehension: nothing to count, nothing added


# --------------------------------------------------------------------------- when running


@pytest.fixture
def small_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ex, "MAX_ITERATIONS", 20_000)


def items(count: int) -> dict[str, Any]:
    return {"response": {"body": {"items": [{"id": i} for i in range(count)]}}}


UNIQUE = "response.body.items.all(a, response.body.items.exists_one(b, a.id == b.id))"


def test_a_quadratic_check_on_small_data_runs(small_budget: None) -> None:
    assert compile_expression(UNIQUE, MARK).evaluate(items(100)) is True  # 10^4 iterations


def test_a_quadratic_check_on_large_data_is_stopped_with_a_clear_error(
        small_budget: None) -> None:
    expression = compile_expression(UNIQUE, MARK)
    started = time.process_time()
    with pytest.raises(ExpressionBudgetError) as caught:
        expression.evaluate(items(2000))  # 4 * 10^6 iterations without the budget
    assert time.process_time() - started < 2.0
    message = str(caught.value)
    assert f"the expression '{UNIQUE}' (line 12, column 7 of the spec)" in message
    assert "more than 20,000 comprehension iterations" in message
    assert isinstance(caught.value, ExpressionEvaluationError)  # callers handle it as such


def test_an_error_absorbed_by_or_still_stops_the_evaluation(small_budget: None) -> None:
    expression = compile_expression(f"({UNIQUE}) || true", MARK)
    with pytest.raises(ExpressionBudgetError):
        expression.evaluate(items(2000))


def test_library_functions_refuse_to_make_huge_values() -> None:
    doubling = compile_expression(
        'response.text.replace("a", "aaaa").replace("a", "aaaa").size() > 0', MARK)
    with pytest.raises(ExpressionBudgetError, match=r"replace\(\) would make a value of "
                                                    "1,600,000 characters"):
        doubling.evaluate({"response": {"text": "a" * 100_000}})
    assert doubling.evaluate({"response": {"text": "a" * 1_000}}) is True
    counting = compile_expression("lists.range(response.n).size() > 0", MARK)
    with pytest.raises(ExpressionBudgetError, match=r"lists.range\(\) would make"):
        counting.evaluate({"response": {"n": 10**9}})


# --------------------------------------------------------------------------- the rewrite


LISTS = st.lists(st.integers(-3, 3), max_size=6)
BODIES = st.sampled_from([
    "xs.all(x, x > 0)", "xs.exists(x, x == 2)", "xs.exists_one(x, x < 0)",
    "xs.map(x, x * 2)", "xs.filter(x, x % 2 == 0)", "xs.map(x, x > 0, x + 1)",
    "xs.all(x, ys.exists(y, x == y))", "xs.map(x, ys.filter(y, y > x).size())",
    "xs.map(x, 10 / x)", "{'a': xs}.all(k, k == 'a')", "xs.all(x, x > 0) ? 'p' : 'q'",
])


@settings(max_examples=200, deadline=None)
@given(body=BODIES, xs=LISTS, ys=LISTS)
def test_counting_iterations_changes_no_result(body: str, xs: list[int], ys: list[int]) -> None:
    import cel

    guarded = compile_expression(body, MARK)
    assert guarded.guarded
    variables = {"xs": xs, "ys": ys}

    def outcome(run: Any) -> Any:
        try:
            return ("value", run())
        except Exception:
            return ("error",)

    assert outcome(lambda: guarded.evaluate(variables)) == outcome(
        lambda: cel.compile(body).execute(variables))


# --------------------------------------------------------------------------- the parser


@pytest.mark.parametrize("source", [
    "response.status == 200", "has(response.body.id) && response.body.id > 0",
    "size(x) > 0 ? x[0] : null", "a in [1, 2, 3] || !b && -c < 3.5e2",
    r"""r'a\b' + "c\"d" + '''e'f''' + b"g" == 'x'""", "0x1F + 1u == 2u", ".a.b",
    "m{a: 1}.a", "{'k': [1, {'z': 2}]}['k'][1].z", "x.map(i, i > 0, i * 2)",
    "// a comment\n  response.status\n  == 200", "timestamp('2024-01-01T00:00:00Z').getFullYear()",
    "[1, 2,].size() == 2", "{'a': 1,}.size() == 1", "1.map(v, v) == 1", "[,] == []",
    "{,} == {}", ".size(x) > 0", "1e3 + .5e-2 > 0",
])
def test_the_parser_reads_what_the_engine_reads(source: str) -> None:
    import cel

    cel.compile(source)  # the engine reads it ...
    _cel.parse(source)  # ... and so does the parser used for the budget


# --------------------------------------------------------------------------- namespaces


def test_namespaced_functions_work_with_their_namespace_only() -> None:
    """specs/expressions.md: math.abs(x), lists.range(n) ... with the namespace; abs(x) and
    x.abs() are unknown functions (the engine would fail on them when running)."""
    good = compile_expression("math.abs(-2) == 2 && math.greatest([1, 5]) == 5 "
                              "&& lists.range(3) == [0, 1, 2] && sets.contains([1, 2], [1]) "
                              "&& base64.encode(b'hi') == 'aGk=' && 'a,b'.split(',').size() == 2",
                              MARK)
    assert unknown_functions(good) == []
    assert good.evaluate({}) is True
    for source in ("abs(-1) == 1", "x.abs() == 1"):
        expression = compile_expression(source, MARK)
        assert unknown_functions(expression) == ["abs"]
        with pytest.raises(ExpressionEvaluationError):
            expression.evaluate({"x": -1})
    assert unknown_functions(compile_expression("math.absolute(1) == 1", MARK)) == [
        "math.absolute"]


ATOMS = ["x", "y.z", "1", "2.5", "'s'", '"t"', "true", "null", "[1, 2]", "{'a': 1}", "size(x)",
         "x.all(i, i > 0)", "x.map(i, i * 2)", "has(x.a)", "b'\\x00'", "1u", "0xF", "-1",
         "!true", "x[0]", "m.f(1, 2)", ".a", "M{a: 1}", "r'a\\b'", "1e3", "3.", ".f(1)", "[,]"]
OPERATORS = ["+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "in"]
TEXTS = st.recursive(
    st.sampled_from(ATOMS),
    lambda inner: st.one_of(
        st.builds(lambda a, op, b: f"{a} {op} {b}", inner, st.sampled_from(OPERATORS), inner),
        st.builds(lambda a, b, c: f"{a} ? {b} : {c}", inner, inner, inner),
        st.builds(lambda a: f"({a})", inner),
        st.builds(lambda a, b: f"[{a}, {b}]", inner, inner),
        st.builds(lambda a, b: f"{a}.map(v, {b})", inner, inner)),
    max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(text=TEXTS, noise=st.text(alphabet="()[]{}.,?:!'\" \n", max_size=1),
       at=st.integers(0, 200))
def test_what_the_engine_reads_the_parser_reads(text: str, noise: str, at: int) -> None:
    """Else the expression would run without its budget (the parser is what adds it)."""
    import cel

    source = text[:at] + noise + text[at:]
    try:
        cel.compile(source)
    except Exception:
        return
    _cel.parse(source)
