"""Structural comparison of two responses, path by path.

Rules: ``ignore`` paths are skipped, ``unordered`` arrays are compared as multisets, and values
stored per target (the model's id 5, the candidate's id 1005) count as equal. Booleans never
equal numbers; 1 equals 1.0 (JSON has one number type).
"""

from __future__ import annotations

from collections.abc import Iterator
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
        return next(iter(self.diff(a, b, path)), None) is None

    def diff_unordered(self, a: list[Any], b: list[Any], path: Path) -> Iterator[Difference]:
        """Multiset comparison: pair each model element with an equal candidate element (a
        maximum bipartite matching, so a value paired per target cannot steal another's
        partner), then report what is left on either side."""
        options = [[j for j in range(len(b)) if self.equal(item, b[j], (*path, i))]
                   for i, item in enumerate(a)]
        partner: dict[int, int] = {}  # candidate index -> model index

        def assign(i: int, seen: set[int]) -> bool:
            for j in options[i]:
                if j in seen:
                    continue
                seen.add(j)
                if j not in partner or assign(partner[j], seen):
                    partner[j] = i
                    return True
            return False

        matched = {i for i in range(len(a)) if assign(i, set())}
        for i in range(len(a)):
            if i not in matched:
                yield Difference(format_path((*path, i)), a[i], ABSENT,
                                 "the candidate's list has no element equal to this one")
        for j in range(len(b)):
            if j not in partner:
                yield Difference(format_path((*path, j)), ABSENT, b[j],
                                 "the model's list has no element equal to this one")


def compare_responses(model: Response, candidate: Response, rules: CompareRules,
                      pairs: set[tuple[Any, Any]] | None = None) -> list[Difference]:
    """Every difference between two responses under ``rules``."""
    comparer = Comparer(rules, pairs or set())
    out: list[Difference] = []
    if model.status is None or candidate.status is None:
        if (model.status is None) != (candidate.status is None):
            out.append(Difference("status", model.status if model.status is not None
                                  else f"no answer ({model.error})",
                                  candidate.status if candidate.status is not None
                                  else f"no answer ({candidate.error})"))
        return out
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
    if rules.body == "exact":
        out.extend(comparer.diff(model.body, candidate.body, ("body",)))
    return out
