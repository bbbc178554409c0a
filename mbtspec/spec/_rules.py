"""Checks of a built spec against its OpenAPI document and itself, one generator per problem.

These run once the file's shape is right and every name resolves (``_build``). Each rule yields
``Problem``\\ s; warnings (``severity="warning"``) flag risky but runnable specs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from mbtspec.spec import model as m
from mbtspec.spec._openapi import Operation, to_json_schema
from mbtspec.spec._schemas import schema_problem
from mbtspec.spec._walks import distinct_values, iter_needed_picks, iter_unique
from mbtspec.spec._yaml import JsonPath, Positions
from mbtspec.spec.problems import Problem, did_you_mean

Rule = Callable[[m.Spec, Positions], Iterator[Problem]]

#: Request headers that need not be documented as parameters.
STANDARD_HEADERS = frozenset({
    "accept", "accept-language", "accept-encoding", "authorization", "cache-control",
    "content-type", "cookie", "if-match", "if-none-match", "if-modified-since", "origin",
    "prefer", "user-agent", "x-request-id", "x-correlation-id",
})
_LOCATIONS = (("path", "path_params"), ("query", "query"), ("header", "headers"))
#: Header parameters the compiler never fills from the document (httpx and the body set them).
UNFILLED_HEADERS = frozenset({"accept", "content-type", "authorization"})


def iter_rule_problems(spec: m.Spec, positions: Positions) -> Iterator[Problem]:
    for rule in RULES:
        yield from rule(spec, positions)


def undocumented_names(spec: m.Spec, positions: Positions) -> Iterator[Problem]:
    """Query, header and body names the operation does not document (a header that an API
    key security scheme names is documented by it)."""
    key_headers = _api_key_headers(spec.openapi.raw if spec.openapi else None)
    for action in spec.actions:
        op = action.operation
        if op is None:
            continue
        base: JsonPath = ("actions", action.name)
        for location, part in _LOCATIONS[1:]:
            for name, _ in getattr(action, part):
                if op.parameter(location, name) is not None:
                    continue
                if location == "header" and (name.lower() in STANDARD_HEADERS
                                             or name.lower() in key_headers):
                    continue
                known = [p.name for p in op.parameters if p.location == location]
                yield positions.problem(
                    (*base, "query" if location == "query" else "headers", name),
                    "undocumented-parameter",
                    f"{op.key} documents no {location} parameter '{name}'"
                    f"{did_you_mean(name, known)}; documented: {', '.join(known) or 'none'}",
                    key=True)
        if action.body is None:
            continue
        if op.body_media_type is None:
            if action.content_type is None:
                yield positions.problem(
                    (*base, "body"), "undocumented-body",
                    f"{op.key} documents no request body: remove 'body', or set "
                    "'content_type' (e.g. application/json) to send it anyway", key=True)
            continue
        schema = action.body_schema
        if schema is None:
            continue  # a body without a schema: anything goes
        props = schema.get("properties") if isinstance(schema, dict) else None
        extra_allowed = isinstance(schema, dict) and schema.get(
            "additionalProperties") not in (None, False)
        if isinstance(action.body, m.ObjectValue) and isinstance(props, dict) and not extra_allowed:
            for name, _ in action.body.fields:
                if name not in props:
                    yield positions.problem(
                        (*base, "body", name), "undocumented-property",
                        f"the request body of {op.key} has no property '{name}'"
                        f"{did_you_mean(name, list(props))}; documented: {', '.join(props)}",
                        key=True)


def _api_key_headers(raw: Any) -> frozenset[str]:
    """Header names (lower case) of the document's ``apiKey`` security schemes."""
    components = raw.get("components") if isinstance(raw, dict) else None
    schemes = components.get("securitySchemes") if isinstance(components, dict) else None
    return frozenset(str(s["name"]).lower() for s in (
        schemes.values() if isinstance(schemes, dict) else ())
        if isinstance(s, dict) and s.get("in") == "header" and isinstance(s.get("name"), str))


def invalid_literals(spec: m.Spec, positions: Positions) -> Iterator[Problem]:
    """Literal values that cannot match the schema of their parameter or body property."""
    dialect = spec.openapi.dialect if spec.openapi else "json-schema"
    for action in spec.actions:
        op = action.operation
        if op is None:
            continue
        base: JsonPath = ("actions", action.name)
        for location, part in _LOCATIONS:
            for name, value in getattr(action, part):
                param = op.parameter(location, name)
                if param is None or param.schema is None or not isinstance(value, m.Literal_):
                    continue
                if location == "query" and value.value is None:
                    continue  # null: the parameter is left out of the request
                why = _mismatch(_from_text(value.value, param.schema), param.schema, dialect)
                if why:
                    key = {"path": "path", "query": "query", "header": "headers"}[location]
                    yield positions.problem(
                        (*base, key, name), "invalid-literal",
                        f"{_json(value.value)} can never be a valid {location} parameter "
                        f"'{name}' "
                        f"of {op.key}: {why}")
        yield from _body_literals(action, op, dialect, positions, base)


def _body_literals(action: m.Action, op: Operation, dialect: str, positions: Positions,
                   base: JsonPath) -> Iterator[Problem]:
    schema = action.body_schema
    if isinstance(action.body, m.Literal_) and schema is not None:
        why = _mismatch(action.body.value, schema, dialect)
        if why:
            yield positions.problem((*base, "body"), "invalid-literal",
                                    f"this body can never be valid for {op.key}: {why}")
        return
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(action.body, m.ObjectValue) or not isinstance(props, dict):
        return
    for name, value in action.body.fields:
        if isinstance(value, m.Literal_) and isinstance(props.get(name), dict):
            why = _mismatch(value.value, props[name], dialect)
            if why:
                yield positions.problem(
                    (*base, "body", name), "invalid-literal",
                    f"{_json(value.value)} can never be a valid '{name}' in the body of "
                    f"{op.key}: "
                    f"{why}")


def _from_text(value: Any, schema: Any) -> Any:
    """A parameter travels as text: "5" is a fine integer parameter."""
    kind = schema.get("type") if isinstance(schema, dict) else None
    if kind == "string" and isinstance(value, int | float | bool):
        return str(value).lower() if isinstance(value, bool) else str(value)
    if not isinstance(value, str) or kind not in ("integer", "number", "boolean"):
        return value
    try:
        if kind == "boolean":
            return {"true": True, "false": False}[value]
        return int(value) if kind == "integer" else float(value)
    except (KeyError, ValueError):
        return value


def _mismatch(value: Any, schema: Any, dialect: str) -> str:
    from jsonschema import Draft7Validator, Draft202012Validator

    converted = to_json_schema(schema, dialect, direction="request")
    cls = Draft7Validator if dialect == "openapi-3.0" else Draft202012Validator
    try:
        error = next(iter(cls(converted).iter_errors(value)), None)
    except Exception:
        return ""
    if error is None:
        return ""
    if error.validator == "type":  # (jsonschema writes the value as Python: None, True)
        expected = error.validator_value
        return f"{_json(error.instance)} is not of type " + (
            repr(expected) if isinstance(expected, str) else ", ".join(map(repr, expected)))
    return str(error.message)


def _json(value: Any) -> str:
    """A value as YAML and JSON write it (null, true, [1, null]); texts and numbers quoted
    as the other messages quote them ('abc', 3)."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return repr(value)
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def ungenerable_values(spec: m.Spec, positions: Positions) -> Iterator[Problem]:
    """Parameters and bodies the run would draw from the OpenAPI document's schemas (what the
    compiler fills in) whose schema accepts no value: ``check`` could not prepare them."""
    if spec.openapi is None:
        return
    dialect = spec.openapi.dialect
    for action in spec.actions:
        op = action.operation
        if op is None or action.fill == "none":
            continue
        everything = action.fill == "all"
        given = ({("path", k) for k, _ in action.path_params} | {("query", k) for k, _ in
                 action.query} | {("header", k.lower()) for k, _ in action.headers})
        where: JsonPath = ("actions", action.name, "request")
        for param in op.parameters:
            name = param.name.lower() if param.location == "header" else param.name
            if ((param.location, name) in given or param.schema is None
                    or param.location == "cookie" or not param.required
                    or (param.location == "header" and name in UNFILLED_HEADERS)):
                continue  # an optional one nothing can satisfy is left out of requests
            why = schema_problem(param.schema, dialect)
            if why:
                yield positions.problem(
                    where, "cannot-generate",
                    f"{param.location} parameter '{param.name}' of {op.key}: no value can be "
                    f"drawn from its schema: {why}; set it in the action or fix its schema in "
                    "the OpenAPI document")
        yield from _ungenerable_body(action, op, dialect, everything, positions, where)


def _ungenerable_body(action: m.Action, op: Operation, dialect: str, everything: bool,
                      positions: Positions, where: JsonPath) -> Iterator[Problem]:
    schema = action.body_schema
    if schema is None:
        return
    parts: list[tuple[str, Any]] = []
    if action.body is None and (op.body_required or everything):
        parts.append(("the request body", schema))
    props = schema.get("properties") if isinstance(schema, dict) else None
    if isinstance(action.body, m.ObjectValue) and isinstance(props, dict):
        required = set(schema.get("required") or ())
        given = {k for k, _ in action.body.fields}
        parts.extend((f"body property '{name}'", sub) for name, sub in props.items()
                     if name not in given and isinstance(sub, dict)
                     and sub.get("readOnly") is not True and (name in required or everything))
    for what, part in parts:
        why = schema_problem(part, dialect)
        if why:
            yield positions.problem(
                where, "cannot-generate",
                f"{what} of {op.key}: no value can be drawn from its schema: {why}; set it in "
                "the action or fix its schema in the OpenAPI document")


def action_needed_picks(action: m.Action, generators: tuple[tuple[str, m.Value], ...]
                        ) -> Iterator[m.Pick]:
    """The picks without ``or`` that every step of ``action`` makes, also through the
    generators its values refer to (see ``iter_needed_picks``)."""
    values = [v for _, v in (*action.let, *action.path_params, *action.query, *action.headers)]
    values += [v for v in (action.body, action.url) if v is not None]
    for override in action.overrides:
        values += [v for _, v in (*override.path_params, *override.query, *override.headers)]
        values += [v for v in (override.body, override.url) if v is not None]
    named = dict(generators)
    hidden = frozenset(name for name, _ in action.let)
    for value in values:
        yield from iter_needed_picks(value, named, hidden)


def unreachable_actions(spec: m.Spec, positions: Positions) -> Iterator[Problem]:
    """Actions that can never run: they pick a variable that only they (or other actions
    that can never run) store, or their 'when' reads one nothing stores."""
    needs: dict[str, set[str]] = {}
    storers: dict[str, set[str]] = {}
    for action in spec.actions:
        needs[action.name] = {p.variable for p in action_needed_picks(action, spec.generators)}
        for variable, _ in action.store:
            storers.setdefault(variable, set()).add(action.name)
    runnable: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, wanted in needs.items():
            if name in runnable:
                continue
            if all(storers.get(v, set()) & (runnable - {name}) for v in wanted):
                runnable.add(name)
                changed = True
    for action in spec.actions:
        if action.name in runnable:
            continue
        missing = sorted(v for v in needs[action.name]
                         if not storers.get(v, set()) & (runnable - {action.name}))
        if not any(v in storers for v in missing):
            continue  # nothing stores them at all: unstored-variable says so already
        yield positions.problem(
            ("actions", action.name), "unreachable-action",
            f"action '{action.name}' can never run: it picks {', '.join(missing)}, which no "
            "other runnable action stores; store it elsewhere too, or add 'or:' to the pick",
            key=True)


def risky_specs(spec: m.Spec, positions: Positions) -> Iterator[Problem]:
    """Warnings: no reset, no model, operations no action exercises."""
    if not spec.reset and not any(t.reset for t in spec.targets):
        yield positions.problem(
            ("targets",), "no-reset",
            "no 'reset': sequences are not isolated, so a failure may depend on earlier "
            "sequences; add reset: [{request: POST /your-reset-endpoint}] if the targets "
            "offer one", key=True, severity="warning")
    if spec.model is None:
        yield positions.problem(
            ("targets",), "no-model",
            "no 'model' target: only invariants and expect checks run (single-target mode); "
            "add a model to compare responses", key=True, severity="warning")
    if spec.openapi is not None:
        covered = {a.operation.key for a in spec.actions if a.operation is not None}
        missing = [op.key for op in spec.openapi.operations if op.key not in covered]
        if missing:
            shown = ", ".join(missing[:8]) + (f" ... ({len(missing) - 8} more)"
                                              if len(missing) > 8 else "")
            yield positions.problem(
                ("openapi",), "uncovered-operation",
                f"{len(missing)} operation{'s' if len(missing) != 1 else ''} of "
                f"{spec.openapi.file.name} no action exercises: {shown}", severity="warning")


def nothing_to_invalidate(spec: m.Spec, positions: Positions) -> Iterator[Problem]:
    """Warnings: negative or all mode where no OpenAPI schema says what is invalid."""
    if spec.run.mode != "positive" and spec.openapi is None:
        yield positions.problem(
            ("run", "mode"), "nothing-to-invalidate",
            f"mode {spec.run.mode} draws invalid values from the OpenAPI schemas, and the spec "
            "has no 'openapi': every request stays valid; add openapi: your-api.yaml",
            severity="warning")
        return
    if spec.openapi is not None:
        return  # (an action that names no operation of it is an error already)
    for action in spec.actions:
        if action.mode in ("negative", "all"):
            yield positions.problem(
                ("actions", action.name, "mode"), "nothing-to-invalidate",
                f"mode {action.mode} draws invalid values from the OpenAPI schemas, and the "
                "spec has no 'openapi': the requests of this action stay valid; add openapi: "
                "your-api.yaml", severity="warning")


def concurrency_settings(spec: m.Spec, positions: Positions) -> Iterator[Problem]:
    """``run.concurrency``: actions of ``then`` that do not exist, and parallel parts with
    more interleavings than a failure can be checked against."""
    settings = spec.run.concurrency
    if settings is None:
        return
    base: JsonPath = ("run", "concurrency")
    names = [a.name for a in spec.actions]
    for index, name in enumerate(settings.then):
        if name not in names:
            yield positions.problem(
                (*base, "then", index), "unknown-action",
                f"no action '{name}'{did_you_mean(name, names)}; 'then' lists actions of "
                f"'actions' ({', '.join(names)})")
    count = m.interleavings(settings.branches, settings.steps)
    if count > m.MAX_INTERLEAVINGS:
        fits = max(k for k in range(1, settings.steps + 1)
                   if m.interleavings(settings.branches, k) <= m.MAX_INTERLEAVINGS)
        where = (*base, "branch_steps") if settings.branch_steps else base
        yield positions.problem(
            where, "too-many-interleavings",
            f"{settings.branches} branches of {settings.steps} steps have {count:,} "
            f"interleavings, more than the {m.MAX_INTERLEAVINGS:,} a race can be checked "
            f"against; set branch_steps to {fits} "
            f"({m.interleavings(settings.branches, fits):,} interleavings) or fewer, or use "
            "fewer branches")


def misplaced_files(spec: m.Spec, positions: Positions) -> Iterator[Problem]:
    """``file`` values where no file can be sent: outside a multipart body, or nested in one
    deeper than a property (or an element of a property's list)."""
    for action in spec.actions:
        media = action.media_type or ""
        multipart = media.lower().startswith("multipart/form-data")
        sources: list[m.Action | m.Override] = [action, *action.overrides]
        values = [v for source in sources for part in ("path_params", "query", "headers")
                  for _, v in getattr(source, part)]
        values += [source.url for source in sources if source.url is not None]
        for value in values:
            for found in _files(value, 0):
                yield positions.problem(
                    found.at, "misplaced-file",
                    "a file can only be a property of a multipart/form-data body; send "
                    "bytes here ({bytes: ...}, as base64 text) or move it to 'body'")
        bodies = [action.body, *(o.body for o in action.overrides)]
        for found in (f for body in bodies if body is not None
                      for f in _files(body, 0 if not multipart else 1)):
            where = (f"the body is sent as {media or 'application/json'}: set 'content_type: "
                     "multipart/form-data' to send files" if not multipart else
                     "a file must be a property of the body (or an element of a property's "
                     "list), not nested deeper")
            yield positions.problem(found.at, "misplaced-file",
                                    f"a file cannot be sent here: {where}")


def _files(value: m.Value, allowed_depth: int, depth: int = 0) -> Iterator[m.FileValue]:
    """``file`` values in ``value`` deeper than ``allowed_depth`` levels of objects (a list
    of files counts as its property's level)."""
    if isinstance(value, m.FileValue):
        if allowed_depth == 0 or depth != allowed_depth:
            yield value
        return
    if isinstance(value, m.ObjectValue):
        for _, item in value.fields:
            yield from _files(item, allowed_depth, depth + 1)
    elif isinstance(value, m.ListValue | m.OneOf):
        items = value.items if isinstance(value, m.ListValue) else value.options
        for item in items:
            yield from _files(item, allowed_depth, depth)
    elif isinstance(value, m.ListGen):
        yield from _files(value.element, allowed_depth, depth)
    elif isinstance(value, m.Pick) and value.or_ is not None:
        yield from _files(value.or_, allowed_depth, depth)
    elif isinstance(value, m.Unique):
        yield from _files(value.value, allowed_depth, depth)


def few_unique_values(spec: m.Spec, positions: Positions) -> Iterator[Problem]:
    """Warnings: a ``unique`` generator with fewer values than a sequence has steps (once
    they are used, the actions that need one cannot run in that sequence)."""
    values = [value for _, value in spec.generators]
    for action in spec.actions:
        values += [v for _, v in (*action.let, *action.path_params, *action.query,
                                  *action.headers)]
        values += [action.body] if action.body is not None else []
    for value in values:
        for unique in iter_unique(value):
            count = distinct_values(unique.value)
            if count < spec.run.steps:
                shown = "values" if count != 1 else "value"
                yield positions.problem(
                    unique.at, "few-unique-values",
                    f"a unique generator with {count} possible {shown}: after {count} draws "
                    f"in a sequence of up to {spec.run.steps} steps (run.steps), the actions "
                    "that draw it cannot run any more; allow more values, or drop 'unique'",
                    key=True, severity="warning")


RULES: tuple[Rule, ...] = (undocumented_names, invalid_literals, ungenerable_values,
                           unreachable_actions, risky_specs, nothing_to_invalidate,
                           concurrency_settings, misplaced_files, few_unique_values)
