"""Calling in-process applications as a server would, whatever they do.

``ASGIAppTransport`` calls an ASGI application on the event loop. It stops taking the body
past the size limit (an application that streams for ever is told the client is gone), yields
to the event loop after each chunk (so that the target's timeout and Ctrl-C can cut short an
application that never waits), and answers like uvicorn when the application breaks the
protocol: an exception or a return before the response started is a 500; a response started
but never finished is a broken exchange.

``guard_wsgi`` wraps a WSGI application the same way: an exception before the response
started is a 500 (httpx's WSGI transport would let it through), and the exchange's deadline
is checked between the chunks of its body.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from types import TracebackType
from typing import Any
from urllib.parse import unquote

import httpx

from mbtspec.executor._exchange import ResponseTooLarge, check_budget
from mbtspec.executor.records import Request

Message = MutableMapping[str, Any]
ASGIApp = Callable[[dict[str, Any], Callable[[], Awaitable[Message]],
                    Callable[[Message], Awaitable[None]]], Awaitable[None]]


class _ClientGone(OSError):
    """Raised inside the application's ``send`` once the body is too large (a server raises
    an OSError there when the client has disconnected)."""


class ASGIAppTransport(httpx.AsyncBaseTransport):
    """An ASGI application as an httpx transport, taking at most ``max_size`` body bytes."""

    def __init__(self, app: ASGIApp, max_size: int, state: dict[str, Any] | None = None,
                 base_url: str = "http://app") -> None:
        self.app = app
        self.max_size = max_size
        self.state = state  # the lifespan's state: each request gets a copy of it
        origin = httpx.URL(base_url)
        self._origin = f"{origin.scheme}://{origin.netloc.decode('ascii')}"
        self._scheme = origin.scheme
        self._netloc = origin.netloc
        self._server = (origin.host, origin.port or (443 if origin.scheme == "https" else 80))

    def scope_for(self, request: Request) -> dict[str, Any] | None:
        """The scope of ``request`` written directly, as ``handle_async_request`` would make
        it from the ``httpx.Request`` of the same request (a test checks that they agree);
        None for a request that needs httpx's parsing: a URL to escape, normalise or on
        another origin, or a header that is not plain ASCII. (Most requests: it saves
        parsing every URL, a quarter of the cost of a step to a fast application.)"""
        url = request.url
        origin = self._origin
        if not url.startswith(origin) or not url.isascii():
            return None
        path, mark, query = url[len(origin):].partition("?")
        if (not path.startswith("/") or not _PATH_AS_IS.fullmatch(path)
                or (mark and not _QUERY_AS_IS.fullmatch(query))
                or ("/." in path and _DOT_SEGMENT.search(path))):
            return None
        headers: list[tuple[bytes, bytes]] = []
        host = length = chunked = False
        for name, value in request.headers:
            if not (name.isascii() and value.isascii()):
                return None
            lower = name.lower()
            host = host or lower == "host"
            length = length or lower == "content-length"
            chunked = chunked or lower == "transfer-encoding"
            headers.append((lower.encode(), value.encode()))
        content = request.content
        if content and not length:  # (httpx's order: its own headers first, the length last)
            headers.append((b"content-length", str(len(content)).encode()))
            length = True
        if not (length or chunked) and request.method in ("POST", "PUT", "PATCH"):
            headers.insert(0, (b"content-length", b"0"))
        if not host:
            headers.insert(0, (b"host", self._netloc))
        raw_path = path.encode()
        return self.scope(request.method, self._scheme, unquote(path), raw_path,
                          query.encode(), headers, self._server)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scope = self.scope(request.method, url.scheme, url.path, url.raw_path.split(b"?")[0],
                           url.query, [(k.lower(), v) for k, v in request.headers.raw],
                           (url.host, url.port or (443 if url.scheme == "https" else 80)))
        status, headers, body = await self.exchange(scope, await request.aread(),
                                                    request.method == "HEAD")
        return _response(status, headers, [body])

    def scope(self, method: str, scheme: str, path: str, raw_path: bytes, query: bytes,
              headers: list[tuple[bytes, bytes]], server: tuple[str, int]) -> dict[str, Any]:
        """The ASGI scope of one request."""
        scope: dict[str, Any] = {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1", "method": method, "scheme": scheme,
            "path": path, "raw_path": raw_path, "query_string": query, "root_path": "",
            "headers": headers, "server": server, "client": ("127.0.0.1", 50000),
        }
        if self.state is not None:
            scope["state"] = dict(self.state)
        return scope

    async def exchange(self, scope: dict[str, Any], content: bytes, skip_body: bool
                       ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Call the application with ``scope`` and the request body ``content``: (status,
        headers, body). ``ResponseTooLarge`` past ``max_size``; ``httpx.RemoteProtocolError``
        for a response started but not finished."""
        call = _Call(content, self.max_size, skip_body)
        failure = "returned"
        try:
            await self.app(scope, call.receive, call.send)
        except Exception as err:  # the application's own error, answered as a server would
            failure = f"raised {type(err).__name__}: {err}"
        finally:
            call.finish()
        if call.too_large:
            raise ResponseTooLarge(self.max_size)
        if call.status is None:  # nothing answered yet: a 500 (uvicorn's answer too)
            return 500, [], b""
        if not call.complete:  # a server would close the connection mid-response
            raise httpx.RemoteProtocolError(
                f"the application {failure} before it finished its response")
        return call.status, call.headers, b"".join(call.parts)


#: What httpx leaves as it is in a path, and in a query (printable ASCII but a few characters
#: it escapes; "?" and "#" end a path); a URL made of them is sent as written.
_PATH_AS_IS = re.compile("[" + re.escape("".join(
    chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"#<>?`{}')) + "]*")
_QUERY_AS_IS = re.compile("[" + re.escape("".join(
    chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"#<>')) + "]*")
_DOT_SEGMENT = re.compile(r"/\.\.?(?:/|$)")  # (httpx removes them: left to it)


class _Call:
    """One request's ``receive`` and ``send``, and what the application sent."""

    def __init__(self, content: bytes, max_size: int, skip_body: bool) -> None:
        self.content: bytes | None = content
        self.max_size = max_size
        self.skip_body = skip_body
        self.status: int | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.parts: list[bytes] = []
        self.size = 0
        self.complete = False
        self.too_large = False
        self.over = False  # the exchange is over: receive() says the client is gone
        #: Made when the application waits in receive() for the client to go (rare).
        self.done: asyncio.Event | None = None

    def finish(self) -> None:
        self.over = True
        if self.done is not None:
            self.done.set()

    async def receive(self) -> Message:
        if self.content is not None:
            body, self.content = self.content, None
            return {"type": "http.request", "body": body, "more_body": False}
        if not self.over:
            if self.done is None:
                self.done = asyncio.Event()
            await self.done.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self.too_large:
            raise _ClientGone("the response is too large: mbtspec stopped reading it")
        kind = message.get("type")
        was_complete = self.complete
        if kind == "http.response.start" and self.status is None:
            self.status = int(message["status"])
            self.headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
        elif kind == "http.response.body" and self.status is not None and not self.complete:
            body = bytes(message.get("body", b""))
            if body and not self.skip_body:
                self.size += len(body)
                if self.size > self.max_size:
                    self.too_large = True
                    self.finish()
                    raise _ClientGone("the response is too large: mbtspec stopped reading it")
                self.parts.append(body)
            if not message.get("more_body", False):
                self.complete = True
                self.finish()
        elif kind in ("http.response.start", "http.response.body"):
            raise RuntimeError(f"unexpected ASGI message {kind!r} at this point of the response")
        if kind != "http.response.start" and self.complete == was_complete:
            # Let the event loop run between the chunks of a body (and after any other
            # message): a timeout or Ctrl-C can then stop an application that sends for ever
            # without waiting for anything. (Not after the start, nor after the chunk that ends the
            # response: a response of one chunk, the usual case, costs no turn of the loop.)
            await asyncio.sleep(0)


def _response(status: int, headers: list[tuple[bytes, bytes]], parts: list[bytes]
              ) -> httpx.Response:
    # (a stream, not content=: httpx would add a content-length header the app did not send)
    return httpx.Response(status, headers=headers, stream=httpx.ByteStream(b"".join(parts)))


# --------------------------------------------------------------------------------------------
# WSGI

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
_ERROR_500 = ("500 Internal Server Error", [("content-type", "text/plain; charset=utf-8")])


def guard_wsgi(app: WSGIApp) -> WSGIApp:
    """``app``, with its errors before the response answered as 500 and the exchange's
    deadline checked between the chunks of its body."""

    def guarded(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = False

        def start(status: str, headers: list[tuple[str, str]],
                  exc_info: tuple[type[BaseException], BaseException, TracebackType] | None
                  = None) -> Any:
            nonlocal started
            started = True
            return start_response(status, headers, exc_info)

        try:
            result = app(environ, start)
        except Exception:
            start_response(*_ERROR_500, sys.exc_info())
            return [b""]

        def chunks() -> Iterator[bytes]:
            try:
                for chunk in result:
                    check_budget()
                    if not started:  # a body before start_response: not a response at all
                        raise RuntimeError("the application sent a body before its status")
                    yield chunk
                if not started:
                    raise RuntimeError("the application never called start_response")
            except httpx.HTTPError:
                raise  # the exchange's own deadline
            except Exception as err:
                if started:  # a server would close the connection mid-response
                    raise httpx.RemoteProtocolError(
                        f"the application raised {type(err).__name__}: {err} before it "
                        "finished its response") from None
                start_response(*_ERROR_500, sys.exc_info())
                yield b""
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()

        return chunks()

    return guarded
