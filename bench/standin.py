"""Stand-in servers for bench/throughput.py: in-process ASGI apps that answer without state.

``items``: ``GET /items?n=N`` answers a list of N objects (the example's employee shape, with a
pattern), ``POST /__reset`` answers 204: how the cost of a step grows with the size of a body.

``openapi``: any operation of the OpenAPI document named by the environment variable
``STANDIN_OPENAPI`` answers its first documented 2xx status with a body built once from the
schema (``body_for``), the same for model and candidate; ``POST /__reset`` answers 204.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

ITEM_SCHEMA = {
    "type": "object",
    "required": ["employeeNo", "name", "department"],
    "properties": {
        "employeeNo": {"type": "string", "pattern": "^[A-Za-z]+-[0-9]+$"},
        "name": {"type": "string", "minLength": 1},
        "department": {"type": "string", "enum": ["Frontend", "Backend", "HR"]},
        "salary": {"type": "integer", "minimum": 0},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}
ITEMS_OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "items", "version": "1"},
    "paths": {"/items": {"get": {
        "operationId": "listItems",
        "parameters": [{"name": "n", "in": "query", "required": True,
                        "schema": {"type": "integer", "minimum": 0}}],
        "responses": {"200": {"description": "the items", "content": {"application/json": {
            "schema": {"type": "array", "items": ITEM_SCHEMA}}}}},
    }}},
}


async def _answer(send: Any, status: int, body: bytes | None) -> None:
    headers = [(b"content-type", b"application/json")] if body is not None else []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body or b""})


async def _drain(receive: Any) -> None:
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)


def _item(i: int) -> dict[str, Any]:
    return {"employeeNo": f"HR-{i}", "name": f"name{i}", "department": "HR", "salary": i,
            "tags": ["a", "b"]}


_ITEMS: dict[int, bytes] = {}


async def items(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """``GET /items?n=N``: N items (bodies made once per N)."""
    if scope["type"] != "http":
        return
    await _drain(receive)
    if scope["method"] == "POST" and scope["path"] == "/__reset":
        await _answer(send, 204, None)
        return
    query = parse_qs(scope.get("query_string", b"").decode())
    n = int(query.get("n", ["1"])[0])
    if n not in _ITEMS:
        _ITEMS[n] = json.dumps([_item(i) for i in range(n)]).encode()
    await _answer(send, 200, _ITEMS[n])


def body_for(schema: Any, depth: int = 0) -> Any:
    """A body for ``schema``: the first of const/default/example/enum, every property, one
    item; strings that satisfy no pattern (operations whose bodies do not conform are left
    out of the benchmark's spec)."""
    if not isinstance(schema, dict) or depth > 6:
        return None
    for key in ("const", "default", "example"):
        if key in schema:
            return schema[key]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("allOf", "oneOf", "anyOf"):
        if schema.get(key):
            if key == "allOf":
                merged: dict[str, Any] = {}
                for part in schema[key]:
                    value = body_for(part, depth + 1)
                    if isinstance(value, dict):
                        merged.update(value)
                return merged
            return body_for(schema[key][0], depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        return {name: body_for(sub, depth + 1)
                for name, sub in (schema.get("properties") or {}).items()
                if not (isinstance(sub, dict) and sub.get("writeOnly"))}
    if kind == "array":
        return [body_for(schema.get("items", {}), depth + 1)]
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "number":
        return float(schema.get("minimum", 1.5))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "x" * max(int(schema.get("minLength", 1)), 1)


class OpenApiStandIn:
    """Answers every operation of a document (loaded on the first request)."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], int, bytes | None]] | None = None

    def load(self) -> list[tuple[str, re.Pattern[str], int, bytes | None]]:
        from mbtspec.spec._openapi import load_openapi

        doc = load_openapi(Path(os.environ["STANDIN_OPENAPI"]))
        routes = []
        for op in doc.operations:
            answered = next(((code, media) for code, media in op.responses
                             if code.startswith("2")), None)
            if answered is None:
                continue
            code, media = answered
            schema = next((s for m, s in media if "json" in m), None)
            body = json.dumps(body_for(schema), default=str).encode() if media else None
            pattern = re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(op.path))
            routes.append((op.method.upper(), re.compile(pattern),
                           int(code) if code.isdigit() else 200, body))
        return routes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await _drain(receive)
        if self.routes is None:
            self.routes = self.load()
        method, path = scope["method"], scope["path"]
        if method == "POST" and path == "/__reset":
            await _answer(send, 204, None)
            return
        for verb, pattern, status, body in self.routes:
            if verb == method and pattern.fullmatch(path):
                await _answer(send, status, body)
                return
        await _answer(send, 404, b'{"error": "no such operation"}')


openapi = OpenApiStandIn()
