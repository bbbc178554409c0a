"""Targets: where requests go. An in-process ASGI/WSGI app, a running server, or a command
that mbtspec starts (on a free port, in a per-run temporary folder) and stops.

Servers and WSGI apps answer ``send_sync(Request) -> Response`` (called from threads, so one
step goes to model and candidate concurrently), ASGI apps ``send`` on the event loop. Each
exchange is bounded by the target's ``timeout`` and ``max_response_size`` (see ``_exchange``).
A target that cannot be started, reached or reset raises ``TargetError`` with what it printed
last.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import ipaddress
import json
import os
import re
import sys
import time
from collections.abc import Callable, Coroutine, Generator, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar, cast
from urllib.parse import urlsplit
from urllib.request import getproxies_environment, proxy_bypass

import httpx

from mbtspec.errors import TargetError
from mbtspec.executor._exchange import ResponseTooLarge, ServerTransport, exchange, read_body
from mbtspec.executor._inprocess import ASGIAppTransport, guard_wsgi
from mbtspec.executor._process import ManagedProcess, free_port, stop_all
from mbtspec.executor._services import (
    SETUP_TIMEOUT,
    CommandFailed,
    Service,
    run_to_end,
    start_services,
)
from mbtspec.executor.records import Request, Response
from mbtspec.spec.model import TargetDef

T = TypeVar("T")
_VAR = re.compile(r"\$\{([^}]*)\}")


def interpolate(text: str, variables: dict[str, str], secrets: set[str] | None = None) -> str:
    """Replace ``${port}``, ``${tmp}``, ``${python}`` and ``${env.NAME}`` (``${env.NAME:-x}``
    gives ``x`` when NAME is not set). Environment values are added to ``secrets`` when a set
    is given (header values: they are redacted wherever a request is shown)."""

    def value(found: re.Match[str]) -> str:
        name = found.group(1)
        if name.startswith("env."):
            env_name, has_default, default = name[4:].partition(":-")
            if env_name in os.environ:
                secret = os.environ[env_name]
            elif has_default:
                return default
            else:
                raise KeyError(f"environment variable {env_name} is not set (used as "
                               f"${{{name}}}); export it, or write ${{env.{env_name}:-default}}")
            if secrets is not None and len(secret) >= 4:
                secrets.add(secret)
            return secret
        return variables[name]

    return _VAR.sub(value, text)


def command_line(target: Target, argv: Sequence[str], what: str) -> list[str]:
    """``argv`` with its ``${...}`` replaced for ``target``; ``TargetError`` naming ``what``
    (e.g. "reset command") and the variable when one is not available."""
    try:
        return [interpolate(a, target.variables) for a in argv]
    except KeyError as err:
        reason = str(err.args[0])
        if not reason.startswith("environment variable"):
            reason = f"${{{reason}}} is not available for this target"
        raise TargetError(target.name, f"{what} {argv[0]!r} failed: {reason}") from None


class Target:
    """Common part: the request/response plumbing over one httpx transport.

    Requests go straight to an httpx transport (a connection pool, an ASGI app, a WSGI app):
    mbtspec builds each request whole itself, so a client's merging of defaults, redirects and
    auth would only cost time. Cookies are kept per target and per sequence (``forget``).

    ``should_stop``, when set, is asked at least every 0.1 s while an exchange with a server
    or a WSGI app waits; when it answers True, the exchange's connection is closed and
    ``send_sync`` (or ``status_of``) raises ``KeyboardInterrupt``. ASGI apps run on the event
    loop, where cancelling the task stops them.
    """

    name: str
    base_url: str
    process: ManagedProcess | None = None
    variables: dict[str, str]  # what ${...} means in this target's strings
    #: A blocking transport, when the target has one (servers, WSGI apps): ``send_sync``.
    sync_transport: httpx.BaseTransport | None = None
    #: An event-loop transport (ASGI apps): ``send``.
    async_transport: httpx.AsyncBaseTransport | None = None
    #: Calls to an in-process ASGI app, and the seconds they took (see ``waits``).
    app_calls = 0
    app_seconds = 0.0
    should_stop: Callable[[], bool] | None = None

    def __init__(self, definition: TargetDef, headers: dict[str, str]) -> None:
        self.definition = definition
        self.name = definition.name
        self.headers = headers
        self.timeout = definition.timeout
        self.max_response_size = definition.max_response_size
        self.cookies = httpx.Cookies()
        self._timeouts = httpx.Timeout(definition.timeout).as_dict()

    @property
    def waits(self) -> bool:
        """Does this in-process app take long enough per call (``SLOW_CALL`` on average) to
        be waiting for something (a database, a timer)? Then the targets' calls of a step
        overlap on the event loop (see ``Session``); a fast app is called in turn, since a
        task of its own would cost more than its call."""
        return self.app_seconds > SLOW_CALL * max(self.app_calls, 1)

    async def start(self) -> None:
        """Get ready to take requests (import, start, wait until ready)."""

    async def stop(self) -> None:
        if self.async_transport is not None:
            await self.async_transport.aclose()
        if self.sync_transport is not None:
            self.sync_transport.close()

    def forget(self) -> None:
        """Drop the cookies it set: each sequence starts without them."""
        self.cookies.clear()

    async def send(self, request: Request) -> Response:
        """Send ``request`` to an in-process ASGI app, on the event loop."""
        assert self.async_transport is not None
        if request.refused:
            return Response(None, error=request.refused)
        started = time.perf_counter()
        try:
            return await self._call(request, started)
        finally:  # (timed whichever way it went: see ``waits``)
            self.app_calls += 1
            self.app_seconds += time.perf_counter() - started

    async def _call(self, request: Request, started: float) -> Response:
        assert self.async_transport is not None
        transport = self.async_transport
        if not isinstance(transport, ASGIAppTransport) or self.cookies:
            return await self._send_through_httpx(request, started)
        scope = transport.scope_for(request)
        if scope is None:
            return await self._send_through_httpx(request, started)
        try:
            status, raw, content = await within(self.timeout, transport.exchange(
                scope, request.content or b"", request.method == "HEAD"))
        except TimeoutError:
            return self.failed(httpx.ReadTimeout("no response"), started)
        except httpx.HTTPError as err:
            return self.failed(err, started)
        headers = _plain_headers(raw)
        if headers is None:  # cookies, a compressed body, headers not in ASCII: as httpx reads
            response = httpx.Response(status, headers=raw, stream=httpx.ByteStream(content))
            try:
                content = read_body(response, self.max_response_size)
            except httpx.HTTPError as err:
                return self.failed(err, started)
            return self.answer(self._outgoing(request), response, content, started)
        return Response(status, headers, parse_body(content, _header(headers, "content-type")),
                        _ms(started))

    async def _send_through_httpx(self, request: Request, started: float) -> Response:
        """``send`` with httpx's own request and response (cookies, URLs to escape)."""
        assert self.async_transport is not None
        outgoing = self._outgoing(request)
        try:  # (an in-process app has no socket to time out on: ``within`` does it)
            response = await within(self.timeout,
                                    self.async_transport.handle_async_request(outgoing))
            content = read_body(response, self.max_response_size)  # (in memory: decoding)
        except TimeoutError:
            return self.failed(httpx.ReadTimeout("no response"), started)
        except httpx.HTTPError as err:
            return self.failed(err, started)
        return self.answer(outgoing, response, content, started)

    def send_sync(self, request: Request) -> Response:
        """``send`` on the blocking transport. Servers are called from threads: blocking
        calls cost far less CPU than the event loop's (which runs in-process ASGI apps), and
        the threads still overlap the targets' waits."""
        if request.refused:
            return Response(None, error=request.refused)
        started = time.perf_counter()
        outgoing = self._outgoing(request)
        try:
            response, content = self._exchange(outgoing, self.timeout)
        except httpx.HTTPError as err:
            return self.failed(err, started)
        return self.answer(outgoing, response, content, started)

    def _exchange(self, outgoing: httpx.Request, timeout: float
                  ) -> tuple[httpx.Response, bytes]:
        """The response and its body, on the blocking transport, within ``timeout`` seconds;
        raises httpx's errors."""
        assert self.sync_transport is not None
        return exchange(self.sync_transport, outgoing, timeout=timeout,
                        max_size=self.max_response_size, should_stop=self.should_stop)

    def _outgoing(self, request: Request) -> httpx.Request:
        outgoing = httpx.Request(request.method, request.url, headers=request.headers,
                                 content=request.content, extensions={"timeout": self._timeouts})
        if self.cookies:
            self.cookies.set_cookie_header(outgoing)
        return outgoing

    def answer(self, outgoing: httpx.Request, response: httpx.Response, content: bytes,
               started: float) -> Response:
        headers = response.headers
        if "set-cookie" in headers:
            response.request = outgoing
            self.cookies.extract_cookies(response)
        return Response(
            response.status_code,
            tuple((k.lower(), v) for k, v in headers.items()),
            parse_body(content, headers.get("content-type", "")),
            _ms(started),
        )

    def failed(self, err: httpx.HTTPError, started: float) -> Response:
        """A request that got no answer: a finding, unless the target is gone (TargetError)."""
        if isinstance(err, httpx.TimeoutException):
            return Response(None, elapsed_ms=_ms(started),
                            error=f"no response within {self.timeout:g}s")
        if isinstance(err, ResponseTooLarge):
            return Response(None, elapsed_ms=_ms(started), error=str(err))
        if isinstance(err, httpx.ConnectError) or self._exited():
            raise self.unreachable(err) from None
        return Response(None, elapsed_ms=_ms(started),
                        error=f"{type(err).__name__}: {err or 'connection broken'}")

    def _exited(self, wait: float = 0.5) -> bool:
        """Has the target's process exited? A connection broken by a dying server is seen
        before the process has quite exited: give it ``wait`` seconds, so that the same
        crash is always told apart from a broken answer."""
        if self.process is None:
            return False
        deadline = time.monotonic() + wait
        while self.process.exit_code is None and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.process.exit_code is not None

    def unreachable(self, err: Exception) -> TargetError:
        if self.process is not None and isinstance(err, httpx.ConnectError):
            # A server that dies has closed its sockets a moment before it can be seen to
            # have exited (and a second attempt on a new connection comes that fast).
            deadline = time.monotonic() + 1.0
            while self.process.exit_code is None and time.monotonic() < deadline:
                time.sleep(0.01)
        if self.process is not None and self.process.exit_code is not None:
            return TargetError(
                self.name, f"the process exited with code {self.process.exit_code} "
                "during the run", self.process.log_tail(), str(self.process.log_path))
        return TargetError(self.name, f"cannot reach {self.base_url}: {err}")


def proxy_for(url: str) -> str | None:
    """The proxy the environment sets for ``url`` (``HTTP_PROXY``, ``HTTPS_PROXY``,
    ``ALL_PROXY``, minus the hosts in ``NO_PROXY``), as curl and other HTTP clients take it;
    never for this machine's own addresses, where the servers mbtspec starts listen."""
    proxies = getproxies_environment()
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not proxies or host == "localhost" or proxy_bypass(host):
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass  # a host name
    return proxies.get(parts.scheme) or proxies.get("all")


_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';\s]+)""", re.IGNORECASE)


#: JSON nested deeper than this stays text: comparing, checking and reporting a value walk it
#: recursively, and a few hundred levels would exhaust Python's stack (no real API nests so).
MAX_JSON_DEPTH = 256


def parse_body(content: bytes, content_type: str) -> Any:
    """The body as expressions see it: JSON when the type says so and it parses, else text,
    decoded in the charset the type declares (UTF-8 when it declares none or one that Python
    does not know; bytes that do not decode become U+FFFD). Not JSON, and so text: ``NaN``
    and ``Infinity`` (no JSON value; NaN would differ from itself), and nesting deeper than
    ``MAX_JSON_DEPTH``."""
    if not content:
        return None
    declared = _CHARSET.search(content_type)
    try:
        text = content.decode(declared.group(1) if declared else "utf-8", errors="replace")
    except LookupError:  # an unknown charset, or a codec that is not a text encoding
        text = content.decode("utf-8", errors="replace")
    if "json" in content_type.lower():
        try:
            value = _JSON.decode(text)
        except (ValueError, RecursionError):
            return text
        if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _too_deep(value):
            return text
        return value
    return text


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


#: (made once: json.loads with an option makes a decoder per call)
_JSON = json.JSONDecoder(parse_constant=_not_json)


def _too_deep(value: Any) -> bool:
    """Is ``value`` nested deeper than ``MAX_JSON_DEPTH``? (Level by level, not recursively.)"""
    level = [value] if isinstance(value, dict | list) else []
    for _ in range(MAX_JSON_DEPTH):
        below: list[Any] = []
        for item in level:
            below.extend([c for c in (item.values() if isinstance(item, dict) else item)
                          if isinstance(c, dict | list)])
        if not below:
            return False
        level = below
    return True


#: Seconds per call, on average, past which an in-process app is called concurrently with
#: the others (``Target.waits``).
SLOW_CALL = 0.002


async def within(seconds: float, coroutine: Coroutine[Any, Any, T]) -> T:
    """``await coroutine``, or ``TimeoutError`` after ``seconds``: what ``asyncio.wait_for``
    does, in the running task (wait_for makes a task per call: a third of the event loop's
    cost of a step). A cancellation from elsewhere (Ctrl-C) is let through as it came.

    The coroutine is first run up to its first wait: one that never waits (an application
    that answers from memory, the usual case) ends there and needs no timer, which it could
    not meet anyway (the loop does not run meanwhile); from its first wait on, it runs in
    this task under the timer (``_Resumed``)."""
    try:
        first = coroutine.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    task = asyncio.current_task()
    assert task is not None
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    handle = asyncio.get_running_loop().call_later(seconds, expire)
    try:
        return await _Resumed(coroutine, first)
    except asyncio.CancelledError:
        if expired and task.uncancel() == 0:  # (no other cancellation came meanwhile)
            raise TimeoutError from None
        raise
    finally:
        handle.cancel()


class _Resumed(Generic[T]):
    """A coroutine already run up to its first wait (``first``: what it yielded), awaited
    from there on, as ``await`` would have gone on: what it yields goes to the task (a
    future to wait for, or nothing), what the task sends or throws (a cancellation) goes
    back into it."""

    def __init__(self, coroutine: Coroutine[Any, Any, T], first: Any) -> None:
        self.coroutine = coroutine
        self.first = first

    def __await__(self) -> Generator[Any, Any, T]:
        coroutine, value = self.coroutine, self.first
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                coroutine.close()
                raise
            except BaseException as error:  # thrown in by the task: into the coroutine
                try:
                    value = coroutine.throw(error)
                except StopIteration as done:
                    return cast(T, done.value)
            else:
                try:
                    value = coroutine.send(sent)
                except StopIteration as done:
                    return cast(T, done.value)


def _plain_headers(raw: list[tuple[bytes, bytes]]) -> tuple[tuple[str, str], ...] | None:
    """Response headers as ``Response`` keeps them (names in lower case, repeated ones joined
    with ", " as httpx does); None when httpx must read the response itself: cookies to
    keep, a body to decompress, bytes that are not ASCII."""
    merged: dict[str, str] = {}
    for name, value in raw:
        try:
            key, text = name.decode("ascii").lower(), value.decode("ascii")
        except UnicodeDecodeError:
            return None
        if key in ("set-cookie", "content-encoding"):
            return None
        merged[key] = f"{merged[key]}, {text}" if key in merged else text
    return tuple(merged.items())


def _header(headers: tuple[tuple[str, str], ...], name: str) -> str:
    return next((v for k, v in headers if k == name), "")


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


class AppTarget(Target):
    """An ASGI or WSGI callable, called in-process through httpx's transports (a WSGI app from
    a worker thread, like a server, so that targets still overlap)."""

    def __init__(self, definition: TargetDef, headers: dict[str, str]) -> None:
        super().__init__(definition, headers)
        self.base_url = interpolate(definition.base_url or "http://app", {})
        self._lifespan: _Lifespan | None = None

    async def start(self) -> None:
        app = load_app(self.name, self.definition.app or "")
        if _is_asgi(app):
            self._lifespan = _Lifespan(app)
            await self._lifespan.startup(self.name)
            state = self._lifespan.state if self._lifespan.supported else None
            self.async_transport = ASGIAppTransport(app, self.max_response_size, state,
                                                    self.base_url)
        else:
            self.sync_transport = httpx.WSGITransport(app=guard_wsgi(app),
                                                      raise_app_exceptions=False)

    async def stop(self) -> None:
        await super().stop()
        if self._lifespan is not None:
            await self._lifespan.shutdown()


def load_app(target: str, reference: str) -> Any:
    """Import ``module:attribute`` (the current directory is importable, as with python -m)."""
    module_name, _, attribute = reference.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # the user's module may raise anything while importing
        raise TargetError(target, f"cannot import app module '{module_name}': "
                          f"{type(err).__name__}: {err}") from None
    app: Any = module
    for part in attribute.split("."):
        if not hasattr(app, part):
            raise TargetError(target, f"module '{module_name}' has no attribute "
                              f"'{attribute}'; check the 'app: module:attribute' value")
        app = getattr(app, part)
    if not callable(app):
        raise TargetError(target, f"'{reference}' is not an ASGI or WSGI application")
    return app


def _is_asgi(app: Any) -> bool:
    call = app if inspect.isfunction(app) or inspect.ismethod(app) else type(app).__call__
    if inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(app):
        return True
    try:
        return len(inspect.signature(call).parameters) == 3
    except (TypeError, ValueError):
        return False


class _Lifespan:
    """Runs an ASGI app's lifespan protocol (startup/shutdown events) if it speaks it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.supported = False
        self.state: dict[str, Any] = {}  # what startup stored: each request gets a copy

    async def _run(self) -> None:
        try:
            await self.app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.state},
                           self.inbox.get, self.outbox.put)
        except Exception:  # apps without lifespan support raise on the unknown scope...
            pass
        # ... or return at once: either way, whoever waits for an answer gets one.
        await self.outbox.put({"type": "lifespan.unsupported"})

    async def startup(self, target: str) -> None:
        self.task = asyncio.ensure_future(self._run())
        await self.inbox.put({"type": "lifespan.startup"})
        message = await self.outbox.get()
        if message["type"] == "lifespan.startup.failed":
            raise TargetError(target, f"the app's startup failed: {message.get('message', '')}")
        self.supported = message["type"] == "lifespan.startup.complete"

    async def shutdown(self) -> None:
        if self.supported and self.task is not None and not self.task.done():
            await self.inbox.put({"type": "lifespan.shutdown"})
            try:
                await asyncio.wait_for(self.outbox.get(), timeout=5)
            except TimeoutError:
                pass
        if self.task is not None and not self.task.done():
            self.task.cancel()


class UrlTarget(Target):
    """A server that is already running at ``base_url``."""

    def __init__(self, definition: TargetDef, headers: dict[str, str], base_url: str) -> None:
        super().__init__(definition, headers)
        self.base_url = base_url.rstrip("/")
        self.sync_transport = self.new_transport()

    def new_transport(self) -> ServerTransport:
        """A new pool of connections to ``base_url``."""
        # Certificates are only loaded for https (loading them takes tens of milliseconds).
        try:
            return ServerTransport(verify=self.base_url.startswith("https:"),
                                   proxy=proxy_for(self.base_url))
        except (ValueError, ImportError) as err:  # an unknown proxy scheme, socks without socksio
            raise TargetError(self.name, f"cannot use the proxy {proxy_for(self.base_url)}: "
                              f"{err}") from None

    async def start(self) -> None:
        ready = self.definition.ready
        if ready is not None:
            await self.wait_ready()
            return
        try:  # fail fast and clearly when nothing listens there
            await asyncio.to_thread(self.status_of, "GET", "/", self.timeout)
        except httpx.ConnectError as err:
            raise TargetError(self.name, f"cannot reach {self.base_url}: {err}; is the "
                              "server running?") from None
        except httpx.HTTPError:
            pass

    def status_of(self, method: str, path: str, timeout: float) -> int:
        """The status ``method path`` answers (with the target's headers); raises httpx's
        errors. For start-up checks, which must tell a refused connection apart."""
        outgoing = httpx.Request(method, self.base_url + path, headers=self.headers,
                                 extensions={"timeout": httpx.Timeout(timeout).as_dict()})
        return self._exchange(outgoing, timeout)[0].status_code

    async def wait_ready(self) -> None:
        ready = self.definition.ready
        assert ready is not None
        deadline = time.monotonic() + ready.timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.exit_code is not None:
                raise TargetError(
                    self.name, f"the process exited with code {self.process.exit_code} "
                    "before it was ready", self.process.log_tail(), str(self.process.log_path))
            try:  # each attempt waits 2 s at most, and never past ready.timeout
                wait = min(2.0, max(deadline - time.monotonic(), 0.05))
                status = await asyncio.to_thread(self.status_of, ready.method, ready.path, wait)
                if status == ready.status:
                    return
                last = f"{ready.method} {ready.path} answered {status}, " \
                       f"waiting for {ready.status}"
            except httpx.HTTPError as err:
                last = f"{type(err).__name__}"
            await asyncio.sleep(0.05)
        raise TargetError(
            self.name, f"not ready after {ready.timeout:g}s ({last}); raise ready.timeout or "
            "check the ready path", self.process.log_tail() if self.process else [],
            str(self.process.log_path) if self.process else None)


class CommandTarget(UrlTarget):
    """A server command started for this run and stopped with its whole process group."""

    def __init__(self, definition: TargetDef, headers: dict[str, str], tmp: Path) -> None:
        port = str(free_port())
        variables = {"port": port, "tmp": str(tmp), "python": sys.executable}
        cwd = interpolate(definition.cwd, variables) if definition.cwd else None
        # (a service gets mbtspec's environment, not the target's: the target's refers to it)
        self.services = [Service(d, definition.name, tmp, dict(os.environ), cwd)
                         for d in definition.services]
        for service in self.services:
            variables[f"services.{service.name}.port"] = service.port
            variables[f"services.{service.name}.dir"] = str(service.dir)
        self.service_variables = {k: v for k, v in variables.items() if "." in k}
        self.tmp = tmp
        try:
            self.argv = [interpolate(a, variables) for a in definition.command]
            self.env = {**os.environ, **{k: interpolate(v, variables) for k, v in definition.env}}
            self.cwd = cwd
            base_url = interpolate(definition.base_url or "http://127.0.0.1:${port}", variables)
        except KeyError as err:
            raise TargetError(definition.name, str(err.args[0])) from None
        super().__init__(definition, headers, base_url)
        self.log_path = tmp / f"{definition.name}.log"
        self.port = port

    async def start(self) -> None:
        await start_services(self.services)
        self._start_process()
        await self.wait_ready()

    def _start_process(self) -> None:
        try:
            self.process = ManagedProcess(self.argv, env=self.env, cwd=self.cwd,
                                          log_path=self.log_path)
        except OSError as err:
            raise TargetError(self.name, f"cannot start {self.argv[0]!r}: {err.strerror}; "
                              "check the command") from None

    async def restart(self, commands: Sequence[Sequence[str]]) -> None:
        """Stop its server, run ``commands`` (each must exit with 0) while it is stopped, start
        it again on the same port and wait until it is ready. Its services keep running."""
        if self.process is not None:
            await asyncio.to_thread(self.process.stop)
        if self.sync_transport is not None:  # (its connections went with the old server)
            self.sync_transport.close()
            self.sync_transport = self.new_transport()
        log = self.tmp / f"{self.name}.restart.log"
        for argv in commands:
            shown = command_line(self, argv, "restart command")
            try:
                await run_to_end(shown, env=self.env, cwd=self.cwd, log_path=log,
                                 timeout=SETUP_TIMEOUT)
            except CommandFailed as err:
                raise TargetError(self.name, f"restart command {' '.join(shown)!r} failed: "
                                  f"{err}", err.tail, str(log) if err.tail else None) from None
        self._start_process()
        await self.wait_ready()

    def service_processes(self) -> list[ManagedProcess]:
        return [s.process for s in self.services if s.process is not None]

    async def stop(self) -> None:
        await super().stop()
        if self.process is not None:
            self.process.stop()
        stop_all(self.service_processes())


def make_target(definition: TargetDef, tmp: Path) -> Target:
    """The ``Target`` for a definition (not started yet)."""
    try:
        headers = {k: interpolate(v, {}) for k, v in definition.headers}
    except KeyError as err:
        raise TargetError(definition.name, str(err.args[0])) from None
    target: Target
    try:
        if definition.kind == "app":
            target = AppTarget(definition, headers)
        elif definition.kind == "command":
            target = CommandTarget(definition, headers, tmp)
        elif definition.kind == "compose":
            from mbtspec.executor._compose import ComposeTarget  # (it builds on UrlTarget)

            target = ComposeTarget(definition, headers, tmp)
        else:
            target = UrlTarget(definition, headers, interpolate(definition.base_url or "", {}))
    except KeyError as err:
        raise TargetError(definition.name, str(err.args[0])) from None
    target.variables = {"tmp": str(tmp), "python": sys.executable}
    if isinstance(target, CommandTarget):
        target.variables["port"] = target.port
        target.variables.update(target.service_variables)
    return target
