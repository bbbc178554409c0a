"""The values of ``${env.NAME}`` that requests carry: secrets, and whether headers can carry them.

Every environment value a request may carry is a secret, redacted wherever mbtspec shows or
saves something (see ``report/redact.py``): in an action's values (collected by the compiler
as it compiles them), in a target's ``headers``, and in the ``headers`` and ``body`` of reset
requests. Values shorter than 4 characters are not secrets: they would blank out unrelated
text.

An HTTP header cannot carry every character. A value with a line break (a token file read with
its final newline, the most common case), another control character, a character outside
ASCII, or a space at either end of the header, would only fail when the first request is sent,
after every target has started; ``header_problems`` refuses it at compile time instead, as a
positioned problem that names the variable and the header, never the value. So it does for a
``base_url`` that gets a space or a control character from the environment.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from typing import Any

from mbtspec.spec import model as m
from mbtspec.spec.problems import Problem, format_path

#: Shortest environment value that is a secret.
SHORTEST_SECRET = 4

_ENV = re.compile(r"\$\{env\.([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}")


def secret_values(spec: m.Spec, environ: Mapping[str, str]) -> set[str]:
    """The environment values that requests may carry: in targets' headers, in reset requests
    (headers and body), and in actions' values and generators."""
    found = set()
    for template, _, _ in _header_templates(spec):
        found |= {environ[name] for name in _env_names(template) if name in environ}
    for step in _reset_steps(spec):
        for text in _strings(step.body):
            found |= {environ[name] for name in _env_names(text) if name in environ}
    for action in spec.actions:
        values = (action.path_params, action.query, action.headers, action.body, action.let)
        found |= {environ[ref.name] for ref in _env_refs(values, spec, action, set())
                  if ref.name in environ}
    return {value for value in found if len(value) >= SHORTEST_SECRET}


def header_problems(spec: m.Spec, environ: Mapping[str, str]) -> list[Problem]:
    """One problem per header whose environment values it cannot carry, and per target
    ``base_url`` whose environment values hold a space or a control character (a URL holds
    neither; a value read from a file often ends with a newline)."""
    problems = []
    for target in spec.targets:
        for name in _env_names(target.base_url or "") if target.kind != "app" else ():
            value = environ.get(name, "")
            bad = next((c for c in value if c <= " " or c == "\x7f"), None)
            if bad is not None:
                what = ("a line break (CR or LF)" if bad in "\r\n" else "a space"
                        if bad == " " else f"a control character (U+{ord(bad):04X})")
                problems.append(Problem(
                    str(spec.path), target.mark.line, target.mark.column,
                    format_path(("targets", target.name, "base_url")),
                    "invalid-environment-value",
                    f"environment variable {name} holds {what}, which a URL cannot hold; set "
                    "the variable without it (a value read from a file often ends with a "
                    "line break)"))
    for template, mark, at in _header_templates(spec):
        names = [n for n in _env_names(template) if n in environ]
        value = _ENV.sub(lambda found: environ.get(found.group(1), (found.group(2) or ":-")[2:]),
                         template)
        problem = _unsendable(value, names, environ)
        if problem:
            problems.append(Problem(str(spec.path), mark.line, mark.column, format_path(at),
                                    "invalid-environment-value", problem))
    for action in spec.actions:
        for header, given in action.headers:
            refs = list(_env_refs(given, spec, action, set()))
            names = [ref.name for ref in refs if ref.name in environ]
            whole = _whole(given, environ)
            problem = _unsendable(whole or "", names, environ, whole=whole is not None)
            if problem:
                ref = next(r for r in refs if r.name in names)
                problems.append(Problem(
                    str(spec.path), ref.mark.line, ref.mark.column,
                    format_path(("actions", action.name, "headers", header)),
                    "invalid-environment-value", problem))
    return problems


def _unsendable(value: str, names: list[str], environ: Mapping[str, str], *,
                whole: bool = True) -> str:
    """Why a header value cannot be sent ("" if it can). ``whole``: ``value`` is the whole
    header value (so spaces at its ends count)."""
    for name in names:
        what, fix = _bad_character(environ[name])
        if what:
            return (f"environment variable {name} holds {what}, which an HTTP header cannot "
                    f"carry (its value is a secret and is not shown); {fix}")
    if whole and value != value.strip(" \t") and names:
        return (f"with environment variable{'s' if len(names) > 1 else ''} "
                f"{', '.join(names)} the header starts or ends with a space, which HTTP "
                "does not allow (the value is a secret and is not shown); remove the space")
    return ""


def _whole(value: m.Value, environ: Mapping[str, str]) -> str | None:
    """The text of a header value made of text and ``${env.NAME}`` only, else None."""
    parts = value.parts if isinstance(value, m.Template) else (value,)
    text = []
    for part in parts:
        if isinstance(part, str):
            text.append(part)
        elif isinstance(part, m.Ref) and part.env:
            text.append(environ.get(part.name, part.default or ""))
        else:
            return None
    return "".join(text)


def _bad_character(value: str) -> tuple[str, str]:
    """The first character of ``value`` a header cannot carry, in words, and the fix."""
    for char in value:
        if char in "\r\n":
            return ("a line break (CR or LF)", "set the variable without it (a value read from "
                    "a file often ends with one)")
        if char == "\0":
            return "a NUL character", "set the variable without it"
        if char != "\t" and (char < " " or char == "\x7f"):
            return f"a control character (U+{ord(char):04X})", "set the variable without it"
        if not char.isascii():
            return ("a character outside ASCII", "set it percent-encoded or in base64, as the "
                    "server expects")
    return "", ""


def _env_names(text: str) -> list[str]:
    return [found.group(1) for found in _ENV.finditer(text)]


def _reset_steps(spec: m.Spec) -> Iterator[m.ResetStep]:
    yield from spec.reset
    for target in spec.targets:
        yield from target.reset or ()


def _header_templates(spec: m.Spec) -> Iterator[tuple[str, m.Mark, tuple[str | int, ...]]]:
    """Every header a target sends (its own, its reset requests'), with where it is."""
    for target in spec.targets:
        for name, template in target.headers:
            yield template, target.mark, ("targets", target.name, "headers", name)
    for index, step in enumerate(spec.reset):
        for name, template in step.headers:
            yield template, step.mark, ("reset", index, "headers", name)
    for target in spec.targets:
        for index, step in enumerate(target.reset or ()):
            for name, template in step.headers:
                yield template, step.mark, ("targets", target.name, "reset", index, "headers",
                                            name)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _env_refs(value: Any, spec: m.Spec, action: m.Action, seen: set[str]
              ) -> Iterator[m.Ref]:
    """The ``${env.NAME}`` a value uses, also through the generators and ``let`` values it
    refers to."""
    if isinstance(value, m.Ref):
        if value.env:
            yield value
            return
        if value.name in seen:
            return
        seen.add(value.name)
        named = dict(action.let).get(value.name) or dict(spec.generators).get(value.name)
        if named is not None:
            yield from _env_refs(named, spec, action, seen)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _env_refs(getattr(value, field.name), spec, action, seen)
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _env_refs(item, spec, action, seen)
