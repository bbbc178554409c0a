"""Does a response conform to its operation in the OpenAPI document?

The status must be documented (exactly, as ``4XX``, or by ``default``) and the body must match
the documented schema of its media type. Validators are built once per schema: a compiled one
(``jsonschema_rs``) says whether a body conforms, about fifty times faster than ``jsonschema``,
which is asked only for the messages of a body that does not (the two agree on the dialects
used, patterns read by Python's ``re`` in both: ``tests/unit/test_conformance_agreement.py``;
where they could not, ``jsonschema`` does it all, see ``_compiled``).
``response_functions`` binds the expression functions that use it to one operation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from jsonschema import Draft7Validator, Draft202012Validator

from mbtspec.spec._openapi import Operation, to_json_schema
from mbtspec.spec._regex import pattern_problem
from mbtspec.spec.expressions import held

_VALIDATORS: dict[int, Any] = {}


class _Checker:
    """A schema's validators: the compiled one (None where it may disagree) decides, the
    ``jsonschema`` one explains."""

    def __init__(self, schema: Any, dialect: str) -> None:
        cls = Draft7Validator if dialect == "openapi-3.0" else Draft202012Validator
        self.explain = cls(schema)
        self.fast = _compiled(schema, dialect)

    def iter_errors(self, body: Any) -> Any:
        try:
            if self.fast is not None and self.fast.is_valid(body):
                return iter(())
        except ValueError:  # a value that is not JSON (a date from YAML): jsonschema decides
            pass
        return self.explain.iter_errors(body)


def _compiled(schema: Any, dialect: str) -> Any:
    """``jsonschema_rs``'s validator of ``schema``, or None where its answer could differ from
    ``jsonschema``'s. Regular expressions are Python's: ``pattern`` is handed to a keyword of
    ours that calls ``re.search``, as ``jsonschema`` does (Rust's ``$`` does not match before a
    final newline, and its classes differ at the edges); a schema with ``patternProperties``
    or dynamic references, or one it refuses, stays with ``jsonschema``. Formats are
    annotations for both (neither checks them)."""
    if _has_any(schema, ("patternProperties", "$dynamicRef", "$recursiveRef")):
        return None
    import jsonschema_rs  # (here: `mbtspec lint` reads this module and checks no body)

    cls = (jsonschema_rs.Draft7Validator if dialect == "openapi-3.0"
           else jsonschema_rs.Draft202012Validator)
    try:
        return cls(_python_patterns(schema), validate_formats=False,
                   keywords={_PATTERN: _PythonPattern})
    except Exception:  # (a schema it cannot compile: jsonschema alone checks it)
        return None


_PATTERN = "x-mbtspec-pattern"
#: Keywords whose value is a schema, a list of schemas, or a mapping of names to schemas.
_ONE = ("items", "additionalItems", "additionalProperties", "not", "if", "then", "else",
        "contains", "propertyNames", "unevaluatedProperties", "unevaluatedItems")
_MANY = ("allOf", "anyOf", "oneOf", "prefixItems", "items")
_NAMED = ("properties", "$defs", "definitions", "dependentSchemas")


def _python_patterns(schema: Any) -> Any:
    """``schema`` with each ``pattern`` keyword renamed to ours (and nothing else: a property
    named "pattern" keeps its name)."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if isinstance(out.get("pattern"), str):
        out[_PATTERN] = out.pop("pattern")
    for key, value in schema.items():
        if key in _NAMED and isinstance(value, dict):
            out[key] = {name: _python_patterns(sub) for name, sub in value.items()}
        elif key in _MANY and isinstance(value, list):
            out[key] = [_python_patterns(sub) for sub in value]
        elif key in _ONE and isinstance(value, dict):
            out[key] = _python_patterns(value)
    return out


class _PythonPattern:
    """``pattern`` as ``jsonschema`` reads it: ``re.search`` on strings."""

    def __init__(self, parent: Any, value: str, path: Any) -> None:
        self.regex = re.compile(value)

    def validate(self, instance: Any) -> None:
        if isinstance(instance, str) and not self.regex.search(instance):
            raise ValueError(f"{instance!r} does not match")


def _has_any(schema: Any, keys: tuple[str, ...]) -> bool:
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if any(key in node for key in keys):
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _validator(schema: Any, dialect: str) -> _Checker:
    key = id(schema)
    if key not in _VALIDATORS:
        converted = readable_patterns(to_json_schema(schema, dialect, direction="response"))
        _VALIDATORS[key] = (schema, _Checker(converted, dialect))  # keep ``schema`` alive
    checker: _Checker = _VALIDATORS[key][1]
    return checker


def readable_patterns(schema: Any) -> Any:
    """``schema`` without the regular expressions Python cannot read or that are beyond
    mbtspec's limits (``lint`` warns about them): jsonschema would raise on them for every
    body, so the rest of the schema could never be checked."""
    if isinstance(schema, list):
        return [readable_patterns(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "pattern" and isinstance(value, str) and unreadable(value):
            continue
        if key == "patternProperties" and isinstance(value, dict):
            value = {k: v for k, v in value.items() if not unreadable(str(k))}
        out[key] = readable_patterns(value)
    return out


def unreadable(pattern: str) -> str | None:
    """Why ``pattern`` cannot be used to check strings, or None."""
    why = pattern_problem(pattern)
    return None if why is None or why.startswith("matches no string") else why


def iter_unreadable_patterns(operations: Any) -> Any:
    """(where, pattern, why) for each unusable pattern of the operations' schemas."""
    for op in operations:
        schemas = [(f"{op.key} parameter '{p.name}'", p.schema) for p in op.parameters]
        schemas.append((f"{op.key} request body", op.body_schema))
        schemas += [(f"{op.key} response {code}", sub) for code, media in op.responses
                    for _, sub in media]
        for where, schema in schemas:
            stack = [schema]
            while stack:
                node = stack.pop()
                if isinstance(node, list):
                    stack.extend(node)
                elif isinstance(node, dict):
                    names = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
                    if isinstance(node.get("patternProperties"), dict):
                        names += [str(k) for k in node["patternProperties"]]
                    for name in names:
                        why = unreadable(name)
                        if why:
                            yield where, name, why
                    stack.extend(node.values())


def conformance_problems(operation: Operation | None, dialect: str,
                         response: dict[str, Any]) -> list[str]:
    """Why ``response`` (status/headers/body as expressions see it) breaks the document."""
    if operation is None:
        return ["the action has no OpenAPI operation to check against"]
    status = response.get("status")
    if not isinstance(status, int) or status == 0:
        return [f"no HTTP response ({response.get('error') or 'no status'})"]
    documented = operation.response_for(status)
    if documented is None:
        known = ", ".join(code for code, _ in operation.responses) or "none"
        return [f"status {status} is not documented for {operation.key} (documented: {known})"]
    code, media = documented
    if not media:
        return []
    content_type = str((response.get("headers") or {}).get("content-type", ""))
    base = content_type.split(";")[0].strip().lower()
    schema = None
    found = False
    for media_type, media_schema in media:
        if media_type.lower() == base or media_type in ("*/*",) or (
                media_type.endswith("/*") and base.startswith(media_type[:-1])):
            schema, found = media_schema, True
            break
    body = response.get("body")
    if not found:
        if body is None:
            return []
        shown = ", ".join(m for m, _ in media)
        return [f"content-type {content_type or '(none)'} is not documented for status "
                f"{code} of {operation.key} (documented: {shown})"]
    if schema is None:
        return []
    problems = []
    for error in sorted(_validator(schema, dialect).iter_errors(body), key=str)[:5]:
        where = "body" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                                 for p in error.absolute_path)
        problems.append(f"{where}: {error.message}")
    return problems


def response_functions(operation: Operation | None, dialect: str,
                       notes: list[str] | None = None) -> dict[str, Callable[..., Any]]:
    """``conforms_to_openapi``, ``openapi_problems`` and ``header`` for one operation; the
    problems ``conforms_to_openapi`` finds are appended to ``notes`` (for reports)."""

    def conforms(response: Any) -> bool:
        problems = conformance_problems(operation, dialect, _as_dict(response))
        if notes is not None:
            notes.extend(problems)
        return not problems

    def problems_of(response: Any) -> list[str]:
        return conformance_problems(operation, dialect, _as_dict(response))

    def header(response: Any, name: Any) -> str:
        headers = _as_dict(response).get("headers") or {}
        return str(headers.get(str(name).lower(), ""))

    return {"conforms_to_openapi": conforms, "openapi_problems": problems_of, "header": header}


def _as_dict(value: Any) -> dict[str, Any]:
    value = held(value)  # (a handle, when CEL was given one: see ``prepare_context``)
    return value if isinstance(value, dict) else {}
