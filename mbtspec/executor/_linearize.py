"""Is what the candidate answered concurrently explainable by one sequential order?

The candidate ran the branches of a parallel part side by side. Its answers are correct when
some interleaving of the branches' steps (each branch's steps kept in their order), run one
step at a time on the model, gives the same answers by the rules of ``compare``, and the
``then`` steps after it match as well. ``Linearizer.check`` tries the interleavings one at a
time, each on a model reset and brought back to the end of the prefix (by replaying it), and
stops at the first that matches.

Two things keep it cheap:

* pruning: an interleaving whose first ``i`` steps already fail rules out every interleaving
  that starts with the same ``i`` steps, and none of them is run;
* order: interleavings are tried closest first to the order in which the candidate's calls
  ended (the first one tried is that order itself, which is the answer for most correct
  candidates).

There are (N*k)!/(k!)^N interleavings of N branches of k steps: 20 for 2 branches of 3 steps,
90 for 3 of 2, 2,520 for 4 of 2. Each costs a reset, the prefix and up to N*k + len(then)
calls on the model.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from mbtspec.compiler import DrawContext, State, Unsatisfiable
from mbtspec.compiler.state import copy_state
from mbtspec.errors import TargetError
from mbtspec.executor._draws import ReplayDraws
from mbtspec.executor._http import build_request
from mbtspec.executor._runtime import Runtime
from mbtspec.executor._session import Session
from mbtspec.executor._stores import apply_removals, store_values
from mbtspec.executor.records import Finding, Response, Step

Slot = tuple[int, int]  # (branch, step), from 0


@dataclass(frozen=True)
class Verdict:
    """How the check went. ``order`` is the matching interleaving, or else the closest one
    (that matched the most steps); ``steps`` its exchanges on both targets (prefix first)
    up to the first step that did not match, whose findings say why."""

    linearizable: bool
    tried: int
    total: int
    order: tuple[Slot, ...]
    steps: tuple[Step, ...]
    matched: int  # steps of ``order`` (parallel, then then) that matched


class Linearizer:
    """Checks parallel parts of one run against its model."""

    def __init__(self, runtime: Runtime, session: Session) -> None:
        self.runtime = runtime
        self.session = session
        self.plan = runtime.plan
        self.by_name = {p.name: p for p in runtime.plan.actions}

    def check(self, prefix: Sequence[Step], branches: Sequence[Sequence[Step]],
              then: Sequence[Step], finished: Sequence[Slot]) -> Verdict:
        """Try the interleavings of ``branches`` (the candidate's steps; ``finished``: the
        order in which its calls ended) after ``prefix`` (steps run on both targets) and
        before ``then`` (the candidate's steps after the parallel part)."""
        started = time.monotonic()
        lengths = [len(b) for b in branches]
        rank = {slot: i for i, slot in enumerate(finished)}
        failing: set[tuple[Slot, ...]] = set()
        tried = 0
        closest: tuple[int, tuple[Slot, ...], tuple[Step, ...]] = (-1, (), ())
        try:
            for order in _orders(lengths, rank, failing):
                tried += 1
                steps, failed = self._run(order, prefix, branches, then)
                if failed is None:
                    return Verdict(True, tried, interleavings_of(lengths), order, steps,
                                   len(order) + len(then))
                failing.add(order[:failed + 1])
                if failed > closest[0]:
                    closest = (failed, order, steps)
        finally:
            self.runtime.stats.interleavings += tried
            self.runtime.stats.check_seconds += time.monotonic() - started
        return Verdict(False, tried, interleavings_of(lengths), closest[1], closest[2],
                       closest[0])

    def _run(self, order: tuple[Slot, ...], prefix: Sequence[Step],
             branches: Sequence[Sequence[Step]], then: Sequence[Step]
             ) -> tuple[tuple[Step, ...], int | None]:
        """Run one interleaving on the model, from a reset: (its steps, the position in
        ``order`` + ``then`` of the first that does not match, or None)."""
        runtime = self.runtime
        try:
            self.session.reset(only=("model",))
        except TargetError as err:
            raise runtime.abort(err) from None
        state = State(runtime.variables)
        steps: list[Step] = []
        for recorded in prefix:
            steps.append(self._step(recorded, state, len(steps) + 1, judge=False,
                                    removals=True))
        # A parallel step picks among what the prefix stored, as it did on the candidate
        # (what other parallel steps store does not change what it sends).
        after_prefix = copy_state(state)
        parallel = [branches[b][j] for b, j in order]
        for position, recorded in enumerate([*parallel, *then]):
            step = self._step(recorded, state, len(steps) + 1, judge=True, removals=False,
                              draw_in=after_prefix if position < len(parallel) else None)
            steps.append(step)
            if step.findings:
                return tuple(steps), position
        return tuple(steps), None

    def _step(self, recorded: Step, state: State, index: int, *, judge: bool,
              removals: bool, draw_in: State | None = None) -> Step:
        """``recorded`` (a candidate's step) again on the model: same drawn values, picks
        resolved in ``draw_in`` (default: ``state``), what it stores stored in ``state``;
        the candidate's recorded answer stands for its own."""
        runtime = self.runtime
        runtime.checkpoint()
        plan = self.by_name[recorded.action]
        candidate = recorded.response("candidate")
        ctx = DrawContext(ReplayDraws(recorded.draws, recorded.origin),
                          draw_in if draw_in is not None else state, runtime.names)
        try:
            draft = plan.draw(ctx)
        except (Unsatisfiable, IndexError, KeyError):
            # (a pick of what the model did not store in this order: it cannot match)
            return _unmatched(recorded, index, "the model stored nothing this step picks, "
                              "in this order")
        requests = {name: build_request(draft, name, target.base_url, target.headers)
                    for name, target in runtime.targets.items()}
        try:
            answer = self.session.send_all({"model": requests["model"]})["model"]
        except TargetError as err:
            raise runtime.abort(err) from None
        responses: dict[str, Response] = {"model": answer, "candidate": candidate}
        store_values(plan, state, runtime.names, runtime.dialect, requests, responses,
                     recorded.origin)
        step = Step(index=index, action=plan.name, draws=recorded.draws,
                    requests=tuple((n, requests[n]) for n in runtime.names),
                    responses=tuple((n, responses[n]) for n in runtime.names),
                    origin=recorded.origin, slots=recorded.slots, change=draft.change)
        if removals:
            ctx.commit_unique()
            apply_removals(ctx.removals, plan, state, runtime.names, runtime.dialect,
                           requests, responses)
        if judge:
            findings = tuple(f for f in runtime.judge(step, plan, state)
                             if isinstance(f, Finding))  # (accepted differences pass)
            if findings:
                step = replace(step, findings=findings)
        return step


def _unmatched(recorded: Step, index: int, why: str) -> Step:
    return replace(recorded, index=index, findings=(Finding("difference", why),))


def interleavings_of(lengths: Sequence[int]) -> int:
    """How many interleavings branches of these lengths have (a multinomial coefficient)."""
    total, count = 0, 1
    for length in lengths:
        for i in range(1, length + 1):
            total += 1
            count = count * total // i
    return count


def _orders(lengths: Sequence[int], rank: dict[Slot, int],
            failing: set[tuple[Slot, ...]]) -> Iterator[tuple[Slot, ...]]:
    """Every interleaving (depth first, the branch whose next step ended first on the
    candidate tried first), except those starting with a prefix in ``failing`` (which grows
    while this runs)."""
    total = sum(lengths)
    used = [0] * len(lengths)

    def walk(prefix: tuple[Slot, ...]) -> Iterator[tuple[Slot, ...]]:
        if prefix in failing:
            return
        if len(prefix) == total:
            yield prefix
            return
        nexts = [(b, used[b]) for b in range(len(lengths)) if used[b] < lengths[b]]
        nexts.sort(key=lambda slot: rank.get(slot, len(rank)))
        for b, j in nexts:
            used[b] += 1
            yield from walk((*prefix, (b, j)))
            used[b] -= 1
            if any(prefix[:i] in failing for i in range(len(prefix) + 1)):
                return  # (this prefix failed meanwhile)

    yield from walk(())
