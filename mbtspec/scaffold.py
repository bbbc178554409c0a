"""``mbtspec init``: scaffold a spec file from an OpenAPI document.

The scaffold is a starting point that ``mbtspec lint`` accepts as it is: one action per
operation (values are drawn from the document's schemas by the engine), targets and a reset to
fill in, the usual invariants, and stored ids wired from the operations that create them to the
operations that take them as path parameters:

- OpenAPI ``links`` first: a 2xx response link whose ``parameters`` map a path parameter of the
  linked operation to ``$response.body#/pointer``;
- else name matching: ``POST`` (then ``PUT``) on the collection path (``/pets`` for
  ``/pets/{petId}``) whose 2xx JSON response has a property named like the parameter, or
  ``id`` when the parameter is ``id``, ``<singular>Id`` or ``<singular>_id``.

The producer gets ``store: {var: response.body.<field>}``; each consumer gets
``path: {param: {pick: var, or: <generator>}}``, the generator being the parameter's own schema,
so that the action can run before anything is stored.

The YAML is written by hand (to keep comments and a readable layout); every scalar goes through
``_scalar``, which writes it plain only when PyYAML reads it back as the same string, and every
schema through PyYAML's own emitter, so the text always reads back as what was meant.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

from mbtspec._scaffold_auth import Auth, plan_auth
from mbtspec.errors import UsageError
from mbtspec.spec._build import PATH_PARAM
from mbtspec.spec._openapi import (
    METHODS,
    OpenApiDocument,
    OpenApiLoadError,
    Operation,
    load_openapi,
    resolve_pointer,
    to_json_schema,
)
from mbtspec.spec._values import NAME

__all__ = ["scaffold_spec"]

_NAME = NAME  # what the loader accepts as a name (actions, generators, variables)
#: CEL's reserved words: not usable as a field name after a dot.
_CEL_RESERVED = frozenset({
    "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for",
    "function", "if", "import", "let", "loop", "package", "namespace", "return", "var", "void",
    "while",
})
#: Names that expressions already bind: a stored variable must not hide them.
_BOUND_NAMES = frozenset({"response", "request", "action", "target", "model", "candidate"})
_METHOD_ORDER = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE")
#: Parameter names that say nothing of the resource: variables get the collection's name too.
_GENERIC = frozenset({"id", "sid", "uuid", "guid", "key", "slug", "name", "code", "number"})
_DEFAULT_URL = "http://127.0.0.1:8000"
#: Keys whose values are data, not schemas (left alone when adapting a schema).
_DATA_KEYS = frozenset({"enum", "const", "default", "example", "examples"})
#: The value sent for a path placeholder that the document does not describe.
_UNDOCUMENTED = {"string": {"alphabet": "alphanumeric", "min_size": 1, "max_size": 12}}


def scaffold_spec(openapi: Path, output: Path | None) -> str:
    """The YAML text of a spec over the OpenAPI document ``openapi``.

    ``output`` is where the spec will be written (``None``: printed); the ``openapi:`` path in
    the spec is relative to its folder (else to the current directory). Raises ``UsageError``
    when the document cannot be used, with what is wrong and what to do.
    """
    openapi = Path(openapi)
    if output is not None and _same_file(openapi, Path(output)):
        raise UsageError(f"{output}: this is the OpenAPI document itself; write the spec to "
                         "another file (e.g. -o mbtspec.yaml)")
    if output is not None:
        _check_output(Path(output))
    doc = _load(openapi)
    base = Path(output).parent if output is not None else Path.cwd()
    return _Scaffold(doc, _relative(openapi, base), output).render()


# -- reading the document ----------------------------------------------------------------------


def _load(openapi: Path) -> OpenApiDocument:
    if openapi.is_dir():
        raise UsageError(f"{openapi}: is a directory; give the OpenAPI document's file "
                         "(YAML or JSON)")
    try:
        doc = load_openapi(openapi)
    except OpenApiLoadError as err:
        where = f" (line {err.line}, column {err.column})" if err.line else ""
        hint = ""
        if err.message.startswith("file not found"):
            hint = "; check the path of the OpenAPI document"
        elif err.message.startswith(("invalid YAML", "invalid JSON", "not an OpenAPI")):
            hint = "; mbtspec init needs an OpenAPI 3.0 or 3.1 document (YAML or JSON)"
        elif "Swagger" in err.message:
            hint = ", then run mbtspec init on the OpenAPI 3 file"
        raise UsageError(f"cannot scaffold a spec from {openapi}: {err.message}{where}{hint}"
                         ) from None
    except RecursionError:
        raise UsageError(f"cannot scaffold a spec from {openapi}: its $refs nest too deeply "
                         "to be read") from None
    if not doc.operations:
        raise UsageError(
            f"cannot scaffold a spec from {openapi}: it documents no operation (no get, put, "
            "post, delete, patch, head, options or trace under 'paths'); a spec needs at "
            "least one operation to call")
    return doc


def _check_output(output: Path) -> None:
    if output.is_dir():
        raise UsageError(f"{output}: is a directory; give the spec's file name "
                         f"(e.g. -o {output.as_posix().rstrip('/')}/mbtspec.yaml)")
    folder = output.parent
    if not folder.is_dir():
        raise UsageError(f"{output}: the folder {folder} does not exist; create it first "
                         f"(mkdir -p {folder.as_posix()})")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _relative(openapi: Path, base: Path) -> str:
    target = os.path.abspath(openapi)
    try:
        text = os.path.relpath(target, os.path.abspath(base))
    except ValueError:  # another drive (Windows): only an absolute path can say where it is
        text = target
    return text.replace(os.sep, "/")


def _deref(raw: Any, node: Any) -> Any:
    """``node`` with local ``$ref``s (``#/...``) followed; ``None`` when they lead nowhere."""
    for _ in range(50):
        if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
            return node
        node = _pointer(raw, node["$ref"])
    return None


def _pointer(raw: Any, ref: str) -> Any:
    if not ref.startswith("#"):
        return None  # another file: links and path items there are not followed
    return resolve_pointer(raw, ref[1:])


def _raw_operation(doc: OpenApiDocument, op: Operation) -> dict[str, Any]:
    paths = doc.raw.get("paths") if isinstance(doc.raw, dict) else None
    item = _deref(doc.raw, paths.get(op.path)) if isinstance(paths, dict) else None
    if not isinstance(item, dict):  # keys that were not strings in the YAML
        item = next((_deref(doc.raw, v) for k, v in (paths or {}).items()
                     if str(k) == op.path), None)
    raw = _deref(doc.raw, item.get(op.method.lower())) if isinstance(item, dict) else None
    return raw if isinstance(raw, dict) else {}


# -- names ---------------------------------------------------------------------------------------


def _snake(text: str) -> str:
    """``getPetByID`` -> ``get_pet_by_id``; accents dropped, anything else becomes ``_``."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()


def _unique(name: str, taken: set[str]) -> str:
    found, n = name, 1
    while found in taken:
        n += 1
        found = f"{name}_{n}"
    taken.add(found)
    return found


def _as_name(text: str, fallback: str) -> str:
    """A valid name made from ``text``: snake_case, ``fallback`` when nothing is left."""
    name = _snake(text) or fallback
    return name if _NAME.fullmatch(name) else f"_{name}"


def _action_name(op: Operation) -> str:
    if op.operation_id:
        name = _snake(op.operation_id)
        if name and _NAME.fullmatch(name):
            return name
    words = []
    for segment in op.path.split("/"):
        placeholder = re.fullmatch(r"\{([^}]*)\}", segment)
        word = _snake(placeholder.group(1) if placeholder else segment)
        if word:
            words.append(f"by_{word}" if placeholder else word)
    if not words:
        words = ["root"] if not op.path.strip("/") else ["operation"]
    return "_".join([op.method.lower(), *words])


def _singular(word: str) -> str:
    """A readable singular: ``categories`` -> ``category``, ``addresses`` -> ``address``."""
    if word.endswith("ies") and len(word) > 3:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us")):
        return word[:-1]
    return word


def _singulars(word: str) -> set[str]:
    word = re.sub(r"[^a-z0-9]", "", word.lower())
    out = {word}
    if word.endswith("ies") and len(word) > 3:
        out.add(word[:-3] + "y")
    if word.endswith("es") and len(word) > 2:
        out.add(word[:-2])
    if word.endswith("s") and len(word) > 1:
        out.add(word[:-1])
    return out


# -- YAML text -----------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):  # type: ignore[misc]
    """PyYAML's safe dumper without anchors (the document's inlined schemas share objects)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump_flow(value: Any) -> str:
    text = str(yaml.dump(value, Dumper=_Dumper, default_flow_style=True, allow_unicode=True,
                         sort_keys=False, width=math.inf)).strip()
    if text.endswith("\n..."):
        text = text[:-4].rstrip()
    return text


def _reads_back(text: str, value: str, flow: bool) -> bool:
    probe = f"[{text}]" if flow else f"k: {text}"
    try:
        data = yaml.load(probe, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return False
    found = data[0] if flow and isinstance(data, list) and len(data) == 1 else (
        data.get("k") if isinstance(data, dict) else None)
    return isinstance(found, str) and found == value


_PLAIN_CHARS = r"[A-Za-z0-9_./{}<>=!&|+*()-]"
_PLAIN_BLOCK = re.compile(rf"[A-Za-z_/.]{_PLAIN_CHARS}*(?: {_PLAIN_CHARS}+)*")
_PLAIN_FLOW = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def _scalar(text: str, *, flow: bool = False) -> str:
    """``text`` as a YAML scalar: plain when that reads back as the same string, else quoted."""
    pattern = _PLAIN_FLOW if flow else _PLAIN_BLOCK
    if pattern.fullmatch(text) and _reads_back(text, text, flow):
        return text
    if ('"' in text or "\\" in text) and text and all(_printable(c) for c in text):
        single = "'" + text.replace("'", "''") + "'"  # no escapes: easier to read
        if _reads_back(single, text, flow):
            return single
    return _quote(text)


def _quote(text: str) -> str:
    """A double-quoted YAML scalar that PyYAML reads back as exactly ``text``."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif 0x20 <= code <= 0x7E or (_printable(ch) and code > 0x7E):
            out.append(ch)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _printable(ch: str) -> bool:
    """Characters YAML allows as they are inside quotes (no line breaks, no BOM)."""
    code = ord(ch)
    if ch in "\x85\u2028\u2029\ufeff":
        return False
    return (0x20 <= code <= 0x7E or 0xA0 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD
            or 0x10000 <= code <= 0x10FFFF)


def _comment(text: Any, limit: int = 100) -> str:
    """One line of comment text: line breaks and unprintable characters become spaces."""
    cleaned = "".join(ch if _printable(ch) else " " for ch in str(text))
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 3].rstrip() + "..."


def _cel_string(text: str) -> str:
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= code <= 0x7E or (code > 0x7E and _printable(ch)):
            out.append(ch)
        elif code <= 0xFFFF and not 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        elif code > 0xFFFF:
            out.append(f"\\U{code:08x}")
        else:  # a lone surrogate cannot be written in CEL: it cannot be a JSON key either
            out.append("\\ufffd")
    out.append('"')
    return "".join(out)


def _cel_path(tokens: Iterable[str]) -> str:
    """``response.body`` followed by the fields (and list indexes) of ``tokens``."""
    expr = "response.body"
    for token in tokens:
        if token.isdigit() and token.isascii():
            expr += f"[{int(token)}]"
        elif _NAME.fullmatch(token) and token not in _CEL_RESERVED:
            expr += f".{token}"
        else:
            expr += f"[{_cel_string(token)}]"
    return expr


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _jsonable(value: Any) -> Any:
    """Data as JSON would have it: string keys, dates as text, no sets or bytes."""
    if isinstance(value, dict):
        return {_key_text(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(v) for v in value]
        return sorted(items, key=json.dumps) if isinstance(value, set | frozenset) else items
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _key_text(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)


_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "definitions", "$defs",
                          "dependentSchemas"})
#: Annotations that do not change which values a schema accepts: left out of generators.
_ANNOTATIONS = frozenset({"title", "description", "$comment", "examples", "example",
                          "externalDocs", "deprecated", "xml"})


def _tidy(schema: Any) -> Any:
    """A generator's schema: annotations dropped (it reads plain JSON Schema)."""
    if isinstance(schema, list):
        return [_tidy(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _ANNOTATIONS:
            continue
        if key in _DATA_KEYS:
            out[key] = value
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: _tidy(sub) for name, sub in value.items()}
        else:
            out[key] = _tidy(value)
    return out


def _generator_schema(doc: OpenApiDocument, schema: Any) -> Any:
    converted = _jsonable(to_json_schema(schema, doc.dialect, direction="request"))
    converted = _tidy(converted)  # (to_json_schema already rewrote 3.0's boolean bounds)
    if isinstance(converted, dict):
        for key in ("$schema", "$id"):  # the generator reads it as plain JSON Schema
            converted.pop(key, None)
    return converted


# -- wiring ---------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class _Source:
    """Where a stored value comes from: an operation's response, at ``expr``."""

    producer: str  # Operation.key
    expr: str  # CEL over response


@dataclass
class _Variable:
    name: str
    sources: tuple[_Source, ...]


@dataclass
class _Action:
    name: str
    op: Operation
    request: str
    comment: str = ""
    path: list[tuple[str, str]] = field(default_factory=list)  # placeholder -> YAML value
    store: dict[str, str] = field(default_factory=dict)  # variable -> CEL
    notes: list[str] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)  # name -> YAML value
    mode: str = ""


def _response_properties(schema: Any, depth: int = 0) -> dict[str, Any]:
    """The properties an object response documents (through allOf/anyOf/oneOf too)."""
    if not isinstance(schema, dict) or depth > 8:
        return {}
    out: dict[str, Any] = {}
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name, sub in properties.items():
            if not (isinstance(sub, dict) and sub.get("writeOnly") is True):
                out.setdefault(str(name), sub)
    for key in ("allOf", "anyOf", "oneOf"):
        branches = schema.get(key)
        for branch in branches if isinstance(branches, list) else []:
            for name, sub in _response_properties(branch, depth + 1).items():
                out.setdefault(name, sub)
    return out


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _matching_field(param: str, word: str, names: Iterable[str]) -> str | None:
    """The property that plausibly holds ``param``: its exact name, the same name in another
    case or spelling (``pet_id`` for ``petId``), or the singular of the collection followed by
    the property (``petId`` -> ``id`` in ``/pets``, ``ServiceSid`` -> ``sid``)."""
    ordered = sorted(names)
    if param in ordered:
        return param
    wanted = _norm(param)
    for name in ordered:
        if _norm(name) == wanted and wanted:
            return name
    for singular in sorted(_singulars(word), key=len, reverse=True):
        for name in ordered:
            if singular and _norm(name) and wanted == singular + _norm(name):
                return name
    return None


_WRAPPERS = frozenset({"data", "result", "item", "resource", "object", "entity"})


def _field_path(param: str, word: str, schema: Any) -> list[str] | None:
    """Where a response of ``schema`` holds ``param``: at the top, or inside one wrapper object
    (``{"article": {"slug": ...}}``, ``{"data": {...}}``, ``{"Accounts": [{...}]}``)."""
    properties = _response_properties(schema)
    found = _matching_field(param, word, properties)
    if found is not None:
        return [found]
    wrappers = _singulars(word) | {_norm(word)} | _WRAPPERS
    for name, sub in sorted(properties.items()):
        if _norm(name) not in wrappers or not isinstance(sub, dict):
            continue
        index = []
        if isinstance(sub.get("items"), dict) and "properties" not in sub:
            sub, index = sub["items"], ["0"]
        inner = _matching_field(param, word, _response_properties(sub))
        if inner is not None:
            return [name, *index, inner]
    return None


def _success_json_schemas(op: Operation) -> Iterator[Any]:
    ordered = sorted(op.responses, key=lambda r: (r[0] != "201", r[0] != "200", r[0]))
    for status, media in ordered:
        if not status.startswith("2"):
            continue
        for name, schema in media:
            if "json" in name.lower() and schema is not None:
                yield schema


def _link_sources(doc: OpenApiDocument, ops: dict[str, Operation]
                  ) -> dict[tuple[str, str], list[_Source]]:
    """(consumer operation key, path parameter) -> sources given by OpenAPI links."""
    by_id: dict[str, Operation] = {}
    for op in doc.operations:
        if op.operation_id and op.operation_id not in by_id:
            by_id[op.operation_id] = op
    found: dict[tuple[str, str], list[_Source]] = {}
    for producer in ops.values():
        responses = _raw_operation(doc, producer).get("responses")
        if not isinstance(responses, dict):
            continue
        for status, response in responses.items():
            response = _deref(doc.raw, response)
            if not str(status).startswith("2") or not isinstance(response, dict):
                continue
            links = response.get("links")
            for link in (links.values() if isinstance(links, dict) else []):
                link = _deref(doc.raw, link)
                if not isinstance(link, dict) or not isinstance(link.get("parameters"), dict):
                    continue
                target = _link_target(doc, link, by_id)
                if target is None or target.key not in ops:
                    continue
                for key, value in link["parameters"].items():
                    name = str(key)
                    if name.startswith("path."):
                        name = name[len("path."):]
                    elif "." in name and name.split(".", 1)[0] in ("query", "header", "cookie"):
                        continue
                    if name not in PATH_PARAM.findall(target.path):
                        continue
                    expr = _link_expression(value)
                    if expr is not None:
                        found.setdefault((target.key, name), []).append(
                            _Source(producer.key, expr))
    return found


def _link_target(doc: OpenApiDocument, link: dict[str, Any],
                 by_id: dict[str, Operation]) -> Operation | None:
    if isinstance(link.get("operationId"), str):
        return by_id.get(link["operationId"])
    ref = link.get("operationRef")
    if not isinstance(ref, str) or not ref.startswith("#/paths/"):
        return None
    tokens = [unquote(t).replace("~1", "/").replace("~0", "~") for t in ref[2:].split("/")]
    if len(tokens) != 3 or tokens[2].lower() not in METHODS:
        return None
    return doc.find(f"{tokens[2].upper()} {tokens[1]}")


def _link_expression(value: Any) -> str | None:
    """``$response.body#/a/0/b`` (or ``{$response.body#/a}``) as CEL; ``None`` otherwise."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text == "$response.body":
        return "response.body"
    if not text.startswith("$response.body#"):
        return None
    pointer = text[len("$response.body#"):]
    if pointer and not pointer.startswith("/"):
        return None
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]
    if any(t == "" for t in tokens):
        return None
    return _cel_path(tokens)


def _collection(path: str, param: str) -> tuple[str, str] | None:
    """(the path up to the segment ``{param}``, its last literal segment) or None."""
    segments = path.split("/")
    for i, segment in enumerate(segments):
        if segment == f"{{{param}}}" and i > 0:
            before = segments[:i]
            words = [s for s in before if s and not PATH_PARAM.search(s)]
            return "/".join(before) or "/", words[-1] if words else ""
    return None


def _name_match_source(param: str, path: str, ops: dict[str, Operation]) -> _Source | None:
    found = _collection(path, param)
    if found is None:
        return None
    collection, word = found
    for method in ("POST", "PUT"):
        for candidate in dict.fromkeys((collection, collection.rstrip("/") + "/")):
            producer = ops.get(f"{method} {candidate}")
            if producer is None:
                continue
            for schema in _success_json_schemas(producer):
                tokens = _field_path(param, word, schema)
                if tokens is not None:
                    return _Source(producer.key, _cel_path(tokens))
    return None


# -- the spec ----------------------------------------------------------------------------------


class _Scaffold:
    def __init__(self, doc: OpenApiDocument, openapi_ref: str, output: Path | None) -> None:
        self.doc = doc
        self.openapi_ref = openapi_ref
        self.output = output
        self.actions: list[_Action] = []
        self.skipped: list[str] = []
        self.generators: dict[str, Any] = {}  # name -> value (YAML-ready data)
        self.generator_keys: dict[tuple[str, str], str] = {}
        self.generator_notes: dict[str, str] = {}
        self.wired = 0
        self.auth: Auth | None = None

    # the parts

    def render(self) -> str:
        self._build_actions()
        if not self.actions:
            raise UsageError(
                f"cannot scaffold a spec from {self.doc.file}: no operation can be named in a "
                f"spec ({'; '.join(self.skipped[:3])}); fix the paths (they start with '/') "
                "or give the operations an operationId without spaces")
        self._wire()
        self._authenticate()
        lines = [
            *self._header(),
            "version: 1",
            f"openapi: {_scalar(self.openapi_ref)}",
            "",
            *self._targets(),
            "",
            *self._reset(),
            "",
            *self._generators(),
            *self._actions(),
            "",
            *self._rest(),
        ]
        return "\n".join(lines) + "\n"

    def _build_actions(self) -> None:
        order = {m: i for i, m in enumerate(_METHOD_ORDER)}
        taken: set[str] = set()
        for op in sorted(self.doc.operations, key=lambda o: (o.path, order.get(o.method, 99))):
            request = self._request(op)
            if request is None:
                self.skipped.append(f"{op.method} {op.path!r}: the path cannot be written as "
                                    "'METHOD /path' and the operation has no usable operationId")
                continue
            action = _Action(_unique(_action_name(op), taken), op, request)
            summary = _raw_operation(self.doc, op).get("summary")
            action.comment = _comment(f"{op.method} {op.path}"
                                      + (f" - {summary}" if isinstance(summary, str)
                                         and summary.strip() else ""))
            self.actions.append(action)

    def _request(self, op: Operation) -> str | None:
        """How the action names ``op``: ``METHOD /path`` when the loader finds it that way."""
        text = f"{op.method} {op.path}"
        if op.path.startswith("/") and op.path == op.path.strip() and self.doc.find(text) is op:
            return text
        oid = op.operation_id
        if oid and oid == oid.strip() and not any(c.isspace() for c in oid) \
                and self.doc.find(oid) is op:
            return oid
        return None

    def _wire(self) -> None:
        ops = {a.op.key: a.op for a in self.actions}
        actions = {a.op.key: a for a in self.actions}
        links = _link_sources(self.doc, ops)
        # One group per resource: the path up to {param}. Links to any operation of the group
        # wire them all; else a POST/PUT on the collection, by name.
        groups: dict[tuple[str, str], list[_Action]] = {}
        for action in self.actions:
            for param in dict.fromkeys(PATH_PARAM.findall(action.op.path)):
                found = _collection(action.op.path, param)
                key = (found[0] + f"/{{{param}}}" if found else action.op.path, param)
                groups.setdefault(key, []).append(action)
        variables: dict[tuple[_Source, ...], _Variable] = {}
        taken: set[str] = set(_BOUND_NAMES | _CEL_RESERVED)
        for (_resource, param), members in groups.items():
            sources: set[_Source] = set()
            for member in members:
                sources.update(links.get((member.op.key, param), ()))
            if not sources:
                source = _name_match_source(param, members[0].op.path, ops)
                if source is not None:
                    sources.add(source)
            sources = {s for s in sources if s.producer in actions}
            variable = None
            if sources:
                ordered = tuple(sorted(sources))
                variable = variables.get(ordered)
                if variable is None:
                    variable = _Variable(_unique(self._variable_name(param, members[0]), taken),
                                         ordered)
                    variables[ordered] = variable
            for member in members:
                self._set_path(member, param, variable)
        for variable in variables.values():
            for source in variable.sources:
                actions[source.producer].store.setdefault(variable.name, source.expr)

    def _authenticate(self) -> None:
        """Log in with the document's security scheme, when the scaffold understands it (see
        ``_scaffold_auth``): the login action stores each target's token, and every action
        that needs it sends it."""
        auth = plan_auth(self.doc, [a.op for a in self.actions])
        if auth is None:
            return
        self.auth = auth
        taken = {v for a in self.actions for v in a.store} | set(_BOUND_NAMES | _CEL_RESERVED)
        variable = _unique("auth_tokens", taken)
        token = _unique("auth_token", set(self.generators))
        self.generators[token] = {"pick": variable}
        self.generator_notes[token] = (f"a session token, stored per target by the "
                                       f"{auth.login} call")
        header = token
        if auth.prefix:
            header = _unique("auth_header", set(self.generators))
            self.generators[header] = auth.prefix + "${" + token + "}"
            self.generator_notes[header] = f"the value of the {auth.header} header"
        for action in self.actions:
            if action.op.key == auth.login:
                action.store[variable] = _cel_path(auth.token)
                action.mode = "positive"
                action.notes.append(f"logs in: stores each target's token ({auth.scheme}); "
                                    "set realistic credentials in 'body'")
            elif action.op.key in auth.secured:
                action.headers.append((auth.header, _scalar("${" + header + "}", flow=True)))

    def _variable_name(self, param: str, action: _Action) -> str:
        """snake_case of the parameter; a bare ``id`` (``slug``...) gets its collection's name:
        ``comment_id`` for ``/comments/{id}``."""
        name = _as_name(param, "value")
        found = _collection(action.op.path, param)
        if name in _GENERIC and found is not None and _snake(found[1]):
            name = _as_name(f"{_singular(_snake(found[1]))}_{name}", name)
        if name in _BOUND_NAMES or name in _CEL_RESERVED:
            name = f"{name}_value"
        return name

    def _set_path(self, action: _Action, param: str, variable: _Variable | None) -> None:
        documented = action.op.parameter("path", param)
        schema = documented.schema if documented is not None else None
        if variable is None and schema is not None:
            return  # the engine draws it from the document
        if schema is None:
            generator = self._generator(param, dict(_UNDOCUMENTED))
            action.notes.append(f"path parameter {param!r} is not described by the document: "
                                f"adjust generator {generator!r}")
            self.generator_notes.setdefault(
                generator, "a path parameter that the document does not describe: adjust it")
        else:
            generator = self._generator(param, {"schema": _generator_schema(self.doc, schema)})
        if variable is None:
            action.path.append((param, _scalar("${" + generator + "}", flow=True)))
        else:
            self.wired += 1
            action.path.append(
                (param, f"{{pick: {_scalar(variable.name, flow=True)}, "
                        f"or: {_scalar(generator, flow=True)}}}"))

    def _generator(self, param: str, value: dict[str, Any]) -> str:
        base = param if _NAME.fullmatch(param) else _as_name(param, "param")
        key = (base, json.dumps(value, sort_keys=True, ensure_ascii=False))
        if key not in self.generator_keys:
            name = _unique(base, set(self.generators))
            self.generators[name] = value
            self.generator_keys[key] = name
        return self.generator_keys[key]

    # the text

    def _header(self) -> list[str]:
        info = self.doc.raw.get("info") if isinstance(self.doc.raw, dict) else None
        title = info.get("title") if isinstance(info, dict) else None
        version = info.get("version") if isinstance(info, dict) else None
        about = " ".join(str(x) for x in (title, version) if x is not None)
        spec_name = self.output.as_posix() if self.output is not None else "spec.yaml"
        shown = _comment(spec_name if " " not in spec_name else f'"{spec_name}"')
        lines = [
            "# yaml-language-server: $schema=mbtspec.schema.json",
            "# (for completion in editors, write the schema next to this file: "
            "mbtspec schema > mbtspec.schema.json)",
            "#",
            f"# Scaffolded by 'mbtspec init' from {_comment(self.openapi_ref)}"
            + (f" ({_comment(about, 80)})" if about else "") + ".",
            f"# {_count(len(self.actions), 'action')}, one per operation; "
            f"{self.wired} of their path parameters {'takes' if self.wired == 1 else 'take'} "
            "ids stored by an earlier call.",
            "# Before the first run:",
            "#   1. targets: point 'model' (the implementation you trust) and 'candidate' (the "
            "one under test)",
            "#      at your servers (base_url), or let mbtspec start them (command) or call "
            "them in-process (app).",
            "#   2. reset: give every target a way to start each sequence from a clean state.",
            "#   3. actions: delete the ones you do not want, set realistic values (generators, "
            "path/query/body),",
            "#      add 'when' preconditions and 'expect' checks. Unset parameters and bodies "
            "are drawn from the",
            "#      OpenAPI schemas.",
            "#   4. compare: ignore the fields that differ by nature (timestamps, random ids).",
            f"# Then: mbtspec lint {shown}   and   mbtspec check {shown}",
        ]
        if self.skipped:
            lines.append("# Operations left out:")
            lines.extend(f"#   {_comment(s, 200)}" for s in self.skipped)
        return lines

    def _base_url(self) -> str:
        servers = self.doc.raw.get("servers") if isinstance(self.doc.raw, dict) else None
        first = servers[0] if isinstance(servers, list) and servers else None
        if not isinstance(first, dict) or not isinstance(first.get("url"), str):
            return _DEFAULT_URL
        url = str(first["url"]).strip()
        if url.startswith("/") and not url.startswith("//"):  # relative to where it is served
            url = _DEFAULT_URL + url.rstrip("/")
        variables = first.get("variables")
        for name, spec in (variables.items() if isinstance(variables, dict) else []):
            if isinstance(spec, dict) and "default" in spec:
                url = url.replace(f"{{{name}}}", str(spec["default"]))
        if (not re.match(r"https?://[^/\s{}]", url) or any(c in url for c in "{}\\ ")
                or "${" in url or not all(_printable(c) for c in url)):
            return _DEFAULT_URL
        return url

    def _auth_hint(self) -> str:
        components = self.doc.raw.get("components") if isinstance(self.doc.raw, dict) else None
        schemes = components.get("securitySchemes") if isinstance(components, dict) else None
        for scheme in (schemes.values() if isinstance(schemes, dict) else []):
            scheme = _deref(self.doc.raw, scheme)
            if not isinstance(scheme, dict):
                continue
            kind = str(scheme.get("type", "")).lower()
            if kind == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
                return 'headers: {Authorization: "Bearer ${env.API_TOKEN}"}'
            if kind == "http" and str(scheme.get("scheme", "")).lower() == "basic":
                return 'headers: {Authorization: "Basic ${env.API_BASIC_AUTH}"}'
            if kind == "apikey" and scheme.get("in") == "header" and scheme.get("name"):
                return f'headers: {{{_comment(scheme["name"], 60)}: "${{env.API_KEY}}"}}'
            if kind in ("oauth2", "openidconnect"):
                return 'headers: {Authorization: "Bearer ${env.API_TOKEN}"}'
        return 'headers: {Authorization: "Bearer ${env.API_TOKEN}"}'

    def _targets(self) -> list[str]:
        url = _scalar(self._base_url())
        auth = self._auth_hint()
        if self.auth is not None:
            auth = (f"{self.auth.header}: sent by the actions that need it, with the token "
                    f"that {self.auth.login} stores")
        return [
            "targets:",
            "  model:                            # the implementation you trust (the source of "
            "truth)",
            f"    base_url: {url}     # placeholder: where it runs",
            "    # or in-process (ASGI/WSGI):   app: mypackage.reference:app",
            '    # or started by mbtspec:       command: ["${python}", -m, mypackage.server, '
            '--port, "${port}"]',
            f"    # {auth}" + ("" if self.auth else "   (secrets from the environment)"),
            "  candidate:                        # the implementation under test",
            f"    base_url: {url}     # placeholder: change it, model and candidate must differ",
            "    # or in-process (ASGI/WSGI):   app: mypackage.server:app",
            '    # or started by mbtspec:       command: ["${python}", -m, mypackage.server, '
            '--port, "${port}"]',
            "    #                              ready: {path: /, status: 200}",
            f"    # {auth}",
        ]

    def _reset(self) -> list[str]:
        return [
            "reset:",
            "  # Every target must offer a way to start clean: this runs before every sequence.",
            "  # Replace it by your targets' own reset (a request, or command: [program, args]).",
            "  - request: POST /__reset",
        ]

    def _generators(self) -> list[str]:
        if not self.generators:
            return []
        lines = ["generators:",
                 "  # Values of path parameters (a pick's 'or:' is used while nothing is "
                 "stored yet)" + ("; the session token." if self.auth else ".")]
        for name, value in self.generators.items():
            note = self.generator_notes.get(name)
            if note:
                lines.append(f"  # {name}: {note}")
            lines.append(f"  {_scalar(name)}: {_dump_flow(_jsonable(value))}")
        lines.append("")
        return lines

    def _actions(self) -> list[str]:
        lines = ["actions:"]
        for i, action in enumerate(self.actions):
            if i:
                lines.append("")
            if action.comment:
                lines.append(f"  # {action.comment}")
            lines.extend(f"  # {_comment(note, 200)}" for note in action.notes)
            lines.append(f"  {_scalar(action.name)}:")
            lines.append(f"    request: {_scalar(action.request)}")
            if action.path:
                lines.append("    path:")
                lines.extend(f"      {_scalar(k)}: {v}" for k, v in action.path)
            if action.headers:
                lines.append("    headers:")
                lines.extend(f"      {_scalar(k)}: {v}" for k, v in action.headers)
            if action.store:
                lines.append("    store:")
                lines.extend(f"      {_scalar(k)}: {_scalar(v)}" for k, v in action.store.items())
            if action.mode:
                lines.append(f"    mode: {action.mode}")
        return lines

    def _rest(self) -> list[str]:
        return [
            "compare:",
            "  status: exact",
            "  body: exact",
            '  # ignore: [body.createdAt, "body[*].updatedAt"]   # fields that differ by nature',
            "  # unordered: [body]                                # lists in no particular order",
            "",
            "invariants:",
            "  - {name: no server errors, check: candidate.status < 500}",
            "  - {name: documented responses, check: conforms_to_openapi(candidate)}",
            "",
            "run: {sequences: 100, steps: 20}",
        ]
