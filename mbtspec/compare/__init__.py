"""Stage 4: judge a step. Model vs candidate differences, invariants, per-action ``expect``.

``make_judge(plan)`` returns the function the executor calls after every step; it returns
``Finding``\\ s, and ``Accepted`` differences (those the spec's ``accept`` entries declare
known), and never raises for a user's expression (a failing evaluation is a finding).
"""

from __future__ import annotations

import json
from collections import ChainMap
from collections.abc import Callable
from itertools import islice
from typing import Any

from mbtspec.compare._accept import Acceptor
from mbtspec.compare._cases import Cases
from mbtspec.compare._diff import ABSENT, compare_responses, iter_differences
from mbtspec.compiler import ActionPlan, Plan, State
from mbtspec.executor.records import Accepted, AcceptedCount, Finding, Stats, Step
from mbtspec.spec.conformance import response_functions
from mbtspec.spec.expressions import (
    SLOW,
    Expression,
    ExpressionEvaluationError,
    prepare_context,
)
from mbtspec.spec.model import AcceptEntry, Check, Spec

__all__ = ["ABSENT", "KEPT_DIFFERENCES", "compare_responses", "make_judge", "stale_entries",
           "stale_warning"]

#: Differences kept per finding; the others are only counted (``Finding.omitted``): two large
#: bodies that differ everywhere would otherwise fill the memory and every report.
KEPT_DIFFERENCES = 1000


def make_judge(plan: Plan) -> Callable[[Step, ActionPlan, State], list[Finding | Accepted]]:
    """The judge of ``plan``'s steps."""
    differential = len(plan.targets) == 2
    primary = plan.targets[-1]
    dialect = plan.spec.openapi.dialect if plan.spec.openapi else "json-schema"
    invariants = plan.spec.invariants
    everything = [e for check in invariants for e in check.expressions]
    acceptors = {a.name: Acceptor(entries) for a in plan.actions
                 if (entries := plan.spec.accepted_for(a.action))}
    cases = Cases()

    def judge(step: Step, action: ActionPlan, state: State) -> list[Finding | Accepted]:
        findings: list[Finding | Accepted] = []
        notes: list[str] = []
        functions = response_functions(action.action.operation, dialect, notes)
        own_values: dict[str, Any] = {"action": action.name}
        shared = ChainMap[str, Any](own_values, state.view(primary))
        for name in plan.targets:
            own_values[name] = {**step.response(name).context,
                            "request": step.request(name).context}
        own_values["request"] = step.request(primary).context
        if differential:
            findings += _differences(step, action, state, acceptors.get(action.name), cases,
                                     _conditions(shared, functions))
        context = _Context(everything, shared, functions)
        for check in invariants:
            problem = _evaluate(check, context, notes)
            if problem:
                findings.append(Finding("invariant", f"invariant '{check.name}' broken",
                                        details=tuple(problem), check=check.name))
        for check in action.action.expect:
            for name in plan.targets:
                own = ChainMap[str, Any]({"target": name, "response": step.response(name).context,
                                "request": step.request(name).context},
                               own_values, state.view(name))
                problem = _evaluate(check, _Context(check.expressions, own, functions), notes)
                if problem:
                    findings.append(Finding("expect", f"expectation '{check.name}' of "
                                            f"'{action.name}' failed on {name}",
                                            details=tuple(problem), target=name,
                                            check=check.name))
        return findings

    return judge


def _differences(step: Step, action: ActionPlan, state: State, acceptor: Acceptor | None,
                 cases: Cases, holds: Callable[[Expression], bool]
                 ) -> list[Finding | Accepted]:
    """The step's differences under its rules (and the cases that hold): a finding with
    those no ``accept`` entry accepts, and what each entry accepted."""
    model, candidate = step.response("model"), step.response("candidate")
    rules = cases.rules(action.action.compare, model.status, candidate.status, holds)
    found = iter_differences(model, candidate, rules, state.pairs("model", "candidate"),
                             acceptor.bound(holds) if acceptor is not None else None)
    accepted: list[Accepted] = []
    if acceptor is None:
        differences = tuple(islice(found, KEPT_DIFFERENCES))
        omitted = sum(1 for _ in found) if differences else 0
    else:
        differences, omitted, accepted = acceptor.sort(found, holds, KEPT_DIFFERENCES)
    out: list[Finding | Accepted] = []
    if differences:
        out.append(Finding("difference", f"'{action.name}' answered differently", differences,
                           omitted=omitted))
    return out + accepted


def _conditions(variables: Any, functions: Any) -> Callable[[Expression], bool]:
    """``holds(expression)``: is it true for this step? Each is evaluated once; an
    expression that cannot be evaluated (a field the request does not have) does not hold."""
    seen: dict[int, bool] = {}

    def holds(expression: Expression) -> bool:
        known = seen.get(id(expression))
        if known is None:
            try:
                context = prepare_context((expression,), variables, functions)
                known = expression.run(context) is True
            except ExpressionEvaluationError:
                known = False
            seen[id(expression)] = known
        return known

    return holds


def stale_entries(spec: Spec, counts: dict[tuple[str, str], AcceptedCount]
                  ) -> list[AcceptEntry]:
    """The ``accept`` entries that accepted nothing in a run (``counts``: ``Stats.accepted``)."""
    used = {entry for entry, _ in counts}
    return [entry for entry in spec.every_accept if entry.where not in used]


def stale_warning(spec: Spec, entry: AcceptEntry, stats: Stats, *,
                  stopped_early: bool) -> str:
    """The warning for an ``accept`` entry that accepted nothing in a run: the difference it
    declares may be gone (``stopped_early``: the run ended before its sequences ran out)."""
    names = entry.actions or tuple(a.name for a in spec.actions)
    actions = [a for a in spec.actions if a.name in names]
    segments = entry.place.segments
    if not any(name in stats.actions for name in names):
        why = f"action '{names[0]}' never ran" if len(names) == 1 else "none of its actions ran"
    elif (segments[0] == "headers" and len(segments) > 1 and isinstance(segments[1], str)
          and "*" not in segments[1] and not any(
              segments[1] in headers for a in actions
              for headers in (a.compare.headers, *(c.headers or () for c in a.compare.cases)))):
        why = (f"the header is not compared (add '{segments[1]}' to compare.headers, top "
               "level or in the action)")
    else:
        why = "no step showed the difference it accepts; if it is gone, remove the entry"
    if stopped_early:
        why += " (the run stopped early: it may show in a longer run)"
    return (f"{entry.where}: the accepted difference '{entry.reason}' at {entry.place.text} "
            f"was never seen: {why}")


class _Context:
    """What a step's checks evaluate in: the shortcuts of ``Expression.quick`` first, a CEL
    context for the others (made once, when one needs it)."""

    def __init__(self, expressions: list[Expression] | tuple[Expression, ...],
                 variables: Any, functions: dict[str, Any]) -> None:
        self.expressions = expressions
        self.variables = variables
        self.functions = functions
        self.context: Any = None

    def run(self, expression: Expression) -> Any:
        value = expression.quick(self.variables, self.functions)
        if value is SLOW:
            if self.context is None:
                self.context = prepare_context(self.expressions, self.variables,
                                               self.functions)
            value = expression.run(self.context)
        return value


def _evaluate(check: Check, context: _Context, notes: list[str]) -> list[str] | None:
    """None when the check holds (or its ``when`` is false), else why it does not."""
    if check.when is not None:
        try:
            if context.run(check.when) is not True:
                return None
        except ExpressionEvaluationError:
            return None
    del notes[:]
    try:
        result = context.run(check.check)
    except ExpressionEvaluationError as err:
        return [f"{check.check.source}: could not be evaluated: {err}"]
    if result is True:
        return None
    shown = "false" if result is False else f"{json.dumps(result, default=str)}, not true"
    return [f"{check.check.source}: {shown}", *notes]
