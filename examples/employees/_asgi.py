"""A deliberately tiny, dependency-free toolkit for raw ASGI 3 apps.

The example apps are written against the bare ASGI protocol so that the
differential test compares two *implementations*, not two frameworks. This
module holds the plumbing they share:

* :class:`Request` -- the method, the (already percent-decoded) path, the query
  parameters, the raw body and the path parameters of one HTTP request;
* :class:`Response`, :func:`json_response`, :func:`json_or_404`,
  :func:`empty_response` -- JSON is always compact (``separators=(",", ":")``)
  and ASCII-only: equal values give byte-for-byte equal bodies in both apps;
* :class:`Router` -- literal segments and ``{name}`` placeholders (one
  non-empty segment each); an unknown path answers ``404 {"error":"not_found"}``
  and a known path with another method ``405 {"error":"method_not_allowed"}``;
* :func:`asgi_app` -- turns a router into ``async def app(scope, receive, send)``
  and answers ``lifespan`` messages (startup/shutdown complete).

Parsing never raises on hostile input: query strings with raw non-ASCII or
invalid UTF-8 bytes decode with U+FFFD replacement (a repeated parameter keeps
its last value); :func:`parse_json` returns :data:`INVALID` for a body that is
not UTF-8 JSON (including nesting deep enough to hit the recursion limit).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

INVALID: Any = object()
"""Returned by :func:`parse_json` when the body is not a JSON document."""
NOT_FOUND = {"error": "not_found"}
METHOD_NOT_ALLOWED = {"error": "method_not_allowed"}

# Every printable ASCII byte stays as it is; anything else is %-escaped so that
# parse_qsl's UTF-8 (errors="replace") decoding sees it.
_QUERY_SAFE = bytes(range(0x21, 0x7F))


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


Handler = Callable[[Request], Response]


def json_response(status: int, value: Any) -> Response:
    body = json.dumps(value, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return Response(status, body, [(b"content-type", b"application/json")])


def empty_response(status: int = 204) -> Response:
    return Response(status)


def json_or_404(value: Any) -> Response:
    """200 with ``value``, or 404 ``{"error": "not_found"}`` when it is None."""
    return json_response(404, NOT_FOUND) if value is None else json_response(200, value)


def parse_query(raw: bytes) -> dict[str, str]:
    text = urllib.parse.quote_from_bytes(raw, safe=_QUERY_SAFE)
    pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="replace")
    return dict(pairs)


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return INVALID


def is_unicode_text(value: str) -> bool:
    """True unless ``value`` holds a lone surrogate (not a Unicode character)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Router:
    def __init__(self) -> None:
        self._routes: dict[tuple[str, ...], dict[str, Handler]] = {}

    def route(self, pattern: str, method: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._routes.setdefault(tuple(pattern[1:].split("/")), {})[method] = handler
            return handler

        return register

    def dispatch(self, request: Request) -> Response:
        # No aliases: "/api/employees/" and "//api/employees" are unknown paths.
        parts = request.path[1:].split("/") if request.path.startswith("/") else []
        for segments, methods in self._routes.items():
            params = _match(segments, parts)
            if params is None:
                continue
            handler = methods.get(request.method)
            if handler is None:
                return json_response(405, METHOD_NOT_ALLOWED)
            request.params = params
            return handler(request)
        return json_response(404, NOT_FOUND)


def _match(segments: tuple[str, ...], parts: list[str]) -> dict[str, str] | None:
    if len(segments) != len(parts):
        return None
    params: dict[str, str] = {}
    for segment, part in zip(segments, parts, strict=False):
        if segment.startswith("{") and segment.endswith("}"):
            if not part:
                return None
            params[segment[1:-1]] = part
        elif segment != part:
            return None
    return params


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _lifespan(receive: Receive, send: Send, on_shutdown: Callable[[], None]) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            on_shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return


def asgi_app(router: Router, on_shutdown: Callable[[], None] = lambda: None) -> ASGIApp:
    """Wrap ``router`` as a raw ASGI 3 application; ``on_shutdown`` runs at lifespan shutdown."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, on_shutdown)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1000})
        if scope["type"] != "http":
            return
        request = Request(
            method=scope["method"].upper(),
            path=scope.get("path", "/") or "/",
            query=parse_query(scope.get("query_string", b"")),
            body=await _read_body(receive),
        )
        response = router.dispatch(request)
        headers = [*response.headers, (b"content-length", str(len(response.body)).encode())]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    return app
