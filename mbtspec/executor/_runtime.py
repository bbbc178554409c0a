"""The run loop: a Hypothesis test per sequence that draws its steps one by one (``sequence_test``).

Hypothesis draws every choice (which action, see ``_choice``; every value) and shrinks failing
sequences when they cannot be replayed (no reset); this module sends each step to every
target (at once, or in turn when they are fast: see ``Session``), remembers stored values per
target, asks the judge (the compare stage, injected) what is wrong, and raises from one place
per kind of failure so that shrinking stays on the same kind of bug.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import reject
from hypothesis import strategies as st
from hypothesis.internal.conjecture.engine import BUFFER_SIZE

from mbtspec.compiler import (
    ActionPlan,
    DrawContext,
    InputChange,
    Plan,
    State,
    Unsatisfiable,
)
from mbtspec.errors import TargetError
from mbtspec.executor._choice import Chooser
from mbtspec.executor._draws import RecordingDraws, unwrapped
from mbtspec.executor._http import build_request
from mbtspec.executor._partition import Gate, Part
from mbtspec.executor._stores import apply_removals, store_values
from mbtspec.executor.records import (
    Accepted,
    Finding,
    Progress,
    Request,
    Response,
    Signature,
    Stats,
    Step,
    signature,
)
from mbtspec.executor.targets import Target
from mbtspec.spec.expressions import ExpressionEvaluationError

#: What is wrong with a step (``Finding``), and what differences the spec accepts (``Accepted``)
Judge = Callable[[Step, ActionPlan, State], Sequence[Finding | Accepted]]


class StepFailed(Exception):
    """A step broke something; carries the sequence up to and including that step."""

    def __init__(self, steps: Sequence[Step]) -> None:
        super().__init__(steps[-1].findings[0].title if steps and steps[-1].findings else "")
        self.steps = tuple(steps)


class DifferenceFound(StepFailed):
    pass


class InvariantBroken(StepFailed):
    pass


class ExpectationFailed(StepFailed):
    pass


class Abort(KeyboardInterrupt):
    """Stop the whole run now (a target died); carries the ``TargetError``.

    A ``KeyboardInterrupt`` because that is the one exception Hypothesis lets through without
    treating it as a failure to shrink."""

    def __init__(self, error: TargetError) -> None:
        super().__init__(str(error))
        self.error = error


class TimeUp(KeyboardInterrupt):
    """``max_time`` has passed: stop starting sequences (see ``Abort`` for the base)."""


class Runtime:
    """State shared by every machine instance of one run."""

    def __init__(self, plan: Plan, targets: dict[str, Target], judge: Judge,
                 send: Callable[[dict[str, Request]], dict[str, Response]],
                 reset: Callable[[], None],
                 on_progress: Callable[[Progress], None] | None = None,
                 checkpoint: Callable[[], None] = lambda: None,
                 on_step: Callable[[Step], None] | None = None,
                 part: Part | None = None) -> None:
        self.plan = plan
        self.targets = targets
        self.names = plan.targets
        self.primary = plan.targets[-1] if len(plan.targets) == 1 else plan.targets[0]
        self.judge = judge
        self.send = send  # sends one request to each target, all at once
        self.reset = reset
        self.on_progress = on_progress
        self.checkpoint = checkpoint  # raises KeyboardInterrupt once the user asked to stop
        self.on_step = on_step
        self.variables = plan.spec.variables
        self.dialect = plan.spec.openapi.dialect if plan.spec.openapi else "json-schema"
        self.state = State(self.variables)
        self.stats = Stats()
        self.trace: list[Step] = []
        self.failures = 0
        self.origins = 0  # numbers the steps drawn afresh (see ``Step.origin``)
        #: The target error that stopped the run, once one did: Hypothesis may report it
        #: as something else (a flaky test) when it happens while Hypothesis replays.
        self.aborted: Abort | None = None
        #: Failures found and reported already (keep-going), with how often each showed
        #: again: a step that shows one of them ends the search in that sequence quietly.
        self.known: dict[Signature, int] = {}
        self.quiet = False  # this sequence showed a known failure: nothing after it counts
        self.discarding = False  # this sequence was cut short by reject() (see Stats)
        #: The kind of the sequence begun and not ended yet: "search", "shrinking" or
        #: "boundary" (the counter of ``stats`` that counted it); "" between sequences.
        self.open = ""
        #: The shortest failing sequence seen so far: what is reported when shrinking cannot
        #: finish (a target fails, the user stops the run).
        self.best: tuple[Step, ...] | None = None
        self.started = time.monotonic()
        self.max_time = plan.run.max_time
        #: Requests not sent (a stored URL on another origin), per action: (count, why).
        self.refused: dict[str, tuple[int, str]] = {}
        self.chooser = Chooser(plan)
        #: The running sequence's swarm (swarm testing): the actions it may use; None before
        #: its first step, and without swarm testing.
        self.swarm: frozenset[str] | None = None
        self.ended = False  # no action could run at a drawn step: the sequence is over
        self.interrupted = False  # Ctrl-C stopped a drawn step
        #: A split run (``_partition``): only the sequences of this part are sent (the
        #: gate says which); the targets are reset before a sequence's first call instead
        #: of at its start (``unreset``), so that a sequence dropped at once sends nothing.
        self.gate = Gate(part) if part is not None else None
        self.unreset = False
        self.possible = 0  # actions that could run at the step being drawn (any swarm)

    @property
    def part(self) -> Part | None:
        """The part of a split run this runtime runs; None for a whole run."""
        return self.gate.part if self.gate is not None else None

    # -- sequence and step -----------------------------------------------------------------

    def begin_sequence(self) -> None:
        self.checkpoint()
        if (self.max_time is not None and not self.failures
                and time.monotonic() - self.started > self.max_time):
            raise TimeUp()
        self.end_sequence()  # (and empties the trace)
        self.quiet = False
        self.discarding = False  # (this sequence was not cut short yet)
        if self.gate is None:
            self.reset_targets()
        else:
            self.unreset = True
            self.gate.begin()
        self.state = State(self.variables)
        self.swarm = None
        self.ended = False
        self.stats.sequences += 1
        self.open = "search"
        if self.failures:
            self.stats.shrinking += 1
            self.open = "shrinking"
        self.progress()

    def end_sequence(self) -> None:
        """Close the sequence: its length is kept; one that made no call at all (Hypothesis
        starts a few that end before their first step) is not counted as a sequence."""
        if self.gate is not None and self.gate.dropped:  # another part's: not counted
            self.gate.dropped = False
            self.stats.elsewhere += 1
            self.stats.elsewhere_calls += sum(len(s.responses) for s in self.trace)
            if self.swarm is not None:
                self.stats.swarms -= 1
                self.stats.swarm_actions -= len(self.swarm)
                self.swarm = None
            self.trace = []
            if self.open:
                self.stats.sequences -= 1
                if self.open in ("shrinking", "boundary"):
                    setattr(self.stats, self.open, getattr(self.stats, self.open) - 1)
        elif self.trace:
            self.stats.lengths.append(len(self.trace))
            self.trace = []
        elif self.open:
            self.stats.sequences -= 1
            if self.open in ("shrinking", "boundary"):
                setattr(self.stats, self.open, getattr(self.stats, self.open) - 1)
        self.open = ""

    def start_replay(self) -> None:
        """Reset the targets and forget the state and the trace: a replay (shrinking, a
        confirmation) starts from nothing, as a sequence does."""
        self.reset_targets()
        self.state = State(self.variables)
        self.trace = []

    def reset_targets(self) -> None:
        self.unreset = False
        started = time.monotonic()
        try:
            self.reset()
        except TargetError as err:
            raise self.abort(err) from None
        finally:
            self.stats.reset_seconds += time.monotonic() - started

    def abort(self, error: TargetError) -> Abort:
        """The ``Abort`` to raise for ``error`` (remembered: see ``aborted``)."""
        self.aborted = Abort(error)
        return self.aborted

    def progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(Progress(self.stats.sequences, self.stats.calls, self.failures,
                                      time.monotonic() - self.started))

    def enabled(self, plan: ActionPlan) -> bool:
        """Can ``plan`` run now?"""
        return not self.blocked(plan)

    def blocked(self, plan: ActionPlan) -> str:
        """Why ``plan`` cannot run now: "" (it can), "when" (its ``when`` is false or cannot
        be evaluated), or the first variable it needs that holds nothing. Worked out once
        for each state."""
        result: str = self.state.memo(("blocked", plan.name), lambda: self._blocked(plan))
        return result

    def _blocked(self, plan: ActionPlan) -> str:
        for name in sorted(plan.needs):
            if not self.state.bag(name):
                return name
        when = plan.action.when
        if when is None:
            return ""
        try:
            return "" if when.evaluate(self.state.view(self.primary)) is True else "when"
        except ExpressionEvaluationError:
            return "when"  # e.g. a field missing from a stored value: the action cannot run

    def draw_step(self, data: Any) -> None:
        """Draw and run the next step of a sequence: choose an action that can run (within
        the sequence's swarm), draw its values, run it. An action whose values cannot be
        drawn now (``Unsatisfiable``: a unique value exhausted, too few entries for a list
        of picks) is skipped and another is chosen; when none is left, the sequence ends."""
        self.checkpoint()
        if self.ended:
            return
        drawing = getattr(data, "conjecture_data", None)
        draw = getattr(drawing, "draw", data.draw)
        if self.gate is not None:
            self.gate.in_step, self.gate.drawing = True, drawing

        def pick(low: int, high: int) -> int:
            if drawing is not None and high - low <= 127:  # (what st.integers draws then,
                return int(drawing.draw_integer(low, high))  # without its span: a tenth
            number: int = draw(_integers(low, high))  # of the cost of a step)
            return number

        if self.swarm is None and self.plan.run.swarm:
            self.swarm = self.chooser.swarm(pick)
            self.stats.swarms += 1
            self.stats.swarm_actions += len(self.swarm)
        if self.gate is not None and self.gate.key is not None:  # (undone if the step is
            self.gate.counted = (self.stats.drawn, copy.deepcopy(self.stats.actions))  # dropped)
        candidates = self._candidates()
        unsatisfiable = False
        while candidates:
            plan = self.chooser.choose(pick, candidates)
            try:
                step = self.step(plan, RecordingDraws(data))
            except Unsatisfiable as why:
                self.stats.action(plan.name).skipped[str(why)] += 1
                candidates = [c for c in candidates if c is not plan]
                unsatisfiable = True
                continue
            except KeyboardInterrupt as stop:
                # (Hypothesis may report an interrupted replay as a flaky test instead)
                self.interrupted = not isinstance(stop, Abort | TimeUp)
                raise
            self.raise_failure(step)
            if self.gate is not None:
                self.gate.in_step = False
            return
        if self.gate is not None:
            self.gate.in_step = False
        if unsatisfiable and not self.trace:
            # No step of this sequence could be drawn and it made no call: Hypothesis drops
            # it and draws another in its place (counted as discarded, see ``Stats``).
            if not self.discarding:
                self.discarding = True
                self.stats.discarded += 1
            reject()
        self.ended = True  # nothing can run any more: the rest of the sequence is empty

    def _candidates(self) -> list[ActionPlan]:
        """The actions that can run at this drawn step; counts why the others cannot.

        With swarm testing, those of the sequence's swarm -- or, when none of them can run
        now, every action that can (a swarm never ends a sequence early)."""
        self.stats.drawn += 1
        possible, kept = [], []
        self.possible = 0
        for plan in self.plan.actions:
            why = self.blocked(plan)
            if why:
                counts = self.stats.action(plan.name)
                if why == "when":
                    counts.when_false += 1
                else:
                    counts.nothing_stored[why] += 1
                continue
            possible.append(plan)
            self.possible += 1
            if self.swarm is None or plan.name in self.swarm:
                kept.append(plan)
        chosen_from = kept or possible
        total = sum(p.action.weight for p in chosen_from)
        for plan in possible:
            counts = self.stats.action(plan.name)
            if any(plan is c for c in chosen_from):
                counts.could_run += 1
                counts.expected_runs += plan.action.weight / total
            else:
                counts.left_out += 1
        return chosen_from

    def step(self, plan: ActionPlan, draws: Any) -> Step:
        """Run one action on every target; returns the recorded step (findings included)."""
        self.checkpoint()
        ctx = DrawContext(draws, self.state, self.names)
        draft = plan.draw(ctx)  # (``Unsatisfiable`` goes to the caller: see ``draw_step``)
        if self.gate is not None and isinstance(draws, RecordingDraws):
            self.admit(plan, draws)
        requests = {
            name: build_request(draft, name, target.base_url, target.headers)
            for name, target in self.targets.items()
        }
        origin = getattr(draws, "origin", 0)
        if not origin:
            self.origins += 1
            origin = self.origins
        step = self.execute(plan, requests, tuple(getattr(draws, "values", ())), origin,
                            tuple(getattr(draws, "slots", ())), draft.change)
        ctx.commit_unique()
        apply_removals(ctx.removals, plan, self.state, self.names, self.dialect,
                       dict(step.requests), dict(step.responses))
        return step

    def execute(self, plan: ActionPlan, requests: dict[str, Request],
                draws: tuple[Any, ...] = (), origin: int = 0,
                slots: tuple[int, ...] = (), change: InputChange | None = None) -> Step:
        """Send one step's requests, store, judge and record; returns the step. ``change``:
        the invalid or boundary value the requests carry, if any."""
        if self.unreset:
            self.reset_targets()
        try:
            responses = self.send(requests)
        except TargetError as err:
            raise self.abort(err) from None
        for request in requests.values():
            if request.refused:
                count, _ = self.refused.get(plan.name, (0, ""))
                self.refused[plan.name] = (count + 1, request.refused)
        if self.gate is not None and self.gate.key is not None:
            self.gate.key.stored(origin)
        store_values(plan, self.state, self.names, self.dialect, requests, responses, origin)
        step = Step(
            index=len(self.trace) + 1,
            action=plan.name,
            draws=draws,
            requests=tuple((n, requests[n]) for n in self.names),
            responses=tuple((n, responses[n]) for n in self.names),
            origin=origin,
            slots=slots,
            change=change,
        )
        verdict = self.judge(step, plan, self.state)
        findings = tuple(f for f in verdict if isinstance(f, Finding))
        accepted = tuple(a for a in verdict if isinstance(a, Accepted))
        if findings or accepted:
            step = dataclasses.replace(step, findings=findings, accepted=accepted)
        self.trace.append(step)
        self.stats.record(step)
        if accepted and not self.failures:  # (not the replays that shrink a failure)
            self.stats.record_accepted(step)
        if self.on_step is not None:
            self.on_step(step)
        self.progress()
        return step

    # -- a split run (``_partition``) -------------------------------------------------------

    def admit(self, plan: ActionPlan, draws: RecordingDraws) -> None:
        """A step drawn, not sent: drop the sequence here if the step shows that it is
        another part's (``Gate``); the counts of what could run at this step are undone."""
        assert self.gate is not None
        counted = self.gate.counted
        if self.gate.admit(plan.name, draws.values, draws.strategies, self.possible,
                           lambda variable: len(self.state.bag(variable))):
            return
        if counted is not None:
            self.stats.drawn, self.stats.actions = counted
        self.quiet = True
        reject()

    def sequence_over(self) -> None:
        """The sequence ended (the machine's teardown): see ``Gate.over``."""
        if self.gate is not None and not self.gate.over(bool(self.trace)):
            reject()

    def raise_failure(self, step: Step) -> None:
        """Raise for a step with findings -- one raise site per kind of failure."""
        if not step.findings or self.quiet:
            return
        if self.gate is not None and not self.gate.decide():  # (a failure before the
            reject()  # part is known: keyed by the steps so far, and left to its own part)
        if self.known:
            known = signature(step)
            if known in self.known:
                self.known[known] += 1
                self.quiet = True  # (what follows may only be a consequence of it)
                return
        self.failures += 1
        if self.best is None or len(self.trace) < len(self.best):
            self.best = tuple(self.trace)
        kind = step.findings[0].kind
        if kind == "difference":
            raise DifferenceFound(self.trace)
        if kind == "invariant":
            raise InvariantBroken(self.trace)
        raise ExpectationFailed(self.trace)


@functools.lru_cache(maxsize=4096)
def _integers(low: int, high: int) -> st.SearchStrategy[int]:
    """``st.integers(low, high)`` without the lazy wrapper that Hypothesis builds, checks and
    looks up at every call (the same draws: Hypothesis draws from the wrapped strategy)."""
    return unwrapped(st.integers(low, high))


#: Past this part of Hypothesis' buffer of choices, a sequence ends (as Hypothesis' own state
#: machines end theirs): a test case that overruns the buffer is thrown away, calls and all.
STOP_AT = 0.8 * BUFFER_SIZE


def sequence_test(runtime: Runtime) -> Callable[[Any], None]:
    """The test Hypothesis runs for each sequence (``given(st.data())``): begin it (reset),
    then draw steps (``Runtime.draw_step`` chooses the action: see ``_choice``) until
    ``run.steps`` or the end. Before each step but the first, one choice says whether the
    sequence ends there (almost never, when drawn: it is for Hypothesis to end sequences
    early when it shrinks or mutates them).

    A plain loop rather than a ``RuleBasedStateMachine`` with one rule: choosing among rules,
    feature flags, argument strategies and the bookkeeping around them cost an eighth of a
    run against fast in-process apps, for nothing (mbtspec has one rule)."""
    steps = runtime.plan.run.steps

    def sequence(data: Any) -> None:
        conjecture = data.conjecture_data
        runtime.begin_sequence()
        try:
            for index in range(steps + 1):
                # (never before the first step; always after the last one)
                stop = (False if index == 0 else
                        True if index == steps or conjecture.length > STOP_AT else None)
                if conjecture.draw_boolean(p=2**-16, forced=stop):
                    return
                runtime.draw_step(data)
                if runtime.ended:
                    return
        finally:
            if runtime.gate is not None:  # (a split run: whose the sequence was)
                runtime.sequence_over()

    return sequence
