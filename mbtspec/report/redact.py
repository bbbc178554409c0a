"""Secrets out of everything shown or saved, in whatever form they took on the way.

A secret (the value of ``${env.NAME}``, see ``Plan.secrets``) rarely shows as itself only: a
path or query holds it percent-encoded (``abcd%2BTOKEN%2Fxyz%3D%3D``, or ``+`` for a space), a
JSON text escapes its ``"`` and ``\\``, HTML and XML turn ``<`` into ``&lt;``, a shell script
quotes its ``'``, a YAML file or a Python message escapes it, a server echoes it in a JSON
string, and a Basic ``Authorization`` header holds it in base64 after ``user:``.

``Redactor`` builds, per secret, one regular expression in which each character may appear in
any of those forms (and the JSON or HTML escape of such a form, for text escaped twice), plus
the base64 of the secret at each of the three alignments it can have inside a longer base64
text (``user:secret`` included) and, for a secret that is itself base64 of ``user:password``,
the password. Every match becomes ``***``. One expression for all the secrets, scanned once.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from functools import cache
from typing import Any

from mbtspec.executor.records import REDACTED

#: Shortest form that is redacted: shorter strings would blank out unrelated text.
SHORTEST = 4
#: Shortest base64 run that is redacted (a few characters of base64 match text by chance).
SHORTEST_BASE64 = 6
#: The most characters one character of a secret takes in any form matched here
#: (``'`` written ``'"'"'`` with each character then escaped again as ``&#x0027;``).
WIDEST = 48

# Escapes with a backslash: JSON, JavaScript, Python, YAML, C, shells.
_BACKSLASHED = {'"': '"', "\\": "\\", "/": "/", "'": "'", "\b": "b", "\f": "f", "\n": "n",
                "\r": "r", "\t": "t", "\x00": "0", "\x0b": "v", "\x07": "a", "\x1b": "e",
                " ": " ", "\x85": "N", "\xa0": "_", "\u2028": "L", "\u2029": "P"}
# Named character references of HTML and XML.
_NAMED = {'"': ("quot",), "'": ("apos",), "&": ("amp",), "<": ("lt",), ">": ("gt",),
          "\xa0": ("nbsp",)}
# What a character of an escape sequence may have become when escaped once more.
_AGAIN = frozenset("\"'&<>\\")


def _hex(text: str) -> str:
    """``text`` (hex digits) as a pattern that matches either case."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in text)


def _references(code: int) -> list[str]:
    """HTML/XML numeric character references (``&#39;``, ``&#x27;``)."""
    return [f"&#0{{0,3}}{code};", "&#[xX]0{0,3}" + _hex(f"{code:x}") + ";"]


@cache
def _again(char: str) -> tuple[str, ...]:
    """A character of an escape sequence, as itself or escaped once more (JSON, HTML):
    alternatives that each start with a literal character."""
    if char not in _AGAIN:
        return (re.escape(char),)
    forms = {re.escape(char), *(f"&{name};" for name in _NAMED.get(char, ()))}
    if char in "\"\\":
        forms.add(re.escape("\\" + char))
    return (*sorted(forms, key=len, reverse=True), *_references(ord(char)))


def _group(alternatives: tuple[str, ...]) -> str:
    return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"


@cache
def _char(char: str) -> tuple[str, ...]:
    """One character of a secret in every form it may be written in: alternatives that each
    start with a literal character (so that a pattern starting with them is searched fast)."""
    if char.isascii() and char.isalnum():
        return (char,)  # written as itself by every encoding above (base64: _base64_runs)
    literal = {char}
    if char in _BACKSLASHED:
        literal.add("\\" + _BACKSLASHED[char])
    if not char.isalnum():
        literal.add("\\" + char)  # a shell's or a regular expression's escape
    if char == "'":  # inside single quotes: shlex.quote, sh, YAML, SQL
        literal |= {"'\"'\"'", "'\\''", "''"}
    if char == " ":
        literal.add("+")  # form encoding, quote_plus
    literal |= {f"&{name};" for name in _NAMED.get(char, ())}
    forms = [first + "".join(_group(_again(c)) for c in text[1:])
             for text in sorted(literal, key=len, reverse=True) for first in _again(text[0])]
    code = ord(char)
    slash = r"\\\\?"  # once or twice escaped
    forms.append("".join("%" + _hex(f"{byte:02X}") for byte in char.encode()))
    if code < 0x10000:
        forms.append(slash + "u" + _hex(f"{code:04x}"))
    else:
        low = code - 0x10000
        forms.append(slash + "u" + _hex(f"{0xD800 + (low >> 10):04x}")
                     + slash + "u" + _hex(f"{0xDC00 + (low & 0x3FF):04x}"))
        forms.append(slash + "U" + _hex(f"{code:08x}"))
    if code < 0x100:
        forms.append(slash + "x" + _hex(f"{code:02x}"))
    forms += _references(code)
    return tuple(forms)


def _base64_runs(secret: str) -> set[str]:
    """The base64 characters that only ``secret`` decides, wherever it starts in a longer
    base64 text (three alignments), in the standard and the URL-safe alphabet."""
    data = secret.encode()
    runs = set()
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + data + bytes(2)).decode()
        first = -(-offset * 8 // 6)  # the first character made of the secret's bits only
        last = (offset + len(data)) * 8 // 6  # one past the last one
        run = encoded[first:last]
        if len(run) >= SHORTEST_BASE64:
            runs |= {run, run.replace("+", "-").replace("/", "_")}
    return runs


def _decoded(secret: str) -> set[str]:
    """For a secret that is base64 of ``user:password`` (a Basic credential): the text and
    the password, which a server may echo decoded."""
    if len(secret) % 4 or not re.fullmatch(r"[A-Za-z0-9+/_-]+=*", secret):
        return set()
    try:
        text = base64.b64decode(secret.replace("-", "+").replace("_", "/"),
                                validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return set()
    if not text.isprintable():
        return set()
    found = {text}
    user, colon, password = text.partition(":")
    if colon:
        found.add(password)
    return {value for value in found if len(value) >= SHORTEST}


def forms(secret: str) -> set[str]:
    """The texts to find, each in every encoding: the secret, its base64 runs, and what it
    decodes to when it is a Basic credential."""
    found = {secret, *_base64_runs(secret), *_decoded(secret)}
    return {text for text in found if len(text) >= SHORTEST}


def _anchor(text: str) -> str:
    """The longest run of ASCII letters and digits in ``text`` if it has 3 or more characters
    (every form of ``text`` holds it), else "" (which every string holds)."""
    longest = max(re.findall(r"[A-Za-z0-9]+", text), key=len, default="")
    return longest if len(longest) >= 3 else ""


class Redactor:
    """Replaces secret values, in every encoding, wherever text is shown or saved."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = sorted({s for s in secrets if len(s) >= SHORTEST}, key=len,
                              reverse=True)
        texts = sorted({t for secret in self.secrets for t in forms(secret)})
        # One pattern per text, each starting with a literal character, which the regular
        # expression engine looks for fast (one pattern for them all would be slow); and the
        # longest run of letters and digits of the text, which every match holds as itself:
        # looking for it first skips most strings at the cost of a substring search.
        self._patterns = [(_anchor(t), re.compile("".join(_group(_char(c)) for c in t)))
                          for t in texts]
        #: The longest a secret can be in any form: a text cut at some place and redacted
        #: up to that many characters after it shows no part of a secret before the cut.
        self.reach = max((len(t) for t in texts), default=0) * WIDEST

    def __call__(self, text: str) -> str:
        spans = sorted(found.span() for anchor, pattern in self._patterns
                       if anchor in text for found in pattern.finditer(text))
        if not spans:
            return text
        out, done = [], 0
        for start, end in spans:
            if end <= done:
                continue
            if start < done:  # overlaps the last one: one *** for both
                done = end
                continue
            out += [text[done:start], REDACTED]
            done = end
        out.append(text[done:])
        return "".join(out)

    def holds(self, text: str) -> bool:
        """Does ``text`` hold a secret, in any form?"""
        return any(anchor in text and pattern.search(text) is not None
                   for anchor, pattern in self._patterns)

    def data(self, value: Any) -> Any:
        """``value`` (JSON data) with every string redacted, dict keys included. Values that
        hold no secret come back as they are: one look at their JSON text says so, faster
        than a look at each of their strings."""
        if not self._patterns or value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            return self(value)
        if not self.holds(json.dumps(value, ensure_ascii=False, default=str)):
            return value
        return self._walk(value)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {self(str(k)): self._walk(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._walk(v) for v in value]
        return value
