"""Where a step's values come from: drawn by Hypothesis and recorded (``RecordingDraws``), or
fed back from a recorded step (``ReplayDraws``, for shrinking by replays).

A pick is recorded as the entry it chose (``Entry``: the step that stored it), not as its
position, so that a replay which leaves earlier steps out picks the same entry; a value drawn
by a pick's ``or:`` is recorded as that value, and replayed as it was sent.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies._internal.lazy import unwrap_strategies

from mbtspec.compiler import UNIQUE_TRIES, State, Unsatisfiable
from mbtspec.compiler.state import Entry
from mbtspec.executor._simplest import NONE, simplest_value
from mbtspec.executor.records import Redacted

_UNWRAPPED: dict[int, tuple[weakref.ref[st.SearchStrategy[Any]], st.SearchStrategy[Any]]] = {}


def unwrapped(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The strategy a lazy one (what ``st.text(...)`` and the like return) wraps: Hypothesis
    draws from it anyway, after checking the wrapper at every draw (a tenth of the cost of
    drawing). Remembered by id, with a weak reference that tells a reused id apart."""
    kept = _UNWRAPPED.get(id(strategy))
    if kept is None or kept[0]() is not strategy:
        if len(_UNWRAPPED) > 10_000:  # (the strategies of runs that ended)
            _UNWRAPPED.clear()
        inner: st.SearchStrategy[Any] = unwrap_strategies(strategy)  # type: ignore[no-untyped-call]
        kept = _UNWRAPPED[id(strategy)] = (weakref.ref(strategy), inner)
    return kept[1]


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
        self.strategies: list[Any] = []  # ... the generator itself (None for a pick)

    def draw(self, strategy: st.SearchStrategy[Any]) -> Any:
        value = self.draw_on(unwrapped(strategy))
        self.values.append(value)
        self.slots.append(id(strategy))
        self.strategies.append(strategy)
        return value

    def draw_unique(self, strategy: st.SearchStrategy[Any], fits: Callable[[Any], bool],
                    tries: int = UNIQUE_TRIES) -> Any:
        """Draw until a value ``fits`` (``tries`` at most); only that one is recorded."""
        for _ in range(tries):
            value = self.draw_on(strategy)
            if fits(value):
                self.values.append(value)
                self.slots.append(id(strategy))
                self.strategies.append(strategy)
                return value
        raise Unsatisfiable("no unused value found")

    def choose(self, state: State, variable: str, strategy: st.SearchStrategy[Any]) -> Any:
        chosen = self.draw_on(strategy)
        self.values.append([state.origin(variable, i) for i in chosen]
                           if isinstance(chosen, list) else state.origin(variable, chosen))
        self.slots.append(0)
        self.strategies.append(None)
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

    def draw_unique(self, strategy: st.SearchStrategy[Any], fits: Callable[[Any], bool],
                    tries: int = UNIQUE_TRIES) -> Any:
        """The recorded value, if it is still unused in this replay."""
        value = self.draw(strategy)
        if not fits(value):
            raise Unsatisfiable("the recorded value of a unique generator is used already")
        return value

    def recorded_fallback(self, variable: str) -> bool:
        """Did the recorded step draw the ``or:`` of its pick of ``variable`` here (nothing
        was stored then)? True when what comes next was not a pick of ``variable``."""
        if self.position >= len(self.values):
            return False
        value = self.values[self.position]
        first = value[0] if isinstance(value, list) and value else value
        return not (isinstance(first, Entry) and first.variable == variable)

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
