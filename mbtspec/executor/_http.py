"""Turn a drawn request (``RequestDraft``) into the exact request one target receives."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from mbtspec.compiler import NO_BODY, RequestDraft, resolve, text_of
from mbtspec.executor._bodies import encode_body
from mbtspec.executor.records import Request

__all__ = ["build_request", "encode_body"]


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
    media_type = media_type if content is not None else draft.media_type
    return Request(
        method=draft.method,
        url=base_url.rstrip("/") + path,
        path=path,
        headers=tuple(headers.items()),
        body=body,
        content=content,
        media_type=media_type,
    )
