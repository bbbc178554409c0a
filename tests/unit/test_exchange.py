"""Exchanges with targets that misbehave: servers that close connections, answer for ever,
answer too much or too slowly, and in-process apps that break the protocol.

The servers are ``tests.apps.hostile.HostileServer`` (raw sockets on 127.0.0.1, in a thread of
the test process), so that the tests can count connections and requests.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mbtspec import check
from mbtspec.compiler import NO_BODY
from mbtspec.executor.records import Request, Response
from mbtspec.executor.targets import Target, make_target, parse_body
from mbtspec.spec import load_spec
from mbtspec.spec.model import Mark, TargetDef
from mbtspec.spec.sizes import DEFAULT_MAX_RESPONSE_SIZE, format_size, parse_size
from tests.apps.hostile import HostileServer

MiB = 2**20


_made: list[Target] = []


@pytest.fixture(autouse=True)
def _close_targets() -> Iterator[None]:
    yield
    while _made:
        transport = _made.pop().sync_transport
        if transport is not None:
            transport.close()


def _target(tmp_path: Path, *, base_url: str | None = None, app: str | None = None,
            timeout: float = 5.0, max_size: int = DEFAULT_MAX_RESPONSE_SIZE) -> Target:
    """A target (closed at the end of the test)."""
    definition = TargetDef(name="candidate", kind="app" if app else "base_url",
                           mark=Mark(1, 1), app=app, base_url=base_url, timeout=timeout,
                           max_response_size=max_size)
    target = make_target(definition, tmp_path)
    _made.append(target)
    return target


def _request(target: Target, path: str, method: str = "GET", body: Any = NO_BODY) -> Request:
    content = None if body is NO_BODY else json.dumps(body).encode()
    headers = (("content-type", "application/json"),) if content else ()
    return Request(method, target.base_url + path, path, headers, body, content, None)


def _send(target: Target, path: str, method: str = "GET", body: Any = NO_BODY) -> Response:
    return target.send_sync(_request(target, path, method, body))


# -------------------------------------------------------------- connections closed by the server


@pytest.mark.parametrize("reset_close", [False, True], ids=["fin", "rst"])
def test_a_request_on_a_connection_the_server_closed_is_sent_again_on_a_new_one(
        tmp_path: Path, reset_close: bool) -> None:
    with HostileServer(lazy_close=0.2, reset_close=reset_close) as server:
        target = _target(tmp_path, base_url=server.url)
        assert _send(target, "/ok").status == 200
        time.sleep(0.3)  # the server closes the connection when the next request comes
        response = _send(target, "/ok")
        assert response.status == 200, response.error
        assert server.connections == 2
        assert server.requests == [(1, "GET", "/ok"), (1, "GET", "/ok"), (2, "GET", "/ok")]


def test_requests_after_a_pause_longer_than_the_servers_idle_timeout(tmp_path: Path) -> None:
    with HostileServer(idle_close=0.2) as server:
        target = _target(tmp_path, base_url=server.url)
        for _ in range(3):
            response = _send(target, "/ok")
            assert response.status == 200, response.error
            time.sleep(0.3)
        assert server.connections == 3


def test_the_second_attempt_gets_a_new_connection_when_every_idle_one_is_dead(
        tmp_path: Path) -> None:
    with HostileServer(lazy_close=0.3, slow_seconds=0.2) as server:
        target = _target(tmp_path, base_url=server.url)
        threads = [threading.Thread(target=_send, args=(target, "/slow")) for _ in range(3)]
        for thread in threads:  # three requests at once: three pooled connections
            thread.start()
        for thread in threads:
            thread.join()
        assert server.connections == 3
        time.sleep(0.4)  # all three are now closed by the server on their next request
        response = _send(target, "/ok")
        assert response.status == 200, response.error
        assert server.connections == 4
        assert [r for r in server.requests if r[2] == "/ok"][-1][0] == 4


def test_a_request_that_failed_on_a_new_connection_is_not_sent_again(tmp_path: Path) -> None:
    with HostileServer(drop_posts=True) as server:
        target = _target(tmp_path, base_url=server.url)
        response = _send(target, "/orders", "POST", {"item": "fig"})
        assert response.status is None and "disconnected" in (response.error or "")
        assert server.requests == [(1, "POST", "/orders")]  # once: no second order
        # On a reused connection, it is sent once more (on a new one), and no more.
        assert _send(target, "/ok").status == 200
        assert _send(target, "/orders", "POST", {"item": "fig"}).status is None
        assert [r for r in server.requests if r[1] == "POST"] == [
            (1, "POST", "/orders"), (2, "POST", "/orders"), (3, "POST", "/orders")]


@pytest.mark.parametrize("path", ["/short", "/huge-headers"])
def test_a_broken_answer_is_a_finding_and_not_sent_again(tmp_path: Path, path: str) -> None:
    with HostileServer() as server:
        target = _target(tmp_path, base_url=server.url)
        assert _send(target, "/ok").status == 200
        response = _send(target, path)
        assert response.status is None and "RemoteProtocolError" in (response.error or "")
        assert [r[2] for r in server.requests] == ["/ok", path]
        assert _send(target, "/ok").status == 200


@pytest.mark.parametrize(("method", "path"), [("GET", "/no-content"), ("HEAD", "/ok")])
def test_bytes_after_an_answer_without_body_are_not_the_next_answer(
        tmp_path: Path, method: str, path: str) -> None:
    with HostileServer() as server:
        target = _target(tmp_path, base_url=server.url)
        assert _send(target, path, method).status in (200, 204)
        response = _send(target, "/ok")  # the server left what reads like an answer
        assert response.status is None and response.body is None
        assert "held an answer before the request was sent" in (response.error or "")
        assert _send(target, "/ok").body == {"ok": True}
        # (the server reads the request left on the first connection in its own thread,
        # maybe after the third request was answered on a new one)
        expected = 2 + (method == "HEAD")
        deadline = time.monotonic() + 5
        while ([r[2] for r in server.requests].count("/ok") < expected
               and time.monotonic() < deadline):
            time.sleep(0.01)
        assert [r[2] for r in server.requests].count("/ok") == expected


# ---------------------------------------------------------------------------- time and memory


@pytest.mark.parametrize("path", ["/stream", "/trickle", "/slow", "/hang"])
def test_the_timeout_bounds_the_whole_exchange(tmp_path: Path, path: str) -> None:
    with HostileServer(stream_interval=0.05, slow_seconds=3) as server:
        target = _target(tmp_path, base_url=server.url, timeout=0.5)
        started = time.monotonic()
        response = _send(target, path)
        assert response.error == "no response within 0.5s"
        assert 0.45 < time.monotonic() - started < 1.5


@pytest.mark.parametrize(("path", "limit", "shown"), [
    ("/huge", DEFAULT_MAX_RESPONSE_SIZE, "16 MiB"),
    ("/flood", MiB, "1 MiB"),
    ("/bomb", DEFAULT_MAX_RESPONSE_SIZE, "16 MiB"),  # 65 KB that inflate to 64 MiB
])
def test_a_body_past_the_size_limit_is_a_finding(tmp_path: Path, path: str, limit: int,
                                                 shown: str) -> None:
    with HostileServer() as server:
        target = _target(tmp_path, base_url=server.url, max_size=limit)
        started = time.monotonic()
        response = _send(target, path)
        assert response.status is None
        assert response.error == f"response too large: more than {shown}"
        assert time.monotonic() - started < 5
        assert _send(target, "/ok").status == 200  # and the next request is fine


def test_should_stop_ends_an_exchange_that_waits(tmp_path: Path) -> None:
    with HostileServer() as server:
        for path in ("/hang", "/stream"):
            target = _target(tmp_path, base_url=server.url, timeout=30)
            asked = time.monotonic() + 0.3
            target.should_stop = lambda: time.monotonic() > asked  # noqa: B023
            with pytest.raises(KeyboardInterrupt):
                _send(target, path)
            assert time.monotonic() - asked < 0.5


def test_text_is_read_in_its_declared_charset(tmp_path: Path) -> None:
    with HostileServer() as server:
        target = _target(tmp_path, base_url=server.url)
        assert _send(target, "/latin1").body == "café"
        assert _send(target, "/bad-utf8").body == {"name": "caf\N{REPLACEMENT CHARACTER}"}


@pytest.mark.parametrize(("content", "kind", "parsed"), [
    (b"[" * 256 + b"]" * 256, "application/json", list),
    (b"[" * 257 + b"]" * 257, "application/json", str),
    (b'{"a":' * 300 + b"1" + b"}" * 300, "application/json", str),
    (b"[" * 100_000 + b"]" * 100_000, "application/json", str),  # RecursionError before
    (b'{"x": NaN}', "application/json", str),
    (b'{"x": -Infinity}', "application/json", str),
    (b'"[[[[[[[[[["', "application/json", str),
    (b'{"x": 1}', "text/plain; charset=rot13", str),  # not a text encoding
    (b"caf\xe9", "text/plain; charset=no-such-charset", str),
])
def test_bodies_that_are_not_usable_json_stay_text(content: bytes, kind: str,
                                                   parsed: type) -> None:
    assert type(parse_body(content, kind)) is parsed


def test_deep_and_nan_json_answers_are_compared_as_text(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("version: 1\ntargets:\n  model: {app: 'tests.apps.hostile:asgi_app'}\n"
                    "  candidate: {app: 'tests.apps.hostile:asgi_app'}\nreset: []\nactions:\n"
                    "  deep: {request: GET /deep}\n  nan: {request: GET /nan}\n")
    result = check(spec, sequences=3, steps=4, seed=1, database=None).result
    assert result.failure is None, result.failure  # a NaN differs from itself as a number
    assert result.stats.actions["deep"].statuses["candidate"]["200"] >= 1


# ------------------------------------------------------------------------------ in-process apps


def _run_asgi(tmp_path: Path, path: str, **options: Any) -> tuple[Response, float]:
    """``path`` of the hostile ASGI app, from a thread that must end within 20 s."""
    result: list[tuple[Response, float]] = []

    async def call() -> None:
        target = _target(tmp_path, app="tests.apps.hostile:asgi_app", **options)
        await target.start()
        started = time.monotonic()
        response = await target.send(_request(target, path))
        result.append((response, time.monotonic() - started))
        await target.stop()

    thread = threading.Thread(target=asyncio.run, args=(call(),), daemon=True)
    thread.start()
    thread.join(20)
    assert result, f"{path} did not end"
    return result[0]


@pytest.mark.parametrize(("path", "status", "error"), [
    ("/ok", 200, None),
    ("/raise", 500, None),
    ("/nothing", 500, None),
    ("/half", None, "RemoteProtocolError: the application returned before it finished its "
                    "response"),
    ("/raise-late", None, "RemoteProtocolError: the application raised RuntimeError: boom "
                          "after the start before it finished its response"),
    ("/stream", None, "response too large: more than 16 MiB"),
    ("/huge", None, "response too large: more than 16 MiB"),
    ("/bomb", None, "response too large: more than 16 MiB"),
])
def test_asgi_apps_that_break_the_protocol(tmp_path: Path, path: str, status: int | None,
                                           error: str | None) -> None:
    response, elapsed = _run_asgi(tmp_path, path)
    assert (response.status, response.error) == (status, error)
    assert elapsed < 5


def test_an_asgi_app_that_streams_without_waiting_meets_its_timeout(tmp_path: Path) -> None:
    response, elapsed = _run_asgi(tmp_path, "/stream", timeout=0.3, max_size=2**40)
    assert response.error == "no response within 0.3s" and elapsed < 3


@pytest.mark.parametrize(("path", "status", "error"), [
    ("/ok", 200, None),
    ("/raise", 500, None),
    ("/stream", None, "no response within 0.5s"),
    ("/huge", None, "response too large: more than 16 MiB"),
    ("/bomb", None, "response too large: more than 16 MiB"),
])
def test_wsgi_apps_that_misbehave(tmp_path: Path, path: str, status: int | None,
                                  error: str | None) -> None:
    target = _target(tmp_path, app="tests.apps.hostile:wsgi_app", timeout=0.5)
    asyncio.run(target.start())
    started = time.monotonic()
    response = _send(target, path)
    assert (response.status, response.error) == (status, error)
    assert time.monotonic() - started < 5


# ------------------------------------------------------------------------ max_response_size


@pytest.mark.parametrize(("written", "size"), [
    (1, 1), (1048576, 2**20), ("16 MiB", 16 * 2**20), ("512 KiB", 512 * 1024),
    ("2 MB", 2_000_000), ("1.5 KiB", 1536), (" 7 bytes ", 7), ("3kB", 3000), ("1 GiB", 2**30),
])
def test_sizes_are_read_as_written_and_shown_back(written: int | str, size: int) -> None:
    assert parse_size(written) == size
    assert parse_size(format_size(size)) == size


@pytest.mark.parametrize("written", ["16 mb", "MiB", "1e3", "-1", True, "1,5 KiB", ""])
def test_what_is_not_a_size(written: int | str) -> None:
    assert parse_size(written) is None


def test_a_targets_max_response_size_is_loaded(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("version: 1\ntargets:\n  model: {app: 'tests.apps.orders:app', "
                    "max_response_size: 512 KiB}\n  candidate: {app: 'tests.apps.orders:app'}\n"
                    "reset: []\nactions:\n  list: {request: GET /orders}\n")
    targets = {t.name: t.max_response_size for t in load_spec(spec).targets}
    assert targets == {"model": 512 * 1024, "candidate": 16 * 2**20}


def test_the_json_schema_accepts_the_sizes_the_loader_reads() -> None:
    from mbtspec.spec._schema import spec_schema
    from mbtspec.spec.sizes import SIZE_PATTERN

    key = spec_schema()["$defs"]["target"]["properties"]["max_response_size"]
    assert key["pattern"] == SIZE_PATTERN and key["type"] == ["integer", "string"]
