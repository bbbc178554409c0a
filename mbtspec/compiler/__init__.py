"""Stage 2: Spec -> Plan. Generators become Hypothesis strategies, actions become drawers.

Pure: no I/O. ``compile_plan`` also fills what the spec leaves unset from the OpenAPI document
(parameters and body properties the action does not give, drawn from their schemas), and, in
negative and all modes, prepares the invalid and boundary inputs of each action
(``_negative``, ``_boundaries``, ``_inputs``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from mbtspec.compiler._inputs import MISSING, InputChange, Site
from mbtspec.compiler._negative import Inputs, compile_inputs
from mbtspec.compiler._secrets import header_problems, secret_values
from mbtspec.compiler._values import (
    UNIQUE_TRIES,
    CompileError,
    Compiler,
    DrawContext,
    Draws,
    Dynamic,
    Node,
    Pure,
    Unsatisfiable,
    lift,
    text_of,
)
from mbtspec.compiler.state import PerTarget, State, resolve
from mbtspec.errors import SpecError, UsageError
from mbtspec.spec import model as m
from mbtspec.spec._rules import UNFILLED_HEADERS, action_needed_picks
from mbtspec.spec._walks import iter_refs
from mbtspec.spec.problems import Problem, format_path

__all__ = [
    "INCLUDE",
    "MISSING",
    "NO_BODY",
    "UNIQUE_TRIES",
    "ActionPlan",
    "DrawContext",
    "Draws",
    "InputChange",
    "Inputs",
    "PerTarget",
    "Plan",
    "RequestDraft",
    "State",
    "Unsatisfiable",
    "compile_plan",
    "resolve",
    "secret_values",
    "text_of",
]

#: Marks "send no body" (distinct from a JSON null body).
NO_BODY: Any = type("NoBody", (), {"__repr__": lambda self: "NO_BODY",
                                   # (one object, also after a trip through pickle: workers)
                                   "__reduce__": lambda self: "NO_BODY"})()
_IGNORED_HEADERS = UNFILLED_HEADERS
#: Drawn for each optional part of a request: is it sent this time? (One object, so that the
#: boundary pass can tell this draw from others and send every optional part.)
INCLUDE = st.booleans()


@dataclass(frozen=True)
class RequestDraft:
    """An action's request before it is addressed to a target (may hold ``PerTarget``)."""

    method: str
    path: str  # the template, e.g. /orders/{id}
    path_params: dict[str, Any]
    query: list[tuple[str, Any]]
    headers: dict[str, Any]
    body: Any
    media_type: str | None
    change: InputChange | None = None  # the deliberate invalid or boundary value, if any
    url: Any = None  # the whole request target, when the action gives one (see ``url``)
    #: Per target, what it gets instead (``targets:``): keys path, query, headers (merged
    #: over the action's; None leaves one out), body and url (replacing the action's).
    overrides: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    def for_target(self, target: str) -> RequestDraft:
        """The draft as ``target`` gets it: with its overrides applied."""
        change = self.overrides.get(target)
        if not change:
            return self
        query = list(self.query)
        for name, value in change.get("query", ()):
            at = next((i for i, (k, _) in enumerate(query) if k == name), None)
            query = [(k, v) for k, v in query if k != name]
            query.insert(len(query) if at is None else at, (name, value))
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in {n.lower() for n, _ in change.get("headers", ())}}
        headers.update({k: v for k, v in change.get("headers", ()) if v is not None})
        return dataclasses.replace(
            self, path_params={**self.path_params, **dict(change.get("path", ()))},
            query=query, headers=headers, body=change.get("body", self.body),
            url=change.get("url", self.url), overrides={})


@dataclass(frozen=True)
class _Part:
    name: str
    node: Node
    optional: bool = False


@dataclass(frozen=True)
class ActionPlan:
    """One action, ready to draw requests."""

    action: m.Action
    needs: frozenset[str]  # variables that must hold something before it can run
    lets: tuple[_Part, ...]
    path_params: tuple[_Part, ...]
    query: tuple[_Part, ...]
    headers: tuple[_Part, ...]
    body: _Part | None
    media_type: str | None
    inputs: Inputs | None = None  # invalid and boundary inputs (negative and all modes)
    url: _Part | None = None
    overrides: tuple[tuple[str, tuple[tuple[str, tuple[_Part, ...]], ...]], ...] = ()

    @property
    def name(self) -> str:
        return self.action.name

    def draw(self, ctx: DrawContext) -> RequestDraft:
        """Draw one request; raises ``Unsatisfiable`` if a pick finds nothing stored.

        With ``inputs``, a valid request is drawn first, then whether one of its places gets
        an invalid value instead (``Inputs.choice``)."""
        for part in self.lets:
            ctx.scope[part.name] = part.node.draw(ctx)

        def drawn(parts: tuple[_Part, ...]) -> list[tuple[str, Any]]:
            out = []
            for part in parts:
                if part.optional and not ctx.draw(INCLUDE):
                    continue
                out.append((part.name, part.node.draw(ctx)))
            return out

        path_params = dict(drawn(self.path_params))
        url = self.url.node.draw(ctx) if self.url is not None else None
        query = drawn(self.query)
        headers = dict(drawn(self.headers))
        body = NO_BODY
        if self.body is not None and (not self.body.optional or ctx.draw(INCLUDE)):
            body = self.body.node.draw(ctx)
        overrides = {target: {key: (tuple((p.name, p.node.draw(ctx)) for p in parts)
                                    if key in ("path", "query", "headers")
                                    else parts[0].node.draw(ctx))
                              for key, parts in changes}
                     for target, changes in self.overrides}
        draft = RequestDraft(self.action.method, self.action.path, path_params, query,
                             headers, body, self.media_type, url=url, overrides=overrides)
        if self.inputs is not None:
            change: InputChange | None = ctx.draw(self.inputs.choice)
            changed = change.apply(draft) if change is not None else None
            if changed is not None:
                return dataclasses.replace(changed, change=change)
        return draft


@dataclass(frozen=True)
class Plan:
    """Everything the executor needs to run a spec."""

    spec: m.Spec
    actions: tuple[ActionPlan, ...]
    run: m.RunSettings
    targets: tuple[str, ...]
    secrets: frozenset[str]
    notes: tuple[str, ...] = ()  # what the plan leaves out, for the user to know


def compile_plan(
    spec: m.Spec,
    *,
    sequences: int | None = None,
    steps: int | None = None,
    seed: int | None = None,
    max_time: float | None = None,
    shrink_time: float | None = None,
    keep_going: bool | None = None,
    swarm: bool | None = None,
    mode: m.Mode | None = None,
    concurrency: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> Plan:
    """Compile ``spec``; the keyword arguments override its ``run:`` settings.

    Raises ``SpecError`` when a value cannot be generated (an unusable schema in the OpenAPI
    document, an environment variable that is not set).
    """
    dialect = spec.openapi.dialect if spec.openapi else "json-schema"
    compiler = Compiler(dict(spec.generators), dialect,
                        dict(environ if environ is not None else os.environ))
    overrides: dict[str, Any] = {"sequences": sequences, "steps": steps, "seed": seed,
                                 "max_time": max_time, "shrink_time": shrink_time,
                                 "keep_going": keep_going, "mode": mode, "swarm": swarm}
    settings = dataclasses.replace(
        spec.run, **{name: value for name, value in overrides.items() if value is not None})
    if concurrency is not None:  # --concurrency N: N branches, the spec's other options kept
        parallel = dataclasses.replace(settings.concurrency or m.Concurrency(),
                                       branches=concurrency)
        settings = dataclasses.replace(settings, concurrency=parallel)
        count = m.interleavings(parallel.branches, parallel.steps)
        if count > m.MAX_INTERLEAVINGS:
            raise UsageError(
                f"--concurrency {concurrency} with {parallel.steps} steps per branch gives "
                f"{count:,} interleavings, more than the {m.MAX_INTERLEAVINGS:,} a race can be "
                "checked against; use fewer branches or set run.concurrency.branch_steps lower")
    problems: list[Problem] = []
    actions = []
    for action in spec.actions:
        try:
            actions.append(_compile_action(action, compiler, dialect,
                                           action.mode or settings.mode))
        except CompileError as err:
            compiler.errors.append(CompileError(err.message, err.mark or action.mark,
                                                err.at or ("actions", action.name)))
    for error in compiler.errors:
        mark = error.mark or spec.actions[0].mark
        problems.append(Problem(str(spec.path), mark.line, mark.column, format_path(error.at),
                                "cannot-generate", error.message))
    problems += header_problems(spec, compiler.environ)
    if problems:
        raise SpecError(problems)
    targets = tuple(t.name for t in sorted(spec.targets, key=lambda t: t.name != "model"))
    compiler.secrets |= secret_values(spec, compiler.environ)  # any a request may carry
    return Plan(spec, tuple(actions), settings, targets, frozenset(compiler.secrets),
                tuple(compiler.notes))


def _compile_action(action: m.Action, compiler: Compiler, dialect: str,
                    mode: m.Mode = "positive") -> ActionPlan:
    lets: list[_Part] = []
    visible: set[str] = set()
    for name, value in action.let:
        lets.append(_Part(name, compiler.compile(value, frozenset(visible))))
        visible.add(name)
    scope = frozenset(visible)

    def given(items: tuple[tuple[str, m.Value], ...]) -> list[_Part]:
        return [_Part(k, compiler.compile(v, scope)) for k, v in items]

    path_params = given(action.path_params)
    query = given(action.query)
    headers = [_Part(p.name, _header_node(p.node)) for p in given(action.headers)]
    body = _Part("body", compiler.compile(action.body, scope)) if action.body is not None else None
    op = action.operation
    if op is not None and action.fill != "none":
        everything = action.fill == "all"
        set_names = {("path", p.name) for p in path_params} | {("query", p.name) for p in query}
        set_names |= {("header", p.name.lower()) for p in headers}
        for param in op.parameters:
            key = (param.location, param.name.lower() if param.location == "header"
                   else param.name)
            if key in set_names or param.schema is None or param.location == "cookie":
                continue
            if param.location == "path" and action.url is not None:
                continue  # the whole target is given: no path to fill in
            if param.location == "header" and param.name.lower() in _IGNORED_HEADERS:
                continue
            if not (param.required or everything):
                continue
            try:
                node = _schema_node(compiler, param.schema, dialect,
                                    f"parameter '{param.name}'", action,
                                    header=param.location == "header")
            except CompileError as err:
                if param.required:
                    raise
                # an optional parameter nothing can satisfy: leave it out, and say so
                compiler.notes.append(f"{action.name}: {err.message.split('; set it')[0]}; "
                                      "the optional parameter is never sent")
                continue
            part = _Part(param.name, node, optional=not param.required)
            {"path": path_params, "query": query, "header": headers}[param.location].append(part)
        body = _fill_body(action, body, compiler, dialect, everything)
    needs = frozenset(pick.variable
                      for pick in action_needed_picks(action, tuple(compiler.generators.items())))
    inputs = None
    if mode != "positive" and op is not None:
        sites = _sites(action, op, dialect, path_params, query, headers, body)
        inputs = compile_inputs(sites, mode, bool(action.store), action.name, compiler.notes)
    url = _Part("url", compiler.compile(action.url, scope)) if action.url is not None else None
    return ActionPlan(action, needs, tuple(lets), tuple(path_params), tuple(query),
                      tuple(headers), body, _media_type(action), inputs, url,
                      tuple(_compile_override(o, compiler, scope) for o in action.overrides))


def _compile_override(override: m.Override, compiler: Compiler, scope: frozenset[str]
                      ) -> tuple[str, tuple[tuple[str, tuple[_Part, ...]], ...]]:
    """(target, ((key, parts), ...)): the parts of one target's override, in drawing order."""
    def header(name: str, value: m.Value) -> _Part:
        node = compiler.compile(value, scope)
        if isinstance(value, m.Literal_) and value.value is None:
            return _Part(name, node)  # null: the header is not sent to this target
        return _Part(name, _header_node(node))

    changes: list[tuple[str, tuple[_Part, ...]]] = [
        ("path", tuple(_Part(k, compiler.compile(v, scope)) for k, v in override.path_params)),
        ("query", tuple(_Part(k, compiler.compile(v, scope)) for k, v in override.query)),
        ("headers", tuple(header(k, v) for k, v in override.headers)),
    ]
    if override.has_body:
        body = override.body if override.body is not None else m.Literal_(None)
        changes.append(("body", (_Part("body", compiler.compile(body, scope)),)))
    if override.url is not None:
        changes.append(("url", (_Part("url", compiler.compile(override.url, scope)),)))
    return override.target, tuple((k, parts) for k, parts in changes
                                  if parts or k not in ("path", "query", "headers"))


def _media_type(action: m.Action) -> str | None:
    """The media type the action's body is sent as; a body of bytes without a documented one
    is ``application/octet-stream`` (else JSON, chosen when the body is encoded)."""
    if action.media_type is not None:
        return action.media_type
    body = action.body
    if isinstance(body, m.BytesGen) or (isinstance(body, m.Literal_)
                                        and isinstance(body.value, bytes)):
        return "application/octet-stream"
    return None


def _sites(action: m.Action, op: m.Operation, dialect: str, path_params: list[_Part],
           query: list[_Part], headers: list[_Part], body: _Part | None) -> list[Site]:
    """The places of the action's requests that negative mode may change: every documented
    parameter and top-level body property it sends (set by the spec or filled), and the body
    as a whole. A place whose value comes from a ``pick`` keeps it (stored ids stay valid);
    when it is required, it may only be left out."""
    given: dict[tuple[str, str], m.Value] = {}
    for location, items in (("path", action.path_params), ("query", action.query),
                            ("header", action.headers)):
        for name, value in items:
            given[(location, name.lower() if location == "header" else name)] = value
    sites = []
    for location, parts in (("path", path_params), ("query", query), ("header", headers)):
        for part in parts:
            param = op.parameter(location, part.name)
            if location == "path" and action.url is not None:
                continue
            key = (location, part.name.lower() if location == "header" else part.name)
            if param is None or param.schema is None:
                continue
            picked = _picks(given.get(key))
            if picked and not (param.required and location != "path"):
                continue
            sites.append(Site(location, part.name, param.schema, dialect,  # type: ignore[arg-type]
                              param.required, keep_value=picked))
    schema = action.body_schema
    if body is None or schema is None or isinstance(action.body, m.Pick):
        return sites
    sites.append(Site("body", None, schema, dialect, op.body_required))
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(props, dict):
        return sites
    required = set(schema.get("required") or ())
    if isinstance(action.body, m.ObjectValue):
        fields = dict(action.body.fields)
        names = list(fields) + ([n for n in props if n not in fields]
                                if action.fill != "none" else [])
    elif action.body is None:
        fields, names = {}, list(props)
    else:
        return sites
    for name in names:
        sub = props.get(name)
        picked = _picks(fields.get(name))
        if not isinstance(sub, dict) or sub.get("readOnly") is True or (
                picked and name not in required):
            continue
        sites.append(Site("body", name, sub, dialect, name in required, keep_value=picked))
    return sites


def _picks(value: m.Value | None) -> bool:
    """Does ``value`` send something stored (a ``pick``, anywhere in it)?"""
    return value is not None and any(isinstance(r, m.Pick) for r in iter_refs(value))


def _schema_node(compiler: Compiler, schema: Any, dialect: str, what: str,
                 action: m.Action, header: bool = False) -> Node:
    try:
        node = compiler.compile(m.SchemaGen(schema, dialect), frozenset())  # type: ignore[arg-type]
    except CompileError as err:
        raise CompileError(
            f"{what} of {action.method} {action.path}: {err.message}; set it in the action "
            "or fix its schema in the OpenAPI document", action.mark) from None
    return _header_node(node) if header else node


def _header_node(node: Node) -> Node:
    """Header values must be visible ASCII (else the request cannot be sent): a drawn value
    loses other characters. Literal values are checked by the loader (``invalid-header``)."""
    if node.strategy is not None:
        return Pure(node.strategy.map(_header_safe))
    return Dynamic(lambda ctx: lift(_header_safe, [node.draw(ctx)], ctx.targets))


def _header_safe(value: Any) -> str:
    text = text_of(value)
    return "".join(c for c in text if " " <= c <= "~")


def _fill_body(action: m.Action, body: _Part | None, compiler: Compiler, dialect: str,
               everything: bool) -> _Part | None:
    op = action.operation
    assert op is not None
    schema = action.body_schema
    if schema is None:
        return body
    props = schema.get("properties") if isinstance(schema, dict) else None
    multipart = _is_multipart(action.media_type)
    if body is None:
        if not (op.body_required or everything):
            return None
        if isinstance(schema, dict) and _binary(schema) and schema.get("type") != "array":
            # raw bytes (application/octet-stream, images ...): bytes, not text
            return _Part("body", compiler.compile(m.BytesGen(0, 256), frozenset()),
                         optional=not op.body_required)
        if not (multipart and isinstance(props, dict)):
            node = _schema_node(compiler, schema, dialect, "request body", action)
            return _Part("body", node, optional=not op.body_required)
        # A form: each property a part, binary ones as file parts (below).
        body = _Part("body", compiler.compile(m.ObjectValue(()), frozenset()),
                     optional=not op.body_required)
    value = action.body if action.body is not None else m.ObjectValue(())
    if not isinstance(value, m.ObjectValue) or not isinstance(props, dict):
        return body
    required = set(schema.get("required") or ())
    given = {k for k, _ in value.fields}
    extra: list[tuple[str, m.Value]] = []
    optional = set(value.optional)
    for name, sub in props.items():
        if name in given or not isinstance(sub, dict) or sub.get("readOnly") is True:
            continue
        if name in required or everything:
            extra.append((name, _file_part(name) if multipart and _binary(sub)
                          else m.SchemaGen(sub, dialect)))  # type: ignore[arg-type]
            if name not in required:
                optional.add(name)
    if not extra:
        return body
    filled = m.ObjectValue(value.fields + tuple(extra), frozenset(optional))
    try:
        return _Part("body", compiler.compile(filled, frozenset(n for n, _ in action.let)),
                     optional=body.optional)
    except CompileError as err:
        raise CompileError(f"request body of {action.method} {action.path}: {err.message}",
                           action.mark) from None


def _is_multipart(media_type: str | None) -> bool:
    return media_type is not None and media_type.lower().startswith("multipart/")


def _binary(schema: dict[str, Any]) -> bool:
    """A property documented as a file: ``format: binary`` (3.0) or ``contentMediaType``
    / ``contentEncoding`` (3.1), or an array of such."""
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return _binary(schema["items"])
    return schema.get("format") in ("binary", "byte") or "contentMediaType" in schema or \
        "contentEncoding" in schema


def _file_part(name: str) -> m.Value:
    """A file drawn for a documented file property: up to 64 random bytes named after it."""
    return m.FileValue(m.BytesGen(0, 64), m.Literal_(f"{name}.bin"),
                       m.Literal_("application/octet-stream"))
