"""A WSGI app whose ``GET /slow`` takes a minute (nothing times out an in-process WSGI call);
every other request answers 200 ``{}`` at once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any


def app(environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/slow":
        time.sleep(60)
    start("200 OK", [("content-type", "application/json")])
    return [b"{}"]
