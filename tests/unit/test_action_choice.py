"""Which action each drawn step runs: weights among the actions that can run, swarms that
keep what their actions pick, and statistics that say why an action never ran."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from mbtspec import check
from mbtspec._check import reproduce_command
from mbtspec.compiler import compile_plan
from mbtspec.executor._choice import Chooser
from mbtspec.executor.records import ActionStats
from mbtspec.spec import load_spec

#: A blog (tests/apps/blog.py): reading or deleting a comment needs an article and a comment
#: stored, which need an author's token; against Hypothesis' own choice of rules, such actions
#: ran at a fraction of their weight's share (read_comment: 11-47 runs in 1,600 steps where
#: read, of a third of its weight, ran 500-800).
BLOG = """\
version: 1
targets:
  model: {app: "tests.apps.blog:model"}
  candidate: {app: "tests.apps.blog:candidate"}
reset:
  - {request: POST /__reset, status: 204}
generators:
  name: {string: {alphabet: lowercase, min_size: 1, max_size: 6}}
  text: {string: {alphabet: lowercase, min_size: 1, max_size: 6}}
actions:
  register:
    request: POST /users
    body: {name: "${name}"}
    store: {tokens: response.body.token}
  write:
    request: POST /articles
    query: {token: {pick: tokens}}
    body: {title: "${text}"}
    store: {slugs: response.body.slug}
    weight: 2
  read:
    request: GET /articles/{slug}
    path: {slug: {pick: slugs, or: nothing}}
  comment:
    request: POST /articles/{slug}/comments
    path: {slug: {pick: slugs}}
    query: {token: {pick: tokens}}
    body: {body: "${text}"}
    store: {comments: response.body.id}
    weight: 2
  read_comment:
    request: GET /articles/{slug}/comments/{id}
    path: {slug: {pick: slugs}, id: {pick: comments}}
    weight: 3
  delete_comment:
    request: DELETE /articles/{slug}/comments/{id}
    path: {slug: {pick: slugs}, id: {pick: comments}}
    query: {token: {pick: tokens}}
  delete:
    request: DELETE /articles/{slug}
    path: {slug: {pick: slugs}}
    query: {token: {pick: tokens}}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _chooser(tmp_path: Path, text: str = BLOG) -> Chooser:
    return Chooser(compile_plan(load_spec(_write(tmp_path, text))))


def test_choose_follows_the_weights_of_the_candidates(tmp_path: Path) -> None:
    chooser = _chooser(tmp_path)
    actions = {p.name: p for p in chooser.actions}
    rng = random.Random(5)
    for names in (["register", "read"], ["register", "write", "read_comment", "delete"],
                  ["read_comment"], list(actions)):
        candidates = [actions[n] for n in names]
        counts = Counter(chooser.choose(rng.randint, candidates).name for _ in range(40_000))
        total = sum(actions[n].action.weight for n in names)
        assert set(counts) == set(names)
        for name in names:
            share = actions[name].action.weight / total
            assert counts[name] / 40_000 == pytest.approx(share, abs=0.01), (names, name)


def test_a_swarm_keeps_what_its_actions_pick(tmp_path: Path) -> None:
    chooser = _chooser(tmp_path)
    rng = random.Random(1)
    kept = Counter[str]()
    whole = 0
    for _ in range(2_000):
        swarm = chooser.swarm(rng.randint)
        assert swarm
        whole += len(swarm) == len(chooser.actions)
        kept.update(swarm)
        for name in swarm:
            for variable in chooser.reads[name]:
                assert chooser.storers[variable] & swarm, (name, variable, swarm)
    # half the swarms are the whole set; in the others each action is left out about half
    # the time, unless an action kept needs it
    assert 0.5 < whole / 2_000 < 0.6
    assert 0.7 < kept["read"] / 2_000 < 0.8
    assert kept["register"] > kept["write"] > kept["read_comment"]
    assert kept["register"] / 2_000 > 0.9  # everything else but 'read' needs a token


def test_a_swarm_keeps_what_a_when_reads(tmp_path: Path) -> None:
    text = BLOG.replace("  read:\n", "  read:\n    when: size(comments) > 0\n")
    chooser = _chooser(tmp_path, text)
    assert chooser.reads["read"] == {"comments"}
    rng = random.Random(2)
    for _ in range(500):
        swarm = chooser.swarm(rng.randint)
        if "read" in swarm:
            assert "comment" in swarm and "write" in swarm and "register" in swarm


@pytest.mark.parametrize("swarm", [False, True])
def test_an_action_that_can_run_gets_its_weights_share(tmp_path: Path, swarm: bool) -> None:
    # Hypothesis runs mutations of each new sequence and, early on, sequences that repeat the
    # first action: 300 sequences keep the shares within [0.71, 1.68] of their weight's
    # (28 runs measured, seeds 0-13 with and without swarm; 100 sequences reached 0.45)
    result = check(_write(tmp_path, BLOG), seed=3, sequences=300, steps=20, swarm=swarm,
                   database=None).result
    assert result.failure is None
    stats = result.stats
    assert stats.drawn >= 5_700
    for name, counts in stats.actions.items():
        assert counts.expected_runs >= 30, name
        # within a factor of 2 of the share its weight gives it at the steps it could run
        assert 0.5 <= counts.runs / counts.expected_runs <= 2, (name, counts)
    # the actions that need a comment stored could run at a fair part of the steps, and ran
    for name in ("read_comment", "delete_comment"):
        assert stats.actions[name].could_run > 0.2 * stats.drawn, name
    assert stats.actions["read_comment"].runs > 100
    assert (stats.swarms > 0) == swarm
    assert all(c.left_out == 0 for c in stats.actions.values()) or swarm


def test_why_an_action_never_ran(tmp_path: Path) -> None:
    text = BLOG + """\
  ghost_reader:
    request: GET /articles/{slug}
    path: {slug: {pick: ghosts}}
  haunt:
    request: POST /users
    body: {name: boo}
    store: {ghosts: response.body.ghost}   # no such field: nothing is ever stored
    when: size(tokens) > 100
"""
    result = check(_write(tmp_path, text), seed=1, sequences=20, steps=10, swarm=False,
                   database=None).result
    stats = result.stats
    assert stats.drawn == 200
    assert stats.actions["ghost_reader"].why_never_ran() == (
        "nothing was stored in ghosts at every step (200)")
    assert stats.actions["haunt"].why_never_ran() == "its 'when' was false at every step (200)"
    assert stats.actions["read"].why_never_ran() == ""
    one = check(_write(tmp_path, BLOG), seed=1, sequences=1, steps=1, swarm=False,
                database=None).result.stats
    assert one.drawn == 1 and one.actions["register"].runs == 1  # the only one that can run
    assert one.actions["read"].why_never_ran() == (
        "never chosen, though it could run at 1 step (0.5 runs expected from its weight)")
    assert one.actions["delete"].why_never_ran() == (
        "nothing was stored in slugs at every step (1)")
    # both reasons, counted apart; swarm testing; values that cannot be drawn
    mixed = ActionStats(when_false=3, nothing_stored=Counter({"a": 2, "b": 1}))
    assert mixed.why_never_ran() == ("at every step (6), nothing was stored in a (2) or "
                                     "nothing was stored in b (1) or its 'when' was false (3)")
    assert ActionStats(left_out=4).why_never_ran() == (
        "left out by swarm testing at every step where it could run (4)")
    assert ActionStats(could_run=2, skipped=Counter({"no unused value of 'title' found": 2})
                       ).why_never_ran() == ("chosen 2 times, but its values could not be "
                                             "drawn: no unused value of 'title' found")


def test_the_reproduce_command_carries_the_swarm_flag() -> None:
    base = ["mbtspec", "check", "s.yaml", "--seed", "3"]
    assert list(reproduce_command("s.yaml", 3, None, None)) == base
    assert list(reproduce_command("s.yaml", 3, None, None, swarm=True)) == [*base, "--swarm"]
    assert list(reproduce_command("s.yaml", 3, 50, None, swarm=False, mode="negative")) == [
        *base, "--sequences", "50", "--mode", "negative", "--no-swarm"]
