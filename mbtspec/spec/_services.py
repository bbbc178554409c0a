"""Build and check what a target depends on and how it restarts: a command target's
``services`` (databases started for the run), a ``compose`` target, and ``restart`` reset steps.

Each function reports through the builder's ``problem`` (positioned, one pass) and returns
frozen model objects; the builder calls them while it builds targets and reset lists.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

from mbtspec.spec import model as m
from mbtspec.spec._yaml import JsonPath, Positions
from mbtspec.spec.problems import did_you_mean

_VARS = re.compile(r"\$\{([^}]*)\}")
_ENV = re.compile(r"env\.[A-Za-z_][A-Za-z0-9_]*(:-.*)?")
#: What a service's strings may use besides ${env.NAME}.
SERVICE_VARIABLES = ("dir", "port", "python", "tmp")
_SERVICE_REF = re.compile(r"services\.([^.}]*)\.(port|dir)")

Report = Callable[..., None]  # Builder.problem(path, code, message, **kw)


def build_services(spec: dict[str, Any], path: JsonPath, positions: Positions,
                   problem: Report) -> tuple[m.ServiceDef, ...]:
    """The ``services`` of one target, checked: placeholders, and a way to tell readiness."""
    services = []
    for name, item in (spec.get("services") or {}).items():
        where = (*path, "services", name)
        ready = item.get("ready") or {}
        setup = tuple(tuple(argv) for argv in item.get("setup") or ())
        places: list[tuple[JsonPath, str]] = [
            ((*where, "command", i), arg) for i, arg in enumerate(item["command"])]
        places += [((*where, "setup", i, j), arg)
                   for i, argv in enumerate(setup) for j, arg in enumerate(argv)]
        places += [((*where, "env", k), str(v)) for k, v in (item.get("env") or {}).items()]
        places += [((*where, "ready", "command", i), arg)
                   for i, arg in enumerate(ready.get("command") or ())]
        for at, text in places:
            for found in _VARS.finditer(text):
                inner = found.group(1)
                if inner in SERVICE_VARIABLES or _ENV.fullmatch(inner):
                    continue
                problem(at, "invalid-reference",
                        f"'${{{inner}}}' is not available in a service; use ${{port}} (its "
                        "port), ${dir} (its own folder), ${tmp}, ${python} or ${env.NAME}",
                        offset=(1, found.start() + 1))
        if not ready.get("command") and not any("${port}" in text for _, text in places):
            problem((*where, "command"), "service-ready",
                    f"mbtspec cannot tell when service '{name}' is ready: listen on ${{port}} "
                    "(it is ready once the port accepts connections), or set ready.command "
                    "(a command that exits with 0 once it is ready, such as pg_isready)")
        services.append(m.ServiceDef(
            name=name, mark=positions.of(where), command=tuple(item["command"]), setup=setup,
            env=tuple((k, _text(v)) for k, v in (item.get("env") or {}).items()),
            ready_command=tuple(ready.get("command") or ()),
            ready_timeout=float(ready.get("timeout", 30.0)), user=item.get("user")))
    return tuple(services)


def service_reference_problem(inner: str, services: dict[str, Any]) -> str | None:
    """Is ``inner`` (the text in ``${...}``) a reference to one of the target's services?
    None if it is one; the problem's message if it looks like one but is wrong; ``""`` if it
    is not a service reference at all."""
    found = _SERVICE_REF.fullmatch(inner)
    if found is None:
        if inner.startswith("services."):
            return (f"'${{{inner}}}' is not a service reference; write "
                    "${services.NAME.port} or ${services.NAME.dir}")
        return ""
    if found.group(1) in services:
        return None
    known = sorted(services)
    return (f"'${{{inner}}}': this target has no service '{found.group(1)}'"
            f"{did_you_mean(found.group(1), known)}"
            + (f"; its services: {', '.join(known)}" if known else
               "; declare it under the target's 'services:'"))


def build_compose(spec: dict[str, Any]) -> m.ComposeDef | None:
    compose = spec.get("compose")
    if not isinstance(compose, dict):
        return None
    return m.ComposeDef(file=compose["file"], service=compose["service"],
                        port=int(compose["port"]))


def check_restarts(data: dict[str, Any], problem: Report) -> None:
    """``restart`` steps name targets of this spec that mbtspec starts itself (command
    targets); in a target's own reset, the step can only restart that target."""
    targets = data.get("targets") or {}
    restartable = [n for n, t in targets.items() if isinstance(t, dict) and "command" in t]
    lists: list[tuple[JsonPath, Any, str | None]] = [(("reset",), data.get("reset"), None)]
    lists += [(("targets", n, "reset"), t.get("reset"), n)
              for n, t in targets.items() if isinstance(t, dict)]
    for path, steps, owner in lists:
        for i, step in enumerate(steps or []):
            if not isinstance(step, dict) or "restart" not in step:
                continue
            where = (*path, i, "restart")
            named = step["restart"]
            if isinstance(named, str) and named != "all" or named == []:
                problem(where, "restart-target",
                        f"{'[]' if named == [] else repr(named)} names no target: write "
                        "'restart: all' (every command target) or a list such as "
                        "'restart: [candidate]'")
                continue
            if named == "all":
                if not (restartable if owner is None else owner in restartable):
                    problem(where, "restart-target",
                            "'restart: all' restarts command targets, and "
                            f"{'this spec has none' if owner is None else f'{owner!r} is not one'}"
                            "; reset the others with a request or command step")
                continue
            for j, name in enumerate(named):
                if name not in targets:
                    problem((*where, j), "restart-target",
                            f"'{name}' is not a target of this spec"
                            f"{did_you_mean(name, list(targets))}; name "
                            f"{' or '.join(sorted(targets)) or 'a target'}, or write 'all'")
                elif name not in restartable:
                    problem((*where, j), "restart-target",
                            f"'{name}' is not a command target: mbtspec can only restart what "
                            "it starts; reset it with a request or command step")
                elif owner is not None and name != owner:
                    problem((*where, j), "restart-target",
                            f"a step in the reset of '{owner}' runs on '{owner}' only, so it "
                            f"cannot restart '{name}'; move it to the top-level reset")


def build_restart(item: dict[str, Any]) -> tuple[tuple[str, ...] | Literal["all"],
                                                  tuple[tuple[str, ...], ...]]:
    """The targets a restart step names (or ``"all"``) and the commands it runs."""
    named = item["restart"]
    restart: tuple[str, ...] | Literal["all"] = (
        "all" if named == "all" else tuple(named) if isinstance(named, list) else ())
    return restart, tuple(tuple(argv) for argv in item.get("commands") or ())


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
