"""``--shard i/n`` cuts a run by sequence: no sequence is run by two parts, each part runs its
share, a run of one part is the run itself, and a spec whose sequences draw little is still
cut (its key covers more steps)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.mutants.runner import spec_for
from mbtspec._check import CheckResult, check
from mbtspec.executor._runtime import Runtime
from mbtspec.parallel import Shard
from tests.e2e.conftest import ORDERS_OPENAPI, REPO, orders_spec

CORRECT = """\
  model: {app: tests.apps.variants:model}
  candidate: {app: tests.apps.orders:app}
"""
Sequence = tuple[tuple[str, str, str, str], ...]


def spec_file(tmp_path: Path, extra: str = "") -> Path:
    spec = tmp_path / "spec.yaml"
    spec.write_text(orders_spec(CORRECT) + extra)
    return spec


def run_part(spec: Path, shard: Shard | None, monkeypatch: pytest.MonkeyPatch, *,
             sequences: int = 40, seed: int = 11, steps: int | None = 6
             ) -> tuple[list[Sequence], CheckResult]:
    """The sequences of the random search that ``shard`` ran (each as its requests to the
    model), and its result."""
    ran: list[Sequence] = []
    original = Runtime.end_sequence

    def end_sequence(self: Runtime) -> None:
        if self.trace and self.open == "search" and not getattr(self.gate, "dropped", False):
            ran.append(tuple((s.action, s.request("model").method, s.request("model").path,
                              repr(s.request("model").body)) for s in self.trace))
        original(self)

    with monkeypatch.context() as patch:
        patch.setattr(Runtime, "end_sequence", end_sequence)
        outcome = check(spec, shard=shard, seed=seed, sequences=sequences, steps=steps,
                        database=None)
    return ran, outcome


@pytest.mark.parametrize("count", [2, 4, 8])
def test_no_sequence_runs_in_two_parts_and_each_part_runs_its_share(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    spec = spec_file(tmp_path)
    parts = [(Shard(i, count), *run_part(spec, Shard(i, count), monkeypatch))
             for i in range(1, count + 1)]
    owners: dict[Sequence, int] = {}
    for shard, ran, _ in parts:
        for sequence in ran:
            assert owners.setdefault(sequence, shard.index) == shard.index, sequence
    for shard, ran, outcome in parts:
        stats = outcome.result.stats
        assert outcome.result.failure is None and not outcome.result.warnings
        # (Hypothesis runs a few more than max_examples, with or without parts)
        assert len(ran) == stats.sequences >= shard.sequences(40)
        assert stats.elsewhere > 0  # (it did draw others' sequences, and dropped them)


def test_a_run_of_one_part_is_the_run_itself(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    spec = spec_file(tmp_path)
    alone, _ = run_part(spec, None, monkeypatch)
    one, outcome = run_part(spec, Shard(1, 1), monkeypatch)
    assert one == alone and len(one) >= 40
    assert outcome.result.stats.elsewhere == 0


def test_a_spec_that_draws_little_is_still_cut(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # One action, without arguments: every sequence is 'list' a number of times, so the
    # key covers all of it and a sequence is dropped only once it has run (its length is
    # all that tells sequences apart).
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"""\
version: 1
openapi: {ORDERS_OPENAPI}
targets:
{CORRECT}
reset:
  - request: POST /__reset
actions:
  list:
    request: GET /orders
""")
    parts = [run_part(spec, Shard(i, 2), monkeypatch, sequences=6) for i in (1, 2)]
    ran = [set(sequences) for sequences, _ in parts]
    assert ran[0] and ran[1] and not ran[0] & ran[1]
    assert sum(outcome.result.stats.elsewhere_calls for _, outcome in parts) > 0
    # Sequences of one step: one sequence in all, two of three parts without any. Such a
    # part runs nothing and says so (it is not an error).
    empty = [run_part(spec, Shard(i, 3), monkeypatch, sequences=3, steps=1, seed=1)
             for i in range(1, 4)]
    warned = [o.result.warnings for ran, o in empty if not ran]
    assert len(warned) == 2
    assert all(len(w) == 1 and "of its 1 sequences: Hypothesis drew" in w[0]
               and w[0].startswith("part ") and "ran 0 of its 1" in w[0] for w in warned)


def test_sequences_that_hypothesis_cuts_short_stay_in_their_part(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # On the mutant benchmark's spec Hypothesis cuts a few sequences short (it runs out of
    # room for choices) after a first step that decides nothing: 'GET /books/1' alone ran
    # in three of four parts until such a sequence was keyed by the step it sent.
    monkeypatch.chdir(REPO)
    spec = spec_for(None, tmp_path)
    owners: dict[Sequence, int] = {}
    for index in range(1, 5):
        ran, _ = run_part(spec, Shard(index, 4), monkeypatch, sequences=200, seed=0,
                          steps=None)
        for sequence in ran:
            assert owners.setdefault(sequence, index) == index, sequence
