"""Boundary values of one place of a request: each limit its schema sets, and just past it.

For a place whose schema sets them (first type of the schema):

=====================  ====================================================================
schema                 values tried
=====================  ====================================================================
``minimum: m``         ``m`` (valid) and ``m - 1``
``maximum: M``         ``M`` (valid) and ``M + 1``
``exclusiveMinimum``   the bound itself (invalid) and, for integers, the bound + 1
``exclusiveMaximum``   the bound itself (invalid) and, for integers, the bound - 1
``minLength: n``       ``n`` characters (valid) and ``n - 1`` (when n > 0)
``maxLength: N``       ``N`` characters (valid) and ``N + 1``
a string               the empty string (valid or not, as its schema says)
``enum``               a value outside it: the first listed text in upper case (or with
                       ``_x`` added when that is listed too); for other values, ``null``
``type``               one value of another type: ``"1"`` for a number, ``1`` for a string,
                       ``"true"`` for a boolean, ``[]`` for an object, ``{}`` for an array;
                       a parameter typed number or boolean gets ``x``
required               the place left out (not for path parameters)
=====================  ====================================================================

Strings of a given length are made of ``a``; a string with a ``pattern`` gets no length
values (``a`` would not match it). Each value is checked against the schema as the server
reads it (``Site.verdict``): a valid one is a ``boundary`` change, an invalid one an
``invalid`` change; one that is neither (a number sent as text that reads back as valid) is
left out. At most ``PER_PLACE`` values per place; repeated values count once.
"""

from __future__ import annotations

import math
from typing import Any, TypeGuard

from mbtspec.compiler._inputs import MISSING, InputChange, Site, shown_value

#: Boundary values tried for one place at most.
PER_PLACE = 10
#: Boundary values tried for one action at most (its places in order: parameters, body).
PER_ACTION = 40
_WRONG_TYPE = {"integer": "1", "number": "1.5", "string": 1, "boolean": "true",
               "object": [], "array": {}, "null": 0}


def boundary_changes(site: Site) -> list[InputChange]:
    """The boundary values of ``site``, in the order of the table above (for a place that
    keeps its value, only leaving it out)."""
    if site.keep_value:
        return [InputChange("invalid", site.location, site.name, MISSING, "missing (required)")
                ] if site.required and site.location != "path" else []
    schema = site.json_schema if isinstance(site.json_schema, dict) else {}
    kinds = schema.get("type")
    kind = kinds if isinstance(kinds, str) else (kinds[0] if isinstance(kinds, list) and kinds
                                                 else None)
    candidates: list[tuple[Any, str]] = []
    if kind in ("integer", "number"):
        candidates += _numbers(schema, kind == "integer")
    if kind == "string" or (kind is None and ("minLength" in schema or "maxLength" in schema)):
        candidates += _strings(schema)
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        candidates.append((_outside(schema["enum"]), ""))
    if kind in _WRONG_TYPE:  # (as text, a number or boolean is anything that reads as none)
        candidates.append(("x" if site.as_text and kind in ("integer", "number", "boolean")
                           else _WRONG_TYPE[kind], ""))
    if site.required and site.location != "path":
        candidates.append((MISSING, ""))
    out: list[InputChange] = []
    seen: set[str] = set()
    for value, at_limit in candidates:
        key = "missing" if value is MISSING else shown_value(value, 10**6) + type(value).__name__
        if key in seen:
            continue
        seen.add(key)
        change = site.change(value)
        if change is None and at_limit and _reads_same(site, value):
            change = InputChange("boundary", site.location, site.name, value, at_limit)
        if change is not None:
            out.append(change)
        if len(out) == PER_PLACE:
            break
    return out


def _numbers(schema: dict[str, Any], integer: bool) -> list[tuple[Any, str]]:
    out: list[tuple[Any, str]] = []
    for key, sign in (("minimum", -1), ("maximum", 1)):
        bound = schema.get(key)
        if _finite(bound):
            limit = _whole(bound, integer, down=sign > 0)
            out += [(limit, f"at {key} {bound}"), (limit + sign, "")]
    for key, sign in (("exclusiveMinimum", 1), ("exclusiveMaximum", -1)):
        bound = schema.get(key)
        if _finite(bound):
            out.append((_whole(bound, integer, down=sign > 0), ""))
            if integer and bound == int(bound):
                out.append((int(bound) + sign, f"next to {key} {bound}"))
    return out


def _strings(schema: dict[str, Any]) -> list[tuple[Any, str]]:
    out: list[tuple[Any, str]] = []
    if "pattern" not in schema:
        low, high = schema.get("minLength"), schema.get("maxLength")
        if isinstance(low, int) and not isinstance(low, bool) and 0 < low <= 10_000:
            out += [("a" * low, f"at minLength {low}"), ("a" * (low - 1), "")]
        if isinstance(high, int) and not isinstance(high, bool) and 0 <= high <= 10_000:
            out += [("a" * high, f"at maxLength {high}"), ("a" * (high + 1), "")]
    out.append(("", "an empty string"))
    return out


def _outside(options: list[Any]) -> Any:
    texts = [o for o in options if isinstance(o, str)]
    if not texts:
        return None if None not in options else "not listed"
    upper = texts[0].upper()
    return upper if upper not in options else texts[0] + "_x"


def _finite(bound: Any) -> TypeGuard[int | float]:
    return isinstance(bound, int | float) and not isinstance(bound, bool) and math.isfinite(
        bound) and abs(bound) < 2**63


def _whole(bound: int | float, integer: bool, down: bool) -> int | float:
    """An integer schema's bound as an integer (a bound of 2.5 is 3 from below, 2 from
    above)."""
    if not integer:
        return bound
    return math.floor(bound) if down else math.ceil(bound)


def _reads_same(site: Site, value: Any) -> bool:
    """A valid boundary value must stay what it is when sent: a number parameter travels as
    text and reads back as the same number."""
    return True if not site.as_text else value in site.readings(value)
