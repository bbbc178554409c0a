"""``compare.cases``: rules that apply to a step only when both statuses are given ones, or a
CEL condition holds ("ignore the body when both statuses are 404").

Each case that holds is laid over the rules in order: its ``status``, ``body`` and ``headers``
replace those before it, its paths and matchers are added. Few combinations of cases occur,
so each merged set of rules is made once per action and combination (``Cases.rules``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from mbtspec.spec.expressions import Expression
from mbtspec.spec.model import CompareCase, CompareRules


class Cases:
    """The rules of each action with the cases that hold laid over them, made when needed."""

    def __init__(self) -> None:
        #: (id of the rules, cases chosen) -> (those rules, kept alive so that the id stays
        #: theirs; the merged rules)
        self._merged: dict[tuple[int, tuple[int, ...]], tuple[CompareRules, CompareRules]] = {}

    def rules(self, rules: CompareRules, model_status: int | None,
              candidate_status: int | None, holds: Callable[[Expression], bool]
              ) -> CompareRules:
        """``rules`` for a step whose statuses are these (``holds``: does a ``when`` hold
        for the step?)."""
        if not rules.cases:
            return rules
        chosen = tuple(i for i, case in enumerate(rules.cases)
                       if case.holds_for(model_status, candidate_status)
                       and (case.when is None or holds(case.when)))
        if not chosen:
            return rules
        known = self._merged.get((id(rules), chosen))
        if known is not None:
            return known[1]
        merged = rules
        for i in chosen:
            merged = _over(merged, rules.cases[i])
        self._merged[id(rules), chosen] = (rules, merged)
        return merged


def _over(rules: CompareRules, case: CompareCase) -> CompareRules:
    added = case.added
    return replace(
        rules,
        status=case.status if case.status is not None else rules.status,
        body=case.body if case.body is not None else rules.body,
        headers=case.headers if case.headers is not None else rules.headers,
        ignore=rules.ignore + added.ignore,
        unordered=rules.unordered + added.unordered,
        matchers=rules.matchers + added.matchers,
        cases=(),
    )
