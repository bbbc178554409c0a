"""String formats that ``compare.format`` names: what each one accepts.

A spec names a format (``body.createdAt: date-time``) and the compare stage lets two strings
that both have it count as equal. The names are checked when the spec is loaded (``lint``
says ``unknown-format``), so they live here, at the first stage; each check is a plain
function of a string, cheap and without any import beyond the standard library.

The formats follow their usual definitions (those of JSON Schema and OpenAPI):

- ``date-time``: RFC 3339, ``2024-05-01T12:30:00Z`` or with an offset (``+02:00``) and
  optional fractions of a second; ``T`` may be ``t`` or a space; the offset is required.
- ``date``: ``2024-05-01`` (a real day: not ``2024-02-30``).
- ``time``: ``12:30:00``, optional fractions and offset.
- ``uuid``: 32 hexadecimal digits in groups of 8-4-4-4-12, either case.
- ``email``: some text, ``@``, a domain; no spaces.
- ``uri``: a scheme (``https:``, ``urn:``, ``mailto:``) followed by text without spaces.
- ``ipv4``, ``ipv6``: an address as Python's ``ipaddress`` reads it.
- ``hostname``: labels of letters, digits and ``-`` joined by dots (RFC 1123).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_TIME = re.compile(r"(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?P<offset>[Zz]|[+-](\d{2}):(\d{2}))?",
                   re.ASCII)
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S*")
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)", re.ASCII)


def _is_date(text: str) -> bool:
    found = _DATE.fullmatch(text)
    if not found:
        return False
    try:
        dt.date(*(int(part) for part in found.groups()))
    except ValueError:
        return False
    return True


def _is_time(text: str, *, offset: bool = False) -> bool:
    found = _TIME.fullmatch(text)
    if not found or (offset and found["offset"] is None):
        return False
    hour, minute, second, _, offset_hour, offset_minute = found.groups()
    if int(hour) > 23 or int(minute) > 59 or int(second) > 60:  # 60: a leap second
        return False
    return offset_hour is None or (int(offset_hour) <= 23 and int(offset_minute) <= 59)


def _is_date_time(text: str) -> bool:
    return (len(text) > 11 and text[10] in "Tt " and _is_date(text[:10])
            and _is_time(text[11:], offset=True))


def _is_ip(version: int) -> Callable[[str], bool]:
    def check(text: str) -> bool:
        import ipaddress  # (only when a run checks an address: lint does not need it)

        try:
            return ipaddress.ip_address(text).version == version
        except ValueError:
            return False

    return check


def _is_hostname(text: str) -> bool:
    labels = text[:-1].split(".") if text.endswith(".") else text.split(".")
    return len(text) <= 253 and all(_LABEL.fullmatch(label) for label in labels)


#: Each format's name and its check.
FORMATS: dict[str, Callable[[str], bool]] = {
    "date-time": _is_date_time,
    "date": _is_date,
    "time": _is_time,
    "uuid": lambda text: _UUID.fullmatch(text) is not None,
    "email": lambda text: _EMAIL.fullmatch(text) is not None,
    "uri": lambda text: _URI.fullmatch(text) is not None,
    "ipv4": _is_ip(4),
    "ipv6": _is_ip(6),
    "hostname": _is_hostname,
}
