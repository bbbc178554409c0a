"""The pieces of the race search: counting and walking interleavings (with pruning), the
settings of run.concurrency, and the smaller scripts shrinking tries."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from mbtspec.compiler import compile_plan
from mbtspec.errors import UsageError
from mbtspec.executor._linearize import _orders, interleavings_of
from mbtspec.executor._parallel import Script
from mbtspec.executor._races import _smaller
from mbtspec.executor.records import Step
from mbtspec.spec import load_spec
from mbtspec.spec.model import MAX_INTERLEAVINGS, default_branch_steps, interleavings

REPO = Path(__file__).resolve().parents[2]


def brute_force(lengths: list[int]) -> set[tuple[tuple[int, int], ...]]:
    """Every order of the slots that keeps each branch's steps in order, by filtering all
    permutations."""
    slots = [(b, j) for b, n in enumerate(lengths) for j in range(n)]
    return {order for order in itertools.permutations(slots)
            if all(order.index((b, j)) < order.index((b, j + 1))
                   for b, n in enumerate(lengths) for j in range(n - 1))}


@pytest.mark.parametrize("lengths", [[1, 1], [2, 1], [2, 2], [3, 2], [1, 1, 1], [2, 1, 2]])
def test_every_interleaving_is_walked_once(lengths: list[int]) -> None:
    walked = list(_orders(lengths, {}, set()))
    assert len(walked) == len(set(walked)) == interleavings_of(lengths)
    assert set(walked) == brute_force(lengths)


@pytest.mark.parametrize(("n", "k"), [(2, 1), (2, 3), (3, 2), (4, 2), (5, 1)])
def test_the_count_is_the_multinomial_coefficient(n: int, k: int) -> None:
    assert interleavings(n, k) == interleavings_of([k] * n)
    if n * k <= 7:
        assert interleavings(n, k) == len(brute_force([k] * n))


def test_the_order_the_candidate_finished_in_is_tried_first() -> None:
    finished = [(1, 0), (0, 0), (1, 1), (0, 1)]
    rank = {slot: i for i, slot in enumerate(finished)}
    assert next(_orders([2, 2], rank, set())) == tuple(finished)


def test_an_order_failing_at_a_step_prunes_every_order_with_that_beginning() -> None:
    failing: set[tuple[tuple[int, int], ...]] = set()
    walked = []
    for order in _orders([2, 2], {}, failing):
        walked.append(order)
        if order[0] == (0, 0):
            failing.add(order[:2])  # fails at its second step
    # (0,0),(0,1) ... : 1 order walked, then (0,0),(1,0) ...: 1, then (1,0) ...: 3 of 3
    assert len(walked) == 5 < interleavings_of([2, 2])
    assert sum(o[:2] == walked[0][:2] for o in walked) == 1
    starts = {o[:2] for o in walked}
    assert ((0, 0), (0, 1)) in starts and ((0, 0), (1, 0)) in starts


def test_default_branch_steps_stay_within_a_hundred_orders() -> None:
    for n in range(2, 6):
        assert interleavings(n, default_branch_steps(n)) <= 120
    assert interleavings(8, 1) > MAX_INTERLEAVINGS  # 8! = 40,320: refused by lint


def test_concurrency_from_the_command_line_keeps_the_spec_options() -> None:
    spec = load_spec(REPO / "bench" / "mutants" / "races.yaml")
    plan = compile_plan(spec, concurrency=3)
    assert plan.run.concurrency is not None
    assert plan.run.concurrency.branches == 3
    assert plan.run.concurrency.steps == 2  # the default for 3 branches
    assert plan.run.concurrency.then == ("list_books",)
    plain = compile_plan(spec)
    assert plain.run.concurrency is not None and plain.run.concurrency.branches == 2


def test_too_many_orders_from_the_command_line_is_a_usage_error(tmp_path: Path) -> None:
    text = (REPO / "bench" / "mutants" / "races.yaml").read_text()
    text = text.replace("openapi: openapi.yaml",
                        f"openapi: {REPO / 'bench' / 'mutants' / 'openapi.yaml'}")
    text = text.replace("{branches: 2, then", "{branches: 2, branch_steps: 3, then")
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match="--concurrency 5 with 3 steps per branch gives "
                                         "168,168,000 interleavings"):
        compile_plan(load_spec(path), concurrency=5)


def _step(name: str) -> Step:
    return Step(index=1, action=name, draws=(), requests=(), responses=())


def test_smaller_scripts_cut_branches_then_branch_steps_then_the_prefix() -> None:
    script = Script((_step("p1"), _step("p2")),
                    ((_step("a1"), _step("a2")), (_step("b1"),), (_step("c1"),)), ())
    shapes = [([s.action for s in c.prefix], [[s.action for s in b] for b in c.branches])
              for c in _smaller(script)]
    assert shapes[0] == (["p1", "p2"], [["b1"], ["c1"]])  # a whole branch first
    assert (["p1", "p2"], [["a2"], ["b1"], ["c1"]]) in shapes
    assert (["p1", "p2", "a1"], [["a2"], ["b1"], ["c1"]]) in shapes  # moved to the prefix
    assert shapes[-2:] == [(["p1"], [["a1", "a2"], ["b1"], ["c1"]]),
                           (["p2"], [["a1", "a2"], ["b1"], ["c1"]])]
    two = Script((), ((_step("a1"),), (_step("b1"),)), ())
    assert list(_smaller(two)) == []  # two branches of one step: nothing smaller


def test_a_branch_of_one_step_moves_to_the_prefix_while_three_are_left() -> None:
    script = Script((_step("p1"),), ((_step("a1"),), (_step("b1"),), (_step("c1"),)), ())
    shapes = [([s.action for s in c.prefix], [[s.action for s in b] for b in c.branches])
              for c in _smaller(script)]
    assert (["p1", "b1"], [["a1"], ["c1"]]) in shapes  # three borrows of two copies ...
    assert (["p1"], [["a1"], ["b1"]]) in shapes
