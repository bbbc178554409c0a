"""The boundary pass: before the random search, each boundary value of each action once.

In negative and all modes every action with places to change has a list of boundary cases
(``Inputs.boundaries``: each limit of a schema and just past it, a missing required field, a
wrong type; see ``compiler._boundaries``). Each case is one sequence from a reset:

1. **Setup**: the actions that store what the action needs (its ``pick``\\ s without ``or``),
   each once, found by following ``store``: ``borrow`` needs ``members`` and ``books``, so
   ``add_member`` and ``add_book`` run first. They send valid requests.
2. **The case**: the action, its one place given the boundary value.

Every other value is the simplest its generator draws (the lowest number, the shortest text,
the first stored entry), and optional parts are sent, so the case differs from a plain valid
request at its one place only. A case is skipped when its action cannot run after the setup
(a ``when`` that is false, a store that found nothing) or when the request has nothing to
change at its place. A failing case is a failure like any other: shrunk and reported.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from hypothesis import strategies as st

from mbtspec.compiler import (
    INCLUDE,
    UNIQUE_TRIES,
    ActionPlan,
    InputChange,
    State,
    Unsatisfiable,
)
from mbtspec.executor._runtime import Runtime, StepFailed
from mbtspec.executor._simplest import NONE, simplest_value
from mbtspec.executor.records import Failure


class BoundaryDraws:
    """Draws the simplest value of every generator (a few random tries for one whose
    simplest value is filtered out), sends every optional part, gives the step ``forced``
    as its invalid or boundary value (None: a valid request) and picks the first stored
    entries. Records what it draws as ``RecordingDraws`` does, so that a failing case can
    be shrunk by replays."""

    origin: int = 0  # a new step: the runtime numbers it

    def __init__(self, plan: ActionPlan, forced: InputChange | None, seed: int) -> None:
        self.choice = plan.inputs.choice if plan.inputs is not None else None
        self.forced = forced
        self.random = random.Random(seed)
        self.values: list[Any] = []
        self.slots: list[int] = []

    def draw(self, strategy: st.SearchStrategy[Any]) -> Any:
        value: Any
        if strategy is self.choice:
            value = self.forced
        elif strategy is INCLUDE:
            value = True
        else:
            value = simplest_value(strategy)
            if value is NONE:
                value = any_value(strategy, self.random)
        self.values.append(value)
        self.slots.append(id(strategy))
        return value

    def draw_unique(self, strategy: st.SearchStrategy[Any], fits: Callable[[Any], bool],
                    tries: int = UNIQUE_TRIES) -> Any:
        """The simplest value if it is unused, else the first of a few random ones."""
        value = simplest_value(strategy)
        for _ in range(tries):
            if value is not NONE and fits(value):
                self.values.append(value)
                self.slots.append(id(strategy))
                return value
            value = any_value(strategy, self.random)
        raise Unsatisfiable("no unused value found")

    def choose(self, state: State, variable: str, strategy: st.SearchStrategy[Any]) -> Any:
        chosen = simplest_value(strategy)
        if chosen is NONE:
            chosen = any_value(strategy, self.random)
        self.values.append([state.origin(variable, i) for i in chosen]
                           if isinstance(chosen, list) else state.origin(variable, chosen))
        self.slots.append(0)
        return chosen


def any_value(strategy: st.SearchStrategy[Any], rng: random.Random, tries: int = 20) -> Any:
    """A value of ``strategy`` drawn at random (``Unsatisfiable`` after ``tries`` failed
    draws: a filter that rejects nearly everything)."""
    try:
        from hypothesis.control import BuildContext
        from hypothesis.internal.conjecture.data import ConjectureData
    except ImportError:  # pragma: no cover - another Hypothesis than the tested range
        raise Unsatisfiable("no value can be drawn here") from None
    for _ in range(tries):
        data = ConjectureData(random=rng)
        try:
            with BuildContext(data, wrapped_test=any_value):
                return data.draw(strategy)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # rejected by a filter, or too large (StopTest)
            continue
    raise Unsatisfiable("no value of this generator could be drawn")


def setup_actions(runtime: Runtime, plan: ActionPlan) -> list[ActionPlan] | None:
    """The actions to run, in order, before ``plan`` can pick what it needs; None when no
    chain of ``store``\\ s provides it."""
    stores: dict[str, list[ActionPlan]] = {}
    for other in runtime.plan.actions:
        for variable, _ in other.action.store:
            stores.setdefault(variable, []).append(other)
    order: list[ActionPlan] = []

    def provide(target: ActionPlan, visiting: frozenset[str]) -> bool:
        for variable in sorted(target.needs):
            if any(variable in {v for v, _ in done.action.store} for done in order):
                continue
            options = [o for o in stores.get(variable, ()) if o.name not in visiting]
            for option in options:
                if provide(option, visiting | {option.name}):
                    order.append(option)
                    break
            else:
                return False
        return True

    return order if provide(plan, frozenset({plan.name})) else None


def iter_boundary_failures(runtime: Runtime, seed: int) -> Iterator[Failure]:
    """Run every boundary case once; yield each failure as found (its sequence, unshrunk).
    A failure already known (``Runtime.known``) is counted there, not yielded. Raises what
    ``Runtime.begin_sequence`` raises (``TimeUp`` once ``max_time`` has passed). In a split
    run (``Runtime.part``), the cases are dealt out: part i of n runs the i-th, (i+n)-th ...
    case of the run's list."""
    number = 0
    for plan in runtime.plan.actions:
        if plan.inputs is None or not plan.inputs.boundaries:
            continue
        setup = setup_actions(runtime, plan)
        if setup is None:
            continue
        for index, case in enumerate(plan.inputs.boundaries):
            number += 1
            part = runtime.part
            if part is not None and number % part.count != part.index % part.count:
                continue
            failure = _run_case(runtime, setup, plan, case, seed + index)
            if failure is not None:
                yield failure


def _run_case(runtime: Runtime, setup: Sequence[ActionPlan], plan: ActionPlan,
              case: InputChange, seed: int) -> Failure | None:
    runtime.begin_sequence()
    if runtime.gate is not None:  # (not keyed: boundary cases are dealt out by number)
        runtime.gate.key = None
    runtime.stats.boundary += 1
    runtime.open = "boundary"
    try:
        for step_plan in setup:
            if not runtime.enabled(step_plan):
                return None
            runtime.raise_failure(runtime.step(step_plan, BoundaryDraws(step_plan, None, seed)))
            if runtime.quiet:
                return None
        if not runtime.enabled(plan):
            return None
        step = runtime.step(plan, BoundaryDraws(plan, case, seed))
        if step.change is None:
            return None  # nothing to change at its place in this request
        runtime.raise_failure(step)
    except StepFailed as failed:
        return Failure(failed.steps[-1].findings[0].kind, failed.steps)
    except Unsatisfiable:
        return None
    finally:
        runtime.end_sequence()
    return None

