"""Request bodies as bytes, by media type: JSON, forms, multipart forms with files, raw bytes.

The encoding is deterministic: the same body gives the same bytes (the multipart boundary is
derived from the parts), so that what a replay sends is what the run sent, byte for byte.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import urlencode

from mbtspec.compiler import NO_BODY, text_of
from mbtspec.compiler._payloads import FilePart
from mbtspec.compiler._values import json_default
from mbtspec.spec._openapi import media_base

#: Sent when a body has no media type of its own.
JSON = "application/json"


def encode_body(body: Any, media_type: str | None) -> tuple[bytes | None, str | None]:
    """The bytes of a body, and the media type to send them as (``content-type``).

    - JSON media types: compact UTF-8 JSON (bytes as base64 text);
    - ``application/x-www-form-urlencoded`` with an object: ``name=value`` pairs in text
      form, a list giving one pair per element, ``null`` left out;
    - ``multipart/form-data`` with an object: one part per property (see ``_multipart``);
    - any other media type: bytes as they are, anything else in text form (UTF-8).
    """
    if body is NO_BODY:
        return None, None
    if media_type is None:
        media_type = "application/octet-stream" if isinstance(body, bytes) else JSON
    kind = media_base(media_type)
    if "json" in kind:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"),
                          default=json_default).encode(), media_type
    if kind == "application/x-www-form-urlencoded" and isinstance(body, dict):
        return urlencode(list(_fields(body))).encode(), media_type
    if kind == "multipart/form-data" and isinstance(body, dict):
        return _multipart(body, media_type)
    if isinstance(body, bytes):
        return body, media_type
    if isinstance(body, FilePart):
        return body.data, media_type
    return text_of(body).encode(), media_type


def _fields(body: dict[str, Any]) -> list[tuple[str, Any]]:
    """The form fields of an object: a list gives one field per element; null is left out.
    Bytes stay bytes (percent-encoded as they are), anything else is in text form."""
    fields = []
    for name, value in body.items():
        for item in value if isinstance(value, list) else [value]:
            if item is None:
                continue
            fields.append((name, item if isinstance(item, bytes) else
                           item.data if isinstance(item, FilePart) else text_of(item)))
    return fields


def _multipart(body: dict[str, Any], media_type: str) -> tuple[bytes, str]:
    """One part per property (a list: one part per element; null: none). A file part (``file``
    or bytes) carries a file name (its own, else the property's name) and a media type (its
    own, else ``application/octet-stream``); other values are text parts. The boundary is
    the one ``media_type`` gives, else one derived from the parts."""
    parts: list[tuple[bytes, bytes]] = []  # (headers, content)
    for name, value in body.items():
        for item in value if isinstance(value, list) else [value]:
            if item is None:
                continue
            disposition = f'form-data; name="{_quoted(name)}"'
            if isinstance(item, FilePart | bytes):
                part = item if isinstance(item, FilePart) else FilePart(item)
                disposition += f'; filename="{_quoted(part.filename or name)}"'
                head = (f"Content-Disposition: {disposition}\r\nContent-Type: "
                        f"{part.content_type or 'application/octet-stream'}\r\n")
                parts.append((head.encode(), part.data))
            else:
                parts.append((f"Content-Disposition: {disposition}\r\n".encode(),
                              text_of(item).encode()))
    boundary = _boundary(media_type)
    if boundary is None:
        digest = hashlib.sha256(b"".join(h + c for h, c in parts)).hexdigest()[:24]
        boundary = f"mbtspec-{digest}"
        media_type = f"{media_type}; boundary={boundary}"
    out = b"".join(b"--" + boundary.encode() + b"\r\n" + head + b"\r\n" + content + b"\r\n"
                   for head, content in parts)
    return out + b"--" + boundary.encode() + b"--\r\n", media_type


def _boundary(media_type: str) -> str | None:
    for parameter in media_type.split(";")[1:]:
        key, _, value = parameter.strip().partition("=")
        if key.strip().lower() == "boundary" and value.strip():
            return value.strip().strip('"')
    return None


def _quoted(name: str) -> str:
    """A name inside a quoted header parameter: quotes and line breaks percent-encoded, as
    browsers send them."""
    return name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
