"""The run loop: a Hypothesis state machine built from the plan, one rule per action.

Hypothesis chooses actions and values and shrinks failing sequences; this module sends each
step to every target concurrently, remembers stored values per target, asks the judge (the
compare stage, injected) what is wrong, and raises from one place per kind of failure so that
shrinking stays on the same kind of bug.
"""

from __future__ import annotations

import dataclasses
import time
from collections import ChainMap
from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import reject
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from mbtspec.compiler import ActionPlan, DrawContext, InputChange, Plan, State, Unsatisfiable
from mbtspec.compiler.state import Entry, PerTarget
from mbtspec.errors import TargetError
from mbtspec.executor._http import build_request
from mbtspec.executor._simplest import NONE, simplest_value
from mbtspec.executor.records import (
    Accepted,
    Finding,
    Progress,
    Redacted,
    Request,
    Response,
    Signature,
    Stats,
    Step,
    signature,
)
from mbtspec.executor.targets import Target
from mbtspec.spec.conformance import response_functions
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


class RecordingDraws:
    """Draws through Hypothesis and remembers each value, for replays; a pick is remembered
    as the entries it chose (``Entry``), not as their positions."""

    origin: int = 0  # a new step: the runtime numbers it

    def __init__(self, data: Any) -> None:
        # Draw on the test case itself when Hypothesis exposes it: data.draw() adds checks
        # for misuse of the random module that cost more than the draw (two full copies of
        # the generator's state per draw). Same choices either way.
        self.draw_on = getattr(getattr(data, "conjecture_data", None), "draw", data.draw)
        self.values: list[Any] = []
        self.slots: list[int] = []  # which generator drew each value (0 for a pick)

    def draw(self, strategy: st.SearchStrategy[Any]) -> Any:
        value = self.draw_on(strategy)
        self.values.append(value)
        self.slots.append(id(strategy))
        return value

    def choose(self, state: State, variable: str, strategy: st.SearchStrategy[Any]) -> Any:
        chosen = self.draw_on(strategy)
        self.values.append([state.origin(variable, i) for i in chosen]
                           if isinstance(chosen, list) else state.origin(variable, chosen))
        self.slots.append(0)
        return chosen


class ReplayDraws:
    """Feeds back recorded values in order; a recorded pick chooses the same entries where
    they stand now (``Unsatisfiable`` when one is not stored in this replay)."""

    def __init__(self, values: Sequence[Any], origin: int = 0) -> None:
        self.values = list(values)
        self.position = 0
        self.origin = origin  # the recorded step's, kept by the replayed one
        self.slots: list[int] = []

    def next(self) -> Any:
        if self.position >= len(self.values):
            raise Unsatisfiable("replay ran out of recorded values")
        value = self.values[self.position]
        self.position += 1
        return value

    def draw(self, strategy: st.SearchStrategy[Any]) -> Any:
        value = self.next()
        if isinstance(value, Redacted):  # (from a replay file) the secret is drawn again
            value = simplest_value(strategy)
            if value is NONE:
                raise Unsatisfiable("a redacted value cannot be drawn again")
        if isinstance(value, Entry) or (isinstance(value, list) and value
                                        and isinstance(value[0], Entry)):
            # A pick whose variable is empty in this replay, drawing its 'or:' instead: the
            # simplest value of that fallback (what a shrunk sequence without the step that
            # stored the entry sends).
            value = simplest_value(strategy)
            if value is NONE:
                raise Unsatisfiable("the replay draws a value where a pick was recorded")
        self.slots.append(id(strategy))
        return value

    def choose(self, state: State, variable: str, strategy: st.SearchStrategy[Any]) -> Any:
        recorded = self.next()
        self.slots.append(0)
        if isinstance(recorded, list):
            return [self._index(state, variable, entry) for entry in recorded]
        return self._index(state, variable, recorded)

    @staticmethod
    def _index(state: State, variable: str, entry: Any) -> int:
        if isinstance(entry, Entry):
            index = state.index_of(entry)
            if index is None:
                raise Unsatisfiable(f"the picked {entry} is not stored in this replay")
            return index
        if isinstance(entry, int) and 0 <= entry < len(state.bag(variable)):
            return entry
        raise Unsatisfiable(f"cannot pick {entry!r} from {variable}")


class Runtime:
    """State shared by every machine instance of one run."""

    def __init__(self, plan: Plan, targets: dict[str, Target], judge: Judge,
                 send: Callable[[dict[str, Request]], dict[str, Response]],
                 reset: Callable[[], None],
                 on_progress: Callable[[Progress], None] | None = None,
                 checkpoint: Callable[[], None] = lambda: None,
                 on_step: Callable[[Step], None] | None = None) -> None:
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

    # -- sequence and step -----------------------------------------------------------------

    def begin_sequence(self) -> None:
        self.checkpoint()
        if (self.max_time is not None and not self.failures
                and time.monotonic() - self.started > self.max_time):
            raise TimeUp()
        self.end_sequence()  # (and empties the trace)
        self.quiet = False
        self.discarding = False  # (this sequence was not cut short yet)
        self.reset_targets()
        self.state = State(self.variables)
        self.stats.sequences += 1
        self.open = "search"
        if self.failures:
            self.stats.shrinking += 1
            self.open = "shrinking"
        self.progress()

    def end_sequence(self) -> None:
        """Close the sequence: its length is kept; one that made no call at all (Hypothesis
        starts a few that end before their first step) is not counted as a sequence."""
        if self.trace:
            self.stats.lengths.append(len(self.trace))
            self.trace = []
        elif self.open:
            self.stats.sequences -= 1
            if self.open in ("shrinking", "boundary"):
                setattr(self.stats, self.open, getattr(self.stats, self.open) - 1)
        self.open = ""

    def reset_targets(self) -> None:
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
        """Can ``plan`` run now? (Hypothesis asks several times a step: worked out once for
        each state.)"""
        self.checkpoint()
        result: bool = self.state.memo(("enabled", plan.name), lambda: self._enabled(plan))
        return result

    def _enabled(self, plan: ActionPlan) -> bool:
        if any(not self.state.bag(name) for name in plan.needs):
            return False
        when = plan.action.when
        if when is None:
            return True
        try:
            return when.evaluate(self.state.view(self.primary)) is True
        except ExpressionEvaluationError:
            return False  # e.g. a field missing from a stored value: the action cannot run

    def step(self, plan: ActionPlan, draws: Any) -> Step:
        """Run one action on every target; returns the recorded step (findings included)."""
        self.checkpoint()
        ctx = DrawContext(draws, self.state, self.names)
        try:
            draft = plan.draw(ctx)
        except Unsatisfiable:
            if isinstance(draws, RecordingDraws):
                if not self.discarding:
                    self.discarding = True
                    self.stats.discarded += 1
                reject()  # Hypothesis drew it: let it draw another sequence
            raise
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
        for variable, index in sorted(set(ctx.removals), key=lambda r: -r[1]):
            self.state.remove(variable, index)
        return step

    def execute(self, plan: ActionPlan, requests: dict[str, Request],
                draws: tuple[Any, ...] = (), origin: int = 0,
                slots: tuple[int, ...] = (), change: InputChange | None = None) -> Step:
        """Send one step's requests, store, judge and record; returns the step. ``change``:
        the invalid or boundary value the requests carry, if any."""
        try:
            responses = self.send(requests)
        except TargetError as err:
            raise self.abort(err) from None
        for request in requests.values():
            if request.refused:
                count, _ = self.refused.get(plan.name, (0, ""))
                self.refused[plan.name] = (count + 1, request.refused)
        self._store(plan, requests, responses, origin)
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

    def _store(self, plan: ActionPlan, requests: dict[str, Any],
               responses: dict[str, Response], origin: int) -> None:
        store_values(plan, self.state, self.names, requests, responses, origin, self.dialect)

    def raise_failure(self, step: Step) -> None:
        """Raise for a step with findings -- one raise site per kind of failure."""
        if not step.findings or self.quiet:
            return
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


def store_values(plan: ActionPlan, state: State, names: Sequence[str],
                 requests: dict[str, Any], responses: dict[str, Response], origin: int,
                 dialect: str) -> None:
    """Evaluate ``plan``'s ``store`` on each target's exchange and store what it gives (one
    value per target), under the step ``origin``; nothing when a target's gives none."""
    functions = response_functions(plan.action.operation, dialect)
    for variable, expression in plan.action.store:
        values = {}
        for name in names:
            context = ChainMap[str, Any]({
                "response": responses[name].context,
                "request": requests[name].context,
                "action": plan.name,
                "target": name,
            }, state.view(name))
            try:
                values[name] = expression.evaluate(context, functions)
            except ExpressionEvaluationError:
                values[name] = None
        if all(v is not None for v in values.values()):
            state.store(variable, PerTarget.of(values), origin)


def build_machine(runtime: Runtime) -> type[RuleBasedStateMachine]:
    """A ``RuleBasedStateMachine`` subclass for the plan: one rule per action (``weight``
    copies of it, so heavier actions are chosen more often)."""

    def __init__(self: RuleBasedStateMachine) -> None:
        RuleBasedStateMachine.__init__(self)
        runtime.begin_sequence()

    namespace: dict[str, Any] = {"__init__": __init__}
    for plan in runtime.plan.actions:
        for copy in range(plan.action.weight):
            suffix = f"__{copy + 1}" if copy else ""
            namespace[f"action_{plan.name}{suffix}"] = _make_rule(plan, runtime)
    return type("SpecMachine", (RuleBasedStateMachine,), namespace)


def _make_rule(plan: ActionPlan, runtime: Runtime) -> Callable[..., None]:
    # One factory call per rule, so each closure binds its own action.
    def enabled(self: RuleBasedStateMachine) -> bool:
        return runtime.enabled(plan)

    def run_action(self: RuleBasedStateMachine, data: Any) -> None:
        step = runtime.step(plan, RecordingDraws(data))
        runtime.raise_failure(step)

    run_action.__name__ = plan.name
    run_action.__qualname__ = plan.name
    return precondition(enabled)(rule(data=st.data())(run_action))
