"""Parallel sequences (``run.concurrency``): a sequential prefix, branches sent concurrently,
then the ``then`` steps; and the verdict on them.

A parallel sequence is drawn and run in one go (``ParallelRunner.run``):

1. the prefix runs on every target in lockstep, judged as usual (a failure there is an
   ordinary, sequential one);
2. each branch's steps are drawn against what the prefix stored (a step of the parallel part
   picks only what was stored before it; what it stores, and what it removes, counts after
   it), then sent to the candidate, the branches concurrently (``_branches``);
3. the ``then`` actions run on the candidate one after another;
4. the verdict: with a model, some interleaving of the branches' steps, followed by the
   ``then`` steps, must give the same answers on the model (``_linearize``); without one,
   the invariants and ``expect`` checks must hold on every answer.

Values come from a ``Source``: Hypothesis' draws in the search (``Fresh``), or the values
recorded in a ``Script`` when a sequence is replayed while shrinking (``Recorded``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from hypothesis import reject
from hypothesis import strategies as st

from mbtspec.compiler import ActionPlan, DrawContext, State, Unsatisfiable
from mbtspec.compiler.state import copy_state
from mbtspec.errors import TargetError
from mbtspec.executor._branches import send_branches
from mbtspec.executor._draws import RecordingDraws, ReplayDraws
from mbtspec.executor._http import build_request
from mbtspec.executor._linearize import Linearizer, Slot, interleavings_of
from mbtspec.executor._runtime import Runtime
from mbtspec.executor._session import Session
from mbtspec.executor._stores import store_values
from mbtspec.executor.records import Failure, Finding, Race, Step
from mbtspec.spec.model import Concurrency

CANDIDATE = "candidate"


class NotReplayable(Exception):
    """A recorded step cannot run in this replay (an action not enabled, a pick of what was
    not stored)."""


@dataclass(frozen=True)
class Script:
    """A parallel sequence as it ran: what a replay sends again."""

    prefix: tuple[Step, ...]
    branches: tuple[tuple[Step, ...], ...]
    then: tuple[Step, ...]

    @property
    def size(self) -> int:
        return len(self.prefix) + sum(len(b) for b in self.branches)


class Source(Protocol):
    """Where a parallel sequence's actions and values come from."""

    def prefix_step(self, index: int, enabled: list[ActionPlan]) -> tuple[ActionPlan, Any] | None:
        """The next step of the prefix (the action and its draws), or None: the prefix ends."""

    def shape(self) -> list[int]:
        """How many steps each branch has."""

    def branch_step(self, branch: int, index: int, enabled: list[ActionPlan]
                    ) -> tuple[ActionPlan, Any]:
        """Step ``index`` of ``branch``: the action and its draws."""

    def then_steps(self, by_name: dict[str, ActionPlan]) -> list[tuple[ActionPlan, Any]]:
        """The ``then`` steps to try, with their draws (each runs if it can)."""


class Fresh:
    """Draws everything through Hypothesis (``data``: ``st.data()``'s object)."""

    def __init__(self, data: Any, settings: Concurrency) -> None:
        self.data = data
        self.settings = settings
        self.length: int | None = None
        self.first: list[ActionPlan] = []  # the first branch's actions

    def _choose(self, enabled: list[ActionPlan]) -> ActionPlan:
        weighted = [p for p in enabled for _ in range(p.action.weight)]
        chosen: ActionPlan = self.data.draw(st.sampled_from(weighted))
        return chosen

    def prefix_step(self, index: int, enabled: list[ActionPlan]) -> tuple[ActionPlan, Any] | None:
        if self.length is None:
            self.length = self.data.draw(st.integers(0, self.settings.prefix_steps))
        if index >= self.length or not enabled:
            return None
        return self._choose(enabled), RecordingDraws(self.data)

    def shape(self) -> list[int]:
        return [self.data.draw(st.integers(1, self.settings.steps))
                for _ in range(self.settings.branches)]

    def branch_step(self, branch: int, index: int, enabled: list[ActionPlan]
                    ) -> tuple[ActionPlan, Any]:
        if not enabled:
            reject()  # nothing can run after this prefix: draw another
        if branch == 0:
            self.first.append(self._choose(enabled))
            return self.first[-1], RecordingDraws(self.data)
        # Races are most often between two calls of the same operation (two orders of the
        # last item): half of the time, a step repeats the first branch's action there.
        if index < len(self.first) and self.data.draw(st.booleans()):
            return self.first[index], RecordingDraws(self.data)
        return self._choose(enabled), RecordingDraws(self.data)

    def then_steps(self, by_name: dict[str, ActionPlan]) -> list[tuple[ActionPlan, Any]]:
        return [(by_name[name], RecordingDraws(self.data)) for name in self.settings.then]


class Recorded:
    """Replays a ``Script``: the same actions, with the same drawn values."""

    def __init__(self, script: Script, by_name: dict[str, ActionPlan]) -> None:
        self.script = script
        self.by_name = by_name

    def _replay(self, step: Step) -> tuple[ActionPlan, Any]:
        return self.by_name[step.action], ReplayDraws(step.draws, step.origin)

    def prefix_step(self, index: int, enabled: list[ActionPlan]) -> tuple[ActionPlan, Any] | None:
        if index >= len(self.script.prefix):
            return None
        plan, draws = self._replay(self.script.prefix[index])
        if plan not in enabled:
            raise NotReplayable(f"{plan.name} cannot run here")
        return plan, draws

    def shape(self) -> list[int]:
        return [len(b) for b in self.script.branches]

    def branch_step(self, branch: int, index: int, enabled: list[ActionPlan]
                    ) -> tuple[ActionPlan, Any]:
        plan, draws = self._replay(self.script.branches[branch][index])
        if plan not in enabled:
            raise NotReplayable(f"{plan.name} cannot run here")
        return plan, draws

    def then_steps(self, by_name: dict[str, ActionPlan]) -> list[tuple[ActionPlan, Any]]:
        return [self._replay(step) for step in self.script.then]


@dataclass(frozen=True)
class Outcome:
    """What one parallel sequence showed: its script as it ran, and the failure, if any."""

    script: Script
    failure: Failure | None = None

    @property
    def race(self) -> bool:
        return self.failure is not None and self.failure.race is not None


class ParallelRunner:
    """Runs parallel sequences for one run (its runtime and session)."""

    def __init__(self, runtime: Runtime, session: Session) -> None:
        assert runtime.plan.run.concurrency is not None
        self.runtime = runtime
        self.session = session
        self.plan = runtime.plan
        self.settings: Concurrency = runtime.plan.run.concurrency
        self.by_name = {p.name: p for p in runtime.plan.actions}
        self.differential = "model" in runtime.plan.targets
        self.linearizer = Linearizer(runtime, session)

    def run(self, source: Source) -> Outcome:
        """Run one parallel sequence on targets just reset (``runtime.state`` empty)."""
        runtime = self.runtime
        index = 0
        while (chosen := source.prefix_step(index, self._enabled())) is not None:
            try:
                step = runtime.step(*chosen)
            except Unsatisfiable:
                if isinstance(chosen[1], RecordingDraws):
                    reject()  # Hypothesis drew it: let it draw another sequence
                raise
            index += 1
            if step.findings:  # an ordinary failure, before anything ran concurrently
                steps = tuple(runtime.trace)
                return Outcome(Script(steps, (), ()), Failure(step.findings[0].kind, steps))
        prefix = tuple(runtime.trace)
        after_prefix = runtime.state
        enabled = self._enabled()
        shape = source.shape()
        drafts: list[list[Step]] = []
        for branch, length in enumerate(shape):
            drafts.append([self._draft(*source.branch_step(branch, i, enabled), after_prefix)
                           for i in range(length)])
        try:
            answers, finished = send_branches(
                self.session, CANDIDATE, [[s.request(CANDIDATE) for s in b] for b in drafts])
        except TargetError as err:
            raise runtime.abort(err) from None
        branches = tuple(tuple(self._answered(replace(step, index=j + 1), answer)
                               for j, (step, answer) in enumerate(zip(b, a, strict=True)))
                         for b, a in zip(drafts, answers, strict=True))
        state = copy_state(after_prefix)  # the candidate's view, for the then steps
        for step in (s for b in branches for s in b):
            self._store(step, state)
        runtime.stats.parallel += 1
        then = self._then(source, state)
        script = Script(prefix, branches, then)
        runtime.progress()
        if self.differential:
            return Outcome(script, self._linearize(script, finished))
        return Outcome(script, self._judge_alone(script, state))

    # -- drawing and running -----------------------------------------------------------

    def _enabled(self) -> list[ActionPlan]:
        return [p for p in self.plan.actions if self.runtime.enabled(p)]

    def _draft(self, plan: ActionPlan, draws: Any, state: State) -> Step:
        """Draw a step against ``state`` (picks of what the prefix stored) and address it to
        the candidate; not sent yet. What it removes is not removed (see the module)."""
        runtime = self.runtime
        ctx = DrawContext(draws, state, runtime.names)
        try:
            draft = plan.draw(ctx)
        except (Unsatisfiable, IndexError, KeyError) as err:
            if isinstance(draws, RecordingDraws):
                reject()
            raise NotReplayable(str(err)) from None
        origin = getattr(draws, "origin", 0)
        if not origin:
            runtime.origins += 1
            origin = runtime.origins
        target = runtime.targets[CANDIDATE]
        request = build_request(draft, CANDIDATE, target.base_url, target.headers)
        return Step(index=0, action=plan.name, draws=tuple(getattr(draws, "values", ())),
                    requests=((CANDIDATE, request),), responses=(), origin=origin,
                    slots=tuple(getattr(draws, "slots", ())), change=draft.change)

    def _answered(self, step: Step, answer: Any) -> Step:
        step = replace(step, responses=((CANDIDATE, answer),))
        self.runtime.stats.record(step)
        return step

    def _store(self, step: Step, state: State) -> None:
        store_values(self.by_name[step.action], state, (CANDIDATE,), self.runtime.dialect,
                     {CANDIDATE: step.request(CANDIDATE)}, {CANDIDATE: step.response(CANDIDATE)},
                     step.origin)

    def _then(self, source: Source, state: State) -> tuple[Step, ...]:
        """Run the ``then`` steps that can run, on the candidate, one after another."""
        runtime = self.runtime
        done: list[Step] = []
        saved, runtime.state = runtime.state, state
        try:
            for plan, draws in source.then_steps(self.by_name):
                if not runtime.enabled(plan):
                    continue
                try:
                    step = self._draft(plan, draws, state)
                except NotReplayable:
                    continue
                try:
                    answer = self.session.send_all({CANDIDATE: step.request(CANDIDATE)})
                except TargetError as err:
                    raise runtime.abort(err) from None
                step = self._answered(replace(step, index=len(done) + 1), answer[CANDIDATE])
                self._store(step, state)
                done.append(step)
        finally:
            runtime.state = saved
        return tuple(done)

    # -- verdicts ----------------------------------------------------------------------

    def _linearize(self, script: Script, finished: Sequence[Slot]) -> Failure | None:
        verdict = self.linearizer.check(script.prefix, script.branches, script.then, finished)
        if verdict.linearizable:
            return None
        steps = verdict.steps
        last = steps[-1]
        found = last.findings[0]
        why = (f"no order of the {sum(len(b) for b in script.branches)} parallel steps "
               f"explains the candidate's answers (not linearizable; {verdict.tried} of "
               f"{verdict.total} orders tried); in the closest, {found.title}")
        steps = (*steps[:-1], replace(last, findings=(replace(found, title=why),
                                                     *last.findings[1:])))
        race = Race(len(script.prefix), script.branches, script.then, verdict.order,
                    verdict.matched, verdict.tried, verdict.total)
        return Failure(found.kind, steps, race=race)

    def _judge_alone(self, script: Script, state: State) -> Failure | None:
        """Single-target mode: every answer of the parallel part, then of the then steps,
        must pass the invariants and ``expect`` checks."""
        order = [(b, j) for b, steps in enumerate(script.branches) for j in range(len(steps))]
        candidates = [*(script.branches[b][j] for b, j in order), *script.then]
        for position, step in enumerate(candidates):
            verdict = self.runtime.judge(step, self.by_name[step.action], state)
            findings = tuple(f for f in verdict if isinstance(f, Finding))  # (not accepted)
            if not findings:
                continue
            shown = [replace(s, index=len(script.prefix) + i + 1)
                     for i, s in enumerate(candidates[:position + 1])]
            shown[-1] = replace(shown[-1], findings=findings)
            race = Race(len(script.prefix), script.branches, script.then, tuple(order),
                        position, 0, interleavings_of([len(b) for b in script.branches]))
            return Failure(findings[0].kind, (*script.prefix, *shown), race=race)
        return None
