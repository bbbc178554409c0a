"""A small file store, to test the requests people send: multipart uploads with files, forms,
raw bytes, a body on DELETE, ``Location`` headers used as later request targets, and a query
parameter renamed between two versions.

- ``POST /files`` (multipart/form-data): stores the parts; 201 with the file's record and a
  ``Location``: the model answers a path (``/files/1``), the candidate (version 2) an absolute
  URL under another prefix (``http://<host>/v2/files/1001``): both serve it.
- ``GET /files/{id}`` and ``GET /v2/files/{id}``: the record.
- ``DELETE /files/{id}`` with an optional JSON body ``{reason}``: 200 with the reason.
- ``PUT /blobs/{key}`` (any bytes): their size and SHA-256.
- ``POST /forms`` (application/x-www-form-urlencoded): the fields, as lists.
- ``GET /files?limit=N`` (model) / ``?page_size=N`` (candidate): the first N records.
- ``POST /login`` answers a new random token each time (``{token}``); ``GET /whoami``
  answers 200 with the user for ``Authorization: Bearer <a token it issued>``, else 401.

``buggy`` (environment ``UPLOADS_BUG``) makes the candidate lose the bytes of raw blobs
that are not ASCII (``ascii``), the media type of file parts (``type``), or answer 500 to
``/whoami`` with a valid token (``auth``).
"""

from __future__ import annotations

import email.parser
import hashlib
import json
import os
import secrets
from typing import Any
from urllib.parse import parse_qs

from tests.apps.echo import read_body

Scope = dict[str, Any]


def _parts(content_type: str, body: bytes) -> list[dict[str, Any]]:
    message = email.parser.BytesParser().parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    out = []
    for part in message.get_payload() if message.is_multipart() else []:
        data = part.get_payload(decode=True) or b""
        record: dict[str, Any] = {"name": part.get_param("name", header="content-disposition")}
        filename = part.get_filename()
        if filename is None:
            record["value"] = data.decode("utf-8", "replace")
        else:
            record |= {"filename": filename, "type": part.get_content_type(),
                       "size": len(data), "sha256": hashlib.sha256(data).hexdigest()[:16]}
        out.append(record)
    return out


def make_app(version: int, bug: str = "") -> Any:
    files: dict[int, dict[str, Any]] = {}
    tokens: dict[str, str] = {}  # issued token -> user
    first = 1 if version == 1 else 1001
    prefix = "" if version == 1 else "/v2"

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = await read_body(receive)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        method, path = scope["method"], scope["path"]
        query = parse_qs(scope.get("query_string", b"").decode())
        status, answer, extra = 404, {"error": "not found"}, []
        if path.startswith("/v2/") and version == 2:
            path = path[3:]
        if method == "POST" and path == "/__reset":
            files.clear()
            status, answer = 200, {}
        elif method == "POST" and path == "/files":
            if not headers.get("content-type", "").startswith("multipart/form-data"):
                status, answer = 415, {"error": "multipart/form-data expected"}
            else:
                parts = _parts(headers["content-type"], body)
                if bug == "type":
                    for part in parts:
                        if "type" in part:
                            part["type"] = "application/octet-stream"
                number = first + len(files)
                files[number] = {"id": number, "parts": parts}
                location = (f"/files/{number}" if version == 1 else
                            f"http://{headers.get('host', 'localhost')}{prefix}/files/{number}")
                status, answer, extra = 201, files[number], [(b"location", location.encode())]
        elif method == "GET" and path == "/files":
            name = "limit" if version == 1 else "page_size"
            if name not in query:
                status, answer = 400, {"error": f"'{name}' is required"}
            else:
                status, answer = 200, {"files": list(files.values())[: int(query[name][0])]}
        elif path.startswith("/files/") and path[7:].isdigit():
            found = files.get(int(path[7:]))
            if found is None:
                pass
            elif method == "GET":
                status, answer = 200, found
            elif method == "DELETE":
                reason = json.loads(body).get("reason") if body else None
                del files[found["id"]]
                status, answer = 200, {"deleted": True, "reason": reason}
        elif method == "PUT" and path.startswith("/blobs/"):
            data = bytes(b for b in body if b < 0x80) if bug == "ascii" else body
            status, answer = 200, {"size": len(data),
                                   "sha256": hashlib.sha256(data).hexdigest()[:16]}
        elif method == "POST" and path == "/forms":
            fields = parse_qs(body.decode("latin-1"), keep_blank_values=True)
            status, answer = 200, {"fields": fields,
                                   "type": headers.get("content-type", "")}
        elif method == "POST" and path == "/login":
            token = secrets.token_hex(8)
            tokens[token] = str(json.loads(body or b"{}").get("user", ""))
            status, answer = 200, {"token": token}
        elif method == "GET" and path == "/whoami":
            auth = headers.get("authorization", "")
            user = tokens.get(auth.removeprefix("Bearer "))
            if user is None:
                status, answer = 401, {"error": "log in"}
            else:
                status, answer = (500, {"error": "oops"}) if bug == "auth" else (
                    200, {"user": user})
        content = json.dumps(answer).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), *extra]})
        await send({"type": "http.response.body", "body": content})

    return app


model = make_app(1)
candidate = make_app(2)
same_version = make_app(1)
buggy = make_app(1, os.environ.get("UPLOADS_BUG", "ascii"))
