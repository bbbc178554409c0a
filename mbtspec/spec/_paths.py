"""Paths into a response, as written in ``compare.ignore`` / ``compare.unordered``.

``body.items[*].id``, ``body[0]``, ``body.*.createdAt``, ``body.**.etag``, ``headers.x-request-id``,
``body["key.with.dots"]``. ``*`` matches any one key or index, ``**`` any number of segments.
"""

from __future__ import annotations

import re

from mbtspec.spec.model import PathPattern

_TOKEN = re.compile(
    r"""\.?(?P<name>[^.\[\]"']+)|\[(?P<index>\d+|\*)\]|\[(?P<quote>["'])(?P<key>.*?)(?P=quote)\]"""
)
ROOTS = ("body", "headers", "status")


class PathSyntaxError(ValueError):
    pass


def parse_path(text: str) -> PathPattern:
    """Parse ``text``; raises ``PathSyntaxError`` saying what is wrong."""
    segments: list[str | int] = []
    position = 0
    while position < len(text):
        found = _TOKEN.match(text, position)
        if not found or found.end() == position:
            raise PathSyntaxError(
                f"cannot read {text!r} at character {position + 1}; write paths like "
                "body.items[*].id or body[\"odd.key\"]"
            )
        if found["name"] is not None:
            segments.append(found["name"])
        elif found["index"] is not None:
            segments.append("*" if found["index"] == "*" else int(found["index"]))
        else:
            segments.append(found["key"])
        position = found.end()
    if not segments or segments[0] not in ROOTS:
        raise PathSyntaxError(
            f"{text!r} must start with one of {', '.join(ROOTS)}, e.g. body.createdAt"
        )
    if segments[0] == "headers":
        segments = [s.lower() if isinstance(s, str) else s for s in segments]
    return PathPattern(text, tuple(segments))


def matches(pattern: tuple[str | int, ...], path: tuple[str | int, ...]) -> bool:
    """Does the concrete ``path`` match ``pattern`` (with ``*`` and ``**``)?"""
    if not pattern:
        return not path
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(matches(rest, path[i:]) for i in range(len(path) + 1))
    if not path:
        return False
    if head == "*" or head == path[0] or (
            isinstance(head, str) and head.isdigit() and path[0] == int(head)):
        return matches(rest, path[1:])  # body.items.0 reads like body.items[0]
    return False
