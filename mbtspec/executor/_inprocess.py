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
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from types import TracebackType
from typing import Any

import httpx

from mbtspec.executor._exchange import ResponseTooLarge, check_budget

Message = MutableMapping[str, Any]
ASGIApp = Callable[[dict[str, Any], Callable[[], Awaitable[Message]],
                    Callable[[Message], Awaitable[None]]], Awaitable[None]]


class _ClientGone(OSError):
    """Raised inside the application's ``send`` once the body is too large (a server raises
    an OSError there when the client has disconnected)."""


class ASGIAppTransport(httpx.AsyncBaseTransport):
    """An ASGI application as an httpx transport, taking at most ``max_size`` body bytes."""

    def __init__(self, app: ASGIApp, max_size: int, state: dict[str, Any] | None = None) -> None:
        self.app = app
        self.max_size = max_size
        self.state = state  # the lifespan's state: each request gets a copy of it

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        content = await request.aread()
        url = request.url
        scope: dict[str, Any] = {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1", "method": request.method, "scheme": url.scheme,
            "path": url.path, "raw_path": url.raw_path.split(b"?")[0],
            "query_string": url.query, "root_path": "",
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "server": (url.host, url.port or (443 if url.scheme == "https" else 80)),
            "client": ("127.0.0.1", 50000),
        }
        if self.state is not None:
            scope["state"] = dict(self.state)
        call = _Call(content, self.max_size, skip_body=request.method == "HEAD")
        failure = "returned"
        try:
            await self.app(scope, call.receive, call.send)
        except Exception as err:  # the application's own error, answered as a server would
            failure = f"raised {type(err).__name__}: {err}"
        finally:
            call.done.set()
        if call.too_large:
            raise ResponseTooLarge(self.max_size)
        if call.status is None:  # nothing answered yet: a 500 (uvicorn's answer too)
            return _response(500, [], [])
        if not call.complete:  # a server would close the connection mid-response
            raise httpx.RemoteProtocolError(
                f"the application {failure} before it finished its response")
        return _response(call.status, call.headers, call.parts)


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
        self.done = asyncio.Event()  # set when the exchange is over: receive() may say so

    async def receive(self) -> Message:
        if self.content is not None:
            body, self.content = self.content, None
            return {"type": "http.request", "body": body, "more_body": False}
        await self.done.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self.too_large:
            raise _ClientGone("the response is too large: mbtspec stopped reading it")
        kind = message.get("type")
        if kind == "http.response.start" and self.status is None:
            self.status = int(message["status"])
            self.headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
        elif kind == "http.response.body" and self.status is not None and not self.complete:
            body = bytes(message.get("body", b""))
            if body and not self.skip_body:
                self.size += len(body)
                if self.size > self.max_size:
                    self.too_large = True
                    self.done.set()
                    raise _ClientGone("the response is too large: mbtspec stopped reading it")
                self.parts.append(body)
            if not message.get("more_body", False):
                self.complete = True
                self.done.set()
        elif kind in ("http.response.start", "http.response.body"):
            raise RuntimeError(f"unexpected ASGI message {kind!r} at this point of the response")
        # Let the event loop run: a timeout or Ctrl-C can then stop an application that
        # sends for ever without waiting for anything.
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
