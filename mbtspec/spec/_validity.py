"""Is the OpenAPI document valid OpenAPI? Checked with openapi-spec-validator, remembered.

Validating a large document takes a good part of a second, and pre-commit lints on every
commit while the document rarely changes: the verdict is cached by the document's content hash
in the user's cache folder (``$XDG_CACHE_HOME/mbtspec`` or ``~/.cache/mbtspec``). A document
that fails validation is still used (real-world documents often have small faults): the result
is a warning.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mbtspec.spec._openapi import OpenApiDocument, OpenApiLoadError, _Resolver
from mbtspec.spec._yaml import Positions
from mbtspec.spec.problems import Problem, format_path


def _cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mbtspec"


def document_faults(document: OpenApiDocument) -> list[str]:
    """What openapi-spec-validator finds wrong with the document (at most one fault).

    The validator is given the document with every reference to another file replaced by
    what it points to (read by mbtspec, from disk only): it would otherwise fetch references
    itself, also over the network. The cache key covers that bundled content and the
    validator's version, so editing a referenced file is seen.
    """
    try:
        bundled = bundle(document)
    except OpenApiLoadError as err:
        return [err.message]
    text = json.dumps(bundled, sort_keys=True, default=str)
    key = hashlib.sha256(f"{_validator_version()}\n{text}".encode()).hexdigest()[:32]
    cached = _cache() / f"openapi-{key}.json"
    try:
        faults: list[str] = json.loads(cached.read_text(encoding="utf-8"))
        return faults
    except (OSError, ValueError):
        pass
    faults = _validate(bundled)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(faults), encoding="utf-8")
    except OSError:
        pass  # a read-only home: validate again next time
    return faults


def bundle(document: OpenApiDocument) -> Any:
    """The document with references to other files (or URLs) inlined from disk; references
    within the document stay. What cannot be read becomes an empty object."""
    resolver = _Resolver(document.file, document.raw)

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            return resolver.schema(node, None, f"the $ref '{ref}'")
        return {k: walk(v) for k, v in node.items()}

    return walk(document.raw)


def _validator_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("openapi-spec-validator")
    except PackageNotFoundError:  # pragma: no cover
        return "?"


def _validate(raw: Any) -> list[str]:
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    try:
        validate(raw)
    except OpenAPIValidationError as error:
        where = format_path(tuple(getattr(error, "absolute_path", ()) or ()))
        message = str(getattr(error, "message", error)).splitlines()[0]
        return [f"{message}{f' (at {where})' if where else ''}"]
    except Exception as error:
        return [str(error).splitlines()[0] if str(error) else type(error).__name__]
    return []


def iter_document_problems(document: OpenApiDocument,
                           positions: Positions) -> Iterator[Problem]:
    from mbtspec.spec.conformance import iter_unreadable_patterns

    seen: set[str] = set()
    for where, pattern, why in iter_unreadable_patterns(document.operations):
        if pattern in seen:
            continue
        seen.add(pattern)
        shown = pattern if len(pattern) <= 60 else pattern[:57] + "..."
        yield positions.problem(
            ("openapi",), "openapi-not-valid",
            f"{document.file.name}: the pattern '{shown}' ({where}) {why}; mbtspec does not "
            "check values against it (and cannot draw values for it): write it in Python's "
            "regular-expression syntax", severity="warning")
    for fault in document_faults(document):
        yield positions.problem(
            ("openapi",), "openapi-not-valid",
            f"{document.file.name} is not valid OpenAPI {document.version}: {fault}; mbtspec "
            "reads it anyway, but fix the document so that tools agree on it",
            severity="warning")
