"""Turn a drawn request (``RequestDraft``) into the exact request one target receives."""

from __future__ import annotations

from urllib.parse import (
    SplitResult,
    quote,
    urldefrag,
    urlencode,
    urljoin,
    urlsplit,
    urlunsplit,
)

from mbtspec.compiler import NO_BODY, RequestDraft, resolve, text_of
from mbtspec.executor._bodies import encode_body
from mbtspec.executor.records import Request

__all__ = ["build_request", "encode_body"]


def build_request(draft: RequestDraft, target: str, base_url: str,
                  target_headers: dict[str, str]) -> Request:
    """Address ``draft`` to ``target``: its own per-target values and overrides, headers
    and base URL."""
    draft = draft.for_target(target)
    refused = ""
    if draft.url is not None:
        url, path, refused = address(text_of(resolve(draft.url, target)), base_url)
    else:
        path = draft.path
        for name, value in draft.path_params.items():
            path = path.replace("{" + name + "}", quote(text_of(resolve(value, target)), safe=""))
        url = base_url.rstrip("/") + path
    pairs: list[tuple[str, str]] = []
    for name, value in draft.query:
        value = resolve(value, target)
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                pairs.append((name, text_of(item)))
    if pairs:
        query = urlencode(pairs, quote_via=quote)
        path += ("&" if "?" in path else "?") + query
        url += ("&" if "?" in url else "?") + query
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
        url=url,
        path=path,
        headers=tuple(headers.items()),
        body=body,
        content=content,
        media_type=media_type,
        refused=refused,
    )


def address(target_url: str, base_url: str) -> tuple[str, str, str]:
    """A stored URL or path as the whole request target of the target at ``base_url``:
    (URL, path shown, why it is not sent). A path (``/files/3``) is on the target's origin;
    a relative one (``files/3``) is below its base URL; an absolute URL must be on the
    target's origin (scheme, host and port), since mbtspec sends requests to its targets
    only. Nothing is percent-encoded again: the text is sent as written (only characters a
    URL cannot hold, such as spaces, are percent-encoded)."""
    base = base_url.rstrip("/") + "/"
    try:
        url = urldefrag(urljoin(base, quote(target_url.strip(), safe=_URL_SAFE))).url
        parts, origin = urlsplit(url), urlsplit(base)
    except ValueError as err:  # e.g. "http://[::1": an IPv6 address never closed
        return target_url, target_url, f"not sent: {target_url!r} is not a URL ({err})"
    path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    prefix = base.rstrip("/")
    if url.startswith(prefix + "/") and origin.path.strip("/"):
        path = url[len(prefix):]  # (the part a replay puts after the base URL again)
    if (parts.scheme, parts.hostname, _port(parts)) != (origin.scheme, origin.hostname,
                                                         _port(origin)):
        # (the same words for every target: two refusals are the same answer)
        return url, path, f"not sent: {url} is not on the target's origin"
    return url, path, ""


#: Characters a request target keeps as they are (RFC 3986 reserved and unreserved, and %).
_URL_SAFE = ":/?#[]@!$&'()*+,;=%-._~"


def _port(parts: SplitResult) -> int | None:
    try:
        return parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:  # a port that is not a number
        return None
