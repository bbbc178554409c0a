"""Compare rules that let different values count as equal (``loose_types``, ``tolerance``,
``format``, ``pattern``, ``present``), rules by status (``cases``), and the formats."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mbtspec.compare import compare_responses
from mbtspec.compare._cases import Cases
from mbtspec.compare._diff import Comparer
from mbtspec.executor.records import Difference, Response
from mbtspec.spec import load_spec
from mbtspec.spec._paths import parse_path
from mbtspec.spec.formats import FORMATS
from mbtspec.spec.model import CompareRules, Matcher
from tests.unit.test_compare import _maximum_matching

JSON = (("content-type", "application/json"),)
SETTINGS = settings(database=None, max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def matcher(place: str, kind: Any, **options: Any) -> Matcher:
    return Matcher(parse_path(place), kind, **options)


def diff(a: Any, b: Any, *matchers: Matcher, unordered: tuple[str, ...] = (),
         status: tuple[int, int] = (200, 200), headers: tuple[str, ...] = ()) -> list[str]:
    """The places that differ, as ``path: model ≠ candidate``."""
    given_rules = CompareRules(matchers=matchers, headers=headers,
                               unordered=tuple(parse_path(p) for p in unordered))
    found = compare_responses(Response(status[0], JSON, a), Response(status[1], JSON, b),
                              given_rules)
    return [f"{d.path}: {d.model!r} ≠ {d.candidate!r}" for d in found]


# --------------------------------------------------------------------------- loose_types


def test_loose_types_a_number_and_its_text_are_equal() -> None:
    loose = matcher("body.id", "loose_types")
    assert diff({"id": 1}, {"id": "1"}, loose) == []
    assert diff({"id": "1"}, {"id": 1.0}, loose) == []
    assert diff({"id": 15}, {"id": "1.5e1"}, loose) == []
    assert diff({"id": True}, {"id": "true"}, loose) == []
    assert diff({"id": None}, {"id": "null"}, loose) == []


def test_loose_types_other_values_still_differ() -> None:
    loose = matcher("body.id", "loose_types")
    assert diff({"id": 1}, {"id": "2"}, loose) == ["body.id: 1 ≠ '2'"]
    assert diff({"id": True}, {"id": 1}, loose) == ["body.id: True ≠ 1"]  # never a number
    assert diff({"id": 1}, {"id": " 1"}, loose) == ["body.id: 1 ≠ ' 1'"]
    assert diff({"id": 1}, {"id": [1]}, loose) == ["body.id: 1 ≠ [1]"]
    assert diff({"id": 1}, {}, loose) == ["body.id: 1 ≠ <absent>"]
    # a very long text of digits is not read as a number (and does not fail)
    assert diff({"id": 1}, {"id": "1" * 5000}, loose) != []


def test_a_matcher_applies_at_its_place_and_inside_it_only() -> None:
    loose = matcher("body.item", "loose_types")
    assert diff({"item": {"a": [1]}, "id": 1}, {"item": {"a": ["1"]}, "id": "1"}, loose) == [
        "body.id: 1 ≠ '1'"]
    everywhere = matcher("body.**.id", "loose_types")
    assert diff({"a": {"id": 1}, "id": 2}, {"a": {"id": "1"}, "id": "2"}, everywhere) == []


# --------------------------------------------------------------------------- tolerance


def test_tolerance_absolute() -> None:
    within = matcher("body.total", "tolerance", absolute=0.01)
    assert diff({"total": 1.0}, {"total": 1.005}, within) == []
    assert diff({"total": 1.0}, {"total": 1.01}, within) == []
    assert diff({"total": 1.0}, {"total": 1.02}, within) == ["body.total: 1.0 ≠ 1.02"]


def test_tolerance_relative_to_the_larger_value() -> None:
    within = matcher("body.total", "tolerance", relative=0.01)
    assert diff({"total": 100}, {"total": 101}, within) == []
    assert diff({"total": -100}, {"total": -101}, within) == []
    assert diff({"total": 100}, {"total": 102}, within) == ["body.total: 100 ≠ 102"]
    assert diff({"total": 0}, {"total": 0.001}, within) == ["body.total: 0 ≠ 0.001"]


def test_tolerance_absolute_or_relative_whichever_is_larger() -> None:
    within = matcher("body.total", "tolerance", absolute=0.5, relative=0.01)
    assert diff({"total": 0}, {"total": 0.4}, within) == []  # absolute
    assert diff({"total": 1000}, {"total": 1009}, within) == []  # relative
    assert diff({"total": 1000}, {"total": 1011}, within) != []


def test_tolerance_only_for_numbers() -> None:
    within = matcher("body", "tolerance", absolute=1)
    assert diff({"a": True, "b": "1"}, {"a": 1, "b": "2"}, within) == [
        "body.a: True ≠ 1", "body.b: '1' ≠ '2'"]
    assert diff({"a": [1, 2], "b": {"c": 3}}, {"a": [1.5, 2.9], "b": {"c": 2}}, within) == []


# --------------------------------------------------------------------------- format, pattern


def test_format_both_strings_must_have_it() -> None:
    dated = matcher("body.at", "format", format="date-time")
    assert diff({"at": "2024-05-01T12:00:00Z"}, {"at": "2025-01-31T23:59:59.5+02:00"},
                dated) == []
    assert diff({"at": "2024-05-01T12:00:00Z"}, {"at": "yesterday"}, dated) == [
        "body.at: '2024-05-01T12:00:00Z' ≠ 'yesterday'"]
    assert diff({"at": "2024-05-01T12:00:00"}, {"at": "2024-05-01T12:00:01"}, dated) != []
    assert diff({"at": None}, {"at": None}, dated) == []  # equal anyway
    assert diff({"at": 1}, {"at": "2024-05-01T12:00:00Z"}, dated) != []


@pytest.mark.parametrize(("name", "good", "bad"), [
    ("date-time", ["2024-05-01T12:30:00Z", "2024-05-01 12:30:00.123+02:00",
                   "2024-12-31t23:59:60z"],
     ["2024-05-01T12:30:00", "2024-02-30T12:30:00Z", "2024-05-01T24:00:00Z", "05/01/2024"]),
    ("date", ["2024-02-29", "1999-12-31"], ["2023-02-29", "2024-5-1", "2024-05-01T00:00:00Z"]),
    ("time", ["12:30:00", "23:59:59.999Z", "00:00:00+05:30"], ["24:00:00", "12:60:00", "1230"]),
    ("uuid", ["123e4567-e89b-12d3-a456-426614174000", "123E4567-E89B-12D3-A456-426614174000"],
     ["123e4567e89b12d3a456426614174000", "123e4567-e89b-12d3-a456-42661417400g"]),
    ("email", ["a@example.com", "first.last+tag@sub.example.org"], ["a@", "a b@example.com",
                                                                    "no-at-sign"]),
    ("uri", ["https://example.com/a?b=1", "urn:isbn:0451450523", "mailto:a@b.c"],
     ["/relative/path", "https://exa mple.com", "1http://x"]),
    ("ipv4", ["127.0.0.1", "10.0.0.255"], ["256.0.0.1", "::1", "1.2.3"]),
    ("ipv6", ["::1", "2001:db8::8a2e:370:7334"], ["127.0.0.1", "2001:db8:::1"]),
    ("hostname", ["example.com", "localhost", "a-b.c1"], ["-a.com", "a..com", "a_b.com"]),
])
def test_each_format(name: str, good: list[str], bad: list[str]) -> None:
    check = FORMATS[name]
    assert [text for text in good if not check(text)] == []
    assert [text for text in bad if check(text)] == []


def test_pattern_both_strings_must_match_in_full() -> None:
    sha = matcher("body.sha", "pattern", format="[0-9a-f]{8}")
    assert diff({"sha": "0123abcd"}, {"sha": "ffffffff"}, sha) == []
    assert diff({"sha": "0123abcd"}, {"sha": "ffffffff0"}, sha) != []  # not in full
    assert diff({"sha": "0123abcd"}, {"sha": "FFFFFFFF"}, sha) != []


# --------------------------------------------------------------------------- present


def test_present_any_two_values_as_long_as_both_sides_have_one() -> None:
    present = matcher("body.meta", "present")
    assert diff({"meta": {"a": 1}}, {"meta": [1, 2]}, present) == []
    assert diff({"meta": None}, {"meta": "x"}, present) == []
    assert diff({"meta": 1}, {}, present) == ["body.meta: 1 ≠ <absent>"]
    assert diff({}, {"meta": 1}, present) == ["body.meta: <absent> ≠ 1"]
    assert diff({}, {}, present) == []  # neither has it: nothing to compare


def test_present_in_every_element_of_a_list() -> None:
    present = matcher("body[*].at", "present")
    assert diff([{"at": 1}, {"at": 2}], [{"at": "x"}, {"at": "y"}], present) == []
    assert diff([{"at": 1}, {"at": 2}], [{"at": "x"}, {}], present) == [
        "body[1].at: 2 ≠ <absent>"]


# --------------------------------------------------------------------------- headers, lists


def test_matchers_apply_to_headers() -> None:
    given = (matcher("headers.x-total", "loose_types"), matcher("headers.etag", "present"),
             matcher("headers.date", "format", format="date"))
    model = Response(200, (("x-total", "1"), ("etag", "a"), ("date", "2024-01-01")))
    candidate = Response(200, (("x-total", "1.0"), ("etag", "b"), ("date", "2024-01-02")))
    rules = CompareRules(headers=("x-total", "etag", "date"), matchers=given)
    assert compare_responses(model, candidate, rules) == []
    assert compare_responses(model, Response(200, ()), rules) == [
        Difference("headers.x-total", "1", _absent()),
        Difference("headers.etag", "a", _absent()),
        Difference("headers.date", "2024-01-01", _absent())]


def _absent() -> Any:
    from mbtspec.compare import ABSENT

    return ABSENT


def test_unordered_elements_pair_by_the_matchers() -> None:
    within = matcher("body[*].price", "tolerance", absolute=0.01)
    model = [{"id": 1, "price": 1.0}, {"id": 2, "price": 2.0}]
    candidate = [{"id": 2, "price": 2.001}, {"id": 1, "price": 0.999}]
    assert diff(model, candidate, within, unordered=("body",)) == []
    assert diff(model, [{"id": 2, "price": 2.5}, {"id": 1, "price": 1}], within,
                unordered=("body",)) == [
        "body[1]: {'id': 2, 'price': 2.0} ≠ <absent>",
        "body[0]: <absent> ≠ {'id': 2, 'price': 2.5}"]


MATCHER_SETS = st.sampled_from([
    (matcher("body[*]", "loose_types"),),
    (matcher("body[*].a", "tolerance", absolute=1),),
    (matcher("body.**", "format", format="date"), matcher("body[*]", "pattern", format="x+")),
    (matcher("body[*].a", "present"),),
    (matcher("body[*]", "loose_types"), matcher("body[*]", "tolerance", relative=0.5)),
])
ELEMENTS = st.one_of(
    st.sampled_from([1, 1.5, "1", "1.0", True, "true", None, "null", "2024-01-01", "x", "xx"]),
    st.fixed_dictionaries({"a": st.sampled_from([0, 0.5, 1, 2, "0", "x", "2024-01-02"])}),
    st.just({}))


@SETTINGS
@given(st.lists(ELEMENTS, max_size=6), st.lists(ELEMENTS, max_size=6), MATCHER_SETS)
def test_unordered_lists_with_matchers_pair_as_many_elements_as_can_be_paired(
        a: list[Any], b: list[Any], matchers: tuple[Matcher, ...]) -> None:
    """Grouping elements first (by a summary that matchers coarsen) loses no pair: as many
    differences as a maximum matching over every pair of elements leaves."""
    rules = CompareRules(unordered=(parse_path("body"),), matchers=matchers)
    comparer = Comparer(rules, set())
    paired = _maximum_matching(a, b, lambda x, y: comparer.equal(
        x, y, ("body", 0), comparer.below(comparer.place(("body",)), 0)))
    found = compare_responses(Response(200, JSON, a), Response(200, JSON, b), rules)
    assert len(found) == len(a) + len(b) - 2 * paired


# --------------------------------------------------------------------------- cases


def test_cases_by_status_and_by_condition(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("""\
version: 1
targets:
  model: {base_url: "http://127.0.0.1:8081"}
  candidate: {base_url: "http://127.0.0.1:8080"}
actions:
  get:
    request: GET /items/1
    compare:
      cases:
        - {when_status: 4XX, ignore: [body.detail]}
compare:
  cases:
    - {when_status: 404, body: ignore}
    - {when_status: [500, 503], status: class, headers: [retry-after]}
    - {when: 'model.status == 200 && candidate.body.beta == true', ignore: [body.extra]}
""")
    spec = load_spec(path)
    rules = spec.actions[0].compare
    assert [c.statuses for c in rules.cases] == [("404",), ("500", "503"), (), ("4XX",)]
    cases = Cases()

    def chosen(model: int, candidate: int, holds: bool = False) -> CompareRules:
        return cases.rules(rules, model, candidate, lambda expression: holds)

    assert chosen(404, 404).body == "ignore"
    assert chosen(404, 404).ignore == (parse_path("body.detail"),)  # 4XX: both cases
    assert chosen(404, 200).body == "exact"  # both statuses must be 404
    assert chosen(409, 409).body == "exact" and chosen(409, 409).ignore
    assert chosen(500, 503).status == "class" and chosen(500, 503).headers == ("retry-after",)
    assert chosen(200, 200, holds=True).ignore == (parse_path("body.extra"),)
    assert chosen(200, 200) is rules  # nothing holds: the rules as they are
    assert chosen(404, 404) is chosen(404, 404)  # made once
    assert chosen(404, 404).cases == ()
