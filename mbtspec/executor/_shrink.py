"""Shrinking a failing sequence by replaying its recorded steps, within a time budget.

A failure found by Hypothesis comes as the whole sequence that showed it. Replaying recorded
steps (the same drawn values; picks find the same stored entries, wherever they now stand) is
far cheaper than asking Hypothesis to search around it, and no attempt runs past the failure:

1. **Leave steps out** (delta debugging): chunks of the sequence, halving their size, then
   single steps, keeping every shorter sequence that still shows the same failure.
2. **Simplify values**: each drawn value is replaced in turn by the simplest value its
   generator can draw (the smallest number of a range, the shortest text, the first choice),
   kept when the failure still shows.
3. **Let an earlier step take a later step's value**, and leave the later one out: "create
   'A', rename it 'xQ', search 'q'" becomes "create 'xQ', search 'q'".
4. **Check 1-minimality**: leaving out any single step of the result no longer shows the
   failure; the result says whether this was checked.

"The same failure" is the same ``Signature``: the failing action, the kind of finding, and its
place (first differing path, or the broken check). Every attempt starts with a reset of the
targets. When the budget runs out, the shortest failure so far is the result, and says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import strategies as st
from hypothesis.errors import UnsatisfiedAssumption

from mbtspec.compiler import Unsatisfiable
from mbtspec.compiler.state import Entry
from mbtspec.executor._draws import ReplayDraws
from mbtspec.executor._runtime import Runtime
from mbtspec.executor._simplest import NONE, same, simplest_value
from mbtspec.executor.records import Failure, Signature, Step, signature


class OutOfTime(Exception):
    """The shrink budget is spent."""


@dataclass
class Shrinker:
    runtime: Runtime
    target: Signature
    deadline: float
    on_shorter: Callable[[tuple[Step, ...]], None] = lambda steps: None
    attempts: int = 0

    def attempt(self, steps: Sequence[Step], draws: Callable[[int, Step], Any] | None = None
                ) -> tuple[Step, ...] | None:
        """Replay ``steps`` from a reset; the new trace if it shows the target failure.

        ``draws(i, step)`` makes the draws object of step ``i`` (default: replay it)."""
        if time.monotonic() > self.deadline:
            raise OutOfTime
        self.attempts += 1
        runtime = self.runtime
        runtime.start_replay()
        by_name = {p.name: p for p in runtime.plan.actions}
        try:
            for index, recorded in enumerate(steps):
                plan = by_name[recorded.action]
                if not runtime.enabled(plan):
                    return None
                source = (draws(index, recorded) if draws is not None
                          else ReplayDraws(recorded.draws, recorded.origin))
                step = runtime.step(plan, source)
                if step.findings:
                    if signature(step) != self.target:
                        return None
                    self.on_shorter(tuple(runtime.trace))
                    return tuple(runtime.trace)
        except (Unsatisfiable, UnsatisfiedAssumption, IndexError, KeyError):
            return None
        return None

    def leave_out(self, steps: tuple[Step, ...]) -> tuple[Step, ...]:
        """Delta debugging over the steps: remove chunks, halving their size down to one
        step, until no single step can go."""
        chunk = max((len(steps) + 1) // 2, 1)
        while True:
            start, removed = 0, False
            while start < len(steps) and len(steps) > 1:
                shorter = self.attempt(steps[:start] + steps[start + chunk:])
                if shorter is not None and len(shorter) < len(steps):
                    steps, removed = shorter, True
                else:
                    start += chunk
            if chunk == 1 and not removed:
                return steps
            chunk = max((chunk + 1) // 2 if chunk > 2 else 1, 1)

    def simplify(self, steps: tuple[Step, ...]) -> tuple[Step, ...]:
        """Try the simplest value of each drawn value, one at a time; for a value made of
        parts (a body, a tuple of template parts), then each part of it in turn."""
        index = 0
        while index < len(steps):
            position = 0
            while index < len(steps) and position < len(steps[index].draws):
                if not _is_pick(steps[index].draws[position]):
                    steps = self._simplify_value(steps, index, position)
                position += 1
            index += 1
        return steps

    def _simplify_value(self, steps: tuple[Step, ...], index: int, position: int
                        ) -> tuple[Step, ...]:
        probe: list[Any] = []

        def draws(i: int, recorded: Step) -> Any:
            if i != index:
                return ReplayDraws(recorded.draws, recorded.origin)
            return _Simplest(recorded.draws, recorded.origin, position, probe)

        try:
            simpler = self.attempt(steps, draws)
        except _AlreadySimplest:
            return steps
        if simpler is not None and len(simpler) <= len(steps):
            return simpler
        if not probe:
            return steps
        for path, part in _parts(steps[index].draws[position], probe[0]):
            value = _replace_at(steps[index].draws[position], path, part)
            draws_now = list(steps[index].draws)
            draws_now[position] = value
            changed = steps[:index] + (replace(steps[index], draws=tuple(draws_now)),) + \
                steps[index + 1:]
            simpler = self.attempt(changed)
            if simpler is not None and len(simpler) <= len(steps):
                steps = simpler
                if index >= len(steps) or position >= len(steps[index].draws):
                    break
        return steps

    def stand_in(self, steps: tuple[Step, ...]) -> tuple[Step, ...]:
        """Leave out a step whose drawn value an earlier step takes over: in "create 'A',
        rename it 'xQ', search 'q'", the create can draw 'xQ' itself, and the rename goes."""
        later = 1
        while later < len(steps) - 1:  # (never the failing step)
            shorter = next((shown for candidate in _taken_over(steps, later)
                            if (shown := self.attempt(candidate)) is not None
                            and len(shown) < len(steps)), None)
            if shorter is None:
                later += 1
            else:
                steps = shorter
        return steps

    def one_minimal(self, steps: tuple[Step, ...]) -> bool:
        """Does leaving out any single step lose the failure?"""
        return all(self.attempt(steps[:i] + steps[i + 1:]) is None
                   for i in range(len(steps) - 1))


def _taken_over(steps: tuple[Step, ...], later: int) -> Iterator[tuple[Step, ...]]:
    """``steps`` without step ``later``, one of its plain values (text, number) put in
    place of a value of the same type in an earlier step's draws: each way, in turn."""
    offered = [v for _, v in _leaves(steps[later].draws)]
    for earlier in range(later):
        for path, value in _leaves(steps[earlier].draws):
            for taken in offered:
                if type(taken) is type(value) and not same(taken, value):
                    draws = _replace_at(steps[earlier].draws, path, taken)
                    yield (steps[:earlier] + (replace(steps[earlier], draws=draws),)
                           + steps[earlier + 1:later] + steps[later + 1:])


def _leaves(draws: Sequence[Any]) -> list[tuple[tuple[Any, ...], Any]]:
    """(path, value) of every plain value (text, number) in ``draws``, picks left out."""
    found: list[tuple[tuple[Any, ...], Any]] = []

    def walk(value: Any, path: tuple[Any, ...]) -> None:
        if isinstance(value, dict):
            for key, part in value.items():
                walk(part, (*path, key))
        elif isinstance(value, list | tuple) and not _is_pick(value):
            for i, part in enumerate(value):
                walk(part, (*path, i))
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            found.append((path, value))

    for position, value in enumerate(draws):
        if not _is_pick(value):
            walk(value, (position,))
    return found


def _is_pick(value: Any) -> bool:
    return isinstance(value, Entry) or (
        isinstance(value, list) and bool(value) and all(isinstance(v, Entry) for v in value))


class _AlreadySimplest(Exception):
    """The value to simplify is already the simplest: no need to finish the replay."""


class _Simplest(ReplayDraws):
    """Replays a step, but draws the value at ``position`` as simply as its generator can
    (and leaves that simplest value in ``probe``)."""

    def __init__(self, values: Sequence[Any], origin: int, position: int,
                 probe: list[Any]) -> None:
        super().__init__(values, origin)
        self.target = position
        self.probe = probe

    def draw(self, strategy: st.SearchStrategy[Any]) -> Any:
        at = self.position
        value = super().draw(strategy)  # (raises on a recorded pick)
        if at != self.target:
            return value
        simplest = simplest_value(strategy)
        if simplest is NONE or same(simplest, value):
            raise _AlreadySimplest
        self.probe.append(simplest)
        self.values[at] = simplest
        return simplest


def _parts(value: Any, simplest: Any, path: tuple[Any, ...] = ()
           ) -> list[tuple[tuple[Any, ...], Any]]:
    """Where ``value`` and ``simplest``, of the same shape, differ: (path, simplest part),
    for the smallest parts (a value of another shape is one part)."""
    if isinstance(value, dict) and isinstance(simplest, dict) and value.keys() == simplest.keys():
        return [p for key in value for p in _parts(value[key], simplest[key], (*path, key))]
    if isinstance(value, list | tuple) and type(value) is type(simplest) and \
            len(value) == len(simplest):
        return [p for i, (a, b) in enumerate(zip(value, simplest, strict=True))
                for p in _parts(a, b, (*path, i))]
    return [] if same(value, simplest) or not path else [(path, simplest)]


def _replace_at(value: Any, path: tuple[Any, ...], part: Any) -> Any:
    if not path:
        return part
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace_at(value[head], rest, part)}
    items = list(value)
    items[head] = _replace_at(items[head], rest, part)
    return type(value)(items)


def shrink(runtime: Runtime, failure: Failure, budget: float,
           on_shorter: Callable[[tuple[Step, ...]], None] = lambda steps: None) -> Failure:
    """The shortest, simplest sequence that still shows ``failure``, found by replaying it
    within ``budget`` seconds. ``on_shorter`` sees each failing replay no longer than the
    best so far; ``Abort`` and ``KeyboardInterrupt`` go through."""
    shrinker = Shrinker(runtime, signature(failure.steps[-1]), time.monotonic() + budget,
                        on_shorter)
    steps = failure.steps
    try:
        steps = shrinker.leave_out(steps)
        steps = shrinker.simplify(steps)
        steps = shrinker.leave_out(steps) if len(steps) > 1 else steps
        steps = shrinker.stand_in(steps)
        minimal = shrinker.one_minimal(steps)
    except OutOfTime:
        return replace(failure, steps=steps, cut_short=True, note=(
            f"shrinking stopped early (the shrink time of {budget:g}s ran out after "
            f"{shrinker.attempts} replays): a shorter sequence may show it too"))
    return replace(failure, steps=steps, minimal=minimal)
