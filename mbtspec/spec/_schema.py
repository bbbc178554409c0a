"""Check a parsed spec against the format's JSON Schema, in the user's words.

The schema (``mbtspec.schema.json``, also published in ``schemas/``) is the one editors use;
here each jsonschema error is reworded per keyword and placed at its line and column.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

from mbtspec.spec._values import GENERATOR_KEYWORDS
from mbtspec.spec._yaml import Positions
from mbtspec.spec.problems import Problem, did_you_mean

_TYPE_NAMES = {
    "object": "a mapping", "array": "a list", "string": "a string", "integer": "a whole number",
    "number": "a number", "boolean": "true or false", "null": "null",
}
_HINTS = {
    ("targets", "*", "app"): "write it as module:attribute, e.g. myservice.main:app",
    ("targets", "*", "base_url"): "write a URL starting with http:// or https://",
    ("reset", "*", "request"): "write it as 'METHOD /path', e.g. POST /__reset",
    ("targets", "*", "ready", "path"): "write a path starting with /",
    ("targets", "*", "max_response_size"): "write a number of bytes or a size such as "
                                           "'16 MiB', '512 KiB' or '2 MB'",
}


@cache
def spec_schema() -> dict[str, Any]:
    """The JSON Schema of the spec file format."""
    text = resources.files("mbtspec.spec").joinpath("mbtspec.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(spec_schema())


def iter_schema_problems(data: Any, positions: Positions) -> Iterator[Problem]:
    """Every place where ``data`` breaks the schema, one problem per place."""
    seen: set[tuple[tuple[Any, ...], str]] = set()
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.path)))
    for error in _leaves(errors):
        path = tuple(error.absolute_path)
        found = _reword(error, path, positions)
        for problem in found if isinstance(found, list) else [found] if found else []:
            key = (path, problem.message)
            if key not in seen:
                seen.add(key)
                yield problem


def _leaves(errors: list[Any]) -> Iterator[Any]:
    for error in errors:
        if error.validator in ("anyOf", "oneOf") and error.context:
            # the branch that got furthest says best what is wrong
            deepest = max(error.context, key=lambda e: (len(e.absolute_path), -len(e.message)))
            if len(deepest.absolute_path) > len(error.absolute_path):
                yield from _leaves([deepest])
                continue
            # the branch of the value's type says best what is wrong (e.g. a number of
            # branches out of range, where a mapping would do as well); not where the
            # schema says itself what the value may be ("x-message")
            typed = [e for e in error.context if e.validator != "type"
                     and e.absolute_path == error.absolute_path]
            if len(typed) == 1 and "x-message" not in error.schema:
                yield from _leaves(typed)
                continue
        yield error


def _hint(path: tuple[Any, ...]) -> str:
    for pattern, hint in _HINTS.items():
        if len(pattern) == len(path) and all(
                p in ("*", q) for p, q in zip(pattern, path, strict=True)):
            return hint
    return ""


def _reword(error: Any, path: tuple[Any, ...],
            positions: Positions) -> list[Problem] | Problem | None:
    kind = error.validator
    value = error.instance
    if kind == "required":
        missing = [name for name in error.validator_value if name not in (value or {})]
        return [positions.problem(path, "missing-key", f"missing required key '{name}'"
                                  + _required_hint(path, name)) for name in missing]
    if kind == "additionalProperties":
        allowed = list((error.schema.get("properties") or {}).keys())
        extras = [k for k in value if k not in allowed] if isinstance(value, dict) else []
        keywords = [k for k in value if k in GENERATOR_KEYWORDS] if isinstance(value, dict) else []
        if len(keywords) > 1 and set(extras) & set(keywords):
            return positions.problem(
                (*path, keywords[-1]), "ambiguous-generator",
                f"a value can use one generator, not {' and '.join(keywords)}; to send an "
                "object with these keys literally, wrap it in {const: ...}", key=True)
        problems = [
            positions.problem((*path, extra), "unknown-key",
                              f"unknown key '{extra}'{did_you_mean(extra, allowed)}"
                              + (f"; allowed keys: {', '.join(allowed)}" if allowed and not
                                 did_you_mean(extra, allowed) else "")
                              + _unknown_key_hint(path, extra), key=True)
            for extra in extras
        ]
        return problems  # each extra key at its own place
    if kind == "type":
        expected = error.validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        return positions.problem(
            path, "wrong-type",
            f"expected {' or '.join(_TYPE_NAMES.get(n, n) for n in names)}, "
            f"got {_describe(value)}",
        )
    if kind in ("enum", "const"):
        options = error.validator_value if kind == "enum" else [error.validator_value]
        shown = ", ".join(repr(o) for o in options)
        hint = did_you_mean(str(value), [str(o) for o in options]) if isinstance(value, str) else ""
        return positions.problem(path, "invalid-value",
                                 f"{value!r} is not allowed here{hint}; use one of: {shown}")
    if kind == "pattern" and "propertyNames" in error.absolute_schema_path:
        return positions.problem(
            (*path, value), "invalid-value",
            f"'{value}' is not a valid name: use letters, digits and _, not starting with a "
            "digit", key=True)
    if kind == "pattern":
        hint = _hint(path) or f"it must match the pattern {error.validator_value}"
        return positions.problem(path, "invalid-value", f"{value!r} is not valid here: {hint}")
    if kind == "propertyNames":
        return None  # reported through its 'pattern' sub-error
    if kind in ("minItems", "minProperties", "minLength"):
        return positions.problem(path, "empty", "must not be empty")
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        words = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "more than",
                 "exclusiveMaximum": "less than"}
        return positions.problem(path, "out-of-range",
                                 f"{value!r} must be {words[kind]} {error.validator_value}")
    if kind in ("anyOf", "oneOf") and "x-message" in error.schema:
        # a mapping where a mapping may stand: what is wrong inside it says more
        inside = [e for e in error.context if isinstance(value, dict)
                  and e.schema.get("type") == "object" and e.validator != "type"]
        if inside:
            return [p for e in inside for p in _as_list(_reword(e, path, positions))]
        return positions.problem(path, "invalid-value", error.schema["x-message"])
    if kind == "maxProperties":
        return positions.problem(path, "invalid-value", "takes no options here: write {}")
    return positions.problem(path, "schema", error.message)


def _as_list(found: list[Problem] | Problem | None) -> list[Problem]:
    return found if isinstance(found, list) else [found] if found else []


def _unknown_key_hint(path: tuple[Any, ...], name: str) -> str:
    if len(path) == 4 and path[0] == "actions" and path[2] == "accept" and name == "action":
        return ("; an action's own entries apply to it (name actions in the top-level "
                "'accept' only)")
    return ""


def _required_hint(path: tuple[Any, ...], name: str) -> str:
    if path == ("targets",) and name == "candidate":
        return ": the implementation under test (app, base_url or command)"
    if len(path) == 2 and path[0] == "actions" and name == "request":
        return ": an operationId or 'METHOD /path', e.g. request: GET /items/{id}"
    if path == () and name == "version":
        return ": add 'version: 1' at the top"
    return ""


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {value!r}"
    return repr(value)
