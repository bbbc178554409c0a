"""The search for races (``run.concurrency``), and the shrinking of the races it finds.

``search_races`` lets Hypothesis draw parallel sequences (``_parallel``) until one fails. A
failure in the prefix is an ordinary one, handed back to be shrunk as such. A race is shrunk
here, by replays: fewer branches (down to two), fewer steps per branch (down to one), a
shorter prefix. Races depend on timing, so a shorter candidate counts as showing the race
when any of ``tries`` runs of it does; the report says on which try it showed. A race that
does not show again in ``tries`` runs of the very sequence that found it is reported as
flaky, with the sequence as it was.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, reject, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException, UnsatisfiedAssumption

from mbtspec.compiler import Unsatisfiable
from mbtspec.errors import RunError
from mbtspec.executor._parallel import (
    Fresh,
    NotReplayable,
    Outcome,
    ParallelRunner,
    Recorded,
    Script,
)
from mbtspec.executor._runtime import Runtime
from mbtspec.executor._session import Session
from mbtspec.executor.records import Failure


class _Found(KeyboardInterrupt):
    """A failing parallel sequence: ends Hypothesis' run at once (see ``Abort``)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__("found")
        self.outcome = outcome


def search_races(runtime: Runtime, session: Session, seed: int) -> Outcome | None:
    """Draw parallel sequences until one fails (its outcome) or the run's sequences are
    spent (None). ``TimeUp``, ``Abort`` and ``KeyboardInterrupt`` go through."""
    plan = runtime.plan
    assert plan.run.concurrency is not None
    concurrency = plan.run.concurrency
    runner = ParallelRunner(runtime, session)

    @hypothesis_seed(seed)
    @settings(max_examples=plan.run.sequences, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
              phases=(Phase.generate,), print_blob=False)
    @given(st.data())
    def sequence(data: Any) -> None:
        runtime.begin_sequence()
        try:
            outcome = runner.run(Fresh(data, concurrency))
        except NotReplayable:
            reject()
        if outcome.failure is not None:
            runtime.failures += 1
            runtime.best = outcome.failure.steps
            raise _Found(outcome)

    try:
        sequence()
    except _Found as found:
        runtime.end_sequence()
        return found.outcome
    except HypothesisException as err:
        raise RunError(f"the run could not proceed: {err}") from None
    runtime.end_sequence()
    return None


class OutOfTime(Exception):
    """The shrink budget is spent."""


class RaceShrinker:
    """Shrinks one race by replays, within ``budget`` seconds."""

    def __init__(self, runtime: Runtime, session: Session, budget: float) -> None:
        assert runtime.plan.run.concurrency is not None
        self.runtime = runtime
        self.runner = ParallelRunner(runtime, session)
        self.tries = runtime.plan.run.concurrency.tries
        self.deadline = time.monotonic() + budget
        self.attempts = 0
        self.by_name = {p.name: p for p in runtime.plan.actions}

    def attempt(self, script: Script) -> Outcome | None:
        """Run ``script`` once from a reset; None when it cannot run as recorded."""
        if time.monotonic() > self.deadline:
            raise OutOfTime
        self.attempts += 1
        runtime = self.runtime
        runtime.start_replay()
        runtime.stats.sequences += 1
        runtime.stats.shrinking += 1
        try:
            return self.runner.run(Recorded(script, self.by_name))
        except (NotReplayable, Unsatisfiable, UnsatisfiedAssumption, IndexError, KeyError):
            return None
        finally:
            runtime.trace = []

    def shows(self, script: Script) -> tuple[Outcome, int] | None:
        """Does ``script`` show a race in one of ``tries`` runs? (The outcome, the try.)"""
        for attempt in range(1, self.tries + 1):
            outcome = self.attempt(script)
            if outcome is None:
                return None  # (it cannot run at all: more tries will not change that)
            if outcome.race:
                return outcome, attempt
        return None

    def shrink(self, found: Outcome) -> Failure:
        """The smallest script that still shows a race; the failure as its last run showed
        it."""
        assert found.failure is not None and found.failure.race is not None
        try:
            confirmed = self.shows(found.script)
        except OutOfTime:
            confirmed = None
        if confirmed is None:
            return replace(found.failure, flaky=True, note=(
                f"the race showed once, and not again in {self.tries} runs of the same "
                "sequence: it depends on timing; run again, or raise run.concurrency.tries"))
        best, tries = confirmed
        minimal = False
        try:
            while True:
                for smaller in _smaller(best.script):
                    shown = self.shows(smaller)
                    if shown is not None:
                        best, tries = shown
                        break
                else:
                    minimal = True
                    break
        except OutOfTime:
            pass
        assert best.failure is not None and best.failure.race is not None
        race = replace(best.failure.race, tries=tries, runs=self.tries)
        note = (f"the race showed on run {tries} of up to {self.tries} of this sequence"
                if tries > 1 else "")
        if not minimal:
            note = "; ".join(filter(None, [note, (
                f"shrinking stopped early (the shrink time ran out after {self.attempts} "
                "runs): a smaller parallel part may show it too")]))
        return replace(best.failure, race=race, minimal=minimal, cut_short=not minimal,
                       note=note)


def _smaller(script: Script) -> Iterator[Script]:
    """Scripts smaller than ``script``, the largest cuts first: a whole branch (while more
    than two are left), the same step of every branch that has more than one (the branches
    stay aligned in time: the steps that raced still start together), a step of one branch,
    the first step of every branch (then of one branch) moved to the end of the prefix (a
    race for the last copy of two needs one borrow before it), a step of the prefix (the
    last first: later steps depend on earlier ones more often than not). Each cut makes
    the parallel part smaller, or the whole script without a larger parallel part:
    shrinking ends."""
    branches = script.branches
    if len(branches) > 2:
        for b in range(len(branches)):
            yield replace(script, branches=branches[:b] + branches[b + 1:])
    longest = max(len(b) for b in branches)
    if longest > 1:  # the same step of every branch at once: keeps the branches aligned
        for j in range(longest):
            yield replace(script, branches=tuple(b[:j] + b[j + 1:] if len(b) > 1 else b
                                                 for b in branches))
    for b, branch in enumerate(branches):
        if len(branch) > 1:
            for j in range(len(branch)):
                cut = branch[:j] + branch[j + 1:]
                yield replace(script, branches=branches[:b] + (cut,) + branches[b + 1:])
    if sum(len(b) > 1 for b in branches) > 1:  # the first step of each, all before
        yield replace(script, prefix=(*script.prefix, *(b[0] for b in branches if len(b) > 1)),
                      branches=tuple(b[1:] if len(b) > 1 else b for b in branches))
    for b, branch in enumerate(branches):
        if len(branch) > 1:  # its first step, run before the others instead of with them
            yield replace(script, prefix=(*script.prefix, branch[0]),
                          branches=branches[:b] + (branch[1:],) + branches[b + 1:])
        elif len(branches) > 2:  # a branch of one step, run before the others
            yield replace(script, prefix=(*script.prefix, branch[0]),
                          branches=branches[:b] + branches[b + 1:])
    for i in reversed(range(len(script.prefix))):
        yield replace(script, prefix=script.prefix[:i] + script.prefix[i + 1:])
