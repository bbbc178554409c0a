"""An ASGI app whose module takes ``$SLOW_IMPORT_SECONDS`` (default 30) to import -- a slow start
of an in-process target, for tests of Ctrl-C during start-up. Every request answers 200
``{"ok": true}``, as ``stubborn_server.py`` does."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

time.sleep(float(os.environ.get("SLOW_IMPORT_SECONDS", "30")))


async def app(scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
              send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"ok": true}'})
