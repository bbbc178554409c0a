"""Turn a drawn request (``RequestDraft``) into the exact request one target receives."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from mbtspec.compiler import NO_BODY, RequestDraft, resolve, text_of
from mbtspec.executor.records import Request


def build_request(draft: RequestDraft, target: str, base_url: str,
                  target_headers: dict[str, str]) -> Request:
    """Address ``draft`` to ``target``: its own per-target values, headers and base URL."""
    path = draft.path
    for name, value in draft.path_params.items():
        path = path.replace("{" + name + "}", quote(text_of(resolve(value, target)), safe=""))
    pairs: list[tuple[str, str]] = []
    for name, value in draft.query:
        value = resolve(value, target)
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                pairs.append((name, text_of(item)))
    if pairs:
        path += "?" + urlencode(pairs, quote_via=quote)
    headers = dict(target_headers)
    for name, value in draft.headers.items():
        headers[name] = text_of(resolve(value, target))
    body = resolve(draft.body, target) if draft.body is not NO_BODY else NO_BODY
    content, media_type = encode_body(body, draft.media_type)
    if content is not None and not any(k.lower() == "content-type" for k in headers):
        headers["content-type"] = media_type or "application/json"
    return Request(
        method=draft.method,
        url=base_url.rstrip("/") + path,
        path=path,
        headers=tuple(headers.items()),
        body=body,
        content=content,
        media_type=media_type,
    )


def encode_body(body: Any, media_type: str | None) -> tuple[bytes | None, str | None]:
    """The bytes of a body for its media type (JSON unless a form or text is documented)."""
    if body is NO_BODY:
        return None, None
    kind = (media_type or "application/json").lower()
    if "json" in kind:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(), \
            media_type or "application/json"
    if "x-www-form-urlencoded" in kind and isinstance(body, dict):
        return urlencode({k: text_of(v) for k, v in body.items()}).encode(), media_type
    if isinstance(body, bytes):
        return body, media_type
    return text_of(body).encode(), media_type
