"""``unique: true`` beside a generator: no value twice within a sequence, shared by every
reference to a named generator, counted only for steps that were sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mbtspec import check
from mbtspec.compiler import DrawContext, State, Unsatisfiable, compile_plan
from mbtspec.executor._draws import RecordingDraws, ReplayDraws
from mbtspec.spec import lint_spec, load_spec
from mbtspec.spec import model as m

HEAD = """\
version: 1
targets:
  model: {app: "tests.apps.blog:model"}
  candidate: {app: "tests.apps.blog:candidate"}
reset:
  - {request: POST /__reset, status: 204}
"""
TARGETS = ("model", "candidate")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(HEAD + text)
    return path


def plans(tmp_path: Path, text: str) -> dict[str, Any]:
    return {p.name: p for p in compile_plan(load_spec(write(tmp_path, text))).actions}


SLOTS = """\
generators:
  slot: {integer: {min: 1, max: 4}, unique: true}
actions:
  one:
    request: POST /users
    body: {name: "${slot}"}
  two:
    request: POST /users
    body: {name: "s${slot}-${slot}", inline: {one_of: [a, b], unique: true}}
"""


def test_unique_is_parsed_with_its_scope(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, SLOTS))
    slot = dict(spec.generators)["slot"]
    assert isinstance(slot, m.Unique) and slot.scope == "slot"
    assert slot.value == m.IntegerGen(1, 4) and slot.at == ("generators", "slot", "unique")
    body = next(a for a in spec.actions if a.name == "two").body
    assert isinstance(body, m.ObjectValue)
    inline = dict(body.fields)["inline"]
    assert isinstance(inline, m.Unique) and inline.scope == "actions.two.body.inline"


@pytest.fixture(scope="module")
def slots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return plans(tmp_path_factory.mktemp("slots"), SLOTS)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_values_are_not_repeated_within_a_sequence(slots: dict[str, Any],
                                                   data: st.DataObject) -> None:
    actions = slots
    state = State()
    seen: list[Any] = []
    for _ in range(12):  # 'two' uses two slots, 'one' one (the same scope): 4 in all
        name = data.draw(st.sampled_from(["one", "two"]))
        ctx = DrawContext(RecordingDraws(data), state, TARGETS)
        try:
            draft = actions[name].draw(ctx)
        except Unsatisfiable as why:
            assert "slot" in str(why)  # used up, or no unused one found this time
            continue
        ctx.commit_unique()
        name_sent = draft.body["name"]
        seen += ([name_sent] if isinstance(name_sent, int)
                 else [int(part) for part in name_sent.lstrip("s").split("-")])
        assert len(seen) == len(set(seen)) and set(seen) <= {1, 2, 3, 4}, seen
    if len(seen) == 4:
        with pytest.raises(Unsatisfiable, match="every value of 'slot' is used"):
            actions["one"].draw(DrawContext(RecordingDraws(data), state, TARGETS))
    assert State().used == {}  # a new sequence starts afresh


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_a_step_that_was_not_sent_uses_nothing(slots: dict[str, Any],
                                               data: st.DataObject) -> None:
    actions = slots
    state = State()
    ctx = DrawContext(RecordingDraws(data), state, TARGETS)
    actions["one"].draw(ctx)
    assert state.used == {}  # drawn, not committed (the step could still be skipped)
    ctx.commit_unique()
    assert len(state.used["slot"]) == 1


def test_a_replay_fails_when_its_recorded_value_is_taken(tmp_path: Path) -> None:
    actions = plans(tmp_path, SLOTS)
    state = State()
    state.used["slot"] = {"3"}
    with pytest.raises(Unsatisfiable):
        actions["one"].draw(DrawContext(ReplayDraws([3]), state, TARGETS))
    draft = actions["one"].draw(DrawContext(ReplayDraws([2]), state, TARGETS))
    assert draft.body == {"name": 2}


def test_lint_explains_unique_problems(tmp_path: Path) -> None:
    text = """\
generators:
  flag: {boolean: {}, unique: true}
  wide: {string: {min_size: 8}, unique: true}
actions:
  create:
    request: POST /users
    body: {name: "${wide}", flag: "${flag}"}
    store: {names: response.body.name}
  copy:
    request: POST /users
    let: {n: {integer: {}}}
    body:
      name: {format: "${old}-${n}", old: {pick: names}, unique: true}
"""
    found = [(p.code, p.json_path, p.severity) for p in lint_spec(write(tmp_path, text))]
    assert ("few-unique-values", "generators.flag.unique", "warning") in found
    assert ("invalid-generator", "actions.copy.body.name.unique", "error") in found
    assert not any(path.startswith("generators.wide") for _, path, _ in found)


UNIQUE_TITLES = """\
generators:
  name: {string: {alphabet: lowercase, min_size: 1, max_size: 6}}
  title: {string: {alphabet: ab, min_size: 1, max_size: 3}%s}
actions:
  register:
    request: POST /users
    body: {name: "${name}"}
    store: {tokens: response.body.token}
  write:
    request: POST /articles
    query: {token: {pick: tokens}}
    body: {title: "${title}"}
    store: {slugs: response.body.slug}
    weight: 2
"""


@pytest.mark.parametrize("unique", [False, True])
def test_unique_titles_never_collide_in_a_run(tmp_path: Path, unique: bool) -> None:
    spec = write(tmp_path, UNIQUE_TITLES % (", unique: true" if unique else ""))
    stats = check(spec, seed=1, sequences=40, steps=12, database=None).result.stats
    statuses = stats.actions["write"].statuses["model"]
    assert statuses["201"] > 50
    if unique:
        assert "409" not in statuses  # no two articles with one title, in any sequence
    else:
        assert statuses["409"] > 10  # 14 titles: Hypothesis repeats them often
