"""A tiny WSGI API with a login cookie (standard library only), to check that cookies go
back to the target that set them, and that each sequence starts without them.

``POST /login`` -> 204 with ``Set-Cookie: session=<n>``; ``GET /me`` -> 200 {"session": n}
when the request carries that cookie, else 401; ``POST /__reset`` -> 204 (forgets nothing on
purpose: cookies are the client's to forget).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from http.cookies import SimpleCookie
from typing import Any

Start = Callable[[str, list[tuple[str, str]]], Any]
_logins = [0]


def app(environ: dict[str, Any], start: Start) -> Iterable[bytes]:
    method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
    if (method, path) == ("POST", "/__reset"):
        start("204 No Content", [])
        return [b""]
    if (method, path) == ("POST", "/login"):
        _logins[0] += 1
        start("204 No Content", [("set-cookie", f"session=s{_logins[0]}; Path=/")])
        return [b""]
    if (method, path) == ("GET", "/me"):
        cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        if "session" not in cookie:
            start("401 Unauthorized", [("content-type", "application/json")])
            return [b'{"error": "not logged in"}']
        start("200 OK", [("content-type", "application/json")])
        return [json.dumps({"session": cookie["session"].value}).encode()]
    start("404 Not Found", [])
    return [b""]
