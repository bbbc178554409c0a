"""Build the ``Spec`` model from schema-valid YAML data, reporting every problem on the way.

Each ``_build_*`` function turns one part of the file into frozen dataclasses; problems go to
``Builder.problems`` with their position, and building carries on so that one pass reports all.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mbtspec.spec import model as m
from mbtspec.spec._compare import STEP_VARS, build_accept, build_compare
from mbtspec.spec._openapi import METHODS, OpenApiDocument, OpenApiLoadError, load_openapi
from mbtspec.spec._services import (
    build_compose,
    build_restart,
    build_services,
    check_restarts,
    service_reference_problem,
)
from mbtspec.spec._values import ValueParser
from mbtspec.spec._walks import iter_refs
from mbtspec.spec._yaml import JsonPath, Positions
from mbtspec.spec.expressions import (
    MBTSPEC_FUNCTIONS,
    NAMESPACED_FUNCTIONS,
    Expression,
    ExpressionLimitError,
    ExpressionSyntaxError,
    compile_expression,
    unknown_functions,
)
from mbtspec.spec.problems import Problem, did_you_mean
from mbtspec.spec.sizes import DEFAULT_MAX_RESPONSE_SIZE, parse_size

_TARGET_VARS = re.compile(r"\$\{([^}]*)\}")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token: a header name
_PRINTABLE_ASCII = "".join(chr(c) for c in range(32, 127))
PATH_PARAM = re.compile(r"\{([^}/]+)\}")  # path placeholders (the scaffold finds them the same way)
RESPONSE_VARS = frozenset({"response", "request", "action", "target"})


class Builder:
    def __init__(self, data: dict[str, Any], positions: Positions, path: Path) -> None:
        self.data = data
        self.positions = positions
        self.path = path
        self.problems: list[Problem] = []
        self.values = ValueParser(
            positions, frozenset(data.get("generators") or {}),
            expression=lambda source, path: self.expression(source, path, RESPONSE_VARS,
                                                            "remove 'when'"))
        self.openapi: OpenApiDocument | None = None
        self.stored: dict[str, JsonPath] = {}  # variable -> where it is first stored
        self.unresolved: set[JsonPath] = set()  # requests naming no operation of the document
        self.target_names: set[str] = set()  # (filled once the targets are built)
        self.has_model = "model" in (data.get("targets") or {})

    # -- helpers ---------------------------------------------------------------------------

    def problem(self, path: JsonPath, code: str, message: str, **kw: Any) -> None:
        self.problems.append(self.positions.problem(path, code, message, **kw))

    def expression(self, source: str, path: JsonPath, allowed: frozenset[str],
                   role: str) -> Expression | None:
        mark = self.positions.of(path)
        try:
            expr = compile_expression(source, mark)
        except ExpressionLimitError as err:
            self.problem(path, "expression-limit", f"this {role} expression: {err.message}",
                         offset=(err.line, err.column))
            return None
        except ExpressionSyntaxError as err:
            self.problem(path, "expression-syntax",
                         f"cannot parse {role} expression: {err.message}",
                         offset=(err.line, err.column))
            return None
        known = allowed | frozenset(self.stored)
        for name in sorted(expr.variables - known):
            column = _find_word(source, name)
            if role == "when" and name in RESPONSE_VARS | STEP_VARS:
                self.problem(
                    path, "undefined-variable",
                    f"'{name}' is not available in 'when': it decides whether the action "
                    "runs, before any request; use the stored variables "
                    f"({', '.join(sorted(known)) or 'none yet'}) or move the test to 'expect'",
                    offset=(1, column) if column else None)
                continue
            if role == "when":
                self.problem(
                    path, "unsatisfiable-when",
                    f"'when' reads '{name}', which no action stores, so this action can never "
                    f"run{did_you_mean(name, known)}; store it in the action that creates it",
                    offset=(1, column) if column else None)
                continue
            why = did_you_mean(name, known)
            if name == "model" and not self.has_model and role.split(" ")[0] in (
                    "invariant", "expect"):
                why = (": this spec has no model target (add one under 'targets:', or check "
                       "only candidate)")
            self.problem(
                path, "undefined-variable",
                f"'{name}' is not defined in {role}{why}; "
                f"available here: {', '.join(sorted(known)) or 'nothing'}",
                offset=(1, column) if column else None,
            )
        for name in unknown_functions(expr, response_functions=role != "when"):
            column = _find_call(source, name)
            namespaced = [f for f in NAMESPACED_FUNCTIONS if f.endswith(f".{name}")]
            hint = (" (did you mean 'size'?)" if name in ("len", "length", "count")
                    else f" (did you mean '{namespaced[0]}'?): it is called with its "
                    "namespace" if namespaced
                    else did_you_mean(name, _function_names()))
            if name in MBTSPEC_FUNCTIONS:
                hint = (": it checks a response, and 'when' runs before the request; use it "
                        "in invariants, expect or store")
            self.problem(path, "unknown-function", f"no function '{name}' in expressions{hint}",
                         offset=(1, column) if column else None)
        return expr

    # -- the parts of the file -------------------------------------------------------------

    def build(self) -> m.Spec:
        data = self.data
        self.openapi = self._build_openapi()
        # Which variables exist is known before anything that uses them is checked.
        for name, action in (data.get("actions") or {}).items():
            for var in (action.get("store") or {}):
                self.stored.setdefault(var, ("actions", name, "store", var))
        self._check_durations()
        targets = tuple(
            self._build_target(name, spec) for name, spec in data["targets"].items()
        )
        self.target_names = {t.name for t in targets}
        reset = self._build_reset(data.get("reset") or [], ("reset",))
        self._check_reset_commands(data.get("reset") or [])
        check_restarts(data, self.problem)
        generators = tuple(
            (name, self.values.parse(value, ("generators", name)))
            for name, value in (data.get("generators") or {}).items()
        )
        generator_names = {name for name, _ in generators}
        self._check_generator_refs(generators)
        compare = build_compare(self, data.get("compare") or {}, ("compare",), m.CompareRules())
        actions = tuple(
            self._build_action(name, spec, generator_names, compare)
            for name, spec in data["actions"].items()
        )
        accept = build_accept(self, data.get("accept") or [], ("accept",), list(data["actions"]))
        invariants = tuple(
            check for i, item in enumerate(data.get("invariants") or [])
            if (check := self._build_check(item, ("invariants", i), STEP_VARS, "invariant"))
        )
        run = data.get("run") or {}
        for issue in self.values.issues:
            self.problem(issue.path, issue.code, issue.message, key=issue.key,
                         offset=issue.offset)
        # Built even with problems, so that the later rules can report theirs in the same pass.
        return m.Spec(
            path=self.path,
            sha256="",
            openapi=self.openapi,
            targets=targets,
            reset=reset,
            generators=generators,
            actions=actions,
            compare=compare,
            invariants=invariants,
            run=m.RunSettings(
                sequences=run.get("sequences", 100),
                steps=run.get("steps", 20),
                seed=run.get("seed"),
                max_time=run.get("max_time"),
                shrink_time=run.get("shrink_time", 30.0),
                keep_going=run.get("keep_going", False),
                mode=run.get("mode", "positive"),
                concurrency=_concurrency(run.get("concurrency")),
                swarm=run.get("swarm", m.RunSettings.swarm),
            ),
            variables=tuple(sorted(self.stored)),
            accept=accept,
        )

    def _build_openapi(self) -> OpenApiDocument | None:
        ref = self.data.get("openapi")
        if ref is None:
            return None
        location = (self.path.parent / ref)
        try:
            return load_openapi(location)
        except OpenApiLoadError as err:
            where = f" ({ref}:{err.line}:{err.column})" if err.line else ""
            self.problem(("openapi",), "openapi-invalid",
                         f"cannot use OpenAPI document '{ref}': {err.message}{where}")
            return None

    def _build_target(self, name: str, spec: dict[str, Any]) -> m.TargetDef:
        path: JsonPath = ("targets", name)
        mark = self.positions.of(path)
        kinds = [k for k in ("app", "command", "compose") if k in spec]
        if len(kinds) > 1:
            self.problem(path, "target-kind",
                         "a target is either an in-process 'app' or a 'command' to start, "
                         "not both: remove one" if "compose" not in kinds else
                         f"a target is one of an in-process 'app', a 'command' to start and a "
                         f"'compose' service: keep either {kinds[0]!r} or {kinds[1]!r}")
        if not kinds and "base_url" not in spec:
            self.problem(path, "target-kind",
                         f"target '{name}' needs one of: app (module:attribute), base_url "
                         "(a running server) or command (a server to start)")
        kind = kinds[0] if kinds else "base_url"
        if kind == "compose" and "base_url" in spec:
            self.problem((*path, "base_url"), "target-option",
                         "'base_url' does not apply to a 'compose' target: its URL comes from "
                         "the port Docker publishes", key=True)
        for key in ("env", "cwd", "services"):
            if key in spec and kind != "command":
                self.problem((*path, key), "target-option",
                             f"'{key}' applies to a 'command' target only", key=True)
        if "parallel_sequences" in spec and kind != "base_url" and len(kinds) < 2:
            self.problem((*path, "parallel_sequences"), "target-option",
                         "'parallel_sequences' applies to a 'base_url' target only: with "
                         f"--workers, each worker {'imports' if kind == 'app' else 'starts'} "
                         "a target of its own; remove it", key=True)
        if "ready" in spec and kind == "app":
            self.problem((*path, "ready"), "target-option",
                         "'ready' applies to 'command' and 'base_url' targets, not to an "
                         "in-process app", key=True)
        if len(kinds) < 2:  # with both, the kind is unclear: the problem above says so
            self._check_target_strings(spec, path, kind)
        if kind == "command" and not _mentions_port(spec):
            self.problem((*path, "command"), "command-port",
                         "the command must listen on ${port} (a free port mbtspec picks), or "
                         "set base_url to where it listens")
        ready = spec.get("ready")
        headers = tuple((k, _text(v)) for k, v in (spec.get("headers") or {}).items())
        for k, v in headers:
            self._check_header((*path, "headers", k), k, v)
        return m.TargetDef(
            name=name,
            kind=kind,
            mark=mark,
            app=spec.get("app"),
            base_url=spec.get("base_url"),
            command=tuple(spec.get("command") or ()),
            env=tuple((k, _text(v)) for k, v in (spec.get("env") or {}).items()),
            cwd=spec.get("cwd"),
            ready=m.ReadyCheck(**ready) if isinstance(ready, dict) else (
                m.ReadyCheck() if kind in ("command", "compose") else None),
            headers=headers,
            timeout=float(spec.get("timeout", 10.0)),
            reset=(self._build_reset(spec["reset"], (*path, "reset"))
                   if "reset" in spec else None),
            max_response_size=self._size(spec, (*path, "max_response_size")),
            services=(build_services(spec, path, self.positions, self.problem)
                      if kind == "command" else ()),
            compose=build_compose(spec),
            parallel_sequences=spec.get("parallel_sequences") is True,
        )

    def _size(self, spec: dict[str, Any], path: JsonPath) -> int:
        """``max_response_size`` in bytes (the schema has checked its form already)."""
        if path[-1] not in spec:
            return DEFAULT_MAX_RESPONSE_SIZE
        size = parse_size(spec[path[-1]])
        if size is None or size < 1:
            self.problem(path, "out-of-range",
                         f"{spec[path[-1]]!r} must be at least 1 byte; write a number of bytes "
                         "or a size such as '16 MiB', '512 KiB' or '2 MB'")
            return DEFAULT_MAX_RESPONSE_SIZE
        return size

    def _check_durations(self) -> None:
        """NaN passes every comparison of the JSON Schema: durations are checked here."""
        run = self.data.get("run") or {}
        places: list[tuple[JsonPath, Any]] = [(("run", "max_time"), run.get("max_time")),
                                              (("run", "shrink_time"), run.get("shrink_time"))]
        for name, spec in self.data["targets"].items():
            places.append((("targets", name, "timeout"), spec.get("timeout")))
            ready = spec.get("ready")
            if isinstance(ready, dict):
                places.append((("targets", name, "ready", "timeout"), ready.get("timeout")))
        for path, value in places:
            if isinstance(value, float) and value != value:
                self.problem(path, "out-of-range",
                             f"'{path[-1]}' must be a number of seconds, not NaN (.nan)")

    def _check_target_strings(self, spec: dict[str, Any], path: JsonPath, kind: str) -> None:
        process = {"port", "tmp", "python"} if kind == "command" else set()
        places: list[tuple[JsonPath, str, set[str]]] = []
        for key in ("base_url", "cwd"):
            if isinstance(spec.get(key), str):
                places.append(((*path, key), spec[key], process))
        for i, arg in enumerate(spec.get("command") or []):
            places.append(((*path, "command", i), arg, process))
        for k, v in (spec.get("env") or {}).items():
            places.append(((*path, "env", k), str(v), process))
        for k, v in (spec.get("headers") or {}).items():  # sent with requests: env only
            places.append(((*path, "headers", k), str(v), set()))
        for i, step in enumerate(spec.get("reset") or []):
            for j, arg in enumerate(step.get("command") or []):
                places.append(((*path, "reset", i, "command", j), arg, process | {"tmp", "python"}))
            for k, argv in enumerate(step.get("commands") or []):
                places += [((*path, "reset", i, "commands", k, j), arg,
                            process | {"tmp", "python"}) for j, arg in enumerate(argv)]
        services = spec.get("services") if kind == "command" else None
        for where, text, allowed in places:
            for found in _TARGET_VARS.finditer(text):
                inner = found.group(1)
                if inner in allowed or re.fullmatch(r"env\.[A-Za-z_][A-Za-z0-9_]*(:-.*)?", inner):
                    continue
                wrong = (service_reference_problem(inner, services)
                         if isinstance(services, dict) and allowed else "")
                if wrong is None:
                    continue
                if wrong:
                    self.problem(where, "invalid-reference", wrong,
                                 offset=(1, found.start() + 1))
                    continue
                options = ", ".join(f"${{{a}}}" for a in sorted(allowed))
                self.problem(where, "invalid-reference",
                             f"'${{{inner}}}' is not available here; use "
                             f"{options + ' or ' if options else ''}${{env.NAME}}",
                             offset=(1, found.start() + 1))

    def _check_header(self, path: JsonPath, name: str, text: str) -> None:
        """A header's name must be a token, and the parts of its value written in the spec
        printable ASCII: anything else cannot be sent (or, for CR/LF, would start another
        header: header injection)."""
        if not _TOKEN.fullmatch(name):
            bad = next((c for c in name if not _TOKEN.fullmatch(c)), "")
            shown = "a space" if bad == " " else repr(bad) if bad else "nothing"
            self.problem(path, "invalid-header",
                         f"'{name}' is not a valid header name: it holds {shown}; header names "
                         "are letters, digits and !#$%&'*+-.^_`|~ only (no spaces or colons)",
                         key=True)
        checked = _TARGET_VARS.sub(lambda found: "a" * len(found[0]), text)  # ${env.X}: later
        bad_chars = [c for c in checked if not (" " <= c <= "~" or c == "\t")]
        if not bad_chars:
            return
        if any(c in "\r\n" for c in bad_chars):
            message = ("the value holds a line break (CR or LF), which would end this header "
                       "and start another (header injection); remove it")
        elif any(ord(c) < 128 for c in bad_chars):
            message = (f"the value holds the control character U+{ord(bad_chars[0]):04X}, which "
                       "a header cannot carry; remove it")
        else:
            encoded = quote(text, safe=_PRINTABLE_ASCII.replace("%", ""))
            message = (f"the value holds {bad_chars[0]!r} (U+{ord(bad_chars[0]):04X}), which is "
                       "not ASCII: header values are sent as ASCII; percent-encode it "
                       f"('{encoded}'), or send the text in the body")
        column = checked.find(bad_chars[0]) + 1
        mark = self.positions.of(path)
        self.problem(path, "invalid-header", message,
                     offset=(1, column) if mark.line == mark.end_line and column else None)

    def _check_reset_commands(self, steps: list[dict[str, Any]]) -> None:
        """Top-level reset commands run for every target: ${tmp}, ${python}, ${port} (the
        latter only where the target is a command) and ${env.NAME}."""
        places: list[tuple[JsonPath, str]] = []
        for i, step in enumerate(steps):
            places += [(("reset", i, "command", j), a) for j, a in enumerate(step.get("command")
                                                                              or [])]
            places += [(("reset", i, "commands", k, j), a)
                       for k, argv in enumerate(step.get("commands") or [])
                       for j, a in enumerate(argv)]
        for where, arg in places:
            for found in _TARGET_VARS.finditer(arg):
                inner = found.group(1)
                if inner in ("tmp", "python", "port") or re.fullmatch(
                        r"env\.[A-Za-z_][A-Za-z0-9_]*(:-.*)?", inner):
                    continue
                self.problem(where, "invalid-reference",
                             f"'${{{inner}}}' is not available here; use ${{tmp}}, "
                             "${python}, ${port} or ${env.NAME}",
                             offset=(1, found.start() + 1))

    def _build_reset(self, items: list[dict[str, Any]], path: JsonPath) -> tuple[m.ResetStep, ...]:
        steps = []
        for i, item in enumerate(items):
            where = (*path, i)
            has = [k for k in ("request", "command", "restart") if k in item]
            if len(has) != 1:
                self.problem(where, "reset-step",
                             "each reset step is either 'request: METHOD /path', "
                             "'command: [program, args...]' or 'restart: [targets]'")
                continue
            if "commands" in item and "restart" not in item:
                self.problem((*where, "commands"), "reset-step",
                             "'commands' runs while a 'restart' step has stopped its targets; "
                             "for a command on its own, write 'command: [program, args...]'",
                             key=True)
            if "restart" in item:
                restart, commands = build_restart(item)
                steps.append(m.ResetStep(self.positions.of(where), restart=restart,
                                         commands=commands))
                continue
            if "command" in item:
                steps.append(m.ResetStep(self.positions.of(where),
                                         command=tuple(item["command"])))
                continue
            method, _, target_path = item["request"].partition(" ")
            if method.lower() not in METHODS:
                self.problem((*where, "request"), "invalid-method",
                             f"'{method}' is not an HTTP method"
                             f"{did_you_mean(method.upper(), [x.upper() for x in METHODS])}")
            headers = tuple((k, _text(v)) for k, v in (item.get("headers") or {}).items())
            for k, v in headers:
                self._check_header((*where, "headers", k), k, v)
            steps.append(m.ResetStep(
                self.positions.of(where), method=method.upper(), path=target_path.strip(),
                body=item.get("body"),
                headers=headers,
                status=item.get("status"),
            ))
        return tuple(steps)

    def _check_generator_refs(self, generators: tuple[tuple[str, m.Value], ...]) -> None:
        names = {name for name, _ in generators}
        graph: dict[str, set[str]] = {}
        for name, value in generators:
            graph[name] = set()
            for ref in iter_refs(value):
                if isinstance(ref, m.Ref) and not ref.env:
                    if ref.name in names:
                        graph[name].add(ref.name)
                    else:
                        self._unknown_generator(ref.at or ("generators", name), ref.name,
                                                names, ref.column, in_action=False)
                elif isinstance(ref, m.Pick) and ref.variable not in self.stored:
                    self._unstored(ref, ("generators", name))
        for name in graph:  # a generator that (indirectly) refers to itself never ends
            cycle = _cycle(graph, name)
            if cycle:
                self.problem(("generators", name), "recursive-generator",
                             f"generator '{name}' refers to itself ({' -> '.join(cycle)}); "
                             "break the cycle")

    def _unknown_generator(self, path: JsonPath, name: str, known: set[str],
                           column: int = 0, in_action: bool = True) -> None:
        where = "'generators:' (or in this action's 'let:')" if in_action else "'generators:'"
        self.problem(path, "unknown-generator",
                     f"no generator '{name}'{did_you_mean(name, known)}; define it under "
                     f"{where}", offset=(1, column) if column else None)

    def _build_check(self, item: Any, path: JsonPath, allowed: frozenset[str],
                     role: str) -> m.Check | None:
        if isinstance(item, str):
            item = {"check": item}
            check_path: JsonPath = path
        else:
            check_path = (*path, "check")
        if not self.has_model and "model" in allowed:
            allowed = allowed - {"model"}
        expr = self.expression(item["check"], check_path, allowed, role)
        when = (self.expression(item["when"], (*path, "when"), allowed, f"{role} 'when'")
                if "when" in item else None)
        if expr is None:
            return None
        return m.Check(item.get("name") or item["check"], expr, when)

    def _build_action(self, name: str, spec: dict[str, Any], generators: set[str],
                      compare: m.CompareRules) -> m.Action:
        path: JsonPath = ("actions", name)
        method, target_path, operation = self._resolve_request(spec["request"],
                                                               (*path, "request"))
        self.values.lets = frozenset(spec.get("let") or {})  # (what 'unique' may not read)
        let = tuple(
            (k, self.values.parse(v, (*path, "let", k))) for k, v in (spec.get("let") or {}).items()
        )
        scope = set(generators)
        for let_name, let_value in let:
            self._check_refs(let_value, (*path, "let", let_name), scope)
            scope.add(let_name)
        parts: dict[str, tuple[tuple[str, m.Value], ...]] = {}
        for part in ("path", "query", "headers"):
            parts[part] = tuple(
                (k, self.values.parse(v, (*path, part, k)))
                for k, v in (spec.get(part) or {}).items()
            )
            for key, value in parts[part]:
                self._check_refs(value, (*path, part, key), scope)
                if part == "headers":
                    self._check_header((*path, part, key), key, _literal_text(value))
        body = self.values.parse(spec["body"], (*path, "body")) if "body" in spec else None
        if body is not None:
            self._check_refs(body, (*path, "body"), scope)
        url = self.values.parse(spec["url"], (*path, "url")) if "url" in spec else None
        if url is not None:
            self._check_refs(url, (*path, "url"), scope)
        overrides = tuple(self._build_override(target, item, (*path, "targets", target), scope)
                          for target, item in (spec.get("targets") or {}).items())
        fill = spec.get("fill", "all")
        content_type = spec.get("content_type")
        if content_type is not None:
            self._check_content_type(content_type, operation, (*path, "content_type"))
        if (*path, "request") not in self.unresolved and url is None:
            self._check_path_params(target_path, operation, parts["path"], fill, path)
        for key, _ in parts["path"] if url is not None else ():
            self.problem((*path, "path", key), "unknown-parameter",
                         f"'{key}' is not used: the action's 'url' is the whole request "
                         "target, so no path parameter is filled in; remove it from 'path'",
                         key=True)
        store = tuple(
            (var, expr) for var, source in (spec.get("store") or {}).items()
            if (expr := self.expression(source, (*path, "store", var), RESPONSE_VARS, "store"))
        )
        when = (self.expression(spec["when"], (*path, "when"), frozenset(), "when")
                if "when" in spec else None)
        expect = tuple(
            check for i, item in enumerate(spec.get("expect") or [])
            if (check := self._build_check(item, (*path, "expect", i),
                                           RESPONSE_VARS | STEP_VARS, "expect"))
        )
        return m.Action(
            name=name,
            mark=self.positions.of(path),
            method=method,
            path=target_path,
            operation=operation,
            path_params=parts["path"],
            query=parts["query"],
            headers=parts["headers"],
            body=body,
            let=let,
            when=when,
            store=store,
            weight=spec.get("weight", 1),
            compare=build_compare(self, spec.get("compare") or {}, (*path, "compare"), compare),
            expect=expect,
            fill=fill,
            mode=spec.get("mode"),
            accept=build_accept(self, spec.get("accept") or [], (*path, "accept"),
                                list(self.data["actions"]), own=name),
            content_type=content_type,
            url=url,
            overrides=overrides,
        )

    def _build_override(self, target: str, spec: dict[str, Any], path: JsonPath,
                        scope: set[str]) -> m.Override:
        """One target's changes to an action's request: parsed and checked like the action's
        own values (not against the OpenAPI document: versions differ)."""
        parts: dict[str, tuple[tuple[str, m.Value], ...]] = {}
        for part in ("path", "query", "headers"):
            parts[part] = tuple((k, self.values.parse(v, (*path, part, k)))
                                for k, v in (spec.get(part) or {}).items())
            for key, value in parts[part]:
                self._check_refs(value, (*path, part, key), scope)
                if part == "headers" and not (isinstance(value, m.Literal_)
                                              and value.value is None):
                    self._check_header((*path, part, key), key, _literal_text(value))
        single: dict[str, m.Value | None] = {}
        for key in ("body", "url"):
            parsed = self.values.parse(spec[key], (*path, key)) if key in spec else None
            if parsed is not None:
                self._check_refs(parsed, (*path, key), scope)
            single[key] = parsed
        if target not in self.target_names:
            self.problem(path, "unknown-key", f"no target '{target}' in this spec; its "
                         f"targets: {', '.join(sorted(self.target_names))}", key=True)
        return m.Override(target, parts["path"], parts["query"], parts["headers"],
                          single["body"], "body" in spec, single["url"])

    def _check_content_type(self, content_type: str, operation: m.Operation | None,
                            path: JsonPath) -> None:
        """A media type the operation documents for its body (any, when it documents none)."""
        if operation is None or not operation.body_media or operation.media(content_type):
            return
        documented = [name for name, _ in operation.body_media]
        self.problem(path, "undocumented-media-type",
                     f"{operation.key} documents no request body of type '{content_type}'"
                     f"{did_you_mean(content_type, documented)}; documented: "
                     f"{', '.join(documented)}")

    def _check_refs(self, value: m.Value, path: JsonPath, scope: set[str]) -> None:
        for ref in iter_refs(value):
            if isinstance(ref, m.Pick):
                if ref.variable not in self.stored:
                    self._unstored(ref, path)
            elif not ref.env and ref.name not in scope:
                self._unknown_generator(ref.at or path, ref.name, scope, ref.column)

    def _unstored(self, pick: m.Pick, path: JsonPath) -> None:
        self.problem(pick.at or path, "unstored-variable",
                     f"nothing stores '{pick.variable}'{did_you_mean(pick.variable, self.stored)}; "
                     f"add 'store: {{{pick.variable}: response.body...}}' to the action that "
                     "creates it")

    def _resolve_request(self, request: str,
                         path: JsonPath) -> tuple[str, str, m.Operation | None]:
        request = request.strip()
        method, _, target_path = request.partition(" ")
        target_path = target_path.strip()
        doc = self.openapi
        if target_path:
            if method.lower() not in METHODS:
                self.problem(path, "invalid-method", f"'{method}' is not an HTTP method"
                             f"{did_you_mean(method.upper(), [x.upper() for x in METHODS])}")
                self.unresolved.add(tuple(path))
                return method.upper(), target_path, None
            if not target_path.startswith("/"):
                self.problem(path, "invalid-request",
                             f"the path '{target_path}' must start with '/'")
            if doc is None:
                return method.upper(), target_path, None
            operation = doc.find(f"{method.upper()} {target_path}")
            if operation is None:
                loose = doc.find_loosely(method, target_path)
                hint = (f" (did you mean '{loose.key}'?)" if loose else
                        did_you_mean(f"{method.upper()} {target_path}",
                                     [op.key for op in doc.operations]))
                if not hint:
                    hint = f"; its operations: {_some([op.key for op in doc.operations])}"
                self.unresolved.add(tuple(path))
                self.problem(path, "unknown-operation",
                             f"no operation '{method.upper()} {target_path}' in "
                             f"{doc.file.name}{hint}")
            return method.upper(), target_path, operation
        if doc is None:
            self.problem(path, "invalid-request",
                         f"'{request}' is neither 'METHOD /path' nor usable as an operationId "
                         "(operationIds need 'openapi:' at the top of the spec)")
            return "GET", "/", None
        operation = doc.find(request)
        if operation is None:
            ids = [op.operation_id for op in doc.operations if op.operation_id]
            hint = did_you_mean(request, ids) or f"; its operationIds: {_some(ids)}"
            self.problem(path, "unknown-operation",
                         f"no operation with operationId '{request}' in {doc.file.name}{hint}")
            return "GET", "/", None
        return operation.method, operation.path, operation

    def _check_path_params(self, target_path: str, operation: m.Operation | None,
                           given: tuple[tuple[str, m.Value], ...], fill: str,
                           path: JsonPath) -> None:
        wanted = PATH_PARAM.findall(target_path)
        given_names = {k for k, _ in given}
        for key in given_names - set(wanted):
            self.problem((*path, "path", key), "unknown-parameter",
                         f"'{key}' is not a parameter of the path {target_path}"
                         f"{did_you_mean(key, wanted)}", key=True)
        for name in wanted:
            if name in given_names:
                continue
            documented = operation.parameter("path", name) if operation else None
            if documented is None or documented.schema is None or fill == "none":
                if self.openapi is None:
                    why = "the spec has no OpenAPI document to draw it from"
                elif documented is not None and fill == "none":
                    why = "fill is none"
                else:
                    why = "the OpenAPI document gives no schema to draw it from"
                self.problem((*path, "request"), "missing-path-parameter",
                             f"path parameter '{name}' has no value ({why}); set it under "
                             f"'path: {{{name}: ...}}'")


def _literal_text(value: m.Value) -> str:
    """The parts of a header value written in the spec, as they will be sent."""
    if isinstance(value, m.Literal_):
        item = value.value
        if isinstance(item, str):
            return item
        if isinstance(item, bool) or item is None:
            return {True: "true", False: "false", None: "null"}[item]
        if isinstance(item, int | float):
            return str(item)
        return json.dumps(item, separators=(",", ":"), ensure_ascii=False, default=str)
    if isinstance(value, m.Template):
        return "".join(part for part in value.parts if isinstance(part, str))
    return ""


def _text(value: Any) -> str:
    """A header or environment value as written: true, not Python's True."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _cycle(graph: dict[str, set[str]], start: str) -> list[str]:
    """The shortest path start -> ... -> start in ``graph``, or [] if there is none."""
    parents: dict[str, str] = {}
    queue = sorted(graph.get(start, ()))
    for node in queue:
        parents.setdefault(node, start)
    while queue:
        node = queue.pop(0)
        if node == start:
            path = [start]
            current = parents[start]
            while current != start:
                path.append(current)
                current = parents[current]
            return [start, *reversed(path[1:]), start] if len(path) > 1 else [start, start]
        for following in sorted(graph.get(node, ())):
            if following not in parents:
                parents[following] = node
                queue.append(following)
    return []


def _some(names: list[str], limit: int = 10) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" ... ({len(names) - limit} more)" if len(names) > limit else "") or "none"


def _mentions_port(spec: dict[str, Any]) -> bool:
    texts = [*(spec.get("command") or []), str(spec.get("base_url") or ""),
             *map(str, (spec.get("env") or {}).values())]
    return any("${port}" in t for t in texts) or (
        "base_url" in spec and "${port}" not in str(spec.get("base_url")))


def _find_call(source: str, name: str) -> int:
    """Column of the call of ``name`` (``abs(``, ``.abs(``, ``math.foo(``) in ``source``."""
    found = re.search(rf"(?<![\w]){re.escape(name)}\s*\(", source)
    return found.start() + 1 if found else 0


def _find_word(source: str, word: str) -> int:
    found = re.search(rf"(?<![\w.]){re.escape(word)}(?!\w)", source)
    return found.start() + 1 if found else 0


def _function_names() -> list[str]:
    from mbtspec.spec.expressions import BARE_FUNCTIONS

    return sorted(BARE_FUNCTIONS | NAMESPACED_FUNCTIONS)


def _concurrency(value: Any) -> m.Concurrency | None:
    """``run.concurrency`` (its shape checked by the schema already): a number of branches,
    or the whole mapping."""
    if isinstance(value, int) and not isinstance(value, bool):
        return m.Concurrency(branches=value)
    if not isinstance(value, dict):
        return None
    return m.Concurrency(branches=value.get("branches", 2),
                         branch_steps=value.get("branch_steps"),
                         prefix_steps=value.get("prefix_steps", 5),
                         then=tuple(value.get("then") or ()),
                         tries=value.get("tries", 5))
