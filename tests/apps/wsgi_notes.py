"""A tiny WSGI notes API (standard library only), to exercise in-process WSGI targets.

``POST /notes`` {"text": str} -> 201 {"id", "text"} (ids minted from ``first_id``);
``GET /notes/{id}`` -> 200 / 404; ``GET /notes`` -> 200 list; ``POST /__reset`` -> 204.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

Start = Callable[[str, list[tuple[str, str]]], Any]


def make_app(first_id: int = 1) -> Callable[[dict[str, Any], Start], Iterable[bytes]]:
    notes: dict[int, dict[str, Any]] = {}
    counter = [first_id]

    def reply(start: Start, status: str, body: Any = None) -> list[bytes]:
        if body is None:
            start(status, [])
            return [b""]
        data = json.dumps(body).encode()
        start(status, [("content-type", "application/json")])
        return [data]

    def app(environ: dict[str, Any], start: Start) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        if (method, path) == ("POST", "/__reset"):
            notes.clear()
            counter[0] = first_id
            return reply(start, "204 No Content")
        if path == "/notes" and method == "GET":
            return reply(start, "200 OK", list(notes.values()))
        if path == "/notes" and method == "POST":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                text = json.loads(environ["wsgi.input"].read(size))["text"]
            except (ValueError, KeyError, TypeError):
                return reply(start, "422 Unprocessable Entity", {"error": "invalid"})
            note = {"id": counter[0], "text": text}
            notes[counter[0]] = note
            counter[0] += 1
            return reply(start, "201 Created", note)
        if path.startswith("/notes/") and method == "GET":
            key = path.rsplit("/", 1)[-1]
            if key.isdigit() and int(key) in notes:
                return reply(start, "200 OK", notes[int(key)])
            return reply(start, "404 Not Found", {"error": "not_found"})
        return reply(start, "404 Not Found", {"error": "not_found"})

    return app


model = make_app()
candidate = make_app(first_id=500)

#: A spec over the two (model ids start at 1, candidate ids at 500).
SPEC = """\
version: 1
targets:
  model: {app: tests.apps.wsgi_notes:model}
  candidate: {app: tests.apps.wsgi_notes:candidate}
reset:
  - request: POST /__reset
generators:
  text: {string: {alphabet: abc, min_size: 1, max_size: 4}}
actions:
  add:
    request: POST /notes
    body: {text: "${text}"}
    store: {notes: response.body.id}
    expect: ["response.status == 201"]
  read:
    request: GET /notes/{id}
    path: {id: {pick: notes}}
  all:
    request: GET /notes
invariants:
  - {name: found, check: "action != 'read' || candidate.status == 200"}
"""
