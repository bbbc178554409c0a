"""Shrinking by replay: picks find the same entries, values get simpler, the result is
checked 1-minimal, and the shrink time bounds it all."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import strategies as st

from mbtspec import check
from mbtspec.compiler import State, Unsatisfiable
from mbtspec.compiler.state import Entry
from mbtspec.executor._draws import ReplayDraws
from mbtspec.executor._shrink import _leaves, _parts, _replace_at
from mbtspec.executor._simplest import simplest_value
from tests.e2e.conftest import REPO, orders_spec

CLOSE_TWICE = """\
  model: {app: tests.apps.variants:model}
  candidate: {app: tests.apps.variants:close_twice}
"""


def test_entries_are_known_by_the_step_that_stored_them() -> None:
    state = State(["orders"])
    state.store("orders", 1, origin=7)
    state.store("orders", 2, origin=9)
    state.store("orders", 3, origin=9)
    assert state.origin("orders", 2) == Entry("orders", 9, 1)
    state.remove("orders", 0)  # the entry of step 7 is gone: the others move up
    assert state.index_of(Entry("orders", 9, 1)) == 1
    assert state.index_of(Entry("orders", 7, 0)) is None


def test_a_replayed_pick_takes_the_same_entry_wherever_it_stands() -> None:
    state = State(["orders"])
    state.store("orders", "b", origin=2)  # the step that stored "a" was left out
    draws = ReplayDraws([Entry("orders", 2, 0)])
    assert draws.choose(state, "orders", st.integers(0, 0)) == 0
    with pytest.raises(Unsatisfiable):
        ReplayDraws([Entry("orders", 1, 0)]).choose(state, "orders", st.integers(0, 0))
    # nothing stored now: the pick's 'or:' draws, and gets the simplest value it can
    assert ReplayDraws([Entry("orders", 2, 0)]).draw(st.integers(3, 9)) == 3


def test_simplest_values_are_those_hypothesis_shrinks_towards() -> None:
    assert simplest_value(st.integers(5, 9)) == 5
    assert simplest_value(st.sampled_from(["HR", "Frontend"])) == "HR"
    assert simplest_value(st.text(alphabet="xyz", min_size=2)) == "xx"
    assert simplest_value(st.tuples(st.integers(1, 3), st.just("k"))) == (1, "k")


def test_the_parts_of_a_value_are_simplified_one_by_one() -> None:
    value = {"no": "HR-17", "name": "Zed", "tags": ["a", "q"]}
    simplest = {"no": "HR-1", "name": "A", "tags": ["a", "a"]}
    parts = _parts(value, simplest)
    assert parts == [(("no",), "HR-1"), (("name",), "A"), (("tags", 1), "a")]
    assert _replace_at(value, ("tags", 1), "a") == {**value, "tags": ["a", "a"]}
    assert _parts("x", "y") == []  # a whole value is not a part of itself


def test_a_failure_is_shrunk_to_a_checked_one_minimal_sequence(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(orders_spec(CLOSE_TWICE))
    failure = check(spec, seed=3, steps=30, database=None).result.failure
    assert failure is not None and failure.minimal and not failure.cut_short
    assert [s.action for s in failure.steps] == ["create", "close", "close"]
    body = failure.steps[0].request("model").body
    assert body == {"item": "apple", "qty": 1}  # the simplest values that still show it


def test_shrinking_stops_at_the_shrink_time(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(orders_spec(CLOSE_TWICE))
    failure = check(spec, seed=3, steps=30, shrink_time=0.001, database=None).result.failure
    assert failure is not None and failure.cut_short and not failure.minimal
    assert "the shrink time of 0.001s ran out" in failure.note
    assert failure.steps[-1].findings


def test_a_pick_left_without_its_entry_falls_back_to_its_or_value(tmp_path: Path) -> None:
    # The mutant benchmark's unknown_book_500: a book added, deleted, then read gives a 500; so
    # does reading an id that never existed (the pick's 'or:'), in one call.
    from bench.mutants.runner import spec_for

    spec = spec_for("unknown_book_500", tmp_path)
    for seed in (2, 4):
        failure = check(spec, seed=seed, database=None).result.failure
        assert failure is not None and failure.minimal
        assert [s.action for s in failure.steps] == ["get_book"], seed


def test_the_plain_values_of_draws_are_found_but_not_picks() -> None:
    draws = ({"no": "HR-17", "tags": ["a", 3], "ok": True}, Entry("orders", 2, 0), "x")
    assert _leaves(draws) == [((0, "no"), "HR-17"), ((0, "tags", 0), "a"),
                              ((0, "tags", 1), 3), ((2,), "x")]


def test_an_earlier_step_takes_a_later_steps_value_and_the_later_step_goes() -> None:
    """Seed 2 of the example finds "create 'A', rename it 'IrQLN', search 'q'": leaving out
    any one step loses it, but the create can take the rename's name itself."""
    failure = check(REPO / "examples" / "employees" / "spec.yaml", seed=2,
                    database=None).result.failure
    assert failure is not None and failure.minimal
    assert [s.action for s in failure.steps] == ["create", "search"]
    name = failure.steps[0].request("model").body["name"]
    fragment = failure.steps[1].draws[0]
    assert fragment.lower() in name.lower() and fragment not in name  # (the bug: LIKE's case)
