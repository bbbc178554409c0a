"""``mbtspec init``: authentication from the document's ``securitySchemes``.

When operations need a bearer token (``type: http, scheme: bearer``) or an API key in a header
(``type: apiKey, in: header``), and an operation that does not need it answers a token (a
register or login operation whose 2xx JSON response has a ``token``-like property, at the top
or inside one wrapper such as ``{"user": {"token": ...}}``), the scaffold:

- lets that operation store the token (``store: {auth_tokens: response.body.user.token}``),
  only with valid requests (``mode: positive``): each target gets its own token;
- adds generators that pick a token and write the header's value (``Bearer ${auth_token}``);
- sends the header from every operation that needs it.

Register operations are preferred over login ones: after a reset, no user exists to log in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from mbtspec.spec._openapi import OpenApiDocument, Operation

#: Names of response properties that hold a session token (compared without case and _).
TOKEN_NAMES = ("token", "accesstoken", "authtoken", "sessiontoken", "jwt", "idtoken",
               "apikey", "apitoken", "bearertoken")
_REGISTER = re.compile(r"regist|sign.?up|create.?(user|account)", re.I)
_COLLECTION = re.compile(r"/(users?|accounts?|members?)/?$", re.I)
_LOGIN = re.compile(r"log.?in|sign.?in|session|token|auth", re.I)
#: "Token xxxxxx.yyyyyyy", "Bearer <token>": a prefix, followed by a sample token
_PREFIX = re.compile(r"\b(Bearer|Token|JWT)\s+(?:x{3,}|<|\{|[A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+)")


@dataclass(frozen=True)
class Auth:
    """How the scaffolded spec logs in and sends its token."""

    scheme: str  # the name of the security scheme
    header: str  # Authorization, X-API-Key ...
    prefix: str  # "Bearer ", "Token " or ""
    login: str  # Operation.key of the operation that answers a token
    token: tuple[str, ...]  # where its response holds it: ("user", "token")
    secured: frozenset[str]  # Operation.key of each operation that sends the header


def plan_auth(doc: OpenApiDocument, operations: Iterable[Operation]) -> Auth | None:
    """The authentication to scaffold, or None when the document's schemes are not ones the
    scaffold can log in with, or no operation answers a token."""
    ops = list(operations)
    raw = doc.raw if isinstance(doc.raw, dict) else {}
    components = raw.get("components")
    schemes = components.get("securitySchemes") if isinstance(components, dict) else None
    for name, scheme in (schemes.items() if isinstance(schemes, dict) else ()):
        scheme = _deref(raw, scheme)
        header_prefix = _header(scheme)
        if header_prefix is None:
            continue
        secured = frozenset(op.key for op in ops if _needs(raw, op, str(name)))
        if not secured:
            continue
        login = _login(raw, [op for op in ops if op.key not in secured], str(name))
        if login is None:
            continue
        op, token = login
        return Auth(str(name), *header_prefix, op.key, token, secured)
    return None


def _header(scheme: Any) -> tuple[str, str] | None:
    """(header, prefix) for a scheme the scaffold understands."""
    if not isinstance(scheme, dict):
        return None
    kind = str(scheme.get("type", "")).lower()
    if kind == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
        return "Authorization", "Bearer "
    name = scheme.get("name")
    if kind == "apikey" and scheme.get("in") == "header" and isinstance(name, str) \
            and re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
        found = _PREFIX.search(str(scheme.get("description", "")))
        prefix = found.group(1) + " " if found and name.lower() == "authorization" else ""
        return name, prefix
    return None


def _requirements(raw: dict[str, Any], op: Operation) -> Any:
    item = (raw.get("paths") or {}).get(op.path)
    operation = item.get(op.method.lower()) if isinstance(item, dict) else None
    if isinstance(operation, dict) and "security" in operation:
        return _deref(raw, operation.get("security"))
    return raw.get("security")


def _needs(raw: dict[str, Any], op: Operation, scheme: str) -> bool:
    """Does ``op`` require ``scheme``? (Not when the requirement is optional: ``{}``.)"""
    requirements = _requirements(raw, op)
    if not isinstance(requirements, list) or not requirements:
        return False
    if any(isinstance(r, dict) and not r for r in requirements):
        return False
    return any(isinstance(r, dict) and scheme in r for r in requirements)


def _login(raw: dict[str, Any], ops: list[Operation], scheme: str
           ) -> tuple[Operation, tuple[str, ...]] | None:
    """The operation that answers a token, and where: register first, then login, then any
    other POST that does."""
    found = []
    for op in ops:
        if op.method != "POST":
            continue
        token = next((t for schema in _success_json(op) if (t := _token_path(schema))), None)
        if token is None:
            continue
        text = f"{op.path} {op.operation_id or ''}"
        register = _REGISTER.search(text) or _COLLECTION.search(op.path)
        rank = 0 if register else 1 if _LOGIN.search(text) else 2
        found.append((rank, len(token), op.path, op, token))
    if not found:
        return None
    found.sort(key=lambda f: f[:3])
    return found[0][3], found[0][4]


def _success_json(op: Operation) -> Iterator[Any]:
    for status, media in sorted(op.responses, key=lambda r: (r[0] != "201", r[0] != "200",
                                                               r[0])):
        if status.startswith("2"):
            yield from (schema for name, schema in media
                        if "json" in name.lower() and schema is not None)


def _properties(schema: Any) -> dict[str, Any]:
    if not isinstance(schema, dict):
        return {}
    out = dict(schema.get("properties") or {}) if isinstance(schema.get("properties"),
                                                               dict) else {}
    for key in ("allOf", "anyOf", "oneOf"):
        for branch in schema.get(key) or () if isinstance(schema.get(key), list) else ():
            for name, sub in _properties(branch).items():
                out.setdefault(name, sub)
    return out


def _token_path(schema: Any) -> tuple[str, ...] | None:
    """Where a response of ``schema`` holds a token: at the top, or in one wrapper object."""
    properties = _properties(schema)
    for name in sorted(properties, key=_rank):
        if _is_token(name, properties[name]):
            return (name,)
    for wrapper, sub in sorted(properties.items()):
        inner = _properties(sub)
        for name in sorted(inner, key=_rank):
            if _is_token(name, inner[name]):
                return (wrapper, name)
    return None


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _rank(name: str) -> int:
    norm = _norm(name)
    return TOKEN_NAMES.index(norm) if norm in TOKEN_NAMES else len(TOKEN_NAMES)


def _is_token(name: str, schema: Any) -> bool:
    if _norm(name) not in TOKEN_NAMES:
        return False
    kind = schema.get("type") if isinstance(schema, dict) else None
    return kind in (None, "string") or (isinstance(kind, list) and "string" in kind)


def _deref(raw: Any, node: Any) -> Any:
    """Follow local ``$ref``\\ s (a few levels)."""
    for _ in range(10):
        if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)
                and node["$ref"].startswith("#/")):
            return node
        target: Any = raw
        for part in node["$ref"][2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        node = target
    return node
