"""In-process ASGI apps without httpx's request and response objects, where that changes
nothing: the scope written directly must be the scope httpx's request gives, the answer the
answer httpx's response gives; and apps that wait are called concurrently."""

from __future__ import annotations

import asyncio
import gzip
import time
from pathlib import Path
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st

from mbtspec.executor._inprocess import ASGIAppTransport
from mbtspec.executor.records import Request, Response
from mbtspec.executor.targets import Target, make_target
from mbtspec.spec.model import Mark, TargetDef

BASES = ["http://app", "http://app/api", "http://127.0.0.1:8000", "https://example.test",
         "http://APP:80"]


async def _echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _scope_through_httpx(transport: ASGIAppTransport, request: Request) -> dict[str, Any]:
    """The scope ``handle_async_request`` gives the app for ``request``."""
    seen: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope)
        await _echo(scope, receive, send)

    outgoing = httpx.Request(request.method, request.url, headers=request.headers,
                             content=request.content)
    asyncio.run(ASGIAppTransport(app, 2**20, None, "http://app")
                .handle_async_request(outgoing))
    return seen[0]


# printable ASCII (also what httpx escapes or removes), some non-ASCII, %-escapes
_chars = st.sampled_from([*map(chr, range(0x20, 0x7F)), "é", "€", "%41", "%zz", "/./", "/../"])
_text = (st.lists(_chars, max_size=12).map("".join)  # (half of them sent as written)
         | st.lists(st.sampled_from(["a", "Z", "9", "/", "-", ".", "~", "%41", "=", "&", ";"]),
                    max_size=12).map("".join))
_header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=8)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    base = draw(st.sampled_from(BASES))
    path = "/" + draw(_text)
    query = draw(st.none() | _text)
    url = base.rstrip("/") + path + ("" if query is None else "?" + query)
    names = st.sampled_from(["x-one", "X-Two", "Content-Type", "Host", "content-length",
                             "Transfer-Encoding", "x-é"])
    headers = tuple(draw(st.lists(st.tuples(names, _header_text | st.just("é")), max_size=4)))
    content = draw(st.none() | st.binary(max_size=5))
    method = draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]))
    return Request(method, url, path, headers, None, content, None)


@given(requests())
def test_the_scope_written_directly_is_the_scope_httpx_gives(request: Request) -> None:
    base = next(b for b in sorted(BASES, key=len, reverse=True)
                if request.url.startswith(b.rstrip("/")))
    transport = ASGIAppTransport(_echo, 2**20, None, base)
    direct = transport.scope_for(request)
    if direct is None:  # (left to httpx: it must then be something httpx rewrites)
        return
    assert direct == _scope_through_httpx(transport, request)


def test_the_requests_mbtspec_builds_are_written_directly() -> None:
    transport = ASGIAppTransport(_echo, 2**20, None, "http://app")
    for url in ["http://app/employees", "http://app/employees/3?name=K%C3%A9&x=a%20b",
                "http://app/a/b;c=d?q=%2F&empty=", "http://app/"]:
        request = Request("POST", url, url[len("http://app"):],
                          (("content-type", "application/json"),), {}, b"{}", None)
        scope = transport.scope_for(request)
        assert scope is not None, url
        assert scope == _scope_through_httpx(transport, request)


def _target(tmp_path: Path, app: str) -> Target:
    definition = TargetDef(name="candidate", kind="app", mark=Mark(1, 1), app=app,
                           timeout=5.0, max_response_size=2**20)
    return make_target(definition, tmp_path)


async def answers(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An app whose answers httpx has something to do with, by path."""
    path = scope["path"]
    headers = [(b"content-type", b"application/json"), (b"x-many", b"1"), (b"X-Many", b"2")]
    body = b'{"a": [1, 2]}'
    if path == "/gzip":
        headers.append((b"content-encoding", b"gzip"))
        body = gzip.compress(body)
    elif path == "/cookie":
        headers.append((b"set-cookie", b"session=abc; Path=/"))
    elif path == "/latin":
        headers.append((b"x-name", "café".encode("latin-1")))
    await send({"type": "http.response.start", "status": 201, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def test_answers_are_those_httpx_reads(tmp_path: Path) -> None:
    async def both(path: str) -> tuple[Response, Response]:
        target = _target(tmp_path, "tests.unit.test_asgi_direct:answers")
        await target.start()
        request = Request("GET", "http://app" + path, path, (), None, None, None)
        direct = await target.send(request)
        target.forget()
        through = await target._send_through_httpx(request, time.perf_counter())
        return direct, through

    for path in ["/plain", "/gzip", "/cookie", "/latin"]:
        direct, through = asyncio.run(both(path))
        assert (direct.status, direct.headers, direct.body) == (
            through.status, through.headers, through.body), path
        assert direct.body == {"a": [1, 2]}
        assert ("x-many", "1, 2") in direct.headers


async def waits(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An app that waits 0.2 s for something outside (a database, say)."""
    await asyncio.sleep(0.2)
    await _echo(scope, receive, send)


def test_apps_seen_waiting_are_called_concurrently(tmp_path: Path) -> None:
    from mbtspec.executor._session import Session

    targets = {name: _target(tmp_path / name, "tests.unit.test_asgi_direct:waits")
               for name in ("model", "candidate")}
    session = Session.__new__(Session)  # (only what send_all needs)
    session.targets = targets
    request = Request("GET", "http://app/", "/", (), None, None, None)

    async def step() -> float:
        started = time.monotonic()
        answers = await session._gather(list(targets), dict.fromkeys(targets, request))
        assert [a.status for a in answers.values()] == [200, 200]
        return time.monotonic() - started

    async def run() -> tuple[float, float]:
        for target in targets.values():
            await target.start()
        return await step(), await step()

    first, second = asyncio.run(run())
    assert first >= 0.4  # one after the other: nothing seen waiting yet
    assert all(t.waits for t in targets.values())
    assert second < 0.38  # together (0.2 s each)


def test_within_times_out_and_lets_other_cancellations_through() -> None:
    from mbtspec.executor.targets import within

    async def timed_out() -> tuple[str, int]:
        try:
            await within(0.05, asyncio.sleep(5))
        except TimeoutError:
            task = asyncio.current_task()
            assert task is not None
            await asyncio.sleep(0)  # (the task is not left cancelled)
            return "timeout", task.cancelling()
        return "no timeout", -1

    assert asyncio.run(timed_out()) == ("timeout", 0)

    async def cancelled_from_outside() -> str:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().call_later(0.05, task.cancel)  # (Ctrl-C: see _interrupts)
        try:
            await within(5, asyncio.sleep(5))
        except TimeoutError:
            return "timeout"
        except asyncio.CancelledError:
            return "cancelled"
        return "neither"

    assert asyncio.run(cancelled_from_outside()) == "cancelled"

    async def both_at_once() -> str:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, task.cancel)
        try:
            await within(0.05, asyncio.sleep(5))  # (the timeout fires in the same turn)
        except TimeoutError:
            return "timeout"
        except asyncio.CancelledError:
            return "cancelled"
        return "neither"

    assert asyncio.run(both_at_once()) == "cancelled"


def test_within_runs_a_call_that_never_waits_without_a_timer() -> None:
    from mbtspec.executor.targets import within

    async def answers_at_once() -> int:
        return 7

    async def waits_once() -> int:
        await asyncio.sleep(0.05)
        return 8

    async def main() -> tuple[int, str]:
        first = await within(0, answers_at_once())  # (no turn of the loop: no timeout)
        try:
            await within(0.01, waits_once())
        except TimeoutError:
            return first, "timeout"
        return first, "no timeout"

    assert asyncio.run(main()) == (7, "timeout")
    assert asyncio.run(within(5, waits_once())) == 8  # (resumed after its wait)
