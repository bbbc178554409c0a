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

from mbtspec.spec._openapi import OpenApiDocument
from mbtspec.spec._yaml import Positions
from mbtspec.spec.problems import Problem, format_path


def _cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mbtspec"


def document_faults(document: OpenApiDocument) -> list[str]:
    """What openapi-spec-validator finds wrong with the document (at most 5 faults)."""
    try:
        content = document.file.read_bytes()
    except OSError:
        return []
    key = hashlib.sha256(content).hexdigest()[:32]
    cached = _cache() / f"openapi-{key}.json"
    try:
        faults: list[str] = json.loads(cached.read_text(encoding="utf-8"))
        return faults
    except (OSError, ValueError):
        pass
    faults = _validate(document)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(faults), encoding="utf-8")
    except OSError:
        pass  # a read-only checkout: validate again next time
    return faults


def _validate(document: OpenApiDocument) -> list[str]:
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    try:
        validate(document.raw)
    except OpenAPIValidationError as error:
        where = format_path(tuple(getattr(error, "absolute_path", ()) or ()))
        message = str(getattr(error, "message", error)).splitlines()[0]
        return [f"{message}{f' (at {where})' if where else ''}"]
    except Exception as error:
        return [str(error).splitlines()[0] if str(error) else type(error).__name__]
    return []


def iter_document_problems(document: OpenApiDocument,
                           positions: Positions) -> Iterator[Problem]:
    for fault in document_faults(document):
        yield positions.problem(
            ("openapi",), "openapi-not-valid",
            f"{document.file.name} is not valid OpenAPI {document.version}: {fault}; mbtspec "
            "reads it anyway, but fix the document so that tools agree on it",
            severity="warning")
