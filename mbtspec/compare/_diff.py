"""Structural comparison of two responses, path by path.

Rules: ``ignore`` paths are skipped, ``unordered`` arrays are compared as multisets, and values
stored per target (the model's id 5, the candidate's id 1005) count as equal. Booleans never
equal numbers; 1 equals 1.0 (JSON has one number type).

Time grows linearly with the size of the bodies, unordered arrays included: their elements are
first sorted into groups that only equal elements can share (by a summary of each element that
leaves out what the rules let differ), and only elements of the same group are compared one by
one. At most ``MATCH_BUDGET`` such comparisons are made per response; past it, the elements
still unpaired are reported as such, with a note that says why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from mbtspec.executor.records import Difference, Response
from mbtspec.spec._paths import matches
from mbtspec.spec.model import CompareRules
from mbtspec.spec.problems import format_path

Path = tuple[str | int, ...]


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


ABSENT: Any = _Absent()

#: Element-by-element comparisons allowed per response pair, for unordered lists (about a
#: second of work): enough for two lists of 400 elements all alike.
MATCH_BUDGET = 200_000


@lru_cache(maxsize=65536)
def _ignored(patterns: tuple[tuple[str | int, ...], ...], path: Path) -> bool:
    return any(matches(p, path[:n]) for p in patterns for n in range(1, len(path) + 1))


@lru_cache(maxsize=65536)
def _unordered(patterns: tuple[tuple[str | int, ...], ...], path: Path) -> bool:
    return any(matches(p, path) for p in patterns)


class Comparer:
    def __init__(self, rules: CompareRules, pairs: set[tuple[Any, Any]]) -> None:
        self.rules = rules
        self.pairs = pairs
        self.ignore = tuple(p.segments for p in rules.ignore)
        self.unordered = tuple(p.segments for p in rules.unordered)
        self.budget = MATCH_BUDGET  # element comparisons left for unordered lists

    def ignored(self, path: Path) -> bool:
        """Is ``path``, or a place that contains it, ignored? (Paths recur from step to step:
        the answers are remembered.)"""
        return bool(self.ignore) and _ignored(self.ignore, path)

    def is_unordered(self, path: Path) -> bool:
        return bool(self.unordered) and _unordered(self.unordered, path)

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

    def diff(self, a: Any, b: Any, path: Path) -> Iterator[Difference]:
        if self.ignored(path):
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for key in list(a) + [k for k in b if k not in a]:
                yield from self.diff(a.get(key, ABSENT), b.get(key, ABSENT), (*path, key))
            return
        if isinstance(a, list) and isinstance(b, list):
            if self.is_unordered(path):
                yield from self.diff_unordered(a, b, path)
                return
            for i in range(max(len(a), len(b))):
                yield from self.diff(a[i] if i < len(a) else ABSENT,
                                     b[i] if i < len(b) else ABSENT, (*path, i))
            return
        if not self.same_scalar(a, b):
            yield Difference(format_path(path), a, b)

    def equal(self, a: Any, b: Any, path: Path) -> bool:
        self.budget -= 1
        return next(iter(self.diff(a, b, path)), None) is None

    def diff_unordered(self, a: list[Any], b: list[Any], path: Path) -> Iterator[Difference]:
        """Multiset comparison: pair each model element with an equal candidate element (a
        maximum bipartite matching, so a value paired per target cannot steal another's
        partner), then report what is left on either side.

        Elements are compared one by one only within their group (``summary``), and only
        while the budget lasts; past it, a group's elements are paired first come, first
        served, and those left are reported with a note."""
        summary = self.summarizer(path)
        left: dict[int, list[int]] = {}  # summary -> model indexes
        for i, item in enumerate(a):
            left.setdefault(summary(item, (*path, i)), []).append(i)
        right: dict[int, list[int]] = {}  # summary -> candidate indexes, of the groups above
        for j, item in enumerate(b):
            key = summary(item, (*path, j))
            if key in left:
                right.setdefault(key, []).append(j)
        partner: dict[int, int] = {}  # candidate index -> model index
        cut_short = False
        for key, candidates in right.items():
            models = left[key]
            if len(models) * len(candidates) <= self.budget:
                partner.update(self._matching(a, b, models, candidates, path))
            else:
                cut_short |= self._first_come(a, b, models, candidates, path, partner)
        matched = set(partner.values())
        why = (" (not every pair of elements was compared: the lists have too many elements "
               "alike)" if cut_short else "")
        for i in range(len(a)):
            if i not in matched:
                yield Difference(format_path((*path, i)), a[i], ABSENT,
                                 "the candidate's list has no element equal to this one" + why)
        for j in range(len(b)):
            if j not in partner:
                yield Difference(format_path((*path, j)), ABSENT, b[j],
                                 "the model's list has no element equal to this one" + why)

    def _matching(self, a: list[Any], b: list[Any], left: list[int], right: list[int],
                  path: Path) -> dict[int, int]:
        """A maximum matching of ``left`` (indexes of ``a``) to ``right`` (of ``b``), by
        augmenting paths, searched without recursion (groups may be long)."""
        options = {i: [j for j in right if self.equal(a[i], b[j], (*path, i))] for i in left}
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
                    path: Path, partner: dict[int, int]) -> bool:
        """Pair the elements of a group too large to compare every pair of: first each model
        element with a candidate element equal to it once its values stored per target are
        put in the candidate's terms (one comparison to confirm), then, while the budget
        lasts, with the first equal one left. True if the budget ran out."""
        partners: dict[Any, set[Any]] = {}
        for model_value, candidate_value in self.pairs:
            partners.setdefault(model_value, set()).add(candidate_value)
        translated = {x: next(iter(ys)) for x, ys in partners.items()
                      if len(ys) == 1 and isinstance(x, bool) == isinstance(next(iter(ys)), bool)}
        as_candidate = self.summarizer(path, lambda v: _scalar(translated.get(v, v)))
        itself = self.summarizer(path, _scalar)
        waiting: dict[int, list[int]] = {}
        for j in reversed(right):
            waiting.setdefault(itself(b[j], (*path, j)), []).append(j)
        rest = []
        for i in left:
            alike = waiting.get(as_candidate(a[i], (*path, i)))
            if alike and self.equal(a[i], b[alike[-1]], (*path, i)):
                partner[alike.pop()] = i
            else:
                rest.append(i)
        free = [j for j in right if j not in partner]
        for i in rest:
            for k, j in enumerate(free):
                if self.budget <= 0:
                    return True
                if self.equal(a[i], b[j], (*path, i)):
                    partner[j] = i
                    del free[k]
                    break
        return False

    def summarizer(self, path: Path, scalar: Callable[[Any], int] | None = None
                   ) -> Callable[[Any, Path], int]:
        """``summary(value, at)``: a number, the same for any two elements the rules call
        equal, at the elements of the list at ``path``: a hash of the value without its
        ignored places and values stored per target, with unordered lists as multisets.
        (Equal hashes of unequal elements only put them in one group.) When an ignore or
        unordered rule names an index, rules may differ from element to element: every
        element then gets the same summary. ``scalar``: how to hash numbers, strings, ...
        (by default, values stored per target all hash alike)."""
        patterns = (*self.ignore, *self.unordered)
        if any(isinstance(s, int) or s.isdigit() for p in patterns for s in p):
            return lambda value, at: 0
        paired = {v for pair in self.pairs for v in pair}

        def erased(value: Any) -> int:
            if paired and value in paired:  # (scalars of JSON are hashable)
                return hash(("paired", isinstance(value, bool)))
            return _scalar(value)

        leaf = scalar or erased

        def plain(value: Any) -> int:  # no rule can apply below: no path to follow
            if isinstance(value, dict):
                return hash(("dict", frozenset((k, plain(v)) for k, v in value.items())))
            if isinstance(value, list):
                return hash(("list", tuple(plain(v) for v in value)))
            return leaf(value)

        def summary(value: Any, at: Path) -> int:
            if self.ignored(at):
                return 0
            if isinstance(value, dict):
                return hash(("dict", frozenset((key, summary(item, (*at, key)))
                                               for key, item in value.items()
                                               if not self.ignored((*at, key)))))
            if isinstance(value, list):
                items = [summary(item, (*at, n)) for n, item in enumerate(value)
                         if not self.ignored((*at, n))]
                if self.is_unordered(at):
                    return hash(("multiset", frozenset(Counter(items).items())))
                return hash(("list", tuple(items)))
            return leaf(value)

        below = len(path) + 1
        if any("**" in p or (len(p) >= below and matches(p[:len(path)], path))
               for p in patterns):
            return summary
        return lambda value, at: plain(value)  # no rule applies to the elements


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
                     pairs: set[tuple[Any, Any]] | None = None) -> Iterator[Difference]:
    """``compare_responses``, one difference at a time (a caller may stop early)."""
    comparer = Comparer(rules, pairs or set())
    out: list[Difference] = []
    if model.status is None or candidate.status is None:
        if (model.status is None) != (candidate.status is None):
            out.append(Difference("status", model.status if model.status is not None
                                  else f"no answer ({model.error})",
                                  candidate.status if candidate.status is not None
                                  else f"no answer ({candidate.error})"))
        yield from out
        return
    if comparer.ignored(("status",)):
        pass
    elif rules.status == "exact" and model.status != candidate.status:
        out.append(Difference("status", model.status, candidate.status))
    elif rules.status == "class" and model.status // 100 != candidate.status // 100:
        out.append(Difference("status", model.status, candidate.status,
                              "compared by class (2xx, 4xx, ...)"))
    model_headers, candidate_headers = dict(model.headers), dict(candidate.headers)
    for name in rules.headers:
        path: Path = ("headers", name)
        if comparer.ignored(path):
            continue
        a, b = model_headers.get(name, ABSENT), candidate_headers.get(name, ABSENT)
        if not comparer.same_scalar(a, b):
            out.append(Difference(format_path(path), a, b))
    yield from out
    if rules.body == "exact":
        yield from comparer.diff(model.body, candidate.body, ("body",))
