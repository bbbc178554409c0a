"""The orders API as a server WITHOUT a reset endpoint, keeping its orders in a JSON file
(as json-server does): ``python -m tests.apps.file_orders PORT FILE``.

The file is read once at start (a missing file is no orders) and written after every change,
so orders outlive a restart: only replacing the file while the server is stopped brings it
back to a known state (a ``restart`` reset step with a ``cp`` command). Standard library only,
so that it starts in a few tens of milliseconds. Same answers as ``tests.apps.orders`` for
``POST /orders``, ``GET /orders``, ``GET /orders/{id}``, ``POST /orders/{id}/close`` and
``DELETE /orders/{id}``; ids go on from the file's ``next_id``.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.orders: dict[int, dict[str, Any]] = {}
        self.next_id = 1
        if path.exists():
            data = json.loads(path.read_text())
            self.orders = {o["id"]: o for o in data["orders"]}
            self.next_id = data["next_id"]

    def save(self) -> None:
        self.path.write_text(json.dumps({"orders": list(self.orders.values()),
                                         "next_id": self.next_id}))


def _valid(body: Any) -> bool:
    return (isinstance(body, dict) and isinstance(body.get("item"), str)
            and 1 <= len(body["item"]) <= 20 and type(body.get("qty")) is int
            and 1 <= body["qty"] <= 100)


def handler(store: Store) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # (headers and body are two writes)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def answer(self, status: int, value: Any = None) -> None:
            body = b"" if value is None else json.dumps(value).encode()
            self.send_response(status)
            if value is not None:
                self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def order(self) -> dict[str, Any] | None:
            parts = self.path.split("/")
            return store.orders.get(int(parts[2])) if parts[2].isdigit() else None

        def do_GET(self) -> None:
            if self.path in ("/", "/orders"):
                self.answer(200, list(store.orders.values()))
                return
            order = self.order() if self.path.count("/") == 2 else None
            self.answer(200, order) if order else self.answer(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            if self.path == "/orders":
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    body = None
                if not _valid(body):
                    self.answer(422, {"error": "invalid"})
                    return
                new = {"id": store.next_id, "item": body["item"], "qty": body["qty"],
                       "status": "open"}
                store.orders[new["id"]] = new
                store.next_id += 1
                store.save()
                self.answer(201, new)
                return
            order = self.order() if self.path.endswith("/close") else None
            if order is None:
                self.answer(404, {"error": "not_found"})
            elif order["status"] == "closed":
                self.answer(409, {"error": "already_closed"})
            else:
                order["status"] = "closed"
                store.save()
                self.answer(200, order)

        def do_DELETE(self) -> None:
            order = self.order()
            if order is None:
                self.answer(404, {"error": "not_found"})
                return
            del store.orders[order["id"]]
            store.save()
            self.answer(204)

    return Handler


def main() -> None:
    port, path = int(sys.argv[1]), Path(sys.argv[2])
    ThreadingHTTPServer(("127.0.0.1", port), handler(Store(path))).serve_forever()


if __name__ == "__main__":
    main()
