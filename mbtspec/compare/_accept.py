"""Accepted differences: the ``accept`` entries of a spec, matched against a step's differences.

An entry accepts a difference when its place matches the difference's place or a place that
contains it (``body.items`` accepts ``body.items[2].price``), its ``model`` and ``candidate``
values (when given) are the two values there, and its ``when`` (when given) holds for the
step. The first entry that accepts a difference takes it: an action's own entries come
before the top-level ones. An entry that accepts the status accepts the whole response with
it: a 422 and a 201 do not have the same body.

Places are matched as the comparer matches its own (``_Patterns``, each entry's pattern
followed by ``**``): one step per segment of a difference's place, whatever the patterns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from mbtspec.compare._diff import _Patterns
from mbtspec.executor.records import Accepted, Difference
from mbtspec.spec.expressions import Expression
from mbtspec.spec.model import ANY, AcceptEntry, same_json

#: Does a step's ``when`` hold? (Evaluated once per step and expression, by the judge.)
Condition = Callable[[Expression], bool]


@dataclass
class Sorted:
    """A step's differences, sorted: those left (the first ``limit``, and how many more),
    and those accepted, per entry."""

    limit: int
    left: list[Difference] = field(default_factory=list)
    omitted: int = 0
    accepted: dict[int, tuple[list[Difference], list[int]]] = field(default_factory=dict)

    def keep(self, difference: Difference) -> None:
        if len(self.left) < self.limit:
            self.left.append(difference)
        else:
            self.omitted += 1

    def accept(self, entry: int, difference: Difference) -> None:
        kept, count = self.accepted.setdefault(entry, ([], [0]))
        if len(kept) < self.limit:
            kept.append(difference)
        count[0] += 1


class Acceptor:
    """The entries that apply to one action."""

    def __init__(self, entries: tuple[AcceptEntry, ...]) -> None:
        self.entries = entries
        self.places = tuple(e.place.segments for e in entries)
        self._places = _Patterns(tuple((*p, "**") for p in self.places))

    def bound(self, holds: Condition) -> Bound:
        """The entries for one step (``holds``: its conditions), for the comparer."""
        return Bound(self, holds)

    def sort(self, differences: Iterable[Difference], holds: Condition,
             limit: int) -> tuple[tuple[Difference, ...], int, list[Accepted]]:
        """The differences no entry accepts (the first ``limit``, and how many more), and
        what each entry accepted."""
        out = Sorted(limit)
        whole: int | None = None  # the entry that accepted the status, and with it the rest
        for difference in differences:
            if whole is not None:
                out.accept(whole, difference)
                continue
            entry = self._entry(difference, holds)
            if entry is None:
                out.keep(difference)
                continue
            out.accept(entry, difference)
            if difference.at == ("status",):
                whole = entry
        accepted = [Accepted(self.entries[i].reason, self.entries[i].where,
                             self.entries[i].place.text, tuple(kept), count[0])
                    for i, (kept, count) in sorted(out.accepted.items())]
        return tuple(out.left), out.omitted, accepted

    def _entry(self, difference: Difference, holds: Condition) -> int | None:
        """The first entry that accepts ``difference``, if any."""
        state = self._places.start  # (a difference made without its segments matches none)
        for segment in difference.at:
            state = self._places.step(state, segment)
            if not self._places.alive(state):
                return None
        for i in self._places.matching(state):
            entry = self.entries[i]
            if entry.model is not ANY and not same_json(entry.model, difference.model):
                continue
            if entry.candidate is not ANY and not same_json(entry.candidate,
                                                             difference.candidate):
                continue
            if entry.when is not None and not holds(entry.when):
                continue
            return i
        return None


@dataclass(frozen=True)
class Bound:
    """An ``Acceptor`` for one step: what the comparer asks of it (``_diff.Accepting``)."""

    acceptor: Acceptor
    holds: Condition

    @property
    def places(self) -> tuple[tuple[str | int, ...], ...]:
        return self.acceptor.places

    def __call__(self, difference: Difference) -> bool:
        return self.acceptor._entry(difference, self.holds) is not None
