"""What a step leaves in the sequence's state: the entries its ``store`` adds, and the picked
entries its ``remove`` takes away once the answers are known.

Both read the answers of every target: a value is stored only when every target gives one,
and an entry is removed only when every target's answer says it is gone (by default, a 2xx
status: a delete that was refused, 403 or 409, leaves a live entry in place).
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mbtspec.compiler import ActionPlan, State
from mbtspec.compiler.state import PerTarget
from mbtspec.executor.records import Request, Response
from mbtspec.spec import model as m
from mbtspec.spec.conformance import response_functions
from mbtspec.spec.expressions import ExpressionEvaluationError


def _context(plan: ActionPlan, state: State, target: str, request: Request,
             response: Response) -> ChainMap[str, Any]:
    """What ``store`` and ``remove: {when: ...}`` see for one target."""
    return ChainMap[str, Any]({
        "response": response.context,
        "request": request.context,
        "action": plan.name,
        "target": target,
    }, state.view(target))


def store_values(plan: ActionPlan, state: State, targets: Sequence[str], dialect: str,
                 requests: Mapping[str, Request], responses: Mapping[str, Response],
                 origin: int) -> None:
    """Evaluate the action's ``store`` once per target; add an entry to each variable for
    which every target gave a value (one per target when they differ)."""
    functions = response_functions(plan.action.operation, dialect)
    for variable, expression in plan.action.store:
        values = {}
        for name in targets:
            context = _context(plan, state, name, requests[name], responses[name])
            try:
                values[name] = expression.evaluate(context, functions)
            except ExpressionEvaluationError:
                values[name] = None
        if all(v is not None for v in values.values()):
            state.store(variable, PerTarget.of(values), origin)


def removal_holds(removal: m.Removal, plan: ActionPlan, state: State, targets: Sequence[str],
                  dialect: str, requests: Mapping[str, Request],
                  responses: Mapping[str, Response]) -> bool:
    """Should a picked entry go, given every target's answer? (see ``m.Removal``)"""
    if removal.on == "always":
        return True
    if removal.on == "success":
        return all(_succeeded(responses[t]) for t in targets)
    if removal.when is None:
        return False
    functions = response_functions(plan.action.operation, dialect)
    for name in targets:
        try:
            if removal.when.evaluate(_context(plan, state, name, requests[name],
                                              responses[name]), functions) is not True:
                return False
        except ExpressionEvaluationError:
            return False  # (an answer without the field it reads: the entry stays)
    return True


def _succeeded(response: Response) -> bool:
    status = response.status
    return status is not None and 200 <= status < 300


def apply_removals(removals: Iterable[tuple[str, int, m.Removal]], plan: ActionPlan,
                   state: State, targets: Sequence[str], dialect: str,
                   requests: Mapping[str, Request], responses: Mapping[str, Response]) -> None:
    """Remove each picked entry whose removal holds; an entry picked twice goes once. The
    conditions are all judged on the state as the step left it, before any removal."""
    chosen = {(variable, index): removal for variable, index, removal in removals}
    going = [(variable, index) for (variable, index), removal in chosen.items()
             if removal_holds(removal, plan, state, targets, dialect, requests, responses)]
    for variable, index in sorted(going, key=lambda r: -r[1]):
        state.remove(variable, index)
