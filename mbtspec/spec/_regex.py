"""Regular expressions a spec (or an OpenAPI schema) asks values to match: are they usable?

A pattern is refused when it cannot be compiled, when it is beyond the limits that keep the
stages after the loader safe (Python's regex compiler and Hypothesis' ``from_regex`` both
recurse once per nested group: 3,000 nested groups are a ``RecursionError``), or when it can
match no string at all (``[^\\s\\S]``), so that ``mbtspec lint`` says so before ``mbtspec check``
fails to draw a value. The analysis of "matches nothing" is exact for what it recognises
(empty character classes, and what contains them necessarily) and silent otherwise.
"""

from __future__ import annotations

import re
from re import _constants as sre
from re import _parser as sre_parse
from typing import Any

#: Longest pattern read (real ones are well under a hundred characters).
MAX_PATTERN_LENGTH = 2_000
#: Deepest nesting of groups: Hypothesis' regex generator gives up from about 100.
MAX_PATTERN_NESTING = 50
_UNICODE_TOP = 0x10FFFF
_SURROGATES = (0xD800, 0xDFFF)  # never drawn: values are valid UTF-8 text
_COMPLEMENTS = {
    sre.CATEGORY_DIGIT: sre.CATEGORY_NOT_DIGIT, sre.CATEGORY_SPACE: sre.CATEGORY_NOT_SPACE,
    sre.CATEGORY_WORD: sre.CATEGORY_NOT_WORD, sre.CATEGORY_LINEBREAK: sre.CATEGORY_NOT_LINEBREAK,
}


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be used to draw or check strings, or None when it can."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        return (f"is {len(pattern):,} characters long, more than the {MAX_PATTERN_LENGTH:,} "
                "mbtspec reads; shorten it")
    depth = nesting(pattern)
    if depth > MAX_PATTERN_NESTING:
        return (f"nests groups {depth:,} levels deep, more than the {MAX_PATTERN_NESTING} "
                "mbtspec reads; flatten it (a group that holds one group adds nothing)")
    try:
        parsed = sre_parse.parse(pattern)
    except re.error as err:
        return f"is not a valid regular expression: {err}"
    except (OverflowError, RecursionError, ValueError) as err:
        return f"is not a valid regular expression: {err}"
    if _empty(parsed):
        return ("matches no string at all (it needs a character that no character is, as in "
                "[^\\s\\S], or a (?!) that always fails); write what it should allow")
    return None


def widths(pattern: str) -> tuple[int, int]:
    """The shortest and longest string ``pattern`` can match in full (a usable pattern)."""
    low, high = sre_parse.parse(pattern).getwidth()
    return int(low), int(min(high, sre.MAXREPEAT))


def nesting(pattern: str) -> int:
    """How deep groups nest in ``pattern`` (escapes and character classes skipped)."""
    depth = deepest = 0
    i, size = 0, len(pattern)
    while i < size:
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":  # a class: up to its closing ']' (a ']' right at the start is literal)
            i += 1
            if i < size and pattern[i] == "^":
                i += 1
            if i < size and pattern[i] == "]":
                i += 1
            while i < size and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth = max(0, depth - 1)
        i += 1
    return deepest


def _empty(items: Any) -> bool:
    """Can the sequence ``items`` (a parsed pattern) match nothing at all?"""
    return any(_empty_item(op, av) for op, av in items)


def _empty_item(op: Any, av: Any) -> bool:
    if op is sre.IN:
        return _empty_class(av)
    if op is sre.BRANCH:
        return all(_empty(branch) for branch in av[1])
    if op is sre.SUBPATTERN:
        return _empty(av[-1])
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", None)):
        low, _, inner = av
        return bool(low > 0 and _empty(inner))
    if op is getattr(sre, "ATOMIC_GROUP", None):
        return _empty(av)
    if op is sre.ASSERT:
        return _empty(av[1])
    if op is sre.ASSERT_NOT:
        return len(av[1]) == 0  # (?!) fails everywhere
    return False


def _empty_class(items: list[tuple[Any, Any]]) -> bool:
    negate = bool(items) and items[0][0] is sre.NEGATE
    members = items[1:] if negate else items
    categories = {av for op, av in members if op is sre.CATEGORY}
    if negate and any(_COMPLEMENTS.get(c) in categories for c in categories):
        return True  # [^\s\S]: a category and its complement exclude everything
    if categories or any(op not in (sre.LITERAL, sre.RANGE) for op, _ in members):
        return False  # categories alone (or anything else) always leave some character
    spans = sorted((av, av) if op is sre.LITERAL else av for op, av in members)
    covered: list[tuple[int, int]] = []
    for low, high in sorted([*spans, _SURROGATES]):  # surrogates count as excluded
        if covered and low <= covered[-1][1] + 1:
            covered[-1] = (covered[-1][0], max(covered[-1][1], high))
        else:
            covered.append((low, high))
    if negate:
        return len(covered) == 1 and covered[0] == (0, _UNICODE_TOP)
    return all(_SURROGATES[0] <= low and high <= _SURROGATES[1] for low, high in spans)
