"""A small orders API with seeded bugs, used by mbtspec's own test suite.

``make_app(first_id=..., bugs=..., reverse_list=...)`` returns a raw ASGI app
with its own state. API (``orders_openapi.yaml``):

* ``POST /orders`` ``{"item": str (1..20 chars), "qty": int 1..100}`` -> 201
  ``{"id", "item", "qty", "status": "open"}``; anything else -> 422
  ``{"error": "invalid"}`` (``qty`` must be a JSON integer: not ``true``, not
  ``5.0``). Ids are minted sequentially from ``first_id``, so two apps built
  with different ``first_id`` answer the same calls with different ids.
* ``GET /orders/{id}`` -> 200 order, or 404 ``{"error": "not_found"}`` (also
  when ``id`` is not an integer).
* ``POST /orders/{id}/close`` -> 200 order with ``"status": "closed"``; 409
  ``{"error": "already_closed"}`` if it was closed already; 404 if missing.
* ``DELETE /orders/{id}`` -> 204 empty, or 404.
* ``GET /orders`` -> 200 array in insertion order (reversed if ``reverse_list``).
* ``POST /__reset`` -> 204; forgets every order and restarts ids at ``first_id``.
* Unknown path -> 404 ``{"error":"not_found"}``; wrong method -> 405
  ``{"error":"method_not_allowed"}``.

Seeded bugs, active only when named in ``bugs``, with the length of their
shortest failing call sequence against a correct model:

* ``delete_noop`` -- DELETE answers 204 but keeps the order.
  Minimal: create, delete, get (3 calls; the get answers 200, not 404).
* ``qty_off_by_one`` -- an order created with ``qty`` 100 is stored (and
  answered) with 99. Minimal: create with qty 100 (1 call) -- found only if the
  generator produces 100.
* ``close_twice`` -- closing a closed order answers 200 instead of 409.
  Minimal: create, close, close (3 calls).
* ``list_limit`` -- the list holds at most 2 orders.
  Minimal: create, create, create, list (4 calls).
* ``qty_zero_accepted`` -- an order with ``qty`` 0 is accepted (201), not 422.
  Minimal: create with qty 0 (1 call) -- outside the schema (minimum 1): found only
  by negative mode, among its boundary values.
* ``qty_negative_accepted`` -- an order with a negative ``qty`` is accepted (201).
  Minimal: create with qty < 0 (1 call) -- not a boundary value: found by the
  random invalid values of negative mode.
* ``crash_on_close`` -- the process exits at once (``os._exit(3)``) when an
  order is about to be closed: a target dying mid-run. Only meaningful in a
  separate server process (uvicorn); it would kill an in-process caller.
* ``long_item_400`` -- an item longer than 20 characters is refused with 400,
  not 422: a class of inputs a new version answers otherwise (both refuse it,
  so what they store stays the same). Minimal: create with a long item (1 call).
* ``upper_status`` -- the order's ``status`` is answered in capitals
  (``"OPEN"``), in every response that holds an order. Minimal: create (1 call).

Module-level apps: ``app = make_app()``, and ``env_app`` configured from the
environment for ``python -m uvicorn tests.apps.orders:env_app``:
``ORDERS_FIRST_ID`` (default 1), ``ORDERS_BUGS`` (comma-separated bug names)
and ``ORDERS_REVERSE=1``.
"""

from __future__ import annotations

import os
import re
from typing import Any

from examples.employees._asgi import (
    INVALID,
    NOT_FOUND,
    ASGIApp,
    Request,
    Response,
    Router,
    asgi_app,
    empty_response,
    json_response,
    parse_json,
)

BUGS = frozenset({"delete_noop", "qty_off_by_one", "close_twice", "list_limit", "crash_on_close",
                  "qty_zero_accepted", "qty_negative_accepted", "long_item_400", "upper_status"})
_ID = re.compile(r"-?[0-9]{1,18}")


def make_app(
    *, first_id: int = 1, bugs: frozenset[str] = frozenset(), reverse_list: bool = False
) -> ASGIApp:
    unknown = set(bugs) - BUGS
    if unknown:
        raise ValueError(f"unknown seeded bugs: {sorted(unknown)}")
    orders: dict[int, dict[str, Any]] = {}
    next_id = first_id
    router = Router()

    def shown(order: dict[str, Any]) -> dict[str, Any]:
        if "upper_status" in bugs:
            return {**order, "status": order["status"].upper()}
        return order

    def lookup(request: Request) -> dict[str, Any] | None:
        raw = request.params["id"]
        return orders.get(int(raw)) if _ID.fullmatch(raw) else None

    @router.route("/orders", "POST")
    def create_order(request: Request) -> Response:
        nonlocal next_id
        body = parse_json(request.body)
        if body is INVALID or not isinstance(body, dict):
            return json_response(422, {"error": "invalid"})
        item, qty = body.get("item"), body.get("qty")
        if "long_item_400" in bugs and isinstance(item, str) and len(item) > 20:
            return json_response(400, {"error": "too long"})
        if not (isinstance(item, str) and 1 <= len(item) <= 20):
            return json_response(422, {"error": "invalid"})
        accepted = (type(qty) is int and ("qty_zero_accepted" in bugs and qty == 0
                                          or "qty_negative_accepted" in bugs and qty < 0))
        if (type(qty) is not int or not 1 <= qty <= 100) and not accepted:
            return json_response(422, {"error": "invalid"})
        if "qty_off_by_one" in bugs and qty == 100:
            qty = 99
        order = {"id": next_id, "item": item, "qty": qty, "status": "open"}
        orders[next_id] = order
        next_id += 1
        return json_response(201, shown(order))

    @router.route("/orders/{id}", "GET")
    def get_order(request: Request) -> Response:
        order = lookup(request)
        return (json_response(404, NOT_FOUND) if order is None
                else json_response(200, shown(order)))

    @router.route("/orders/{id}/close", "POST")
    def close_order(request: Request) -> Response:
        order = lookup(request)
        if order is None:
            return json_response(404, NOT_FOUND)
        if "crash_on_close" in bugs:
            os._exit(3)
        if order["status"] == "closed" and "close_twice" not in bugs:
            return json_response(409, {"error": "already_closed"})
        order["status"] = "closed"
        return json_response(200, shown(order))

    @router.route("/orders/{id}", "DELETE")
    def delete_order(request: Request) -> Response:
        order = lookup(request)
        if order is None:
            return json_response(404, NOT_FOUND)
        if "delete_noop" not in bugs:
            del orders[order["id"]]
        return empty_response(204)

    @router.route("/orders", "GET")
    def list_orders(request: Request) -> Response:
        listed = list(orders.values())
        if reverse_list:
            listed.reverse()
        if "list_limit" in bugs:
            listed = listed[:2]
        return json_response(200, [shown(order) for order in listed])

    @router.route("/__reset", "POST")
    def reset(request: Request) -> Response:
        nonlocal next_id
        orders.clear()
        next_id = first_id
        return empty_response(204)

    return asgi_app(router)


def _bugs_from_env(raw: str) -> frozenset[str]:
    return frozenset(name.strip() for name in raw.split(",") if name.strip())


app = make_app()
env_app = make_app(
    first_id=int(os.environ.get("ORDERS_FIRST_ID", "1")),
    bugs=_bugs_from_env(os.environ.get("ORDERS_BUGS", "")),
    reverse_list=os.environ.get("ORDERS_REVERSE") == "1",
)
