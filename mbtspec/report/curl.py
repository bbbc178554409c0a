"""A replay file as a shell script of curl commands, to report a bug without mbtspec.

Each target's address comes from a shell variable (``MODEL_URL``, ``CANDIDATE_URL``) with the
spec's address as default; targets that run in-process or on a port chosen per run need the
variable set. Secrets stay ``***`` unless the caller passes their values.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from mbtspec.executor._http import encode_body
from mbtspec.executor.replay import restore_secrets
from mbtspec.report.replay_file import ReplayRecord
from mbtspec.spec.model import TargetDef


def _variable(target: str) -> str:
    return f"{target.upper()}_URL"


def _default_url(definition: TargetDef | None, port: int) -> tuple[str, str]:
    """The default address, and a comment when there is no fixed one."""
    url = f"http://127.0.0.1:{port}"
    if definition is None:
        return url, "this target is not in the spec any more"
    if definition.kind == "base_url" and definition.base_url and "${" not in definition.base_url:
        return definition.base_url.rstrip("/"), ""
    if definition.kind == "app":
        return url, (f"in-process app {definition.app}: serve it with an ASGI/WSGI server "
                     "on that port, or set the variable")
    if definition.kind == "base_url":
        return url, f"base_url {definition.base_url} depends on the environment: set the variable"
    if definition.kind == "compose" and definition.compose is not None:
        return url, (f"service {definition.compose.service} of {definition.compose.file}: run "
                     "'docker compose up', and set the variable to its published port")
    return url, "started by mbtspec on a free port: start it yourself and set the variable"


def render_curl(record: ReplayRecord, targets: Mapping[str, TargetDef],
                secrets: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """The script. ``secrets``: per target, header name -> value to put instead of ``***``."""
    names = list(record.data.get("targets") or (record.steps[0].requests if record.steps else []))
    lines = [
        "#!/bin/sh",
        f"# The calls of {record.path.name}: a {record.kind} found by mbtspec in "
        f"{record.data.get('spec', '')}.",
        "# Each call is sent to every target; compare what they answer.",
        "set -u",
    ]
    for number, name in enumerate(names, start=1):
        url, comment = _default_url(targets.get(name), 8000 + number)
        if comment:
            lines.append(f"# {name}: {comment}")
        lines.append(f'{_variable(name)}="${{{_variable(name)}:-{url}}}"')
    for number, step in enumerate(record.steps, start=1):
        lines += ["", f"echo '== step {number}: {step.action}'"]
        for name in names:
            request = step.requests.get(name)
            if request is None:
                continue
            # HEAD: -I, since with -X HEAD curl waits for a body that never comes
            command = ["curl", "-sS", "-I"] if request.method == "HEAD" else [
                "curl", "-sS", "-X", request.method]
            for header, value in restore_secrets(request.headers,
                                                  (secrets or {}).get(name, {})):
                command += ["-H", f"{header}: {value}"]
            content, _ = encode_body(request.body, request.media_type)
            feed = ""
            if content is not None:  # the bytes the run sent
                text = _as_text(content)
                if text is None:  # not text: printf writes the exact bytes to curl's input
                    feed = "printf '" + "".join(f"\\{b:03o}" for b in content) + "' | "
                    command += ["--data-binary", "@-"]
                else:
                    command += ["--data-binary", text]
            command += ["-w", f"\\n{name}: status %{{http_code}}\\n"]
            url = f'"${{{_variable(name)}}}"{shlex.quote(request.path)}'
            lines.append(f"echo '-- {name}'")
            lines.append(feed + shlex.join(command) + " " + url)
    return "\n".join(lines) + "\n"


def _as_text(content: bytes) -> str | None:
    """``content`` as text that a shell argument can carry unchanged (UTF-8, no NUL, and not
    starting with ``@``, which curl reads as a file name); None when it is not."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if "\0" in text or text.startswith("@") else text
