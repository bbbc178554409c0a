"""Servers and apps that misbehave the way real ones do, for mbtspec's own tests and for
``bench/hostile_targets.py``.

``HostileServer`` is a small HTTP/1.1 server on raw sockets (one thread per connection), so
that every byte and every close is under control. What it answers depends on the path:

* ``/ok`` (and any other path) -> 200 ``{"ok": true}``; ``POST /__reset`` -> 204.
* ``/slow`` -> the same, after ``slow_seconds``.
* ``/hang`` -> reads the request and never answers.
* ``/stream`` -> 200, then a chunk of 1 byte every ``stream_interval`` seconds, for ever.
* ``/flood`` -> 200, then 64 KiB chunks as fast as the client reads them, for ever.
* ``/huge`` -> 200 with a 50 MB body (``content-length``), sent from one 64 KiB buffer.
* ``/bomb`` -> 200, ``content-encoding: gzip``: 65 KB that inflate to 64 MiB.
* ``/trickle`` -> the status line, then one header line every 0.05 s, for ever.
* ``/huge-headers`` -> 1 MB of headers.
* ``/short`` -> a chunked body that stops in the middle (the connection is closed).
* ``/no-content`` -> 204, followed by bytes that read like another answer; ``HEAD`` of any
  other path -> 200 with a body (both forbidden: the bytes are left on the connection).
* ``/latin1`` -> ``text/plain; charset=iso-8859-1``: ``café`` in Latin-1.
* ``/bad-utf8`` -> ``application/json`` whose bytes are not UTF-8.

And what it does with connections, by option:

* ``idle_close=S``: a connection idle for S seconds after an answer is closed (as
  Node.js after 5 s).
* ``lazy_close=S``: a request that arrives on a connection idle for S seconds or more is not
  answered: the connection is closed instead. It is the race of an idle timeout (the server
  closes just as the request arrives) made certain.
* ``reset_close``: connections are closed with a TCP reset (``Connection reset by peer``).
* ``drop_posts``: every POST is dropped unanswered, closing its connection.
* ``die_after=N``: the process exits after answering N requests (a target dying mid-run).

``connections`` counts the connections accepted, ``requests`` lists ``(connection number,
method, path)`` of every request received (answered or not).

Run alone: ``python -m tests.apps.hostile --port P [--idle-close S] [--lazy-close S]
[--die-after N] [--slow S] [--never-ready]`` (``--never-ready``: accepts connections and
never answers anything).

In-process apps: ``asgi_app`` and ``wsgi_app`` with ``/ok``, ``/stream`` (for ever, without
ever waiting: an ASGI app that never yields to the event loop), ``/huge``, ``/bomb``,
``/raise``, ``/raise-late`` (after the response started), ``/nothing`` (returns without
answering), ``/half`` (starts a response and returns); the ASGI app also ``/deep`` (JSON
nested 5000 levels) and ``/nan`` (``{"x": NaN}``, not JSON). ``orders_raising`` is the orders API
(``tests.apps.orders``) for uvicorn with two faults: closing an order raises before answering
(uvicorn answers 500 and closes the connection), and ``GET /orders`` raises after it
answered, once the client's next request arrived on the same connection: uvicorn then closes
the connection, and that request is lost unanswered (and not handled).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import struct
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator
from functools import cache
from typing import Any

from tests.apps.orders import make_app

HUGE_SIZE = 50_000_000
BOMB_SIZE = 64 * 2**20
_BUFFER = b"x" * 65536
#: What a 204, or an answer to HEAD, must not carry: it reads like an answer of its own.
_JUNK = b"HTTP/1.1 200 OK\r\ncontent-length: 13\r\n\r\n{\"junk\": 1}\r\n"


@cache
def gzip_bomb() -> bytes:
    """A gzip body of about 65 KB that inflates to ``BOMB_SIZE`` zero bytes."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(2**20)
    return b"".join([packer.compress(zeros) for _ in range(BOMB_SIZE // len(zeros))]
                    + [packer.flush()])


class HostileServer:
    """``with HostileServer(...) as server:`` -- serving on ``server.url`` meanwhile."""

    def __init__(self, port: int = 0, *, idle_close: float | None = None,
                 lazy_close: float | None = None, reset_close: bool = False,
                 drop_posts: bool = False, die_after: int | None = None,
                 slow_seconds: float = 5.0, stream_interval: float = 0.05,
                 never_answer: bool = False) -> None:
        self.idle_close = idle_close
        self.lazy_close = lazy_close
        self.reset_close = reset_close
        self.drop_posts = drop_posts
        self.die_after = die_after
        self.slow_seconds = slow_seconds
        self.stream_interval = stream_interval
        self.never_answer = never_answer
        self.connections = 0
        self.requests: list[tuple[int, str, str]] = []
        self.answered = 0
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", port))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.stopped = threading.Event()

    def __enter__(self) -> HostileServer:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.listener.close()

    def serve_forever(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                number = self.connections
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _close(self, conn: socket.socket) -> None:
        if self.reset_close:  # SO_LINGER 0: close with RST instead of FIN
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()

    def _serve(self, conn: socket.socket, number: int) -> None:
        try:
            self._converse(conn, number)
        except OSError:
            pass
        finally:
            conn.close()

    def _converse(self, conn: socket.socket, number: int) -> None:
        pending = b""
        last_answer = time.monotonic()
        answered = False
        while not self.stopped.is_set():
            conn.settimeout(self.idle_close if answered else None)  # idle: after an answer
            try:
                request, pending = _read_request(conn, pending)
            except TimeoutError:  # idle for idle_close seconds
                self._close(conn)
                return
            if request is None:
                return
            method, path = request
            with self.lock:
                self.requests.append((number, method, path))
                again = sum(1 for r in self.requests if r[0] == number) > 1
            if self.never_answer:
                self.stopped.wait()
                return
            if (self.lazy_close is not None and again
                    and time.monotonic() - last_answer >= self.lazy_close):
                self._close(conn)
                return
            if self.drop_posts and method == "POST":
                self._close(conn)
                return
            conn.settimeout(None)
            if not self._answer(conn, method, path):
                return
            last_answer, answered = time.monotonic(), True
            with self.lock:
                self.answered += 1
                if self.die_after is not None and self.answered >= self.die_after:
                    os._exit(7)

    def _answer(self, conn: socket.socket, method: str, path: str) -> bool:
        """Answer one request; False when the connection must be closed afterwards."""
        if path == "/__reset":
            conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
        elif path == "/slow":
            time.sleep(self.slow_seconds)
            _send_json(conn, {"ok": True})
        elif path == "/hang":
            self.stopped.wait()
            return False
        elif path in ("/stream", "/flood"):
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n"
                         b"transfer-encoding: chunked\r\n\r\n")
            while not self.stopped.is_set():
                if path == "/stream":
                    conn.sendall(b"1\r\nx\r\n")
                    time.sleep(self.stream_interval)
                else:
                    conn.sendall(b"10000\r\n" + _BUFFER + b"\r\n")
            return False
        elif path == "/huge":
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n"
                         b"content-length: %d\r\n\r\n" % HUGE_SIZE)
            left = HUGE_SIZE
            while left > 0:
                conn.sendall(_BUFFER[:left])
                left -= len(_BUFFER)
        elif path == "/bomb":
            body = gzip_bomb()
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n"
                         b"content-encoding: gzip\r\ncontent-length: %d\r\n\r\n" % len(body)
                         + body)
        elif path == "/trickle":
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            while not self.stopped.is_set():
                conn.sendall(b"x-trickle: " + b"y" * 10 + b"\r\n")
                time.sleep(0.05)
            return False
        elif path == "/huge-headers":  # 1 MB of headers, quickly
            conn.sendall(b"HTTP/1.1 200 OK\r\n" + b"x-big: " + b"y" * 1000 + b"\r\n")
            for _ in range(1000):
                conn.sendall(b"x-big: " + b"y" * 1000 + b"\r\n")
            conn.sendall(b"content-length: 0\r\n\r\n")
            return False
        elif path == "/short":
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                         b"transfer-encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n")
            return False
        elif path == "/no-content":  # a 204 (and HEAD's answers) with a body after all
            conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n" + _JUNK)
        elif method == "HEAD":
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                         b"content-length: %d\r\n\r\n" % len(_JUNK) + _JUNK)
        elif path == "/latin1":
            _send(conn, "text/plain; charset=iso-8859-1", "café".encode("latin-1"))
        elif path == "/bad-utf8":
            _send(conn, "application/json", b'{"name": "caf\xe9"}')
        else:
            _send_json(conn, {"ok": True})
        return True


def _read_request(conn: socket.socket, pending: bytes) -> tuple[tuple[str, str] | None, bytes]:
    """The next request's method and path (its body read and dropped), and what follows it;
    None when the client closed the connection."""
    while b"\r\n\r\n" not in pending:
        data = conn.recv(65536)
        if not data:
            return None, b""
        pending += data
    head, _, pending = pending.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path = lines[0].split(" ")[:2]
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    while len(pending) < length:
        data = conn.recv(65536)
        if not data:
            return None, b""
        pending += data
    return (method, path.split("?")[0]), pending[length:]


def _send(conn: socket.socket, content_type: str, body: bytes) -> None:
    conn.sendall(f"HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: "
                 f"{len(body)}\r\n\r\n".encode() + body)


def _send_json(conn: socket.socket, value: Any) -> None:
    _send(conn, "application/json", json.dumps(value).encode())


# --------------------------------------------------------------------------------------------
# In-process apps

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
_JSON = [(b"content-type", b"application/json")]


async def asgi_app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/nothing":
        return
    if path == "/raise":
        raise RuntimeError("boom")
    if path in ("/deep", "/nan"):  # JSON nested 5000 deep; a NaN (no JSON value)
        body = b"[" * 5000 + b"]" * 5000 if path == "/deep" else b'{"x": NaN, "y": 1}'
        await send({"type": "http.response.start", "status": 200, "headers": _JSON})
        await send({"type": "http.response.body", "body": body})
        return
    headers = [(b"content-encoding", b"gzip")] if path == "/bomb" else _JSON
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if path == "/half":
        return
    if path == "/raise-late":
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        raise RuntimeError("boom after the start")
    if path == "/stream":  # never awaits anything that waits: the loop never runs meanwhile
        while True:
            await send({"type": "http.response.body", "body": _BUFFER, "more_body": True})
    if path == "/huge":
        for _ in range(HUGE_SIZE // len(_BUFFER)):
            await send({"type": "http.response.body", "body": _BUFFER, "more_body": True})
    body = gzip_bomb() if path == "/bomb" else b'{"ok": true}'
    await send({"type": "http.response.body", "body": body})


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
    path = environ["PATH_INFO"]
    if path == "/raise":
        raise RuntimeError("boom")
    if path == "/bomb":
        start_response("200 OK", [("content-encoding", "gzip")])
        return iter([gzip_bomb()])
    start_response("200 OK", [("content-type", "application/json")])
    if path == "/stream":
        return _forever()
    if path == "/huge":
        return iter([_BUFFER] * (HUGE_SIZE // len(_BUFFER)))
    return iter([b'{"ok": true}'])


def _forever() -> Iterator[bytes]:
    while True:
        time.sleep(0.01)
        yield b" "


_orders = make_app()
_closing: list[asyncio.Event] = []  # set by the request that comes while a connection closes


async def orders_raising(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return await _orders(scope, receive, send)
    if _closing:  # this request came on a connection that uvicorn closes now: it is lost
        _closing.pop().set()
        await asyncio.sleep(0.3)
        return None
    method, path = scope["method"], scope["path"]
    if method == "POST" and path.endswith("/close"):
        raise RuntimeError("closing an order breaks")  # before answering: uvicorn's 500
    await _orders(scope, receive, send)
    if method == "GET" and path == "/orders":  # the list: raise once answered, when the
        arrived = asyncio.Event()  # next request is on its way (the race, made certain)
        _closing.append(arrived)
        try:
            await asyncio.wait_for(arrived.wait(), 2)
        except TimeoutError:
            _closing.remove(arrived)
        raise RuntimeError("a failure after the answer was sent")
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--idle-close", type=float)
    parser.add_argument("--lazy-close", type=float)
    parser.add_argument("--die-after", type=int)
    parser.add_argument("--slow", type=float, default=5.0)
    parser.add_argument("--never-ready", action="store_true")
    options = parser.parse_args()
    server = HostileServer(options.port, idle_close=options.idle_close,
                           lazy_close=options.lazy_close, die_after=options.die_after,
                           slow_seconds=options.slow, never_answer=options.never_ready)
    with server:
        server.stopped.wait()


if __name__ == "__main__":
    main()
