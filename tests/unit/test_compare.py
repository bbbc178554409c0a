"""Judging a step: response comparison, OpenAPI conformance, invariants and expectations."""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mbtspec.compare import ABSENT, compare_responses, make_judge
from mbtspec.compiler import NO_BODY, PerTarget, RequestDraft, State, compile_plan
from mbtspec.executor._http import build_request
from mbtspec.executor.records import Difference, Finding, Response, Step
from mbtspec.spec import load_spec
from mbtspec.spec._openapi import load_openapi
from mbtspec.spec._paths import parse_path
from mbtspec.spec.conformance import conformance_problems
from mbtspec.spec.model import CompareRules

REPO = Path(__file__).resolve().parents[2]
EMPLOYEES_OPENAPI = REPO / "examples" / "employees" / "openapi.yaml"
ORDERS_OPENAPI = REPO / "tests" / "apps" / "orders_openapi.yaml"
JSON = (("content-type", "application/json"),)

SETTINGS = settings(database=None, max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def rules(**kw: Any) -> CompareRules:
    for key in ("ignore", "unordered"):
        if key in kw:
            kw[key] = tuple(parse_path(p) for p in kw[key])
    return CompareRules(**kw)


def ok(body: Any = None, status: int = 200, headers: tuple = JSON) -> Response:
    return Response(status, headers, body)


def diff(a: Any, b: Any, pairs: set | None = None, **kw: Any) -> list[Difference]:
    return compare_responses(ok(a), ok(b), rules(**kw), pairs)


def paths(differences: list[Difference]) -> list[str]:
    return [d.path for d in differences]


# --------------------------------------------------------------------------- status


def test_exact_status() -> None:
    assert compare_responses(ok(status=200), ok(status=200), rules()) == []
    assert compare_responses(ok(status=200), ok(status=201), rules()) == [
        Difference("status", 200, 201)]


@pytest.mark.parametrize(("a", "b", "same"), [(200, 201, True), (200, 299, True),
                                               (404, 422, True), (200, 404, False),
                                               (500, 404, False), (301, 200, False)])
def test_status_by_class(a: int, b: int, same: bool) -> None:
    found = compare_responses(ok(status=a), ok(status=b), rules(status="class"))
    if same:
        assert found == []
    else:
        assert [(d.path, d.model, d.candidate) for d in found] == [("status", a, b)]
        assert "class" in found[0].note


def test_ignored_status() -> None:
    assert compare_responses(ok(status=200), ok(status=500), rules(status="ignore")) == []


def test_status_in_ignore_paths() -> None:
    assert compare_responses(ok(status=200), ok(status=500), rules(ignore=["status"])) == []


def test_no_answer_from_one_target() -> None:
    refused = Response(None, error="connection refused")
    found = compare_responses(refused, ok([1]), rules())
    assert found == [Difference("status", "no answer (connection refused)", 200)]
    found = compare_responses(ok([1]), Response(None, error="timeout"), rules())
    assert found == [Difference("status", 200, "no answer (timeout)")]


def test_no_answer_from_both_is_no_difference() -> None:
    assert compare_responses(Response(None, error="a"), Response(None, error="b"), rules()) == []


# --------------------------------------------------------------------------- headers


def test_only_listed_headers_are_compared() -> None:
    a = Response(200, (("etag", "1"), ("date", "Mon"), ("x-id", "a")), None)
    b = Response(200, (("etag", "2"), ("date", "Tue")), None)
    assert compare_responses(a, b, rules()) == []
    assert compare_responses(a, b, rules(headers=("etag", "x-id"))) == [
        Difference("headers.etag", "1", "2"), Difference("headers.x-id", "a", ABSENT)]
    assert compare_responses(a, b, rules(headers=("etag",), ignore=["headers.etag"])) == []
    assert compare_responses(a, b, rules(headers=("etag",), ignore=["headers.*"])) == []


def test_ignore_headers_root() -> None:
    a = Response(200, (("etag", "1"),), None)
    b = Response(200, (("etag", "2"),), None)
    assert compare_responses(a, b, rules(headers=("etag",), ignore=["headers"])) == []


# --------------------------------------------------------------------------- bodies


def test_body_ignore_mode() -> None:
    assert diff({"a": 1}, {"a": 2}, body="ignore") == []


def test_scalar_equality_rules() -> None:
    assert diff(1, 1.0) == []  # JSON has one number type
    assert diff(True, 1) == [Difference("body", True, 1)]
    assert diff(0, False) == [Difference("body", 0, False)]
    assert diff(1, "1") == [Difference("body", 1, "1")]
    assert diff(None, 0) == [Difference("body", None, 0)]
    assert diff("a", "a") == [] and diff(None, None) == []
    assert diff([], {}) == [Difference("body", [], {})]


def test_absent_keys_and_nested_paths() -> None:
    a = {"items": [{"id": 1, "name": "x"}, {"id": 2}], "gone": None}
    b = {"items": [{"id": 1, "name": "y"}, {"id": 2, "extra": True}], "new": 0}
    assert diff(a, b) == [
        Difference("body.items[0].name", "x", "y"),
        Difference("body.items[1].extra", ABSENT, True),
        Difference("body.gone", None, ABSENT),
        Difference("body.new", ABSENT, 0),
    ]


def test_list_length_differences() -> None:
    assert diff([1, 2], [1, 2, 3]) == [Difference("body[2]", ABSENT, 3)]
    assert diff([1, 2], [1]) == [Difference("body[1]", 2, ABSENT)]


def test_odd_keys_in_paths() -> None:
    assert paths(diff({"a.b": 1}, {"a.b": 2})) == ["body['a.b']"]


@pytest.mark.parametrize(
    ("ignore", "expected"),
    [
        ([], ["body.id", "body.items[0].id", "body.items[0].meta.etag", "body.items[1].id",
              "body.meta.etag"]),
        (["body.id"], ["body.items[0].id", "body.items[0].meta.etag", "body.items[1].id",
                       "body.meta.etag"]),
        (["body.items[*].id"], ["body.id", "body.items[0].meta.etag", "body.meta.etag"]),
        (["body.items.*.id"], ["body.id", "body.items[0].meta.etag", "body.meta.etag"]),
        (["body.**.etag"], ["body.id", "body.items[0].id", "body.items[1].id"]),
        (["body.**.id"], ["body.items[0].meta.etag", "body.meta.etag"]),
        (["body.items"], ["body.id", "body.meta.etag"]),  # a whole subtree
        (["body.items[0]"], ["body.id", "body.items[1].id", "body.meta.etag"]),
        (["body.*"], []),
        (["body"], []),
        (["body.id", "body.**.etag", "body.items[*].id"], []),
    ],
)
def test_ignore_paths(ignore: list[str], expected: list[str]) -> None:
    a = {"id": 1, "items": [{"id": 1, "meta": {"etag": "a"}}, {"id": 2}], "meta": {"etag": "x"}}
    b = {"id": 2, "items": [{"id": 3, "meta": {"etag": "b"}}, {"id": 4}], "meta": {"etag": "y"}}
    assert sorted(paths(diff(a, b, ignore=ignore))) == expected


# --------------------------------------------------------------------------- unordered


def test_unordered_list_is_a_multiset() -> None:
    assert diff([1, 2, 3], [3, 1, 2], unordered=["body"]) == []
    assert diff([1, 1, 2], [1, 2, 1], unordered=["body"]) == []
    found = diff([1, 1, 2], [1, 2, 2], unordered=["body"])
    assert [(d.path, d.model, d.candidate) for d in found] == [
        ("body[1]", 1, ABSENT), ("body[2]", ABSENT, 2)]
    assert "candidate's list has no element" in found[0].note
    assert "model's list has no element" in found[1].note


def test_unordered_lists_of_different_lengths() -> None:
    found = diff([1, 2], [2, 1, 1], unordered=["body"])
    assert [(d.path, d.model, d.candidate) for d in found] == [("body[2]", ABSENT, 1)]
    found = diff([{"a": 1}, {"a": 2}], [{"a": 2}], unordered=["body"])
    assert [(d.path, d.model, d.candidate) for d in found] == [("body[0]", {"a": 1}, ABSENT)]


def test_ordered_list_is_compared_by_position() -> None:
    assert paths(diff([1, 2], [2, 1])) == ["body[0]", "body[1]"]


def test_unordered_only_where_asked() -> None:
    a = {"tags": [1, 2], "order": [1, 2]}
    b = {"tags": [2, 1], "order": [2, 1]}
    assert paths(diff(a, b, unordered=["body.tags"])) == ["body.order[0]", "body.order[1]"]


def test_nested_unordered_lists() -> None:
    a = [{"id": 1, "tags": ["a", "b"]}, {"id": 2, "tags": ["c"]}]
    b = [{"id": 2, "tags": ["c"]}, {"id": 1, "tags": ["b", "a"]}]
    assert diff(a, b, unordered=["body", "body[*].tags"]) == []
    # only the outer list unordered: the inner order now matters
    assert diff(a, b, unordered=["body"]) != []
    # only the inner lists unordered: the outer order matters
    assert diff(a, b, unordered=["body[*].tags"]) != []


def test_unordered_elements_use_ignore_rules() -> None:
    a = [{"id": 1, "at": "t1"}, {"id": 2, "at": "t2"}]
    b = [{"id": 2, "at": "t9"}, {"id": 1, "at": "t8"}]
    assert diff(a, b, unordered=["body"], ignore=["body[*].at"]) == []
    assert diff(a, b, unordered=["body"]) != []


# --------------------------------------------------------------------------- per-target pairs


def test_per_target_pairs_are_equal_and_only_those() -> None:
    pairs = {(5, 1005), ("a", "b")}
    assert diff({"id": 5, "k": "a"}, {"id": 1005, "k": "b"}, pairs) == []
    assert diff(5, 1006, pairs) == [Difference("body", 5, 1006)]
    assert diff(1005, 5, pairs) == [Difference("body", 1005, 5)]  # the pair has a direction
    assert diff("b", "a", pairs) == [Difference("body", "b", "a")]
    assert diff(5, 1005) == [Difference("body", 5, 1005)]  # no pairs: no equality


def test_pairs_in_unordered_lists_and_headers() -> None:
    pairs = {(1, 101), (2, 102)}
    assert diff([1, 2], [102, 101], pairs, unordered=["body"]) == []
    a = Response(200, (("location", "/o/1"), ("x-id", "1")), None)
    b = Response(200, (("location", "/o/101"), ("x-id", "101")), None)
    found = compare_responses(a, b, rules(headers=("x-id", "location")), {("1", "101")})
    assert found == [Difference("headers.location", "/o/1", "/o/101")]


def test_pairs_never_make_a_bool_equal_a_number() -> None:
    assert diff(True, 1, {(True, 1)}) == [Difference("body", True, 1)]


def test_unhashable_values_are_compared_without_pairs() -> None:
    assert diff({"a": [1]}, {"a": [1]}, {(1, 2)}) == []


def test_unordered_matching_is_not_greedy() -> None:
    # model minted 1 and 2, the candidate 2 and 3; the lists come back in different orders
    pairs = {(1, 2), (2, 3)}
    assert diff([1, 2], [2, 3], pairs) == []  # ordered: fine
    assert diff([2, 1], [2, 3], pairs, unordered=["body"]) == []


# --------------------------------------------------------------------------- properties


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False)
    | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["a", "b", "id", "x.y"]), inner, max_size=4),
    max_leaves=15,
)
PATTERNS = st.lists(st.sampled_from(
    ["body", "body.a", "body[*]", "body[0]", "body.**.id", "body.*.b", "body[*].a",
     "headers.etag", "body.**"]), max_size=3)


@SETTINGS
@given(JSON_VALUES, st.sampled_from(["exact", "class", "ignore"]),
       st.sampled_from(["exact", "ignore"]), PATTERNS, PATTERNS,
       st.sampled_from([(), ("etag",), ("etag", "x-missing")]), st.integers(100, 599))
def test_a_response_always_equals_itself(body: Any, status: str, body_mode: str,
                                         ignore: list[str], unordered: list[str],
                                         headers: tuple, code: int) -> None:
    response = Response(code, (("etag", "v"),), body)
    copy = Response(code, (("etag", "v"),), json.loads(json.dumps(body)))
    given_rules = rules(status=status, body=body_mode, headers=headers, ignore=ignore,
                        unordered=unordered)
    assert compare_responses(response, response, given_rules) == []
    assert compare_responses(response, copy, given_rules, {(1, 2)}) == []


@SETTINGS
@given(st.lists(JSON_VALUES, max_size=6).flatmap(
    lambda items: st.tuples(st.just(items), st.permutations(items))))
def test_permuting_an_unordered_list_never_differs(lists: tuple[list, list]) -> None:
    original, permuted = lists
    assert diff({"items": original}, {"items": permuted}, unordered=["body.items"]) == []
    assert diff(original, permuted, unordered=["body"]) == []


@SETTINGS
@given(st.lists(st.integers() | st.text(), min_size=2, max_size=6, unique=True).flatmap(
    lambda items: st.tuples(st.just(items), st.permutations(items))))
def test_permuting_an_ordered_list_differs(lists: tuple[list, list]) -> None:
    original, permuted = lists
    assume(original != permuted)
    found = diff(original, permuted)
    moved = [i for i, (a, b) in enumerate(zip(original, permuted, strict=True)) if a != b]
    assert paths(found) == [f"body[{i}]" for i in moved]


# --------------------------------------------------------------------------- size


def _maximum_matching(a: list, b: list, equal: Any) -> int:
    """How many elements of ``a`` a maximum matching pairs (Kuhn's algorithm, for checks)."""
    partner: dict[int, int] = {}

    def assign(i: int, seen: set[int]) -> bool:
        for j in range(len(b)):
            if j not in seen and equal(a[i], b[j]):
                seen.add(j)
                if j not in partner or assign(partner[j], seen):
                    partner[j] = i
                    return True
        return False

    return sum(assign(i, set()) for i in range(len(a)))


ELEMENTS = st.one_of(st.integers(0, 3), st.sampled_from([1.0, True, "1", None]),
                     st.fixed_dictionaries({"id": st.integers(0, 3), "at": st.integers(0, 2)}),
                     st.lists(st.integers(0, 2), max_size=3))


@SETTINGS
@given(st.lists(ELEMENTS, max_size=7), st.lists(ELEMENTS, max_size=7),
       st.sets(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=3),
       st.sampled_from([[], ["body[*].at"], ["body.**.at"]]),
       st.sampled_from([["body"], ["body", "body[*]"]]))
def test_unordered_lists_pair_as_many_elements_as_can_be_paired(
        a: list, b: list, pairs: set, ignore: list[str], unordered: list[str]) -> None:
    """Grouping elements first changes nothing: as many differences as a maximum matching
    over every pair of elements leaves."""
    from mbtspec.compare._diff import Comparer

    given_rules = rules(ignore=ignore, unordered=unordered)
    comparer = Comparer(given_rules, pairs)
    paired = _maximum_matching(a, b, lambda x, y: comparer.equal(x, y, ("body", 0)))
    found = diff(a, b, pairs, ignore=ignore, unordered=unordered)
    assert len(found) == len(a) + len(b) - 2 * paired
    assert all("not every pair" not in d.note for d in found)


def test_long_unordered_lists_take_linear_time() -> None:
    import time

    a = [{"id": n, "name": f"item {n}", "tags": ["x", "y"]} for n in range(30_000)]
    b = [{"id": n, "name": f"item {n + 1}", "tags": ["x", "y"]} for n in range(30_000)]
    started = time.process_time()  # (CPU time: a busy machine's waits are not counted)
    found = diff(a, list(reversed(a)), unordered=["body"])
    assert found == []
    found = diff(a, b, unordered=["body"])
    assert len(found) == 60_000  # no element has an equal: each is reported
    assert time.process_time() - started < 10  # (pairing every element: hours)
    ids = [n + 1000 for n in range(30_000)]
    assert diff(list(range(30_000)), ids[::-1], set(zip(range(30_000), ids, strict=True)),
                unordered=["body"]) == []


def test_elements_alike_past_the_budget_are_said_to_be_unpaired(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from mbtspec.compare import _diff

    monkeypatch.setattr(_diff, "MATCH_BUDGET", 50)
    # every id is paired, twice: one group for all, and no one partner to translate it to
    pairs = {(n, n + k) for n in range(20) for k in (100, 200)}
    a = [{"id": n} for n in range(20)]
    b = [{"id": n + 200} for n in reversed(range(20))]
    found = diff(a, b, pairs, unordered=["body"])
    assert found and all("not every pair of elements was compared" in d.note for d in found)
    monkeypatch.setattr(_diff, "MATCH_BUDGET", 50)  # one partner each: translated, paired
    assert diff(a, [{"id": n + 100} for n in range(20)], {(n, n + 100) for n in range(20)},
                unordered=["body"]) == []
    monkeypatch.setattr(_diff, "MATCH_BUDGET", 400)
    assert diff(a, b, pairs, unordered=["body"]) == []


SEGMENTS = st.sampled_from(["body", "a", "b", "0", 0, 1, "*", "**"])


@SETTINGS
@given(st.lists(st.lists(SEGMENTS, min_size=1, max_size=5).map(tuple), max_size=3),
       st.lists(st.sampled_from(["body", "a", "b", 0, 1, 2]), max_size=7).map(tuple))
def test_patterns_followed_down_a_body_match_as_paths_do(patterns: list, path: tuple) -> None:
    from mbtspec.compare._diff import _Patterns
    from mbtspec.spec._paths import matches

    followed = _Patterns(tuple(patterns))
    state, on_the_way = followed.follow(path)
    assert followed.matches(state) == any(matches(p, path) for p in patterns)
    assert on_the_way == any(matches(p, path[:n]) for p in patterns
                             for n in range(1, len(path) + 1))


def test_a_deep_body_with_double_star_rules_takes_no_time() -> None:
    import time

    deep_a: Any = 1
    deep_b: Any = 2
    for _ in range(900):
        deep_a, deep_b = [deep_a], [deep_b]
    started = time.process_time()
    found = diff(deep_a, deep_b, ignore=["body.**.x", "body[*].**.y", "body.**[0].**.z"],
                 unordered=["body.**.q"])
    assert [d.path for d in found] == ["body" + "[0]" * 900]
    assert time.process_time() - started < 1  # (every prefix matched again: 5 minutes)


# --------------------------------------------------------------------------- conformance


@pytest.fixture(scope="module")
def employees() -> Any:
    return load_openapi(EMPLOYEES_OPENAPI)


EMPLOYEE = {"employeeNo": "HR-1", "name": "Ada", "department": "HR",
            "createdAt": "2024-01-01T00:00:00Z"}


def check(operation: Any, status: int | None, body: Any = None,
          content_type: str | None = "application/json", dialect: str = "openapi-3.0",
          error: str = "") -> list[str]:
    headers = {"content-type": content_type} if content_type else {}
    return conformance_problems(operation, dialect, {"status": status, "headers": headers,
                                                     "body": body, "error": error})


def test_conforming_responses(employees: Any) -> None:
    get = employees.find("getEmployee")
    assert check(get, 200, EMPLOYEE) == []
    assert check(get, 404, {"error": "not_found"}) == []
    assert check(get, 200, EMPLOYEE, "application/json; charset=utf-8") == []
    listing = employees.find("GET /api/employees")
    assert check(listing, 200, [EMPLOYEE, EMPLOYEE]) == []


def test_undocumented_status(employees: Any) -> None:
    problems = check(employees.find("getEmployee"), 500, {"error": "boom"})
    assert problems == ["status 500 is not documented for GET /api/employees/{employeeNo} "
                        "(documented: 200, 404)"]


def test_body_not_matching_the_schema(employees: Any) -> None:
    missing = {k: v for k, v in EMPLOYEE.items() if k != "createdAt"}
    assert check(employees.find("getEmployee"), 200, missing) == [
        "body: 'createdAt' is a required property"]
    extra = {**EMPLOYEE, "salary": 1}
    [problem] = check(employees.find("getEmployee"), 200, extra)
    assert problem.startswith("body: ") and "salary" in problem
    bad = [EMPLOYEE, {**EMPLOYEE, "name": 5}]
    assert check(employees.find("listEmployees"), 200, bad) == [
        "body[1].name: 5 is not of type 'string'"]


def test_at_most_five_problems_are_listed(employees: Any) -> None:
    body = [{"name": i} for i in range(10)]
    problems = check(employees.find("listEmployees"), 200, body)
    assert len(problems) == 5
    assert all(p.startswith("body[") for p in problems)


def test_content_type_not_documented(employees: Any) -> None:
    problems = check(employees.find("getEmployee"), 200, "<html>", "text/html")
    assert problems == ["content-type text/html is not documented for status 200 of "
                        "GET /api/employees/{employeeNo} (documented: application/json)"]
    problems = check(employees.find("getEmployee"), 200, "text", None)
    assert problems and "content-type (none)" in problems[0]
    # without a body there is nothing to describe
    assert check(employees.find("getEmployee"), 200, None, None) == []


def test_no_operation_or_no_answer(employees: Any) -> None:
    assert check(None, 200) == ["the action has no OpenAPI operation to check against"]
    assert check(employees.find("getEmployee"), 0, error="refused") == [
        "no HTTP response (refused)"]
    assert check(employees.find("getEmployee"), None) == ["no HTTP response (no status)"]


RANGES = """\
openapi: 3.1.0
info: {title: ranges, version: "1"}
paths:
  /r:
    get:
      operationId: r
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                type: object
                required: [v]
                properties:
                  v: {type: [integer, "null"]}
                  secret: {type: string, writeOnly: true}
                additionalProperties: false
        "204": {description: nothing}
        4XX:
          description: client errors
          content:
            application/problem+json:
              schema: {type: object, required: [title]}
        default:
          description: anything else
          content:
            text/*:
              schema: {type: string}
  /s:
    get:
      responses:
        "404": {description: no}
"""


@pytest.fixture(scope="module")
def ranges(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("openapi") / "ranges.yaml"
    path.write_text(RANGES)
    return load_openapi(path)


def test_status_ranges_and_default(ranges: Any) -> None:
    op = ranges.find("r")
    assert op.response_for(404)[0] == "4XX"
    assert op.response_for(200)[0] == "200"
    assert op.response_for(503)[0] == "default"
    problem = "application/problem+json"
    assert check(op, 404, {"title": "x"}, problem, "openapi-3.1") == []
    assert check(op, 422, {}, problem, "openapi-3.1") == ["body: 'title' is a required property"]
    # default, with a wildcard media type
    assert check(op, 503, "down", "text/plain", "openapi-3.1") == []
    assert check(op, 503, 5, "text/plain", "openapi-3.1") == ["body: 5 is not of type 'string'"]
    assert check(op, 204, None, None, "openapi-3.1") == []
    assert ranges.find("GET /s").response_for(200) is None
    assert check(ranges.find("GET /s"), 200, None, None, "openapi-3.1") == [
        "status 200 is not documented for GET /s (documented: 404)"]


def test_openapi_31_types_and_write_only(ranges: Any) -> None:
    op = ranges.find("r")
    assert check(op, 200, {"v": None}, dialect="openapi-3.1") == []
    assert check(op, 200, {"v": "x"}, dialect="openapi-3.1") == [
        "body.v: 'x' is not of type 'integer', 'null'"]
    # a writeOnly property must not come back in a response
    [problem] = check(op, 200, {"v": 1, "secret": "s"}, dialect="openapi-3.1")
    assert "secret" in problem


# --------------------------------------------------------------------------- make_judge


SPEC = """\
version: 1
openapi: {openapi}
targets:
  model: {{app: "tests.apps.orders:app"}}
  candidate: {{app: "tests.apps.orders:app"}}
actions:
  create:
    request: createOrder
    body: {{item: pen, qty: 1}}
    store: {{ids: response.body.id}}
    expect:
      - {{name: created, check: response.status == 201}}
      - {{name: has id, check: response.body.id > 0, when: response.status == 201}}
  listing:
    request: listOrders
    compare: {{unordered: [body]}}
invariants:
  - {{name: no server errors, check: candidate.status < 500}}
  - {{name: documented, check: conforms_to_openapi(candidate)}}
  - {{name: same status, check: model.status == candidate.status, when: action != "listing"}}
"""


@pytest.fixture
def plan(tmp_path: Path) -> Any:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.format(openapi=ORDERS_OPENAPI))
    return compile_plan(load_spec(path), environ={})


def order(id_: int, qty: int = 1) -> dict[str, Any]:
    return {"id": id_, "item": "pen", "qty": qty, "status": "open"}


def step(plan: Any, action: str, model: Response, candidate: Response,
         body: Any = NO_BODY) -> Step:
    act = next(a for a in plan.actions if a.name == action)
    draft = RequestDraft(act.action.method, act.action.path, {}, [], {}, body,
                         act.media_type)
    requests = tuple((t, build_request(draft, t, f"http://{t}", {})) for t in plan.targets)
    return Step(1, action, (), requests, (("model", model), ("candidate", candidate)))


def judge_step(plan: Any, action: str, model: Response, candidate: Response,
               state: State | None = None) -> list[Finding]:
    act = next(a for a in plan.actions if a.name == action)
    body = {"item": "pen", "qty": 1} if action == "create" else NO_BODY
    return make_judge(plan)(step(plan, action, model, candidate, body), act, state or State())


def test_judge_finds_nothing_when_all_is_well(plan: Any) -> None:
    assert plan.targets == ("model", "candidate")
    assert judge_step(plan, "create", ok(order(1), 201), ok(order(1), 201)) == []
    assert judge_step(plan, "listing", ok([order(1), order(2)]),
                      ok([order(2), order(1)])) == []


def test_judge_reports_a_difference(plan: Any) -> None:
    findings = judge_step(plan, "create", ok(order(1), 201), ok(order(1, qty=2), 201))
    assert [f.kind for f in findings] == ["difference"]
    assert findings[0].title == "'create' answered differently"
    assert findings[0].differences == (Difference("body.qty", 1, 2),)


def test_judge_keeps_the_first_differences_and_counts_the_others(
        plan: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import mbtspec.compare

    monkeypatch.setattr(mbtspec.compare, "KEPT_DIFFERENCES", 3)
    [finding] = judge_step(plan, "listing", ok([order(n) for n in range(10)]),
                           ok([order(n, qty=2) for n in range(10)]))
    assert [d.path for d in finding.differences] == [
        "body[0]", "body[1]", "body[2]"]
    assert finding.omitted == 17  # 10 elements unpaired on each side: 20 in all


def test_judge_uses_the_stored_per_target_pairs(plan: Any) -> None:
    model, candidate = ok(order(1), 201), ok(order(1001), 201)
    findings = judge_step(plan, "create", model, candidate)
    assert [d.path for d in findings[0].differences] == ["body.id"]
    state = State()
    state.store("ids", PerTarget.of({"model": 1, "candidate": 1001}))
    assert judge_step(plan, "create", model, candidate, state) == []


def test_judge_reports_a_broken_invariant_with_openapi_notes(plan: Any) -> None:
    findings = judge_step(plan, "listing", ok([order(1)]), ok([{"id": "x"}]))
    kinds = [(f.kind, f.title) for f in findings]
    assert kinds == [("difference", "'listing' answered differently"),
                     ("invariant", "invariant 'documented' broken")]
    details = findings[1].details
    assert details[0] == "conforms_to_openapi(candidate): false"
    assert "body[0].id: 'x' is not of type 'integer'" in details
    assert "body[0]: 'item' is a required property" in details


def test_judge_server_error_breaks_several_invariants(plan: Any) -> None:
    error = Response(500, (("content-type", "text/plain"),), "boom")
    findings = judge_step(plan, "listing", ok([]), error)
    titles = [f.title for f in findings if f.kind == "invariant"]
    assert titles == ["invariant 'no server errors' broken", "invariant 'documented' broken"]
    documented = next(f for f in findings if f.title == "invariant 'documented' broken")
    assert documented.details == (
        "conforms_to_openapi(candidate): false",
        "status 500 is not documented for GET /orders (documented: 200)")
    # 'same status' is not checked for 'listing' (its when is false)
    assert not any("same status" in f.title for f in findings)


def test_judge_expect_fails_per_target(plan: Any) -> None:
    invalid = ok({"error": "invalid"}, 422)
    findings = judge_step(plan, "create", ok(order(1), 201), invalid)
    expect = [f for f in findings if f.kind == "expect"]
    assert [(f.title, f.target) for f in expect] == [
        ("expectation 'created' of 'create' failed on candidate", "candidate")]
    assert expect[0].details == ("response.status == 201: false",)
    # the status differs too, and so does the 'same status' invariant
    assert {f.kind for f in findings} == {"difference", "invariant", "expect"}


def test_judge_expect_failing_on_both_targets(plan: Any) -> None:
    invalid = ok({"error": "invalid"}, 422)
    findings = judge_step(plan, "create", invalid, invalid)
    assert [(f.kind, f.target) for f in findings] == [("expect", "model"),
                                                      ("expect", "candidate")]


def test_judge_reports_an_expression_that_cannot_be_evaluated(plan: Any) -> None:
    # 'has id' runs when the status is 201, but this body has no id
    findings = judge_step(plan, "create", ok({"item": "pen"}, 201), ok({"item": "pen"}, 201))
    has_id = [f for f in findings if "has id" in f.title]
    assert [f.target for f in has_id] == ["model", "candidate"]
    assert all("could not be evaluated" in f.details[0] for f in has_id)


def test_candidate_only_judge(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(dedent("""\
        version: 1
        targets:
          candidate: {app: "tests.apps.orders:app"}
        actions:
          listing: {request: GET /orders}
        invariants:
          - {name: lenient, check: conforms_to_openapi(candidate) || true}
          - {name: small, check: size(candidate.body) < 2}
          - {name: header, check: 'header(candidate, "X-Id") == "7"'}
          - {name: not a bool, check: size(candidate.body)}
        """))
    plan = compile_plan(load_spec(path), environ={})
    assert plan.targets == ("candidate",)
    act = plan.actions[0]
    draft = RequestDraft("GET", "/orders", {}, [], {}, NO_BODY, None)
    request = build_request(draft, "candidate", "http://c", {})
    judge = make_judge(plan)
    good = Step(1, "listing", (), (("candidate", request),),
                (("candidate", Response(200, (("x-id", "7"),), [])),))
    assert [f.title for f in judge(good, act, State())] == ["invariant 'not a bool' broken"]
    bad = Step(1, "listing", (), (("candidate", request),),
               (("candidate", Response(200, (), [1, 2])),))
    findings = judge(bad, act, State())
    assert [f.title for f in findings] == ["invariant 'small' broken",
                                           "invariant 'header' broken",
                                           "invariant 'not a bool' broken"]
    assert findings[2].details == ("size(candidate.body): 2, not true",)
    # the note of the earlier conforms_to_openapi call (no operation) does not leak into
    # the details of later checks
    assert findings[0].details == ("size(candidate.body) < 2: false",)
    assert all(f.kind == "invariant" for f in findings)  # no model: no difference


@SETTINGS
@given(JSON_VALUES, JSON_VALUES, st.booleans())
def test_the_quick_look_at_equal_bodies_agrees_with_the_walk(a: Any, b: Any,
                                                             same: bool) -> None:
    # ``identical`` may only say yes where the plain walk finds no difference
    from mbtspec.compare._diff import Comparer, identical

    if same:
        b = json.loads(json.dumps(a))
    walk = Comparer(rules(), set())
    found = list(walk._diff_plainly(a, b, ("body",)))
    if identical(a, b):
        assert found == []


def test_the_quick_look_tells_types_apart() -> None:
    from mbtspec.compare._diff import identical

    body = [{"a": 1, "b": [True, None, "x", 1.5]}]
    assert identical(body, json.loads(json.dumps(body)))
    assert not identical([1], [True])
    assert not identical({"a": 0}, {"a": False})
    assert not identical({"a": 1, "b": 2}, {"b": 2, "a": 1})  # (the walk decides: equal)
    assert diff([True] * 3, [1] * 3) != []
    assert diff({"a": [0, {"b": False}]}, {"a": [0, {"b": 0}]}) != []
