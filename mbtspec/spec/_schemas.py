"""Can values be drawn from a schema? Answered by the loader, so ``lint`` says what ``check``
would otherwise find only when it compiles the run.

``generation_schema`` is the exact JSON Schema the compiler draws from (OpenAPI keywords
dropped, int32/int64 bounded, undocumented properties left out). ``schema_problem`` then
checks it as the compiler does (a valid draft-7 schema) and adds what the compiler finds only
by drawing: ``$ref``\\ s that lead nowhere, patterns that cannot be used, and constraints that
no value meets. That last analysis is sound but not complete: it reports only contradictions
it can prove (``minimum`` above ``maximum``, a required property that may not exist, an
``enum`` none of whose values fits, ``false`` ...), never a schema that has values.
"""

from __future__ import annotations

import math
from typing import Any

from mbtspec.spec._openapi import resolve_pointer, to_json_schema
from mbtspec.spec._regex import pattern_problem, widths

_FORMAT_BOUNDS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")


def generation_schema(schema: Any, dialect: str) -> Any:
    """The JSON Schema values are drawn from, for a schema of ``dialect``."""
    return bound_formats(to_json_schema(schema, dialect, direction="request"))


def bound_formats(schema: Any, combined: bool = False) -> Any:
    """OpenAPI's int32/int64 formats bound integers; JSON Schema generators ignore them.

    Objects get ``additionalProperties: false`` when they say nothing about it, except the
    parts of an ``allOf``/``anyOf``/``oneOf`` (``combined``): there it would forbid the
    properties the other parts add."""
    if isinstance(schema, list):
        return [bound_formats(s, combined) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: bound_formats(v, k in ("allOf", "anyOf", "oneOf")) for k, v in schema.items()}
    bounds = _FORMAT_BOUNDS.get(str(schema.get("format")))
    if bounds and "integer" in (schema.get("type") or ()):
        out.setdefault("minimum", bounds[0])
        out.setdefault("maximum", bounds[1])
    required = [r for r in out["required"] if isinstance(r, str)] if isinstance(
        out.get("required"), list) else []
    if isinstance(out.get("properties"), dict) and "additionalProperties" not in out and not (
            combined or any(k in out for k in ("allOf", "anyOf", "oneOf"))
            or any(name not in out["properties"] for name in required)):
        # only documented properties: undocumented ones would be noise in every request
        out["additionalProperties"] = False
    return out


def schema_problem(schema: Any, dialect: str) -> str | None:
    """Why no value can be drawn from ``schema`` (of ``dialect``), or None."""
    from jsonschema import Draft7Validator
    from jsonschema.exceptions import SchemaError

    try:
        converted = generation_schema(schema, dialect)
    except (TypeError, AttributeError, ValueError, KeyError):
        converted = schema  # a shape the conversion cannot follow: the meta-schema says why
    why = _pattern_problems(converted)  # before the meta-schema, which compiles them unguarded
    if why is not None:
        return why
    try:
        Draft7Validator.check_schema(converted)
    except SchemaError as err:
        where = "/".join(map(str, err.absolute_path))
        return f"invalid schema{f' at {where}' if where else ''}: {err.message}"
    except (RecursionError, OverflowError, ValueError) as err:
        return f"invalid schema: {err}"
    return _Checker(converted).why_empty(converted, "")


def _pattern_problems(schema: Any) -> str | None:
    """The first unusable regular expression of ``schema`` (``pattern`` values and
    ``patternProperties`` names), without recursion."""
    stack: list[tuple[Any, str]] = [(schema, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, list):
            stack.extend((item, f"{where}/{i}") for i, item in enumerate(node))
            continue
        if not isinstance(node, dict):
            continue
        patterns = [(node["pattern"], "pattern")] if isinstance(node.get("pattern"), str) else []
        if isinstance(node.get("patternProperties"), dict):
            patterns += [(name, "patternProperties") for name in node["patternProperties"]]
        for pattern, key in patterns:
            why = pattern_problem(str(pattern))
            if why is not None and not why.startswith("matches no string"):
                return f"{_at(where)}{key} '{_short(str(pattern))}' {why}"
        stack.extend((value, f"{where}/{key}") for key, value in node.items())
    return None


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Checker:
    def __init__(self, root: Any) -> None:
        self.root = root

    def why_empty(self, schema: Any, where: str) -> str | None:
        """Why ``schema`` (at ``where``, a JSON pointer) accepts no value, or None."""
        if schema is False:
            return f"{_at(where)}is 'false', which accepts no value"
        if not isinstance(schema, dict):
            return None
        ref = schema.get("$ref")
        if isinstance(ref, str):
            if not ref.startswith("#"):
                return (f"{_at(where)}$ref '{ref}' points outside the schema; a schema "
                        "generator's $ref can only point inside it (e.g. #/$defs/item)")
            if resolve_pointer(self.root, ref[1:]) is None and ref != "#":
                return f"{_at(where)}$ref '{ref}' points to nothing in the schema"
        if schema.get("not") in ({}, True):
            return f"{_at(where)}'not' excludes every value"
        for key in ("allOf",):
            for i, part in enumerate(schema.get(key) or []):
                why = self.why_empty(part, f"{where}/{key}/{i}")
                if why:
                    return why
        for key in ("anyOf", "oneOf"):
            parts = schema.get(key)
            if isinstance(parts, list) and parts:
                reasons = [self.why_empty(p, f"{where}/{key}/{i}") for i, p in enumerate(parts)]
                if all(reasons):
                    return reasons[0]
        if "const" in schema or "enum" in schema:
            return self._enum(schema, where)
        types = schema.get("type", list(_TYPES))
        types = [types] if isinstance(types, str) else list(types)
        verdicts = {t: self._type(schema, t, where) for t in types}
        if verdicts and all(verdicts.values()):
            return "; ".join(dict.fromkeys(r for r in verdicts.values() if r))
        return None

    def _enum(self, schema: Any, where: str) -> str | None:
        from jsonschema import Draft7Validator

        options = [schema["const"]] if "const" in schema else schema.get("enum")
        if not isinstance(options, list):
            return None
        if not options:
            return f"{_at(where)}'enum' lists no value"
        rest = {k: v for k, v in schema.items() if k not in ("const", "enum")}
        try:
            validator = Draft7Validator({**rest, "definitions": self.root.get("definitions", {})}
                                        if isinstance(self.root, dict) else rest)
            if any(validator.is_valid(option) for option in options):
                return None
        except Exception:  # a $ref the validator cannot follow: not provably empty
            return None
        listed = ", ".join(map(repr, options[:5])) + (" ..." if len(options) > 5 else "")
        return f"{_at(where)}none of the listed values ({listed}) satisfies the rest of the schema"

    def _type(self, schema: dict[str, Any], kind: str, where: str) -> str | None:
        if kind in ("integer", "number"):
            return self._numbers(schema, kind, where)
        if kind == "string":
            return self._strings(schema, where)
        if kind == "array":
            return self._arrays(schema, where)
        if kind == "object":
            return self._objects(schema, where)
        return None

    def _numbers(self, schema: dict[str, Any], kind: str, where: str) -> str | None:
        low, high = _number(schema.get("minimum")), _number(schema.get("maximum"))
        low_x, high_x = _number(schema.get("exclusiveMinimum")), _number(
            schema.get("exclusiveMaximum"))
        lo = max((b for b in (low, low_x) if b is not None), default=-math.inf)
        hi = min((b for b in (high, high_x) if b is not None), default=math.inf)
        open_lo = low_x is not None and low_x >= (low if low is not None else -math.inf)
        open_hi = high_x is not None and high_x <= (high if high is not None else math.inf)
        if kind == "integer":
            if lo == math.inf or hi == -math.inf:
                return f"{_at(where)}no integer lies between the minimum and the maximum"
            first = lo if not math.isfinite(lo) else (
                math.floor(lo) + 1 if open_lo and lo == math.floor(lo) else math.ceil(lo))
            last = hi if not math.isfinite(hi) else (
                math.ceil(hi) - 1 if open_hi and hi == math.ceil(hi) else math.floor(hi))
            if first > last:
                return f"{_at(where)}no integer lies between the minimum and the maximum"
            return None
        if lo > hi or (lo == hi and (open_lo or open_hi)):
            return f"{_at(where)}no number lies between the minimum and the maximum"
        return None

    def _strings(self, schema: dict[str, Any], where: str) -> str | None:
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        if isinstance(low, int) and isinstance(high, int) and low > high:
            return f"{_at(where)}minLength ({low}) is above maxLength ({high})"
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            why = pattern_problem(pattern)
            if why:
                return f"{_at(where)}pattern '{_short(pattern)}' {why}"
            shortest, longest = widths(pattern)
            if longest < low or isinstance(high, int) and shortest > high:
                return (f"{_at(where)}pattern '{pattern}' matches strings of {shortest} to "
                        f"{longest} characters, none within minLength and maxLength")
        return None

    def _arrays(self, schema: dict[str, Any], where: str) -> str | None:
        low, high = schema.get("minItems", 0), schema.get("maxItems")
        if isinstance(low, int) and isinstance(high, int) and low > high:
            return f"{_at(where)}minItems ({low}) is above maxItems ({high})"
        items = schema.get("items")
        if isinstance(low, int) and low > 0 and isinstance(items, dict | bool):
            why = self.why_empty(items, f"{where}/items")
            if why:
                return why
        return None

    def _objects(self, schema: dict[str, Any], where: str) -> str | None:
        required = [r for r in schema.get("required") or [] if isinstance(r, str)]
        high = schema.get("maxProperties")
        if isinstance(high, int) and len(set(required)) > high:
            return f"{_at(where)}it requires {len(set(required))} properties but allows {high}"
        low = schema.get("minProperties")
        if isinstance(low, int) and isinstance(high, int) and low > high:
            return f"{_at(where)}minProperties ({low}) is above maxProperties ({high})"
        found = schema.get("properties")
        properties: dict[str, Any] = found if isinstance(found, dict) else {}
        closed = schema.get("additionalProperties") is False and not schema.get(
            "patternProperties")
        for name in required:
            if name in properties:
                why = self.why_empty(properties[name], f"{where}/properties/{name}")
                if why:
                    return why
            elif closed:
                return (f"{_at(where)}property '{name}' is required but not among its "
                        "properties, and no other property is allowed")
        for name, sub in (schema.get("patternProperties") or {}).items():
            why = pattern_problem(str(name))
            if why:
                return f"{_at(where)}patternProperties '{name}' {why}"
            del sub
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer beyond floats: not a contradiction this can prove
        return None


def _at(where: str) -> str:
    return f"at {where}: " if where else ""
