"""Shards: parts of a run (seeds, shares of the sequences, the key that gives every
sequence one part, saved failures per part, workers of a shard), refusals, merged stats."""

from __future__ import annotations

import math
import random
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mbtspec.compiler.state import Entry
from mbtspec.errors import UsageError
from mbtspec.executor import Part
from mbtspec.executor._partition import Gate, PartKey, part_of_name, strategy_bits
from mbtspec.executor.records import ActionStats, Stats
from mbtspec.parallel import Shard, parse_shard
from mbtspec.parallel._workers import add_stats


@pytest.mark.parametrize(("total", "count"), [(100, 1), (100, 3), (7, 4), (2, 5)])
def test_the_parts_share_out_every_sequence(total: int, count: int) -> None:
    shares = [Shard(i, count).sequences(total) for i in range(1, count + 1)]
    assert sum(shares) == max(total, count)  # (every part runs at least one)
    assert max(shares) - min(shares) <= 1


def test_each_part_has_its_own_seed_and_one_part_is_the_run() -> None:
    assert Shard(1, 1).seed(42) == 42
    seeds = {Shard(i, 8).seed(42) for i in range(1, 9)}
    assert len(seeds) == 8 and all(0 <= s < 2**32 for s in seeds)
    assert Shard(3, 8).seed(42) == Shard(3, 8).seed(42)
    assert Shard(3, 8).seed(42) != Shard(3, 8).seed(43)


@pytest.mark.parametrize(("text", "message"), [
    ("2/4", None), (" 1 / 1 ", None),
    ("2", "expected i/n, e.g. --shard 2/4"), ("0/4", "i must be between 1 and n"),
    ("5/4", "i must be between 1 and n"), ("1/0", "i must be between 1 and n"),
])
def test_parse_shard(text: str, message: str | None) -> None:
    if message is None:
        assert str(parse_shard(text)) == text.replace(" ", "")
        return
    with pytest.raises(UsageError, match=message):
        parse_shard(text)


def test_stats_of_parts_add_up() -> None:
    one, two = Stats(sequences=3, calls=10, steps=5, lengths=[2, 3]), Stats(sequences=2, calls=4)
    one.actions["a"] = ActionStats(runs=5, statuses={"model": Counter({"200": 5})})
    two.actions["a"] = ActionStats(runs=2, statuses={"model": Counter({"200": 1, "404": 1})})
    one.time_ms["model"], two.time_ms["model"] = 1.5, 2.0
    total = Stats()
    add_stats(total, one)
    add_stats(total, two)
    assert (total.sequences, total.calls, total.steps, total.lengths) == (5, 14, 5, [2, 3])
    assert total.actions["a"].runs == 7
    assert total.actions["a"].statuses["model"] == Counter({"200": 6, "404": 1})
    assert total.time_ms == {"model": 3.5}


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=8)
STEPS = st.lists(st.tuples(st.sampled_from(["create", "list", "close"]),
                           st.lists(JSON, max_size=3)), min_size=1, max_size=4)


def key_of(steps: list[tuple[str, list[Any]]], first_origin: int) -> int:
    """The key of ``steps`` as a run numbers them from ``first_origin``; each step picks
    an entry stored by the one before it."""
    key = PartKey()
    for position, (action, values) in enumerate(steps):
        picks = [Entry("orders", first_origin + position - 1)] if position else []
        key.add(action, [*values, *picks], [st.none()] * len(values) + [None] * len(picks),
                2, lambda _: 3)
        key.stored(first_origin + position)
    return key.key


@given(STEPS, st.integers(1, 10_000), st.integers(2, 16))
def test_a_sequence_has_one_part_whatever_the_run_numbered_its_steps(
        steps: list[tuple[str, list[Any]]], origin: int, count: int) -> None:
    key = key_of(steps, origin)
    assert key == key_of(steps, 1)  # (entries are named by position in the sequence)
    owners = [i for i in range(1, count + 1) if Part(i, count).owns(key)]
    assert len(owners) == 1


def test_keys_spread_over_every_part() -> None:
    rng = random.Random(1)
    sequences = [[(rng.choice(["create", "list"]), [rng.randrange(100)])
                  for _ in range(rng.randrange(1, 4))] for _ in range(800)]
    distinct = {repr(s): s for s in sequences}.values()
    counts = Counter(key_of(s, 1) % 8 for s in distinct)
    assert len(counts) == 8 and min(counts.values()) > len(distinct) / 8 * 0.7


@pytest.mark.parametrize(("strategy", "bits"), [
    (st.integers(1, 100), math.log2(100)), (st.sampled_from(["a", "b", "c"]), math.log2(3)),
    (st.booleans(), 1.0), (st.just(5), 0.0), (st.none(), 0.0),
    (st.one_of(st.integers(0, 2), st.none()), 2.0),
    (st.integers(0, 7).map(str), 3.0), (st.tuples(st.booleans(), st.integers(0, 3)), 3.0),
    (st.fixed_dictionaries({"a": st.integers(0, 3)}, optional={"b": st.booleans()}), 4.0),
    (st.integers(), 32.0), (st.text(alphabet="ab", max_size=3), 3.0),
    (st.lists(st.booleans(), min_size=1, max_size=5), 5.0), (st.lists(st.just(1)), 4.0),
    (st.text(max_size=0), 0.0), (st.floats(0, 1), 32.0), (st.binary(max_size=2), 16.0),
    (st.from_regex("[a-z]+", fullmatch=True), 4.0),
])
def test_the_choices_a_generator_counts_for(strategy: Any, bits: float) -> None:
    assert strategy_bits(strategy) == pytest.approx(bits)


def test_a_saved_failure_is_replayed_by_one_part() -> None:
    found_by = "mbtspec check s.yaml --seed 5 --shard 3/4"
    assert [Shard(i, 4).owns_failure(Path("s-1.yaml"), found_by) for i in (1, 2, 3, 4)] == [
        False, False, True, False]
    names = [Path(f"s-{n}.yaml") for n in range(200)]
    for reproduce in ("mbtspec check s.yaml --seed 5", "mbtspec check s.yaml --shard 1/2"):
        owners = [[i for i in (1, 2, 3, 4) if Shard(i, 4).owns_failure(p, reproduce)]
                  for p in names]
        assert all(len(o) == 1 for o in owners)
        assert {o[0] for o in owners} == {1, 2, 3, 4}
    assert Shard(1, 1).owns_failure(Path("s-1.yaml"), found_by)
    assert all(1 <= part_of_name(p.name, 3) <= 3 for p in names)


@pytest.mark.parametrize(("count", "workers", "total"), [(1, 3, 100), (2, 3, 100), (4, 2, 7),
                                                         (3, 4, 1000)])
def test_the_workers_of_a_shard_run_exactly_its_share(count: int, workers: int,
                                                      total: int) -> None:
    flat: list[Shard] = []
    for index in range(1, count + 1):
        shard = Shard(index, count)
        mine = [shard.worker(j, workers) for j in range(1, workers + 1)]
        assert all(p.count == count * workers and p.index % count == index % count
                   for p in mine)
        if total >= count * workers:
            assert sum(p.sequences(total) for p in mine) == shard.sequences(total)
        flat += mine
    assert sorted(p.index for p in flat) == list(range(1, count * workers + 1))
    assert Shard(1, 1).worker(2, 3) == Shard(2, 3)  # (--workers alone: as before)


@pytest.mark.parametrize(("frozen", "in_step", "goes_on", "dropped"), [
    (False, False, False, True),  # ended: keyed by its steps, to be rejected
    (True, False, True, True),    # cut short by Hypothesis: dropped, Hypothesis discards it
    (True, True, True, True),     # ... in the middle of drawing a step
    (False, True, True, False),   # an error is on its way: left alone
])
def test_a_sequence_that_ends_before_its_part_is_known_is_keyed_by_what_it_sent(
        frozen: bool, in_step: bool, goes_on: bool, dropped: bool) -> None:
    key = PartKey()
    key.add("list", [], [], 1, lambda _: 0)
    owner = next(i for i in (1, 2) if Part(i, 2).owns(key.key))
    gate = Gate(Part(3 - owner, 2))
    gate.begin()
    assert gate.admit("list", [], [], 1, lambda _: 0)  # (too few choices to decide)
    gate.in_step, gate.drawing = in_step, SimpleNamespace(frozen=frozen)
    assert gate.over(sent=True) == goes_on
    assert gate.dropped == dropped


def test_a_step_that_decides_for_another_part_is_not_let_through() -> None:
    values = [[n] for n in range(64)]
    gates = [Gate(Part(i, 4)) for i in (1, 2, 3, 4)]
    for value in values:
        through = []
        for gate in gates:
            gate.begin()
            through.append(gate.admit("create", value, [st.integers(0, 1023)], 2,
                                      lambda _: 0))
        assert through.count(True) == 1 and [g.dropped for g in gates].count(False) == 1
