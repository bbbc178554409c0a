"""Text from outside (a server's answer, a spec file) made safe to show anywhere.

Light on purpose: ``mbtspec lint`` uses it too, and must not import the run's machinery.
"""

from __future__ import annotations

import json
import re

# What a terminal, an XML parser or a web page must not get as is: control characters (ESC
# starts terminal commands), lone surrogates (not encodable) and the two non-characters.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def printable(text: str) -> str:
    """``text`` with control characters (but tab and line feed), lone surrogates and
    non-characters written as JSON escapes (``\\u001b``, ``\\r``, ``\\ud800``): safe for a
    terminal, XML 1.0 and HTML, and in a JSON text the same characters as before."""
    return _UNPRINTABLE.sub(_escape, text)


def _escape(found: re.Match[str]) -> str:
    char = found.group()
    return json.dumps(char)[1:-1] if char < "\x20" else f"\\u{ord(char):04x}"


def clip(text: str, limit: int) -> str:
    """``text``, cut to ``limit`` characters with ``…`` when longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
