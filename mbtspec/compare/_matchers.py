"""Matchers: the compare rules that let two different values count as equal.

Each ``Matcher`` of the spec names places (``body.total``, ``body.**.createdAt``) and applies
there and inside them. Where it applies, two values that the plain rules call different are
equal when the matcher says so:

- ``loose_types``: the same value written as another type: ``1`` and ``"1"`` (a string that is
  the JSON text of a number, of any form ``1.0``, ``1e0``), ``true`` and ``"true"``, ``null``
  and ``"null"``. A boolean is still never a number.
- ``tolerance``: two numbers (not booleans) whose difference is at most ``absolute``, or at
  most ``relative`` times the larger of their sizes.
- ``format``: two strings that both have the format (``date-time``, ``uuid``: see
  ``spec.formats``); ``pattern``: two strings that both match the regular expression in full.
- ``present``: any two values, as long as both sides have one (the comparer stops there).

A matcher never makes equal values differ: values it does not apply to (a number where a
format is expected) are compared by the plain rules.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

from mbtspec.spec.formats import FORMATS
from mbtspec.spec.model import Matcher

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_WORDS: dict[str, Any] = {"true": True, "false": False, "null": None}
#: Summaries (see ``summary``) of the values a matcher may call equal to others.
_ANY_NUMBER, _ANY_STRING, _ANY_VALUE = hash("any number"), hash("any string"), hash("any value")


class Matchers:
    """The matchers of one set of compare rules; ``active`` arguments are the indexes of those
    that apply at a place. ``accepted`` more indexes stand for the places of ``accept``
    entries: they make nothing equal, but values there may pair (see ``summary``)."""

    def __init__(self, matchers: tuple[Matcher, ...], accepted: int = 0) -> None:
        self.matchers = matchers
        self._present = frozenset(i for i, m in enumerate(matchers) if m.kind == "present")
        self._anything = self._present | frozenset(range(len(matchers),
                                                         len(matchers) + accepted))

    def __bool__(self) -> bool:
        return bool(self.matchers)

    def present(self, active: tuple[int, ...]) -> bool:
        """Is a ``present`` matcher among ``active``?"""
        return any(i in self._present for i in active)

    def equal(self, active: tuple[int, ...], a: Any, b: Any) -> bool:
        """Does one of the ``active`` matchers call the two scalars ``a`` and ``b`` equal?"""
        return any(_equal(self.matchers[i], a, b) for i in active if i < len(self.matchers))

    def summary(self, active: tuple[int, ...], value: Any) -> int | None:
        """A number that every value the ``active`` matchers may call equal to ``value``
        shares (for grouping the elements of unordered lists), or None when only the plain
        rules decide (the caller then summarizes ``value`` as usual)."""
        if any(i in self._anything for i in active):  # (accepted: any value may pair)
            return _ANY_VALUE
        if isinstance(value, dict | list):
            return None  # the places inside have their own say
        kinds = {self.matchers[i].kind for i in active}
        if kinds == {"tolerance"}:
            return _ANY_NUMBER if _is_number(value) else None
        if kinds <= {"format", "pattern"}:
            return _ANY_STRING if isinstance(value, str) else None
        return _ANY_VALUE  # loose types, or several kinds at once: coarse, but safe


def _equal(matcher: Matcher, a: Any, b: Any) -> bool:
    kind = matcher.kind
    if kind == "tolerance":
        if not (_is_number(a) and _is_number(b)):
            return False
        margin = max(matcher.absolute, matcher.relative * max(abs(a), abs(b)))
        gap = abs(a - b)  # (1.01 - 1.0 is 0.010000000000000009: within 0.01 all the same)
        return bool(gap <= margin or math.isclose(gap, margin, rel_tol=1e-9))
    if kind == "format":
        check = FORMATS[matcher.format]
        return isinstance(a, str) and isinstance(b, str) and check(a) and check(b)
    if kind == "pattern":
        regex = _compiled(matcher.format)
        return (isinstance(a, str) and isinstance(b, str) and regex.fullmatch(a) is not None
                and regex.fullmatch(b) is not None)
    if kind == "loose_types":
        return _same_loosely(a, b)
    return False  # present: decided by the comparer, which knows what is absent


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same_loosely(a: Any, b: Any) -> bool:
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return False
    a, b = _scalar_of(a), _scalar_of(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    return type(a) is type(b) and a == b


def _scalar_of(value: Any) -> Any:
    """What a string stands for, when it is the JSON text of a number, boolean or null."""
    if not isinstance(value, str):
        return value
    if value in _WORDS:
        return _WORDS[value]
    if len(value) <= 400 and _NUMBER.fullmatch(value):  # (longer: not a number to read)
        return float(value) if any(c in value for c in ".eE") else int(value)
    return value


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)
