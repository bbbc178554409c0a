"""Load an OpenAPI 3.0 / 3.1 document and index its operations.

Operations are found by ``operationId`` or by ``"METHOD /path"``. ``$ref`` is resolved within the
document and into sibling files; schemas are inlined (recursive ones are cut at their first
repetition, which is permissive: anything goes below that depth). No network access.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

import yaml

from mbtspec.spec._files import MAX_DOCUMENT_BYTES, FileReadError, read_text
from mbtspec.spec._yaml import MAX_DEPTH, check_limits, node_budget

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
#: How deep inlined schemas may nest (see ``_Resolver.inline``).
MAX_SCHEMA_DEPTH = 64
#: How many values one inlined schema may hold, walked as a tree (see ``_Resolver.schema``).
MAX_SCHEMA_NODES = 200_000
_SCHEMA_ONLY_KEYS = frozenset({
    "nullable", "discriminator", "xml", "externalDocs", "example", "deprecated",
})


class OpenApiLoadError(Exception):
    """The document cannot be used; ``message`` says why and how to fix it."""

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Parameter:
    name: str
    location: Literal["path", "query", "header", "cookie"]
    required: bool
    schema: Any  # JSON Schema (dialect per document), refs inlined; None when absent


@dataclass(frozen=True)
class Operation:
    method: str  # upper case
    path: str
    operation_id: str | None
    parameters: tuple[Parameter, ...]
    body_schema: Any = None
    body_required: bool = False
    body_media_type: str | None = None
    #: Every documented media type of the request body, with its schema (None: no schema).
    body_media: tuple[tuple[str, Any], ...] = ()
    responses: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    def parameter(self, location: str, name: str) -> Parameter | None:
        for p in self.parameters:
            if p.location == location and (
                p.name == name or (location == "header" and p.name.lower() == name.lower())
            ):
                return p
        return None

    def media(self, media_type: str) -> tuple[str, Any] | None:
        """The documented media type that ``media_type`` names (without regard to case and
        parameters), with its schema; None when the body documents no such media type."""
        wanted = media_base(media_type)
        return next(((name, schema) for name, schema in self.body_media
                     if media_base(name) == wanted), None)

    def response_for(self, status: int) -> tuple[str, tuple[tuple[str, Any], ...]] | None:
        """The documented response for ``status``: exact code, then ``4XX``, then default."""
        table = dict(self.responses)
        for key in (str(status), f"{str(status)[0]}XX", f"{str(status)[0]}xx", "default"):
            if key in table:
                return key, table[key]
        return None


@dataclass(frozen=True)
class OpenApiDocument:
    file: Path
    version: Literal["3.0", "3.1"]
    operations: tuple[Operation, ...]
    raw: Any = field(repr=False, compare=False)

    def find(self, request: str) -> Operation | None:
        """The operation named by ``"METHOD /path"`` or by operationId."""
        method, _, path = request.strip().partition(" ")
        for op in self.operations:
            if path and op.method == method.upper() and op.path == path.strip():
                return op
            if not path and op.operation_id == request.strip():
                return op
        return None

    def find_loosely(self, method: str, path: str) -> Operation | None:
        """Same method, same path up to the names of its parameters."""
        shape = _path_shape(path)
        for op in self.operations:
            if op.method == method.upper() and _path_shape(op.path) == shape:
                return op
        return None

    @property
    def dialect(self) -> Literal["openapi-3.0", "openapi-3.1"]:
        return "openapi-3.0" if self.version == "3.0" else "openapi-3.1"


def _path_shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path.rstrip("/") or "/")


def read_document(path: Path) -> Any:
    """Read JSON or YAML; raises ``OpenApiLoadError`` with a position on bad syntax.

    Only a regular file of at most ``MAX_DOCUMENT_BYTES`` is read. A YAML document is held to
    the same limits as a spec (aliases expanded, depth) before it is turned into data, and may
    not contain itself; a JSON one to the same depth.
    """
    try:
        text = read_text(path, MAX_DOCUMENT_BYTES, encoding="utf-8-sig")  # tolerate a BOM
    except FileReadError as err:
        if err.missing:
            raise OpenApiLoadError(f"file not found: {path}") from None
        raise OpenApiLoadError(f"cannot read {path}: it {err.message}") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise OpenApiLoadError(f"invalid JSON: {err.msg}", err.lineno, err.colno) from None
        except RecursionError:
            data = None  # nested beyond what Python's reader follows: said just below
        if data is None or _too_deep(data):
            raise OpenApiLoadError(f"invalid JSON: nested more than {MAX_DEPTH} levels deep; "
                                   "an OpenAPI document needs far fewer: is this the right "
                                   "file?")
        return data
    loader = _YamlLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        limit = check_limits(node, node_budget(text), cycles=False)
        if limit is not None:
            mark, message = limit
            raise OpenApiLoadError(f"invalid YAML: {message}", mark.line + 1, mark.column + 1)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        raise OpenApiLoadError(
            f"invalid YAML: {err.problem}", mark.line + 1 if mark else 1,
            mark.column + 1 if mark else 1,
        ) from None
    except yaml.YAMLError as err:
        raise OpenApiLoadError(f"invalid YAML: {err}") from None
    finally:
        loader.dispose()


_YamlLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _too_deep(data: Any, limit: int = MAX_DEPTH) -> bool:
    """Does ``data`` (plain JSON data) nest more than ``limit`` levels? Without recursion."""
    stack = [(data, 1)]
    while stack:
        node, level = stack.pop()
        if level > limit:
            return True
        if isinstance(node, dict):
            stack.extend((v, level + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, level + 1) for v in node)
    return False


def load_openapi(path: Path) -> OpenApiDocument:
    """Load and index the document at ``path``; raises ``OpenApiLoadError``."""
    raw = read_document(path)
    if not isinstance(raw, dict):
        raise OpenApiLoadError("not an OpenAPI document: the top level is not a mapping")
    version_text = str(raw.get("openapi", ""))
    if not version_text:
        if "swagger" in raw:
            raise OpenApiLoadError(
                f"this is a Swagger {raw.get('swagger')} document; mbtspec reads OpenAPI 3.0 "
                "and 3.1: convert it first (e.g. with swagger2openapi)"
            )
        raise OpenApiLoadError("not an OpenAPI document: no 'openapi' version field")
    if version_text.startswith("3.0"):
        version: Literal["3.0", "3.1"] = "3.0"
    elif version_text.startswith("3.1"):
        version = "3.1"
    else:
        raise OpenApiLoadError(
            f"OpenAPI {version_text} is not supported; mbtspec reads OpenAPI 3.0 and 3.1"
        )
    resolver = _Resolver(path, raw)
    operations = tuple(_iter_operations(raw, resolver))
    return OpenApiDocument(path, version, operations, raw)


def _iter_operations(raw: dict[str, Any], resolver: _Resolver) -> Iterator[Operation]:
    paths = raw.get("paths") or {}
    if not isinstance(paths, dict):
        return
    for path, item in paths.items():
        # Each part is read relative to the file it was found in (a $ref'd path item may
        # live in another file, with #/components of its own).
        item, item_base = resolver.follow(item, resolver.base)
        if not isinstance(item, dict):
            continue
        shared = _parameters(item.get("parameters"), resolver, item_base)
        for method in METHODS:
            op, base = resolver.follow(item.get(method), item_base)
            if not isinstance(op, dict):
                continue
            own = _parameters(op.get("parameters"), resolver, base)
            merged = {(p.location, p.name): p for p in (*shared, *own)}
            body_schema, body_required, media, all_media = _request_body(
                op.get("requestBody"), resolver, base)
            yield Operation(
                method=method.upper(),
                path=str(path),
                operation_id=op.get("operationId") if isinstance(
                    op.get("operationId"), str) else None,
                parameters=tuple(merged.values()),
                body_schema=body_schema,
                body_required=body_required,
                body_media_type=media,
                body_media=all_media,
                responses=tuple(_responses(op.get("responses"), resolver, base)),
            )


def _parameters(items: Any, resolver: _Resolver, base: Path) -> list[Parameter]:
    out = []
    for item in items if isinstance(items, list) else []:
        item, item_base = resolver.follow(item, base)
        if not isinstance(item, dict) or "name" not in item or "in" not in item:
            continue
        schema = item.get("schema")
        if schema is None and isinstance(item.get("content"), dict):
            media: Any = next(iter(item["content"].values()), {})
            schema = media.get("schema") if isinstance(media, dict) else None
        location = item["in"]
        if location not in ("path", "query", "header", "cookie"):
            continue
        out.append(Parameter(
            name=str(item["name"]),
            location=location,
            required=bool(item.get("required", location == "path")),
            schema=(resolver.schema(schema, item_base, f"parameter '{item['name']}'")
                    if schema is not None else None),
        ))
    return out


def _pick_media(content: Any) -> tuple[str | None, Any]:
    if not isinstance(content, dict) or not content:
        return None, None
    for media, value in content.items():
        if "json" in media.lower():
            return media, value
    media = next(iter(content))
    return media, content[media]


def _request_body(body: Any, resolver: _Resolver, base: Path
                  ) -> tuple[Any, bool, str | None, tuple[tuple[str, Any], ...]]:
    body, base = resolver.follow(body, base)
    if not isinstance(body, dict):
        return None, False, None, ()
    media, _ = _pick_media(body.get("content"))
    content = body.get("content")
    every: list[tuple[str, Any]] = []
    for name, value in content.items() if isinstance(content, dict) else ():
        schema = value.get("schema") if isinstance(value, dict) else None
        every.append((str(name), resolver.schema(schema, base, "a request body")
                      if schema is not None else None))
    chosen = next((schema for name, schema in every if name == media), None)
    return chosen, bool(body.get("required", False)), media, tuple(every)


def media_base(media_type: str) -> str:
    """``multipart/form-data; boundary=x`` -> ``multipart/form-data``."""
    return media_type.split(";")[0].strip().lower()


def _responses(responses: Any, resolver: _Resolver,
               base: Path) -> Iterator[tuple[str, Any]]:
    if not isinstance(responses, dict):
        return
    for status, response in responses.items():
        response, response_base = resolver.follow(response, base)
        media_schemas: list[tuple[str, Any]] = []
        content = response.get("content") if isinstance(response, dict) else None
        if isinstance(content, dict):
            for media, value in content.items():
                schema = value.get("schema") if isinstance(value, dict) else None
                media_schemas.append(
                    (media, resolver.schema(schema, response_base, f"response {status}")
                     if schema is not None else None))
        yield str(status), tuple(media_schemas)


def resolve_pointer(node: Any, pointer: str) -> Any:
    """What a JSON pointer (``/components/schemas/Pet``) designates in ``node``, or None."""
    for token in [t for t in pointer.split("/") if t]:
        token = unquote(token).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node


class _Resolver:
    """Follows ``$ref`` inside the document and into files next to it."""

    def __init__(self, path: Path, raw: Any) -> None:
        self.documents: dict[Path, Any] = {path.resolve(): raw}
        self.base = path.resolve()
        self.cache: dict[tuple[tuple[Path, str], int], Any] = {}
        self.inlining: set[tuple[Path, str]] = set()

    def _lookup(self, ref: str, base: Path) -> tuple[Any, Path, str]:
        file_part, _, pointer = ref.partition("#")
        target = (base.parent / unquote(file_part)).resolve() if file_part else base
        if target not in self.documents:
            try:
                self.documents[target] = read_document(target)
            except OpenApiLoadError:
                return None, target, pointer
        return resolve_pointer(self.documents[target], pointer), target, pointer

    def follow(self, node: Any, base: Path) -> tuple[Any, Path]:
        """``node`` with its ``$ref`` chain followed, and the file it ended up in."""
        seen = 0
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and seen < 50:
            node, base, _ = self._lookup(node["$ref"], base)
            seen += 1
        return node, base

    def schema(self, schema: Any, base: Path | None, what: str) -> Any:
        """``schema`` with its ``$ref``\\ s inlined, refused when the result is too large.

        Inlining shares what several ``$ref``\\ s point to, so the result is small in memory,
        but the stages after this one walk it as a tree: ten references to a schema holding
        ten references ... grow as a power. ``OpenApiLoadError`` past ``MAX_SCHEMA_NODES``.
        """
        result = self.inline(schema, base)
        size = expanded_size(result, MAX_SCHEMA_NODES)
        if size > MAX_SCHEMA_NODES:
            raise OpenApiLoadError(
                f"the schema of {what} grows to more than {MAX_SCHEMA_NODES:,} values once its "
                "$refs are resolved (schemas that refer to others many times over); simplify "
                "it, e.g. give the repeated part fewer references")
        return result

    def inline(self, schema: Any, base: Path | None = None, depth: int = 0) -> Any:
        """A copy of ``schema`` with every ``$ref`` replaced by what it points to.

        A reference below ``MAX_SCHEMA_DEPTH`` levels (reached through chains of references)
        accepts anything, as a recursive one does: no later stage walks much deeper.
        """
        base = base or self.base
        if isinstance(schema, list):
            return [self.inline(item, base, depth + 1) for item in schema]
        if not isinstance(schema, dict):
            return schema
        ref = schema.get("$ref")
        if isinstance(ref, str):
            if depth > MAX_SCHEMA_DEPTH:
                return {}  # deep down a chain of references: accept anything from here
            node, target, pointer = self._lookup(ref, base)
            key = (target, pointer)
            if (key, depth) in self.cache:
                return self.cache[key, depth]
            if key in self.inlining or node is None:
                return {}  # recursion (or a dangling ref): accept anything below this point
            self.inlining.add(key)
            try:
                result = self.inline(node, target, depth + 1)
            finally:
                self.inlining.discard(key)
            self.cache[key, depth] = result  # how far down it is cut depends on the depth
            return result
        return {k: self.inline(v, base, depth + 1) for k, v in schema.items()}


def expanded_size(node: Any, stop: int) -> int:
    """How many values ``node`` holds when walked as a tree (shared parts counted each time
    they are reached), counted once per distinct object; counting stops past ``stop``."""
    sizes: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(node, False)]
    while stack:
        item, done = stack.pop()
        children = (list(item.values()) if isinstance(item, dict)
                    else item if isinstance(item, list) else [])
        if done:
            total = 1 + sum(sizes.get(id(c), 1) for c in children)
            sizes[id(item)] = min(total, stop + 1)
            continue
        if id(item) in sizes or not children:
            continue
        sizes[id(item)] = 1  # a cycle back to here counts once
        stack.append((item, True))
        stack.extend((c, False) for c in children
                     if isinstance(c, dict | list) and id(c) not in sizes)
    return sizes.get(id(node), 1)


def to_json_schema(schema: Any, dialect: str, *, direction: str = "request") -> Any:
    """An OpenAPI schema as plain JSON Schema (draft 7 for 3.0, 2020-12 for 3.1).

    OpenAPI-only keywords are dropped, ``nullable`` becomes a ``null`` type, and ``readOnly``
    properties are left out of requests (``writeOnly`` ones out of responses).
    """
    if dialect == "json-schema":
        return schema
    return _convert(schema, dialect, direction)


def _convert(schema: Any, dialect: str, direction: str) -> Any:
    if isinstance(schema, list):
        return [_convert(item, dialect, direction) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    hidden = "readOnly" if direction == "request" else "writeOnly"
    for key, value in schema.items():
        if key in _SCHEMA_ONLY_KEYS or key.startswith("x-"):
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {
                name: _convert(sub, dialect, direction) for name, sub in value.items()
                if not (isinstance(sub, dict) and sub.get(hidden) is True)
            }
        elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf",
                     "prefixItems", "contains", "if", "then", "else", "propertyNames",
                     "unevaluatedProperties", "unevaluatedItems"):
            out[key] = _convert(value, dialect, direction)
        elif key == "patternProperties" and isinstance(value, dict):
            out[key] = {k: _convert(v, dialect, direction) for k, v in value.items()}
        else:
            out[key] = value
    if isinstance(out.get("properties"), dict) and isinstance(out.get("required"), list):
        dropped = {
            name for name, sub in (schema.get("properties") or {}).items()
            if isinstance(sub, dict) and sub.get(hidden) is True
        }
        out["required"] = [r for r in out["required"] if r not in dropped]
        if not out["required"]:
            del out["required"]
    if dialect == "openapi-3.0":  # draft-4 boolean exclusive bounds, as draft-7 numbers
        for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
            if out.get(exclusive) is True and bound in out:
                out[exclusive] = out.pop(bound)
            elif isinstance(out.get(exclusive), bool):
                del out[exclusive]
    if dialect == "openapi-3.0" and schema.get("nullable") is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out
