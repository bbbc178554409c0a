"""Orders apps configured for the test suite, importable as ``tests.apps.variants:<name>``."""

from __future__ import annotations

import os
from typing import Any

from tests.apps.orders import make_app

model = make_app()
#: The same behaviour, but it mints other ids and lists newest first.
minted = make_app(first_id=1001, reverse_list=True)
delete_noop = make_app(first_id=1001, bugs=frozenset({"delete_noop"}))
close_twice = make_app(first_id=1001, bugs=frozenset({"close_twice"}))
list_limit = make_app(first_id=1001, bugs=frozenset({"list_limit"}))
qty_off_by_one = make_app(first_id=1001, bugs=frozenset({"qty_off_by_one"}))
qty_zero_accepted = make_app(first_id=1001, bugs=frozenset({"qty_zero_accepted"}))
qty_negative_accepted = make_app(first_id=1001, bugs=frozenset({"qty_negative_accepted"}))
#: Three known differences (accepted in tests/e2e/test_accept.py), with or without a real one.
known_changes = make_app(first_id=1001,
                         bugs=frozenset({"long_item_400", "close_twice", "upper_status"}))
known_changes_qty = make_app(first_id=1001, bugs=frozenset(
    {"long_item_400", "close_twice", "upper_status", "qty_off_by_one"}))


def _guarded(app: Any) -> Any:
    """The app behind a bearer token from $ORDERS_TOKEN: 401 without it."""

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            wanted = f"Bearer {os.environ.get('ORDERS_TOKEN', '')}".encode()
            if headers.get(b"authorization") != wanted:
                await send({"type": "http.response.start", "status": 401, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
        await app(scope, receive, send)

    return guarded


guarded_model = _guarded(make_app())
guarded_close_twice = _guarded(make_app(first_id=1001, bugs=frozenset({"close_twice"})))
