"""One HTTP exchange with a target, bounded in time and in memory.

``exchange`` sends a request and reads its whole answer within one deadline, the target's
``timeout``: the connection, the request, the wait and every chunk of the body share it. Every
socket operation is given only the time left (``_GuardedStream``), so a server that trickles
its headers or its body a byte at a time is cut off when the time is up, not after it. The
body is read in chunks and counted after content decoding against ``max_size``: past it, the
exchange stops with ``ResponseTooLarge`` and the connection is closed, so neither an endless
stream nor a small compressed body that inflates to gigabytes can fill the memory.

Servers close keep-alive connections on their own: after an idle time (Node.js, uvicorn and
many proxies after 5 s), or after an error (uvicorn, when an application raises once it has
answered). A request sent on such a connection just before it closes fails without any answer.
Like browsers and urllib3, ``exchange`` sends it once more, on a new connection, but only when
the connection was reused and not a single byte of answer came back: then the server cannot
have begun to answer it. A request that failed on a new connection is not sent again: it may
have had effects, and a second POST would be a second order.

While waiting, ``should_stop`` (when given) is asked every ``POLL_SECONDS``; when it answers
True the exchange ends with ``KeyboardInterrupt`` and its connection is closed.
"""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from mbtspec.spec.sizes import format_size

#: How often ``should_stop`` is asked while a socket operation waits.
POLL_SECONDS = 0.1
#: A compressed body is decoded in pieces of at most this many bytes, so that a small
#: compressed body (deflate inflates up to ~1000 times) grows by a bounded amount between
#: two checks of the size limit.
_DECODE_PIECE = 8 * 1024
#: Idle connections are not reused after this long: just under the 5 s after which Node.js,
#: uvicorn and many proxies close them, so that a request rarely meets a closing connection.
_KEEPALIVE_SECONDS = 4.0


class ResponseTooLarge(httpx.HTTPError):
    """The body of an answer grew past the target's ``max_response_size``."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"response too large: more than {format_size(limit)}")
        self.limit = limit


@dataclass
class _Budget:
    """What one exchange may still spend, and what it saw of the connection (for a retry)."""

    deadline: float  # time.monotonic() when the exchange must be over
    should_stop: Callable[[], bool] | None
    connected: bool = False  # a new connection was opened for the current attempt
    received: int = 0  # bytes read from the network for the current attempt
    closed: bool = False  # the server closed the connection (a read found its end)

    def wait(self, timeout_error: type[Exception], sliced: bool = True) -> float:
        """How long the next socket operation may wait; ``timeout_error`` if the time is up.
        Waits are cut into slices when ``should_stop`` must be asked meanwhile."""
        self.poll()
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise timeout_error("the whole exchange took longer than the timeout")
        return min(left, POLL_SECONDS) if sliced and self.should_stop is not None else left

    def poll(self) -> None:
        if self.should_stop is not None and self.should_stop():
            raise KeyboardInterrupt

    def check(self) -> None:
        """Between two chunks of a body: ``httpx.ReadTimeout`` once the time is up."""
        self.poll()
        if time.monotonic() >= self.deadline:
            raise httpx.ReadTimeout("the whole exchange took longer than the timeout")


#: The budget of the exchange running in this thread (or task), read by the network streams.
_BUDGET: ContextVar[_Budget | None] = ContextVar("mbtspec_exchange_budget", default=None)


def check_budget() -> None:
    """For in-process apps, between two chunks: stop when the exchange's time is up."""
    budget = _BUDGET.get()
    if budget is not None:
        budget.check()


def exchange(transport: httpx.BaseTransport, outgoing: httpx.Request, *, timeout: float,
             max_size: int, should_stop: Callable[[], bool] | None = None,
             ) -> tuple[httpx.Response, bytes]:
    """Send ``outgoing`` and read the answer's body, all within ``timeout`` seconds.

    Raises httpx's errors (``httpx.ReadTimeout`` when the time is up, ``ResponseTooLarge``
    past ``max_size`` decoded bytes), or ``KeyboardInterrupt`` when ``should_stop`` says so.
    """
    budget = _Budget(time.monotonic() + timeout, should_stop)
    token = _BUDGET.set(budget)
    try:
        try:
            return _attempt(transport, outgoing, budget, max_size)
        except httpx.TransportError as err:
            if not (isinstance(transport, ServerTransport) and _closed_before_answer(err, budget)):
                raise
        # Other idle connections may be dead for the same reason (an idle timeout closes
        # them all): drop them, so that the second attempt opens a new connection.
        transport.drop_idle()
        budget.connected, budget.received, budget.closed = False, 0, False
        return _attempt(transport, outgoing, budget, max_size)
    finally:
        _BUDGET.reset(token)


def _closed_before_answer(err: httpx.TransportError, budget: _Budget) -> bool:
    """Did the server close the reused connection (a reset, or its end read) before a single
    byte of answer? (Not a protocol error over bytes it had sent before: the request may have
    reached it.)"""
    return (not budget.connected and budget.received == 0
            and (isinstance(err, httpx.ReadError | httpx.WriteError)
                 or (isinstance(err, httpx.RemoteProtocolError) and budget.closed)))


def _attempt(transport: httpx.BaseTransport, outgoing: httpx.Request, budget: _Budget,
             max_size: int) -> tuple[httpx.Response, bytes]:
    response = transport.handle_request(outgoing)
    if isinstance(transport, ServerTransport) and not budget.connected and not budget.received:
        # The whole answer was on the connection before the request was sent: bytes the
        # server sent after its previous answer, not an answer to this request.
        response.close()
        raise httpx.RemoteProtocolError(
            "the connection held an answer before the request was sent: the previous answer "
            "on it carried more than it declared (a body after a 204 or 304, or in an answer "
            "to HEAD?)")
    try:
        return response, read_body(response, max_size)
    finally:
        response.close()  # also closes a connection whose body was not read to the end


def read_body(response: httpx.Response, max_size: int) -> bytes:
    """The decoded body of ``response``, read chunk by chunk; ``ResponseTooLarge`` past
    ``max_size`` bytes, ``httpx.ReadTimeout`` once the exchange's time is up."""
    stream = response.stream
    assert isinstance(stream, httpx.SyncByteStream)
    encoding = response.headers.get("content-encoding", "").strip().lower()
    pieces = _Pieces(stream, encoding not in ("", "identity"))
    reading = httpx.Response(response.status_code, headers=response.headers, stream=pieces)
    parts: list[bytes] = []
    size = 0
    for chunk in reading.iter_bytes():  # (decodes gzip, deflate ... as httpx does)
        size += len(chunk)
        if size > max_size:
            raise ResponseTooLarge(max_size)
        parts.append(chunk)
    return b"".join(parts)


class _Pieces(httpx.SyncByteStream):
    """The raw chunks of a body: checks the deadline between them, and cuts them into small
    pieces when they are compressed (each piece is decoded, then counted, on its own)."""

    def __init__(self, raw: httpx.SyncByteStream, compressed: bool) -> None:
        self.raw = raw
        self.compressed = compressed

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.raw:
            check_budget()
            if not self.compressed:
                yield chunk
                continue
            for start in range(0, len(chunk), _DECODE_PIECE):
                yield chunk[start:start + _DECODE_PIECE]

    def close(self) -> None:
        self.raw.close()


# --------------------------------------------------------------------------------------------
# Servers: an httpcore connection pool whose sockets keep to the exchange's budget


class ServerTransport(httpx.BaseTransport):
    """The transport to a server (directly, or through the environment's proxy).

    Like ``httpx.HTTPTransport``, over httpcore's connection pool, but on network streams that
    keep every operation within the current exchange's deadline, that count the bytes
    received, and that know whether a request opened its connection (``exchange`` needs both
    to decide on a second attempt).
    """

    def __init__(self, *, verify: bool, proxy: str | None) -> None:
        ssl_context = httpx.create_ssl_context(verify=verify)
        backend = _GuardedBackend()
        self._pool: httpcore.ConnectionPool
        if proxy is None:
            self._pool = httpcore.ConnectionPool(
                ssl_context=ssl_context, keepalive_expiry=_KEEPALIVE_SECONDS,
                network_backend=backend)
            return
        settings = httpx.Proxy(proxy)  # ValueError for a scheme it does not know
        url = httpcore.URL(scheme=settings.url.raw_scheme, host=settings.url.raw_host,
                           port=settings.url.port, target=settings.url.raw_path)
        if settings.url.scheme in ("http", "https"):
            self._pool = httpcore.HTTPProxy(
                proxy_url=url, proxy_auth=settings.raw_auth, proxy_headers=settings.headers.raw,
                ssl_context=ssl_context, proxy_ssl_context=settings.ssl_context,
                keepalive_expiry=_KEEPALIVE_SECONDS, network_backend=backend)
        else:  # socks5: needs the socksio package (ImportError otherwise)
            self._pool = httpcore.SOCKSProxy(
                proxy_url=url, proxy_auth=settings.raw_auth, ssl_context=ssl_context,
                keepalive_expiry=_KEEPALIVE_SECONDS, network_backend=backend)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host,
                             port=request.url.port, target=request.url.raw_path),
            headers=request.headers.raw, content=request.stream,
            extensions=request.extensions)
        with _as_httpx_errors():
            response = self._pool.handle_request(core)
        return httpx.Response(response.status, headers=response.headers,
                              stream=_CoreBody(response), extensions=response.extensions)

    def drop_idle(self) -> None:
        """Close the idle connections: the next request opens a new one."""
        for connection in self._pool.connections:
            if connection.is_idle():
                connection.close()

    def close(self) -> None:
        self._pool.close()


class _CoreBody(httpx.SyncByteStream):
    def __init__(self, response: httpcore.Response) -> None:
        self.response = response

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self.response.iter_stream()

    def close(self) -> None:
        with _as_httpx_errors():
            self.response.close()


#: httpcore's errors and httpx's twins, the more specific first.
_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout), (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout), (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError), (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError), (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as err:
        for core_error, httpx_error in _ERRORS:
            if isinstance(err, core_error):
                raise httpx_error(str(err)) from err
        raise


class _GuardedBackend(httpcore.NetworkBackend):
    """Opens sockets like httpcore's own backend, within the exchange's deadline, and notes
    in the exchange's budget that a new connection was opened."""

    def __init__(self) -> None:
        self.inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        budget = _BUDGET.get()
        if budget is not None:
            budget.connected = True
            timeout = budget.wait(httpcore.ConnectTimeout, sliced=False)
        return _GuardedStream(self.inner.connect_tcp(host, port, timeout, local_address,
                                                     socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None,
                            ) -> httpcore.NetworkStream:  # pragma: no cover - no uds option
        budget = _BUDGET.get()
        if budget is not None:
            budget.connected = True
            timeout = budget.wait(httpcore.ConnectTimeout, sliced=False)
        return _GuardedStream(self.inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _GuardedStream(httpcore.NetworkStream):
    """A socket whose every wait ends at the exchange's deadline (and is cut into slices when
    ``should_stop`` must be asked meanwhile), counting the bytes it receives."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        budget = _BUDGET.get()
        if budget is None:  # not within an exchange (e.g. closing the pool)
            return self.inner.read(max_bytes, timeout)
        while True:
            wait = budget.wait(httpcore.ReadTimeout)  # (raises when the time is up)
            try:
                data = self.inner.read(max_bytes, wait)
            except httpcore.ReadTimeout:
                continue  # a slice ended: ask should_stop, and look at the deadline again
            budget.received += len(data)
            budget.closed = budget.closed or not data
            return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        budget = _BUDGET.get()
        # Not cut into slices: a write cut short cannot be resumed (the part sent is unknown).
        self.inner.write(buffer, timeout if budget is None
                         else budget.wait(httpcore.WriteTimeout, sliced=False))

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        budget = _BUDGET.get()
        if budget is not None:
            timeout = budget.wait(httpcore.ConnectTimeout, sliced=False)
        return _GuardedStream(self.inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)
