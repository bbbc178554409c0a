"""Negative mode, stage 2: the places of a request that can be made invalid, boundary values,
Schemathesis' invalid values, and how one change is applied and described."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator

from mbtspec.compiler import NO_BODY, RequestDraft, compile_plan
from mbtspec.compiler._boundaries import boundary_changes
from mbtspec.compiler._inputs import MISSING, InputChange, Site
from mbtspec.compiler._negative import can_be_invalid, invalid_changes
from mbtspec.spec import load_spec

REPO = Path(__file__).resolve().parents[2]
MUTANTS = REPO / "bench" / "mutants" / "spec.yaml"
COPIES = {"type": "integer", "minimum": 1, "maximum": 5}
TITLE = {"type": "string", "minLength": 1, "maxLength": 40}


def site(location: str, name: str | None, schema: object, required: bool = True) -> Site:
    return Site(location, name, schema, "openapi-3.0", required)  # type: ignore[arg-type]


def draft(**changes: object) -> RequestDraft:
    base = {"method": "POST", "path": "/books/{id}", "path_params": {"id": 3},
            "query": [("limit", 2)], "headers": {"X-Trace": "t"},
            "body": {"title": "a", "copies": 1}, "media_type": "application/json"}
    return RequestDraft(**{**base, **changes})  # type: ignore[arg-type]


# -- what is invalid, and how it is said -------------------------------------------------------

def test_a_body_value_is_judged_as_json() -> None:
    copies = site("body", "copies", COPIES)
    assert copies.change(0) == InputChange("invalid", "body", "copies", 0, "below minimum 1")
    assert copies.change(0).text() == "body.copies: below minimum 1 (sent 0)"  # type: ignore[union-attr]
    assert copies.change(6).reason == "above maximum 5"  # type: ignore[union-attr]
    assert copies.change("1").reason == "not of type integer"  # type: ignore[union-attr]
    assert copies.change(3) is None  # valid: not a change


def test_a_parameter_is_judged_as_the_text_it_travels_as() -> None:
    limit = site("query", "limit", {"type": "integer", "minimum": 1, "maximum": 10})
    assert limit.change("5") is None  # "5" reads as the integer 5
    assert limit.change(True) is not None  # "true" is no integer
    assert limit.change("x").text() == 'query.limit: not of type integer (sent "x")'  # type: ignore[union-attr]
    assert limit.change(0).reason == "below minimum 1"  # type: ignore[union-attr]
    assert limit.change(None) is None  # a null query parameter is not sent at all
    assert limit.change([]) is None and limit.change([0, 1]) is None  # no / repeated pairs
    name = site("path", "name", {"type": "string"})
    assert name.change(12) is None  # any text is a string


def test_missing_is_invalid_only_where_required() -> None:
    assert site("body", "title", TITLE).change(MISSING).text() == (  # type: ignore[union-attr]
        "body.title: missing (required)")
    assert site("body", "title", TITLE, required=False).change(MISSING) is None


def test_a_nested_violation_names_its_place() -> None:
    address = site("body", "address", {"type": "object", "required": ["city"],
                                       "properties": {"zip": {"type": "integer", "minimum": 1}}})
    assert address.change({"city": "x", "zip": 0}).text() == (  # type: ignore[union-attr]
        'body.address.zip: below minimum 1 (sent {"city":"x","zip":0})')
    assert address.change({}).reason == "missing required property 'city'"  # type: ignore[union-attr]


def test_long_values_are_shown_short() -> None:
    text = site("body", "title", TITLE).change("a" * 41).text()  # type: ignore[union-attr]
    assert text == 'body.title: longer than maxLength 40 (sent "aaaaaaaaaaaa…" (41 characters))'


def test_a_change_survives_its_saved_form() -> None:
    for change in (InputChange("invalid", "body", "qty", 0, "below minimum 1"),
                   InputChange("invalid", "query", "limit", MISSING, "missing (required)"),
                   InputChange("boundary", "body", None, [], "not of type object")):
        assert InputChange.from_data(change.as_data()) == change
    assert InputChange.from_data({"kind": "other"}) is None


# -- applying one change -----------------------------------------------------------------------

def test_apply_changes_exactly_one_place() -> None:
    assert InputChange("invalid", "body", "copies", 0, "").apply(draft()).body == {  # type: ignore[union-attr]
        "title": "a", "copies": 0}
    assert InputChange("invalid", "body", "title", MISSING, "").apply(draft()).body == {  # type: ignore[union-attr]
        "copies": 1}
    assert InputChange("invalid", "body", None, MISSING, "").apply(draft()).body is NO_BODY  # type: ignore[union-attr]
    assert InputChange("invalid", "query", "limit", 0, "").apply(draft()).query == [  # type: ignore[union-attr]
        ("limit", 0)]
    assert InputChange("invalid", "path", "id", -1, "").apply(draft()).path_params == {  # type: ignore[union-attr]
        "id": -1}
    assert InputChange("invalid", "header", "x-trace", MISSING, "").apply(draft()).headers == {}  # type: ignore[union-attr]


def test_apply_refuses_what_the_request_does_not_send() -> None:
    assert InputChange("invalid", "body", "copies", 0, "").apply(draft(body=NO_BODY)) is None
    assert InputChange("invalid", "query", "offset", MISSING, "").apply(draft()) is None
    assert InputChange("invalid", "header", "X-Other", MISSING, "").apply(draft()) is None


# -- boundary values ---------------------------------------------------------------------------

def shown(changes: list[InputChange]) -> list[tuple[str, str]]:
    return [(c.kind, c.text()) for c in changes]


def test_boundaries_of_a_bounded_integer() -> None:
    assert shown(boundary_changes(site("body", "copies", COPIES))) == [
        ("boundary", "body.copies: at minimum 1 (sent 1)"),
        ("invalid", "body.copies: below minimum 1 (sent 0)"),
        ("boundary", "body.copies: at maximum 5 (sent 5)"),
        ("invalid", "body.copies: above maximum 5 (sent 6)"),
        ("invalid", 'body.copies: not of type integer (sent "1")'),
        ("invalid", "body.copies: missing (required)"),
    ]


def test_boundaries_of_a_string_with_lengths() -> None:
    changes = boundary_changes(site("body", "title", TITLE))
    lengths = [(c.kind, len(c.value)) for c in changes if isinstance(c.value, str)]
    assert lengths == [("boundary", 1), ("invalid", 0), ("boundary", 40), ("invalid", 41)]
    assert [c.reason for c in changes[-2:]] == ["not of type string", "missing (required)"]


def test_boundaries_of_parameters_and_enums() -> None:
    # a path parameter is never left out; as text, the wrong type is "x"
    assert shown(boundary_changes(site("path", "id", {"type": "integer", "minimum": 1}))) == [
        ("boundary", "path.id: at minimum 1 (sent 1)"),
        ("invalid", "path.id: below minimum 1 (sent 0)"),
        ("invalid", 'path.id: not of type integer (sent "x")'),
    ]
    status = boundary_changes(site("query", "status", {"type": "string",
                                                      "enum": ["open", "closed"]}, False))
    # as text, 1 is "1": a string, but not one of the listed values
    assert shown(status) == [
        ("invalid", 'query.status: not one of ["open", "closed"] (sent "")'),
        ("invalid", 'query.status: not one of ["open", "closed"] (sent "OPEN")'),
        ("invalid", 'query.status: not one of ["open", "closed"] (sent 1)')]


def test_a_picked_place_may_only_be_left_out() -> None:
    member = Site("body", "memberId", {"type": "integer"}, "openapi-3.0", True, keep_value=True)
    assert shown(boundary_changes(member)) == [("invalid", "body.memberId: missing (required)")]
    assert not can_be_invalid(Site("query", "q", {"type": "string"}, "openapi-3.0"))
    assert can_be_invalid(Site("query", "q", {"type": "string", "maxLength": 3}, "openapi-3.0"))


# -- Schemathesis' invalid values --------------------------------------------------------------

@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(st.data())
def test_schemathesis_values_are_invalid_and_said_so(data: st.DataObject) -> None:
    limit = site("query", "limit", {"type": "integer", "minimum": 1, "maximum": 10})
    copies = site("body", "copies", COPIES)
    change = data.draw(invalid_changes(copies))
    assert change.place == "body.copies" and change.kind == "invalid"
    assert not Draft7Validator(COPIES).is_valid(change.value)  # checked independently
    param = data.draw(invalid_changes(limit))
    assert not isinstance(param.value, bytes) and limit.change(param.value) == param


# -- the plan ----------------------------------------------------------------------------------

def test_positive_mode_prepares_nothing() -> None:
    plan = compile_plan(load_spec(MUTANTS))
    assert all(action.inputs is None for action in plan.actions)


def test_negative_mode_places_leave_picks_alone() -> None:
    plan = compile_plan(load_spec(MUTANTS), mode="negative")
    places = {a.name: [s.place for s in a.inputs.sites if not s.keep_value]
              for a in plan.actions if a.inputs is not None}
    assert places == {"add_book": ["body", "body.title", "body.copies"],
                      "list_books": ["query.offset", "query.limit"],
                      "set_copies": ["body", "body.copies"],  # path.id is picked
                      "add_member": ["body", "body.name"],
                      "borrow": ["body"]}  # memberId and bookId are picked
    borrow = next(a for a in plan.actions if a.name == "borrow")
    assert [c.text() for c in borrow.inputs.boundaries] == [  # type: ignore[union-attr]
        "body: not of type object (sent [])", "body: missing (required)",
        "body.memberId: missing (required)", "body.bookId: missing (required)"]


def test_an_action_mode_overrides_the_run(tmp_path: Path) -> None:
    text = MUTANTS.read_text().replace("    weight: 3\n    expect:", "    weight: 3\n"
                                       "    mode: positive\n    expect:")
    text = text.replace("request: addMember", "request: addMember\n    mode: negative")
    text = text.replace("openapi: openapi.yaml", f"openapi: {MUTANTS.parent / 'openapi.yaml'}")
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    negative = {a.name for a in compile_plan(load_spec(spec), mode="negative").actions if a.inputs}
    positive = {a.name for a in compile_plan(load_spec(spec)).actions if a.inputs}
    assert "add_book" not in negative and "list_books" in negative
    assert positive == {"add_member"}


LIST_BOOKS = {a.name: a for a in compile_plan(load_spec(MUTANTS), mode="negative").actions}[
    "list_books"]


@settings(max_examples=30, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(st.data())
def test_negative_mode_always_changes_an_action_that_stores_nothing(data: st.DataObject) -> None:
    assert data.draw(LIST_BOOKS.inputs.choice) is not None  # type: ignore[union-attr]


def test_choices_shrink_towards_a_valid_request() -> None:
    from mbtspec.executor._shrink import simplest_value

    for mode in ("negative", "all"):
        add_book = next(a for a in compile_plan(load_spec(MUTANTS), mode=mode).actions
                        if a.name == "add_book")
        assert simplest_value(add_book.inputs.choice) is None  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ["negative", "all"])
def test_share_of_invalid_steps(mode: str) -> None:
    """negative: half the steps of an action that stores; all: one in four."""
    add_book = next(a for a in compile_plan(load_spec(MUTANTS), mode=mode).actions  # type: ignore[arg-type]
                    if a.name == "add_book")
    counts = {"valid": 0, "invalid": 0}

    @settings(max_examples=4, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def count(data: st.DataObject) -> None:  # many draws in one test case, as in a sequence
        for _ in range(50):
            choice = data.draw(add_book.inputs.choice)  # type: ignore[union-attr]
            counts["valid" if choice is None else "invalid"] += 1

    count()
    share = counts["invalid"] / sum(counts.values())
    expected = 0.5 if mode == "negative" else 0.25
    assert abs(share - expected) < 0.15, counts
