"""Build ``compare`` (paths, matchers, cases) and ``accept`` (known differences) from a spec.

Part of building the ``Spec`` (see ``_build``): every problem goes to the builder with its
position, and building carries on, so that one pass reports them all. What is checked here
that the JSON Schema cannot check: paths that can be read, format names, regular expressions,
tolerances, the actions an entry names, and values that can never differ.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from mbtspec.spec import model as m
from mbtspec.spec._paths import PathSyntaxError, parse_path
from mbtspec.spec._regex import pattern_problem
from mbtspec.spec.formats import FORMATS
from mbtspec.spec.problems import did_you_mean

if TYPE_CHECKING:
    from mbtspec.spec._build import Builder
    from mbtspec.spec._yaml import JsonPath

#: Names available in the ``when`` of an accept entry or a compare case.
STEP_VARS = frozenset({"model", "candidate", "request", "action"})
_STATUS = re.compile(r"[1-5](?:[0-9][0-9]|XX)")
_PERCENT = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*%\s*")


def build_compare(builder: Builder, spec: dict[str, Any], path: JsonPath,
                  base: m.CompareRules) -> m.CompareRules:
    """The rules of a ``compare`` block, merged over ``base`` (the top-level rules, for an
    action): ``status``, ``body`` and ``headers`` replace, the rest is added."""
    added = _additions(builder, spec, path)
    cases = tuple(case for i, item in enumerate(spec.get("cases") or [])
                  if (case := _case(builder, item, (*path, "cases", i))) is not None)
    return m.CompareRules(
        status=spec.get("status", base.status),
        body=spec.get("body", base.body),
        headers=tuple(h.lower() for h in spec["headers"]) if "headers" in spec
        else base.headers,
        ignore=base.ignore + added.ignore,
        unordered=base.unordered + added.unordered,
        matchers=base.matchers + added.matchers,
        cases=base.cases + cases,
    )


def _additions(builder: Builder, spec: dict[str, Any], path: JsonPath) -> m.CompareRules:
    """The paths and matchers of a ``compare`` block (or a case), in a ``CompareRules``."""

    def patterns(key: str) -> list[tuple[m.PathPattern, JsonPath]]:
        out = []
        for i, text in enumerate(spec.get(key) or []):
            where: JsonPath = (*path, key, i)
            if (pattern := _path(builder, text, where)) is not None:
                out.append((pattern, where))
        return out

    def places(key: str) -> list[tuple[m.PathPattern, Any, JsonPath]]:
        out = []
        for text, setting in (spec.get(key) or {}).items():
            where: JsonPath = (*path, key, text)
            if (pattern := _path(builder, text, where, key=True)) is not None:
                out.append((pattern, setting, where))
        return out

    matchers = [m.Matcher(p, "loose_types") for p, _ in patterns("loose_types")]
    for place, setting, where in places("tolerance"):
        tolerance = _tolerance(builder, setting, where)
        if tolerance is not None:
            matchers.append(m.Matcher(place, "tolerance", *tolerance))
    for place, name, where in places("format"):
        if name in FORMATS:
            matchers.append(m.Matcher(place, "format", format=name))
        else:
            builder.problem(where, "unknown-format",
                            f"no format '{name}'{did_you_mean(name, FORMATS)}; the formats are "
                            f"{', '.join(FORMATS)} (for another form, use 'pattern:' with a "
                            "regular expression)")
    for place, regex, where in places("pattern"):
        why = pattern_problem(regex)
        if why is None:
            matchers.append(m.Matcher(place, "pattern", format=regex))
        else:
            builder.problem(where, "invalid-pattern", f"the pattern {why}")
    matchers += [m.Matcher(p, "present") for p, _ in patterns("present")]
    return m.CompareRules(ignore=tuple(p for p, _ in patterns("ignore")),
                          unordered=tuple(p for p, _ in patterns("unordered")),
                          matchers=tuple(matchers))


def _path(builder: Builder, text: str, where: JsonPath,
          key: bool = False) -> m.PathPattern | None:
    try:
        return parse_path(text)
    except PathSyntaxError as err:
        builder.problem(where, "invalid-path", str(err), key=key)
        return None


def _tolerance(builder: Builder, setting: Any, where: JsonPath) -> tuple[float, float] | None:
    """(absolute, relative) from ``0.01``, ``"1%"`` or ``{absolute: 0.01, relative: 1%}``."""
    absolute: Any = 0.0
    relative: Any = "0%"
    if isinstance(setting, dict):
        absolute = setting.get("absolute", 0.0)
        relative = setting.get("relative", "0%")
        places = {"absolute": (*where, "absolute"), "relative": (*where, "relative")}
    elif isinstance(setting, str):
        relative, places = setting, {"relative": where}
    else:
        absolute, places = setting, {"absolute": where}
    fine = True
    if "absolute" in places and (isinstance(absolute, bool) or not math.isfinite(absolute)
                                 or absolute < 0):
        builder.problem(places["absolute"], "invalid-tolerance",
                        f"the tolerance {absolute!r} must be a number, 0 or more (the largest "
                        "difference allowed), e.g. 0.01")
        fine = False
    share = _PERCENT.fullmatch(relative) if isinstance(relative, str) else None
    if "relative" in places and share is None:
        builder.problem(places["relative"], "invalid-tolerance",
                        f"the relative tolerance {relative!r} must be a percentage, 0% or "
                        "more, e.g. 1% or 0.5% (an absolute one is a number: 0.01)")
        fine = False
    if not fine:
        return None
    return float(absolute), float(share[1]) / 100 if share else 0.0


def _case(builder: Builder, item: dict[str, Any], path: JsonPath) -> m.CompareCase | None:
    if "when_status" not in item and "when" not in item:
        builder.problem(path, "missing-key",
                        "a case needs a condition: 'when_status: 404' (both statuses are 404) "
                        "or 'when: <CEL expression>', or both")
    codes = item.get("when_status")
    listed = codes if isinstance(codes, list) else [codes] if codes is not None else []
    statuses = []
    for n, code in enumerate(listed):
        text = str(code).upper()
        if isinstance(code, bool) or not _STATUS.fullmatch(text):
            at = (*path, "when_status", n) if isinstance(codes, list) else (*path, "when_status")
            builder.problem(at, "invalid-value",
                            f"{code!r} is not a status code or class: write a number from 100 "
                            "to 599 (404) or a class (4XX)")
        statuses.append(text)
    when = (builder.expression(item["when"], (*path, "when"), STEP_VARS, "compare case 'when'")
            if "when" in item else None)
    added = _additions(builder, item, path)
    if "when" in item and when is None:
        return None
    return m.CompareCase(
        mark=builder.positions.of(path), statuses=tuple(statuses), when=when,
        status=item.get("status"), body=item.get("body"),
        headers=tuple(h.lower() for h in item["headers"]) if "headers" in item else None,
        added=added)


def build_accept(builder: Builder, items: list[dict[str, Any]], path: JsonPath,
                 actions: list[str], own: str | None = None) -> tuple[m.AcceptEntry, ...]:
    """The entries of an ``accept`` list: the top level's (``own`` None: each may name its
    ``action``), or those of the action ``own``."""
    out = []
    for i, item in enumerate(items):
        where: JsonPath = (*path, i)
        place = _path(builder, item["place"], (*where, "place"))
        names = item.get("action", [])
        names = [names] if isinstance(names, str) else names
        for n, name in enumerate(names):
            if name not in actions:
                at = (*where, "action", n) if isinstance(item["action"], list) else (
                    *where, "action")
                builder.problem(at, "unknown-action",
                                f"no action '{name}'{did_you_mean(name, actions)}; the actions "
                                f"are {', '.join(actions)}")
        when = (builder.expression(item["when"], (*where, "when"), STEP_VARS, "accept 'when'")
                if "when" in item else None)
        values = {side: item.get(side, m.ANY) for side in ("model", "candidate")}
        if m.same_json(values["model"], values["candidate"]) and "model" in item:
            builder.problem(where, "invalid-accept",
                            "'model' and 'candidate' are the same value, which is never a "
                            "difference: this entry can never match; write the two values "
                            "each side answers")
        if place is not None and place.segments == ("status",):
            for side, value in values.items():
                if value is not m.ANY and (isinstance(value, bool) or not isinstance(value, int)
                                           or not 100 <= value <= 599):
                    builder.problem((*where, side), "invalid-accept",
                                    f"{value!r} is not a status code, so the status is never "
                                    f"{value!r}: write a number from 100 to 599, e.g. 422")
        if place is None or ("when" in item and when is None):
            continue
        mark = builder.positions.of(where)
        out.append(m.AcceptEntry(
            reason=item["reason"], place=place,
            where=f"{builder.positions.file}:{mark.line}:{mark.column}", mark=mark,
            actions=(own,) if own else tuple(names), model=values["model"],
            candidate=values["candidate"], when=when))
    return tuple(out)
