"""A step's drawn values, as a replay file keeps them, so that a replay can draw the step
again instead of resending its recorded request.

Resending recorded requests repeats what the earlier run's servers minted: ids, session tokens,
``Location`` URLs. A new run of the servers mints new ones, and the old ones are at best
unknown to them (a 404, a 401 instead of the failure) and at worst another user's. The draws
say what the step chose instead: the generated values as they were, and each ``pick`` as the
entry it chose (the step that stored it), so that a replay picks what that step stores *now*.

Values that are not plain YAML are written with a tag key: ``$pick`` (a stored entry),
``$file``, ``$change`` (an invalid or boundary input), ``$missing``, ``$tuple``, ``$dict``
(a mapping whose keys start with ``$``) and ``$redacted`` (a value that held a secret: the
replay draws it again from its generator, where the secret comes from the environment).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mbtspec.compiler import MISSING, InputChange
from mbtspec.compiler._payloads import FilePart
from mbtspec.compiler.state import Entry
from mbtspec.executor.records import Redacted
from mbtspec.report.redact import Redactor


class NotSaved(Exception):
    """A drawn value that a replay file cannot hold."""


def draws_data(draws: Sequence[Any], redact: Redactor) -> list[Any] | None:
    """``draws`` as YAML data; None when one of them cannot be written."""
    out = []
    try:
        for value in draws:
            data = _encode(value)
            shown = redact.data(data)
            out.append(data if shown == data else {"$redacted": True})
    except NotSaved:
        return None
    return out


def draws_from_data(data: Any) -> tuple[Any, ...] | None:
    """The draws of a replay file's step; None when there are none (or not readable)."""
    if not isinstance(data, list):
        return None
    try:
        return tuple(_decode(item) for item in data)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return value  # (YAML writes NaN and infinities as .nan and .inf)
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v) for v in value]}
    if isinstance(value, dict):
        encoded = {str(k): _encode(v) for k, v in value.items()}
        if any(isinstance(k, str) and k.startswith("$") for k in value):
            return {"$dict": encoded}
        return encoded
    if isinstance(value, Entry):
        return {"$pick": {"variable": value.variable, "step": value.step, "nth": value.nth}}
    if isinstance(value, FilePart):
        return {"$file": {"content": value.content, "filename": value.filename,
                          "content_type": value.content_type}}
    if value is MISSING:
        return {"$missing": True}
    if isinstance(value, InputChange):
        return {"$change": {"kind": value.kind, "location": value.location,
                            "name": value.name, "value": _encode(value.value),
                            "reason": value.reason, "place": value.place}}
    raise NotSaved(type(value).__name__)


def _decode(data: Any) -> Any:
    if isinstance(data, list):
        return [_decode(v) for v in data]
    if not isinstance(data, dict):
        return data
    if len(data) == 1:
        (key, inner), = data.items()
        if key == "$tuple":
            return tuple(_decode(v) for v in inner)
        if key == "$dict":
            return {k: _decode(v) for k, v in inner.items()}
        if key == "$pick":
            return Entry(str(inner["variable"]), int(inner["step"]), int(inner["nth"]))
        if key == "$file":
            return FilePart(inner["content"], inner.get("filename"), inner.get("content_type"))
        if key == "$missing":
            return MISSING
        if key == "$redacted":
            return Redacted()
        if key == "$change":
            return InputChange(inner["kind"], inner["location"], inner["name"],
                               _decode(inner["value"]), inner["reason"], inner["place"])
    return {k: _decode(v) for k, v in data.items()}
