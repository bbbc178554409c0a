"""Stage 4: judge a step. Model vs candidate differences, invariants, per-action ``expect``.

``make_judge(plan)`` returns the function the executor calls after every step; it returns
``Finding``\\ s and never raises for a user's expression (a failing evaluation is a finding).
"""

from __future__ import annotations

import json
from collections import ChainMap
from collections.abc import Callable
from itertools import islice
from typing import Any

from mbtspec.compare._diff import ABSENT, compare_responses, iter_differences
from mbtspec.compiler import ActionPlan, Plan, State
from mbtspec.executor.records import Finding, Step
from mbtspec.spec.conformance import response_functions
from mbtspec.spec.expressions import ExpressionEvaluationError, prepare_context
from mbtspec.spec.model import Check

__all__ = ["ABSENT", "KEPT_DIFFERENCES", "compare_responses", "make_judge"]

#: Differences kept per finding; the others are only counted (``Finding.omitted``): two large
#: bodies that differ everywhere would otherwise fill the memory and every report.
KEPT_DIFFERENCES = 1000


def make_judge(plan: Plan) -> Callable[[Step, ActionPlan, State], list[Finding]]:
    """The judge of ``plan``'s steps."""
    differential = len(plan.targets) == 2
    primary = plan.targets[-1]
    dialect = plan.spec.openapi.dialect if plan.spec.openapi else "json-schema"
    invariants = plan.spec.invariants
    everything = [e for check in invariants for e in check.expressions]

    def judge(step: Step, action: ActionPlan, state: State) -> list[Finding]:
        findings: list[Finding] = []
        if differential:
            found = iter_differences(
                step.response("model"), step.response("candidate"), action.action.compare,
                state.pairs("model", "candidate"))
            differences = tuple(islice(found, KEPT_DIFFERENCES))
            if differences:
                findings.append(Finding(
                    "difference", f"'{action.name}' answered differently", differences,
                    omitted=sum(1 for _ in found)))
        notes: list[str] = []
        functions = response_functions(action.action.operation, dialect, notes)
        own_values: dict[str, Any] = {"action": action.name}
        shared = ChainMap[str, Any](own_values, state.view(primary))
        for name in plan.targets:
            own_values[name] = {**step.response(name).context,
                            "request": step.request(name).context}
        own_values["request"] = step.request(primary).context
        context = prepare_context(everything, shared, functions) if everything else None
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
                problem = _evaluate(check, prepare_context(check.expressions, own, functions),
                                    notes)
                if problem:
                    findings.append(Finding("expect", f"expectation '{check.name}' of "
                                            f"'{action.name}' failed on {name}",
                                            details=tuple(problem), target=name,
                                            check=check.name))
        return findings

    return judge


def _evaluate(check: Check, context: Any, notes: list[str]) -> list[str] | None:
    """None when the check holds (or its ``when`` is false), else why it does not."""
    if check.when is not None:
        try:
            if check.when.run(context) is not True:
                return None
        except ExpressionEvaluationError:
            return None
    del notes[:]
    try:
        result = check.check.run(context)
    except ExpressionEvaluationError as err:
        return [f"{check.check.source}: could not be evaluated: {err}"]
    if result is True:
        return None
    shown = "false" if result is False else f"{json.dumps(result, default=str)}, not true"
    return [f"{check.check.source}: {shown}", *notes]
