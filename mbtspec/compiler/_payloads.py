"""Values that are not JSON: raw bytes and the file parts of a ``multipart/form-data`` body.

A ``bytes`` generator or a ``base64`` literal gives Python ``bytes``; a ``file`` value gives a
``FilePart``. They travel through the run like any other drawn value. Wherever a request is
shown or saved (reports, replay files), ``as_data`` writes them the way a spec writes them
(``{base64: ...}``, ``{file: {...}}``), and ``from_data`` reads such a saved body back.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FilePart:
    """One file of a multipart body. ``content`` is bytes or text (sent as UTF-8)."""

    content: bytes | str
    filename: str | None = None
    content_type: str | None = None

    @property
    def data(self) -> bytes:
        return self.content if isinstance(self.content, bytes) else self.content.encode()


def b64(data: bytes) -> str:
    """Standard base64 text of ``data``: how bytes read in JSON, templates and URLs."""
    return base64.b64encode(data).decode("ascii")


def holds_payload(value: Any) -> bool:
    """Does ``value`` hold bytes or a file part anywhere?"""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, bytes | FilePart):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def as_data(value: Any) -> Any:
    """``value`` as JSON data, bytes written ``{base64: ...}`` and file parts ``{file: ...}``
    (unchanged when it holds neither)."""
    if not holds_payload(value):
        return value
    return _as_data(value)


def _as_data(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"base64": b64(value)}
    if isinstance(value, FilePart):
        part: dict[str, Any] = {"content": _as_data(value.content)}
        if value.filename is not None:
            part["filename"] = value.filename
        if value.content_type is not None:
            part["content_type"] = value.content_type
        return {"file": part}
    if isinstance(value, dict):
        return {k: _as_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_as_data(v) for v in value]
    return value


def from_data(value: Any) -> Any:
    """The reverse of ``as_data``, for a body saved with ``body_format: values``."""
    if isinstance(value, dict):
        if set(value) == {"base64"} and isinstance(value["base64"], str):
            try:
                return base64.b64decode(value["base64"], validate=True)
            except (binascii.Error, ValueError):
                return value
        if set(value) == {"file"} and isinstance(value["file"], dict):
            part = value["file"]
            content = from_data(part.get("content", b""))
            return FilePart(content if isinstance(content, bytes | str) else str(content),
                            part.get("filename"), part.get("content_type"))
        return {k: from_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_data(v) for v in value]
    return value
