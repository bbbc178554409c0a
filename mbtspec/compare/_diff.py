"""Structural comparison of two responses, path by path.

Rules: ``ignore`` paths are skipped, ``unordered`` arrays are compared as multisets, values
stored per target (the model's id 5, the candidate's id 1005) count as equal, and matchers
(``loose_types``, ``tolerance``, ``format``, ``pattern``, ``present``: see ``_matchers``) let
other values count as equal at their places and inside them. Booleans never equal numbers;
1 equals 1.0 (JSON has one number type).

Time grows linearly with the size of the bodies, unordered arrays included: their elements are
first sorted into groups that only equal elements can share (by a summary of each element that
leaves out what the rules let differ), and only elements of the same group are compared one by
one. At most ``MATCH_BUDGET`` such comparisons are made per response; past it, the elements
still unpaired are reported as such, with a note that says why. ``ignore`` and ``unordered``
paths, and the places of matchers, are followed down the body as it is walked
(``_Patterns``), so that a deep body with ``**`` patterns costs one step per level, not a new
match of every prefix at every level; where no rule can apply any more, the walk is plain.
"""

from __future__ import annotations

import marshal
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from mbtspec.compare._matchers import Matchers
from mbtspec.executor.records import Difference, Response
from mbtspec.spec.model import CompareRules
from mbtspec.spec.problems import format_path

Path = tuple[str | int, ...]


def identical(a: Any, b: Any) -> bool:
    """Are ``a`` and ``b`` the same JSON value, of the same types, keys in the same order?
    (Then no plain comparison finds a difference.) ``marshal`` writes each type apart
    (``True`` is not ``1``, ``1.0`` not ``1``) at C speed: about seven times faster than the
    walk on equal bodies. Format 2: later ones write an object seen twice as a reference,
    which depends on how the objects are shared, not on the value. False when unsure (keys
    in another order: the walk decides)."""
    if not isinstance(a, dict | list) or type(a) is not type(b) or a != b:
        return False  # (``!=`` first: bodies that differ mostly differ early)
    try:
        return marshal.dumps(a, 2) == marshal.dumps(b, 2)
    except ValueError:  # (a value marshal cannot write: only ``ABSENT`` in practice)
        return False


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"

    def __reduce__(self) -> str:
        return "ABSENT"  # (one object, also after a trip through pickle: workers)


ABSENT: Any = _Absent()

#: Element-by-element comparisons allowed per response pair, for unordered lists (about a
#: second of work): enough for two lists of 400 elements all alike.
MATCH_BUDGET = 200_000


Segment = str | int
#: Where a path stands in each pattern: the positions of the pattern it may have reached.
State = tuple[frozenset[int], ...]


class _Patterns:
    """Paths with ``*`` and ``**``, matched segment by segment as a body is walked (the
    same matches as ``spec._paths.matches``, without matching each path from the start)."""

    def __init__(self, patterns: tuple[tuple[Segment, ...], ...]) -> None:
        self.patterns = patterns
        self.start: State = tuple(self._closure(p, {0}) for p in patterns)
        #: ``step``'s answers: the same few states and keys come back at every step.
        self._steps: dict[tuple[State, Segment], State] = {}

    @staticmethod
    def _closure(pattern: tuple[Segment, ...], positions: set[int]) -> frozenset[int]:
        """``positions``, and those after each ``**`` (which may match no segment)."""
        out = set(positions)
        for position in sorted(positions):
            while position < len(pattern) and pattern[position] == "**":
                position += 1
                out.add(position)
        return frozenset(out)

    def step(self, state: State, segment: Segment) -> State:
        """The state after one more segment of a path."""
        key = (state, segment)
        known = self._steps.get(key)
        if known is None:
            if len(self._steps) > 4096:  # (list positions and keys of ever new bodies)
                self._steps.clear()
            known = self._steps[key] = self._step(state, segment)
        return known

    def _step(self, state: State, segment: Segment) -> State:
        out = []
        for pattern, positions in zip(self.patterns, state, strict=True):
            reached = set()
            for position in positions:
                if position == len(pattern):
                    continue
                head = pattern[position]
                if head == "**":
                    reached.add(position)
                elif head == "*" or head == segment or (
                        isinstance(head, str) and head.isdigit() and isinstance(segment, int)
                        and segment == int(head)):  # body.items.0 reads like body.items[0]
                    reached.add(position + 1)
            out.append(self._closure(pattern, reached) if reached else frozenset())
        return tuple(out)

    def follow(self, path: Path) -> tuple[State, bool]:
        """The state after ``path``, and whether the pattern matched ``path`` or a place
        that contains it."""
        state, seen = self.start, False
        for segment in path:
            state = self.step(state, segment)
            seen = seen or self.matches(state)
        return state, seen

    def matches(self, state: State) -> bool:
        """Does some pattern match the path that led to ``state``?"""
        return any(len(p) in positions for p, positions in zip(self.patterns, state,
                                                               strict=True))

    def matching(self, state: State) -> tuple[int, ...]:
        """The indexes of the patterns that match the path that led to ``state``."""
        return tuple(i for i, (p, positions) in enumerate(zip(self.patterns, state,
                                                              strict=True))
                     if len(p) in positions)

    @staticmethod
    def alive(state: State) -> bool:
        """Can some pattern still match a longer path?"""
        return any(state)


#: Where a place stands in the ignore patterns, the unordered patterns and the matchers'.
Place = tuple[State, State, State]


class Accepting(Protocol):
    """The ``accept`` entries of a step, as far as the comparer needs to know them: elements
    of unordered lists that differ only where entries accept it are paired."""

    @property
    def places(self) -> tuple[tuple[Segment, ...], ...]:
        """The entries' places."""

    def __call__(self, difference: Difference) -> bool:
        """Does an entry accept ``difference``?"""


class _Rules:
    """A set of compare rules made ready to follow down a body: made once per rules (and
    accepted places), not once per step (see ``_ready``)."""

    def __init__(self, rules: CompareRules, accepted: tuple[tuple[Segment, ...], ...]) -> None:
        self.rules, self.accepted = rules, accepted  # (kept alive: their ids key the cache)
        self.ignore = tuple(p.segments for p in rules.ignore)
        self.unordered = tuple(p.segments for p in rules.unordered)
        self.patterns = (_Patterns(self.ignore), _Patterns(self.unordered),
                         # a matcher applies at its places and inside them: its pattern, then
                         # any segments
                         _Patterns(tuple((*s, "**") for s in (
                             *(m.place.segments for m in rules.matchers), *accepted))))
        self.matchers = Matchers(rules.matchers, accepted=len(accepted))


_READY: dict[tuple[int, int], _Rules] = {}


def _ready(rules: CompareRules, accepted: tuple[tuple[Segment, ...], ...]) -> _Rules:
    ready = _READY.get((id(rules), id(accepted)))
    if ready is None or ready.rules is not rules or ready.accepted is not accepted:
        if len(_READY) > 4096:  # (rules of plans long gone)
            _READY.clear()
        ready = _READY[id(rules), id(accepted)] = _Rules(rules, accepted)
    return ready


class Comparer:
    def __init__(self, rules: CompareRules, pairs: set[tuple[Any, Any]],
                 accepting: Accepting | None = None) -> None:
        self.rules = rules
        self.pairs = pairs
        # Accepted places matter only to pair the elements of unordered lists.
        self.accepting = accepting if accepting is not None and rules.unordered else None
        ready = _ready(rules, self.accepting.places if self.accepting is not None else ())
        self.ignore, self.unordered, self.matchers = ready.ignore, ready.unordered, ready.matchers
        self._ignore, self._unordered, self._matchers = ready.patterns
        self.budget = MATCH_BUDGET  # element comparisons left for unordered lists

    def ignored(self, path: Path) -> bool:
        """Is ``path``, or a place that contains it, ignored?"""
        return bool(self.ignore) and self._ignore.follow(path)[1]

    def is_unordered(self, path: Path) -> bool:
        return bool(self.unordered) and self._unordered.matches(self._unordered.follow(path)[0])

    def place(self, path: Path) -> Place:
        return (self._ignore.follow(path)[0], self._unordered.follow(path)[0],
                self._matchers.follow(path)[0] if self._matchers.patterns else ())

    def below(self, place: Place, segment: Segment) -> Place:
        """The place one segment further down."""
        ignore, unordered, matchers = place  # (``any(state)``: can a pattern still match?)
        return (self._ignore.step(ignore, segment) if any(ignore) else ignore,
                self._unordered.step(unordered, segment) if any(unordered) else unordered,
                self._matchers.step(matchers, segment) if any(matchers) else matchers)

    @staticmethod
    def plain(place: Place) -> bool:
        """Can no rule apply at ``place`` or below it?"""
        return not (any(place[0]) or any(place[1]) or any(place[2]))

    def header_matches(self, path: Path, a: Any, b: Any) -> bool:
        """Do the matchers let the header values ``a`` and ``b`` count as equal?"""
        if not self.matchers:
            return False
        active = self._matchers.matching(self._matchers.follow(path)[0])
        return bool(active) and ((self.matchers.present(active) and a is not ABSENT
                                  and b is not ABSENT) or self.matchers.equal(active, a, b))

    def same_scalar(self, a: Any, b: Any) -> bool:
        if isinstance(a, bool) != isinstance(b, bool):
            return False
        if a == b and (type(a) is type(b) or (
                isinstance(a, int | float) and isinstance(b, int | float))):
            return True
        try:
            return (a, b) in self.pairs
        except TypeError:
            return False

    def diff(self, a: Any, b: Any, path: Path, place: Place | None = None
             ) -> Iterator[Difference]:
        """The differences between ``a`` and ``b`` at ``path`` (``place``: where ``path``
        stands in the rules' patterns, when the caller knows)."""
        if place is None:
            if self.ignored(path):
                return
            place = self.place(path)
        elif self._ignore.matches(place[0]):
            return
        if not (any(place[0]) or any(place[1]) or any(place[2])):
            if not identical(a, b):  # (most bodies are: a C-speed look settles it)
                yield from self._diff_plainly(a, b, path)  # no rule applies below: faster
            return
        active = self._matchers.matching(place[2]) if any(place[2]) else ()
        if active and self.matchers.present(active) and a is not ABSENT and b is not ABSENT:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for key in list(a) + [k for k in b if k not in a]:
                yield from self.diff(a.get(key, ABSENT), b.get(key, ABSENT), (*path, key),
                                     self.below(place, key))
            return
        if isinstance(a, list) and isinstance(b, list):
            if self._unordered.matches(place[1]):
                yield from self.diff_unordered(a, b, path, place)
                return
            for i in range(max(len(a), len(b))):
                yield from self.diff(a[i] if i < len(a) else ABSENT,
                                     b[i] if i < len(b) else ABSENT, (*path, i),
                                     self.below(place, i))
            return
        if not self.same_scalar(a, b) and not (active and self.matchers.equal(active, a, b)):
            yield Difference(format_path(path), a, b, at=path)

    def _diff_plainly(self, a: Any, b: Any, path: Path) -> Iterator[Difference]:
        """``diff`` where no ignore or unordered rule applies, at ``path`` or below."""
        if isinstance(a, dict) and isinstance(b, dict):
            for key in list(a) + [k for k in b if k not in a]:
                yield from self._diff_plainly(a.get(key, ABSENT), b.get(key, ABSENT),
                                              (*path, key))
        elif isinstance(a, list) and isinstance(b, list):
            for i in range(max(len(a), len(b))):
                yield from self._diff_plainly(a[i] if i < len(a) else ABSENT,
                                              b[i] if i < len(b) else ABSENT, (*path, i))
        elif not self.same_scalar(a, b):
            yield Difference(format_path(path), a, b, at=path)

    def equal(self, a: Any, b: Any, path: Path, place: Place | None = None) -> bool:
        """Do ``a`` and ``b`` differ nowhere, or only where ``accept`` entries accept it?"""
        self.budget -= 1
        if self.accepting is None:
            return next(iter(self.diff(a, b, path, place)), None) is None
        return all(self.accepting(d) for d in self.diff(a, b, path, place))

    def diff_unordered(self, a: list[Any], b: list[Any], path: Path,
                       place: Place | None = None) -> Iterator[Difference]:
        """Multiset comparison: pair each model element with an equal candidate element (a
        maximum bipartite matching, so a value paired per target cannot steal another's
        partner), then report what is left on either side.

        Elements are compared one by one only within their group (``summary``), and only
        while the budget lasts; past it, a group's elements are paired first come, first
        served, and those left are reported with a note."""
        place = place or self.place(path)
        summary = self.summarizer(place)
        left: dict[int, list[int]] = {}  # summary -> model indexes
        for i, item in enumerate(a):
            left.setdefault(summary(item, self.below(place, i)), []).append(i)
        right: dict[int, list[int]] = {}  # summary -> candidate indexes, of the groups above
        for j, item in enumerate(b):
            key = summary(item, self.below(place, j))
            if key in left:
                right.setdefault(key, []).append(j)
        partner: dict[int, int] = {}  # candidate index -> model index
        cut_short = False
        for key, candidates in right.items():
            models = left[key]
            if len(models) * len(candidates) <= self.budget:
                partner.update(self._matching(a, b, models, candidates, path, place))
            else:
                cut_short |= self._first_come(a, b, models, candidates, path, place, partner)
        matched = set(partner.values())
        if self.accepting is not None:  # what the entries accepted in the pairs: reported
            for j, i in sorted(partner.items(), key=lambda pair: pair[1]):
                yield from self.diff(a[i], b[j], (*path, i), self.below(place, i))
        why = (" (not every pair of elements was compared: the lists have too many elements "
               "alike)" if cut_short else "")
        for i in range(len(a)):
            if i not in matched:
                yield Difference(format_path((*path, i)), a[i], ABSENT,
                                 "the candidate's list has no element equal to this one" + why,
                                 at=(*path, i))
        for j in range(len(b)):
            if j not in partner:
                yield Difference(format_path((*path, j)), ABSENT, b[j],
                                 "the model's list has no element equal to this one" + why,
                                 at=(*path, j))

    def _matching(self, a: list[Any], b: list[Any], left: list[int], right: list[int],
                  path: Path, place: Place) -> dict[int, int]:
        """A maximum matching of ``left`` (indexes of ``a``) to ``right`` (of ``b``), by
        augmenting paths, searched without recursion (groups may be long)."""
        options = {i: [j for j in right
                       if self.equal(a[i], b[j], (*path, i), self.below(place, i))]
                   for i in left}
        partner: dict[int, int] = {}  # candidate index -> model index
        taken: dict[int, int] = {}  # model index -> candidate index
        for start in left:
            came_from: dict[int, int] = {}  # candidate index -> the model index that saw it
            frontier, free = [start], None
            while frontier and free is None:
                i = frontier.pop()
                for j in options[i]:
                    if j in came_from:
                        continue
                    came_from[j] = i
                    if j not in partner:
                        free = j
                        break
                    frontier.append(partner[j])
            while free is not None:  # flip the path from ``start`` to the free element
                i = came_from[free]
                previous = taken.get(i)
                partner[free], taken[i] = i, free
                free = previous
        return partner

    def _first_come(self, a: list[Any], b: list[Any], left: list[int], right: list[int],
                    path: Path, place: Place, partner: dict[int, int]) -> bool:
        """Pair the elements of a group too large to compare every pair of: first each model
        element with a candidate element equal to it once its values stored per target are
        put in the candidate's terms (one comparison to confirm), then, while the budget
        lasts, with the first equal one left. True if the budget ran out."""
        partners: dict[Any, set[Any]] = {}
        for model_value, candidate_value in self.pairs:
            partners.setdefault(model_value, set()).add(candidate_value)
        translated = {x: next(iter(ys)) for x, ys in partners.items()
                      if len(ys) == 1 and isinstance(x, bool) == isinstance(next(iter(ys)), bool)}
        as_candidate = self.summarizer(place, lambda v: _scalar(translated.get(v, v)))
        itself = self.summarizer(place, _scalar)
        waiting: dict[int, list[int]] = {}
        for j in reversed(right):
            waiting.setdefault(itself(b[j], self.below(place, j)), []).append(j)
        rest = []
        for i in left:
            alike = waiting.get(as_candidate(a[i], self.below(place, i)))
            if alike and self.equal(a[i], b[alike[-1]], (*path, i), self.below(place, i)):
                partner[alike.pop()] = i
            else:
                rest.append(i)
        free = [j for j in right if j not in partner]
        for i in rest:
            for k, j in enumerate(free):
                if self.budget <= 0:
                    return True
                if self.equal(a[i], b[j], (*path, i), self.below(place, i)):
                    partner[j] = i
                    del free[k]
                    break
        return False

    def summarizer(self, place: Place, scalar: Callable[[Any], int] | None = None
                   ) -> Callable[[Any, Place], int]:
        """``summary(value, at)``: a number, the same for any two elements the rules call
        equal, for the elements of the list at ``place`` (``at``: the element's place): a
        hash of the value without its ignored places and values stored per target, with
        unordered lists as multisets. (Equal hashes of unequal elements only put them in one
        group.) When an ignore or unordered rule names an index, rules may differ from
        element to element: every element then gets the same summary. ``scalar``: how to
        hash numbers, strings... (by default, values stored per target all hash alike)."""
        patterns = (*self.ignore, *self.unordered, *self._matchers.patterns)
        if any(isinstance(s, int) or s.isdigit() for p in patterns for s in p):
            return lambda value, at: 0
        paired = {v for pair in self.pairs for v in pair}

        def erased(value: Any) -> int:
            if paired and value in paired:  # (scalars of JSON are hashable)
                return hash(("paired", isinstance(value, bool)))
            return _scalar(value)

        leaf = scalar or erased

        def plain(value: Any) -> int:  # no rule can apply below: no place to follow
            if isinstance(value, dict):
                return hash(("dict", frozenset((k, plain(v)) for k, v in value.items())))
            if isinstance(value, list):
                return hash(("list", tuple(plain(v) for v in value)))
            return leaf(value)

        def summary(value: Any, at: Place) -> int:
            if self._ignore.matches(at[0]):
                return 0
            if self.plain(at):
                return plain(value)
            if any(at[2]) and (active := self._matchers.matching(at[2])):
                erased = self.matchers.summary(active, value)
                if erased is not None:  # (values they may call equal share it)
                    return erased
            if isinstance(value, dict):
                places = {key: self.below(at, key) for key in value}
                return hash(("dict", frozenset((key, summary(item, places[key]))
                                               for key, item in value.items()
                                               if not self._ignore.matches(places[key][0]))))
            if isinstance(value, list):
                places_ = [self.below(at, n) for n in range(len(value))]
                items = [summary(item, where) for item, where in zip(value, places_, strict=True)
                         if not self._ignore.matches(where[0])]
                if self._unordered.matches(at[1]):
                    return hash(("multiset", frozenset(Counter(items).items())))
                return hash(("list", tuple(items)))
            return leaf(value)

        return summary


def _scalar(value: Any) -> int:
    """A hash of a scalar: booleans apart from numbers, 1 like 1.0, strings apart."""
    if isinstance(value, bool):
        return hash(("bool", value))
    if isinstance(value, int | float):
        return hash(("number", value))
    return hash((type(value).__name__, value))


def compare_responses(model: Response, candidate: Response, rules: CompareRules,
                      pairs: set[tuple[Any, Any]] | None = None) -> list[Difference]:
    """Every difference between two responses under ``rules``."""
    return list(iter_differences(model, candidate, rules, pairs))


def iter_differences(model: Response, candidate: Response, rules: CompareRules,
                     pairs: set[tuple[Any, Any]] | None = None,
                     accepting: Accepting | None = None) -> Iterator[Difference]:
    """``compare_responses``, one difference at a time (a caller may stop early).
    ``accepting``: the step's accepted differences, to pair elements of unordered lists that
    differ only where they are accepted (their differences are then reported, to be
    accepted)."""
    comparer = Comparer(rules, pairs or set(), accepting)
    out: list[Difference] = []
    if model.status is None or candidate.status is None:
        if (model.status is None) != (candidate.status is None):
            out.append(Difference("status", model.status if model.status is not None
                                  else f"no answer ({model.error})",
                                  candidate.status if candidate.status is not None
                                  else f"no answer ({candidate.error})", at=("status",)))
        yield from out
        return
    if comparer.ignored(("status",)):
        pass
    elif rules.status == "exact" and model.status != candidate.status:
        out.append(Difference("status", model.status, candidate.status, at=("status",)))
    elif rules.status == "class" and model.status // 100 != candidate.status // 100:
        out.append(Difference("status", model.status, candidate.status,
                              "compared by class (2xx, 4xx, ...)", at=("status",)))
    model_headers, candidate_headers = dict(model.headers), dict(candidate.headers)
    for name in rules.headers:
        path: Path = ("headers", name)
        if comparer.ignored(path):
            continue
        a, b = model_headers.get(name, ABSENT), candidate_headers.get(name, ABSENT)
        if not comparer.same_scalar(a, b) and not comparer.header_matches(path, a, b):
            out.append(Difference(format_path(path), a, b, at=path))
    yield from out
    if rules.body == "exact":
        yield from comparer.diff(model.body, candidate.body, ("body",))
