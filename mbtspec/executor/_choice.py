"""Which action a drawn step runs: one of the actions that can run now, in proportion to its
weight; with swarm testing, only among the actions of the sequence's swarm.

Hypothesis' state machines are not used (each step asks this module). Their choice of rules
leaves each rule out of a whole test case at random (its "feature flags",
a form of swarm testing) without knowing what an action needs, so an action that picks entries
other actions store runs only in the sequences where every one of those was left in too:
against the mutant benchmark's correct library, ``borrow`` (weight 3, two picks) ran 428 times
in 9,408 steps where ``add_book`` (weight 3) ran 3,109 times, and could run at only 28% of the
steps. Here a swarm always holds what its actions need (see ``Chooser.swarm``), and within the
actions that can run, each is chosen in proportion to its weight.

Every choice is a number drawn by Hypothesis (``Pick``), so a sequence is still one test case
that Hypothesis can replay and shrink.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Sequence

from mbtspec.compiler import ActionPlan, Plan

#: ``pick(low, high)``: a whole number from ``low`` to ``high`` (inclusive), drawn; Hypothesis
#: shrinks it towards ``low``.
Pick = Callable[[int, int], int]


class Chooser:
    """Chooses actions for the plan's drawn steps (replays need no choice)."""

    def __init__(self, plan: Plan) -> None:
        self.actions = plan.actions
        self.index = {p.name: i for i, p in enumerate(self.actions)}
        self.bounds = list(itertools.accumulate(p.action.weight for p in self.actions))
        stored = frozenset(plan.spec.variables)
        #: The variables each action reads: those its picks need, and those its ``when``
        #: names (without them stored it cannot run, or rarely does anything).
        self.reads = {
            p.name: frozenset(p.needs) | (p.action.when.variables & stored
                                          if p.action.when is not None else frozenset())
            for p in self.actions}
        self.storers: dict[str, frozenset[str]] = {
            variable: frozenset(p.name for p in self.actions
                                if any(v == variable for v, _ in p.action.store))
            for variable in stored}

    def swarm(self, pick: Pick) -> frozenset[str]:
        """The actions a sequence may use (swarm testing, Groce et al. 2012).

        Half the sequences use every action; in the others each action is left out with
        probability 1/2, then every action that stores a variable a kept action reads is kept
        too, so that no kept action is starved of what it picks. (Subsets in every sequence
        found the bugs that need a long history of few actions, but made the 2-4 call bugs of
        the mutant benchmark take 1.5-3.7 times as many calls; see bench/mutants/README.md.)
        Everything shrinks towards keeping: towards the whole set."""
        if not pick(0, 1):
            return frozenset(p.name for p in self.actions)
        kept = {p.name for p in self.actions if not pick(0, 1)}
        if not kept:
            kept = {self.actions[pick(0, len(self.actions) - 1)].name}
        missing = list(kept)
        while missing:
            for variable in self.reads[missing.pop()]:
                storers = self.storers.get(variable, frozenset())
                if storers and not storers & kept:
                    kept |= storers
                    missing.extend(storers)
        return frozenset(kept)

    def choose(self, pick: Pick, candidates: Sequence[ActionPlan]) -> ActionPlan:
        """One of ``candidates`` (not empty), each with a chance in proportion to its weight.

        The first draw is over every action of the plan, so that one drawn number always
        means the same action (Hypothesis' mutations and shrinking keep their meaning); only
        when it falls on an action that cannot run is a second draw made, over the
        candidates. Either way each candidate's chance is its weight over theirs."""
        point = pick(0, self.bounds[-1] - 1)
        action = self.actions[bisect.bisect_right(self.bounds, point)]
        if any(c is action for c in candidates):
            return action
        bounds = list(itertools.accumulate(c.action.weight for c in candidates))
        point = pick(0, bounds[-1] - 1)
        return candidates[bisect.bisect_right(bounds, point)]
