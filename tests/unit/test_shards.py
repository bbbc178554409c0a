"""Shards: parts of a run (seeds, shares of the sequences), refusals, and merged stats."""

from __future__ import annotations

from collections import Counter

import pytest

from mbtspec.errors import UsageError
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
