"""Sizes in bytes as people write them: ``16 MiB``, ``512 KiB``, ``2 MB``, ``1048576``."""

from __future__ import annotations

import re

#: Units, case as written: k, M and G are powers of 1000; Ki, Mi and Gi powers of 1024.
UNITS = {"B": 1, "byte": 1, "bytes": 1, "kB": 10**3, "KB": 10**3, "MB": 10**6, "GB": 10**9,
         "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}
#: A size written as text (the JSON Schema holds the same pattern).
SIZE_PATTERN = r"^\s*([0-9]+(\.[0-9]+)?)\s*(B|bytes?|kB|KB|MB|GB|KiB|MiB|GiB)?\s*$"
_SIZE = re.compile(SIZE_PATTERN)

DEFAULT_MAX_RESPONSE_SIZE = 16 * 2**20


def parse_size(value: int | str) -> int | None:
    """The number of bytes ``value`` means (a whole number of bytes, or a number and a unit),
    or None when it is not a size. Fractions of a byte are dropped: ``1.5 KiB`` is 1536."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    found = _SIZE.match(value)
    if found is None:
        return None
    number, unit = found.group(1), UNITS[found.group(3) or "B"]
    return int(float(number) * unit) if found.group(2) else int(number) * unit


def format_size(size: int) -> str:
    """``size`` bytes in the largest unit that divides it: ``16 MiB``, ``2 MB``, ``1500 bytes``."""
    for unit in ("GiB", "MiB", "KiB", "GB", "MB", "kB"):
        factor = UNITS[unit]
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return "1 byte" if size == 1 else f"{size} bytes"
