"""An ASGI app whose lifespan shutdown never ends: a target whose stop hangs. Before hanging, it
sends its own process ``$HANG_SHUTDOWN_SIGNALS`` SIGINTs (default 0): a user pressing Ctrl-C
while mbtspec stops its targets. Every request answers 200 ``{"ok": true}``."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any


async def app(scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
              send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for _ in range(int(os.environ.get("HANG_SHUTDOWN_SIGNALS", "0"))):
                    os.kill(os.getpid(), signal.SIGINT)
                    await asyncio.sleep(0.05)
                await asyncio.sleep(3600)
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"ok": true}'})
