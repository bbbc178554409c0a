"""Apps that echo what they received, to test that secrets never show in any form.

``model`` and ``candidate`` answer every request with what they received: as JSON (the method,
the raw path and query string, the headers and the body text), and in ``x-echo-*`` headers.
``/text`` answers the request's body bytes as text/plain, so that a JSON-escaped secret stays
escaped in the response. The candidate adds ``!`` to each echoed value: every step differs,
at places that hold the secret.

``huge_model`` and ``huge_candidate`` answer ``GET /huge?mb=N`` with a JSON list of about N MB
whose elements all differ between the two.

``binary_model`` and ``binary_candidate`` answer bytes that are not UTF-8, with NUL and other
control characters, as text/plain and as JSON.
"""

from __future__ import annotations

import json
from typing import Any

Scope = dict[str, Any]


async def read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send: Any, status: int, headers: list[tuple[bytes, bytes]],
                content: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def _echo(suffix: str) -> Any:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        content = await read_body(receive)
        path = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if scope["path"] == "/text":
            await _send(send, 200, [(b"content-type", b"text/plain; charset=utf-8")],
                        content + suffix.encode())
            return
        echoed = {"method": scope["method"], "path": path + suffix, "query": query + suffix,
                  "headers": {k: v + suffix for k, v in headers.items()},
                  "body": content.decode("utf-8", "replace") + suffix}
        out = [(b"content-type", b"application/json"),
               (b"x-echo-query", (query + suffix).encode("latin-1")),
               (b"x-echo-path", (path + suffix).encode("latin-1"))]
        for name in ("authorization", "x-api-key"):
            if name in headers:
                out.append((f"x-echo-{name}".encode(), (headers[name] + suffix).encode("latin-1")))
        await _send(send, 200, out, json.dumps(echoed).encode())

    return app


model = _echo("")
candidate = _echo("!")


_ITEM = '{"id":%d,"name":"item %d","tags":["a","b"],"score":%d}'


def huge_count(megabytes: float) -> int:
    """How many elements ``GET /huge?mb=N`` answers."""
    return int(megabytes * 1_000_000 // len(_ITEM % (100000, 100000, 100000)))


def _huge(shift: int) -> Any:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await read_body(receive)
        params = dict(p.split("=", 1) for p in scope["query_string"].decode().split("&") if p)
        count = huge_count(float(params.get("mb", "1")))
        content = ("[" + ",".join(_ITEM % (i, i, i + shift) for i in range(count))
                   + "]").encode()
        await _send(send, 200, [(b"content-type", b"application/json")], content)

    return app


huge_model = _huge(0)
huge_candidate = _huge(1)

#: Bytes no UTF-8 decoder accepts, and control characters XML 1.0 forbids.
BINARY = b"\x00\x01\x08\x0b\x0c\x1b\x7f\xff\xfe\xc3(\xed\xa0\x80 ]]> </pre><script>x</script>"


def _binary(extra: bytes) -> Any:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await read_body(receive)
        if scope["path"] == "/json":
            content = json.dumps({"value": BINARY.decode("latin-1") + extra.decode()}).encode()
            await _send(send, 200, [(b"content-type", b"application/json")], content)
            return
        await _send(send, 200, [(b"content-type", b"application/octet-stream")],
                    BINARY + extra)

    return app


binary_model = _binary(b"")
binary_candidate = _binary(b"\x02")


def _deep(leaf: int) -> Any:
    """``GET /deep?depth=N``: a JSON body of N nested lists around ``leaf``."""

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await read_body(receive)
        params = dict(p.split("=", 1) for p in scope["query_string"].decode().split("&") if p)
        depth = int(params.get("depth", "900"))
        content = ("[" * depth + str(leaf) + "]" * depth).encode()
        await _send(send, 200, [(b"content-type", b"application/json")], content)

    return app


deep_model = _deep(1)
deep_candidate = _deep(2)
