"""What a step leaves in the state: ``pick ... remove`` takes an entry away only when the
answers say it is gone (by default every target answered 2xx), and a pick's literal ``or:``
is sent as written, also when a replay finds the variable no longer empty."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mbtspec.compiler import ActionPlan, DrawContext, State, compile_plan
from mbtspec.compiler.state import Entry
from mbtspec.executor._draws import ReplayDraws
from mbtspec.executor._stores import apply_removals, removal_holds
from mbtspec.executor.records import Request, Response
from mbtspec.spec import lint_spec, load_spec
from mbtspec.spec import model as m

TARGETS = ("model", "candidate")
SPEC = """\
version: 1
targets:
  model: {base_url: "http://127.0.0.1:1"}
  candidate: {base_url: "http://127.0.0.1:2"}
reset:
  - {request: POST /__reset}
actions:
  create:
    request: POST /items
    store: {ids: response.body.id}
  delete:
    request: DELETE /items/{id}
    path: {id: {pick: ids, remove: %s}}
  read:
    request: GET /comments/{id}
    path: {id: {pick: ids, or: 1}}
"""


def plan_for(tmp_path: Path, remove: str = "true") -> dict[str, ActionPlan]:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC % remove)
    return {p.name: p for p in compile_plan(load_spec(path)).actions}


def removal_of(plan: ActionPlan) -> m.Removal | None:
    value = dict(plan.action.path_params)["id"]
    assert isinstance(value, m.Pick)
    return value.remove


def answers(*statuses: int | None, body: Any = None) -> tuple[dict[str, Request],
                                                             dict[str, Response]]:
    request = Request("DELETE", "http://x/items/1", "/items/1", (), None, None, None)
    return ({t: request for t in TARGETS},
            {t: Response(s, body=body) for t, s in zip(TARGETS, statuses, strict=True)})


@pytest.mark.parametrize(("written", "expected"), [
    ("true", m.Removal("success")),
    ("always", m.Removal("always")),
    ("false", None),
])
def test_the_forms_of_remove(tmp_path: Path, written: str, expected: m.Removal | None) -> None:
    assert removal_of(plan_for(tmp_path, written)["delete"]) == expected


@pytest.mark.parametrize(("statuses", "removed"), [
    ((204, 204), True),
    ((200, 201), True),
    ((403, 403), False),  # a refused delete keeps a live entry
    ((204, 403), False),  # every target must say it is gone
    ((404, 404), False),
    ((None, 204), False),  # no answer
])
def test_remove_true_takes_the_entry_only_after_2xx_everywhere(
        tmp_path: Path, statuses: tuple[int | None, int | None], removed: bool) -> None:
    plan = plan_for(tmp_path)["delete"]
    removal = removal_of(plan)
    assert removal is not None
    requests, responses = answers(*statuses)
    assert removal_holds(removal, plan, State(), TARGETS, "json-schema", requests,
                         responses) is removed
    always = m.Removal("always")
    assert removal_holds(always, plan, State(), TARGETS, "json-schema", requests, responses)


@pytest.mark.parametrize(("statuses", "body", "removed"), [
    ((204, 204), None, True),
    ((404, 404), {"gone": True}, True),
    ((404, 404), {"gone": False}, False),
    ((404, 404), None, False),  # the field it reads is missing: the entry stays
    ((403, 403), {"gone": True}, False),
])
def test_remove_when_holds_for_every_target(tmp_path: Path, statuses: tuple[int, int],
                                            body: Any, removed: bool) -> None:
    when = '{when: "response.status == 204 || (response.status == 404 && response.body.gone)"}'
    plan = plan_for(tmp_path, when)["delete"]
    removal = removal_of(plan)
    assert removal is not None and removal.on == "when"
    requests, responses = answers(*statuses, body=body)
    assert removal_holds(removal, plan, State(), TARGETS, "json-schema", requests,
                         responses) is removed


def test_removals_are_judged_first_and_an_entry_goes_once(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, '{when: "size(ids) == 3"}')["delete"]
    removal = removal_of(plan)
    assert removal is not None
    state = State(["ids"])
    for number in (10, 11, 12):
        state.store("ids", number)
    requests, responses = answers(204, 204)
    # the same entry picked twice, and another: all judged while 3 entries are stored
    apply_removals([("ids", 1, removal), ("ids", 1, removal), ("ids", 2, removal)], plan,
                   state, TARGETS, "json-schema", requests, responses)
    assert state.bag("ids") == [10]


def test_a_literal_or_is_sent_as_written_in_replays(tmp_path: Path) -> None:
    node = plan_for(tmp_path)["read"]
    # recorded while 'ids' was empty: the fallback drew 1; now an entry is stored
    state = State(["ids"])
    state.store("ids", 0, origin=1)
    draft = node.draw(DrawContext(ReplayDraws([1]), state, TARGETS))
    assert draft.path_params == {"id": 1}  # not the entry at position 1, nor 0
    # recorded as a pick of entry 0 (stored by step 1); the entry is gone now
    draft = node.draw(DrawContext(ReplayDraws([Entry("ids", 1, 0)]), State(["ids"]),
                                  TARGETS))
    assert draft.path_params == {"id": 1}
    # recorded as that pick, and the entry is there: the pick again
    draft = node.draw(DrawContext(ReplayDraws([Entry("ids", 1, 0)]), state, TARGETS))
    assert draft.path_params == {"id": 0}


def test_remove_when_is_checked_like_store(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC % '{when: "respons.status == 204"}')
    problems = [p.format() for p in lint_spec(path)]
    assert any("error[undefined-variable] actions.delete.path.id.remove.when: 'respons' is "
               "not defined in remove 'when' (did you mean 'response'?)" in p
               for p in problems), problems
