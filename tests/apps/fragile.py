"""Orders apps that break down once their bug has shown: for what a run does when a target
fails while a failure is being shrunk. Importable as ``tests.apps.fragile:<name>``.

* ``reset_fails``: the ``close_twice`` candidate; once it has answered a second close with 200
  (the bug), every later ``POST /__reset`` answers 503.
* ``third_from_first`` / ``third_from_third``: a flaky ``close_twice`` candidate: closing a
  closed order answers 200 (the bug) only at every third such close of the process' life,
  starting with the first (or the third); the other times it answers 409 as the model does.
* ``several``: three of the orders app's bugs at once (``close_twice``, ``qty_off_by_one``,
  ``list_limit``): three distinct failures for keep-going.
* ``slow_close_twice``: the ``close_twice`` candidate answering each request after 50 ms, so
  that shrinking takes seconds (for Ctrl-C while shrinking).
* ``env_app`` (for uvicorn): the same candidate; once the bug has shown, the process exits
  (``os._exit(5)``) at the next reset, as a server that dies would. ``FRAGILE_EXIT_AFTER``
  resets after the bug (default 1).
"""

from __future__ import annotations

import os
from typing import Any

from tests.apps.orders import make_app

Scope = dict[str, Any]


def _after_bug(action: str) -> Any:
    inner = make_app(first_id=1001, bugs=frozenset({"close_twice"}))
    closed: set[str] = set()
    shown = 0

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        nonlocal shown
        if scope["type"] != "http":
            await inner(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        if method == "POST" and path == "/__reset":
            closed.clear()
            if shown:
                shown += 1
                if action == "exit" and shown > int(os.environ.get("FRAGILE_EXIT_AFTER", "1")):
                    os._exit(5)
                if action == "fail":
                    await send({"type": "http.response.start", "status": 503, "headers": []})
                    await send({"type": "http.response.body", "body": b"broken"})
                    return
        elif method == "POST" and path.endswith("/close"):
            if path in closed:
                shown = shown or 1  # the second close answers 200: the bug shows
            closed.add(path)
        await inner(scope, receive, send)

    return app


reset_fails = _after_bug("fail")
env_app = _after_bug("exit")


def _intermittent(first: int) -> Any:
    inner = make_app(first_id=1001, bugs=frozenset({"close_twice"}))
    closed: set[str] = set()
    tries = 0

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        nonlocal tries
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            if path == "/__reset":
                closed.clear()
            elif path.endswith("/close") and path in closed:
                tries += 1
                if tries % 3 != first % 3:  # answer as the model does (no DELETE in its tests)
                    body = b'{"error":"already_closed"}'
                    await send({"type": "http.response.start", "status": 409,
                                "headers": [(b"content-type", b"application/json")]})
                    await send({"type": "http.response.body", "body": body})
                    return
            elif path.endswith("/close"):
                closed.add(path)
        await inner(scope, receive, send)

    return app


third_from_first = _intermittent(1)
third_from_third = _intermittent(3)


several = make_app(first_id=1001,
                   bugs=frozenset({"close_twice", "qty_off_by_one", "list_limit"}))


def _slow(inner: Any) -> Any:
    import asyncio

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await asyncio.sleep(0.05)
        await inner(scope, receive, send)

    return app


slow_close_twice = _slow(make_app(first_id=1001, bugs=frozenset({"close_twice"})))
