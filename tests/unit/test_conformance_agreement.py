"""The compiled validator (``jsonschema_rs``) and ``jsonschema`` agree on whether a response
body conforms, on every response schema of the OpenAPI corpus (``../shared/openapi-corpus``,
skipped where it is absent) and of the repository's examples, for bodies built from each schema
(a conforming one, and variants that break it one way each) and bodies drawn by
hypothesis-jsonschema. ``conformance`` uses the compiled one only to say "conforms"; messages
still come from ``jsonschema``, so agreement is all that must hold.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from mbtspec.spec._openapi import OpenApiLoadError, load_openapi, to_json_schema
from mbtspec.spec.conformance import _Checker, _compiled, readable_patterns

REPO = Path(__file__).resolve().parents[2]
# (shared next to the checkout: ../shared, or ../../shared from a worktree)
CORPUS = next((p / "shared" / "openapi-corpus" for p in REPO.parents
               if (p / "shared" / "openapi-corpus").is_dir()), REPO / "openapi-corpus")
EXAMPLES = sorted(REPO.glob("examples/*/openapi.yaml"))


def _documents() -> list[Any]:
    found = [pytest.param(p, id=f"examples/{p.parent.name}") for p in EXAMPLES]
    if CORPUS.is_dir():
        found += [pytest.param(p, id=p.name) for p in sorted(CORPUS.iterdir())
                  if p.suffix in (".yaml", ".json")]
    return found


def _schemas(path: Path) -> Iterator[tuple[str, Any, str]]:
    try:
        doc = load_openapi(path)
    except OpenApiLoadError:
        return  # (Swagger 2.0: mbtspec checks no responses of it)
    seen: set[int] = set()
    for op in doc.operations:
        for code, media in op.responses:
            for media_type, schema in media:
                if schema is None or id(schema) in seen:
                    continue
                seen.add(id(schema))
                converted = readable_patterns(
                    to_json_schema(schema, doc.dialect, direction="response"))
                yield f"{op.key} {code} {media_type}", converted, doc.dialect


def _instance(schema: Any, depth: int = 0) -> Any:
    """A body built from ``schema``: mostly conforming (the first enum value, every property,
    one item), not always (allOf branches and patterns are not reconciled): both answers
    occur, which is what the comparison needs."""
    if not isinstance(schema, dict) or depth > 8:
        return {}
    for key in ("const", "default", "example"):
        if key in schema:
            return copy.deepcopy(schema[key])
    if schema.get("enum"):
        return copy.deepcopy(schema["enum"][0])
    for key in ("oneOf", "anyOf", "allOf"):
        if schema.get(key):
            return _instance(schema[key][0], depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        return {name: _instance(sub, depth + 1)
                for name, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [_instance(schema.get("items", {}), depth + 1)]
    return {"string": "text", "integer": 3, "number": 2.5, "boolean": True,
            "null": None}.get(str(kind), "text")


def _variants(body: Any) -> Iterator[Any]:
    """``body`` and variants of it that each break it one way: values of the wrong type at
    the top and one level down, a property gone, an item added, big and odd numbers."""
    yield body
    yield from (None, True, 1.0, 2**70, -1, "", [], {}, [body, body])
    if isinstance(body, dict):
        for key in list(body)[:6]:
            yield {k: v for k, v in body.items() if k != key}
            for odd in (None, 1, "x", [], {}, True, 1.5):
                yield {**body, key: odd}
        yield {**body, "unexpected_property": 1}
    if isinstance(body, list) and body:
        yield [*body, "x"]
        yield [None]


def _agree(checker: _Checker, body: Any) -> tuple[bool, bool]:
    slow = not any(True for _ in checker.explain.iter_errors(body))
    return checker.fast.is_valid(body), slow


@pytest.mark.parametrize("path", _documents())
def test_compiled_and_jsonschema_agree(path: Path) -> None:
    checked = 0
    for where, schema, dialect in _schemas(path):
        checker = _Checker(schema, dialect)
        if checker.fast is None:
            continue
        for body in _variants(_instance(schema)):
            fast, slow = _agree(checker, body)
            assert fast == slow, f"{path.name}: {where}: they disagree on {body!r}"
            checked += 1
    if path in EXAMPLES:
        assert checked > 0


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_agree_on_drawn_bodies(path: Path) -> None:
    checkers = [(_Checker(schema, dialect), schema) for _, schema, dialect in _schemas(path)]
    checkers = [(c, s) for c, s in checkers if c.fast is not None]
    assert checkers

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck),
              database=None)
    @given(st.data())
    def agree(data: st.DataObject) -> None:
        checker, schema = data.draw(st.sampled_from(checkers))
        body = data.draw(st.one_of(from_schema(schema), from_schema({})))
        fast, slow = _agree(checker, body)
        assert fast == slow, f"they disagree on {body!r}"

    agree()


def test_messages_come_from_jsonschema() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "maximum": 10}}}
    checker = _Checker(schema, "openapi-3.1")
    assert checker.fast is not None
    assert list(checker.iter_errors({"n": 10})) == []
    assert [e.message for e in checker.iter_errors({"n": 2**70})] == [
        "1180591620717411303424 is greater than the maximum of 10"]


def test_patterns_are_read_as_python_reads_them() -> None:
    # Python's "$" matches before a final newline, Rust's does not: Python's decides
    schema = {"type": "object", "properties": {
        "code": {"type": "string", "pattern": "^a$"},
        "pattern": {"type": "integer"},  # a property named "pattern" is not the keyword
    }}
    checker = _Checker(schema, "openapi-3.1")
    assert checker.fast is not None
    assert checker.fast.is_valid({"code": "a\n", "pattern": 1})
    assert not checker.fast.is_valid({"code": "b"})
    assert not checker.fast.is_valid({"pattern": "x"})
    assert [e.message for e in checker.iter_errors({"code": "b"})] == [
        "'b' does not match '^a$'"]


def test_pattern_properties_are_left_to_jsonschema() -> None:
    schema = {"type": "object", "patternProperties": {"^a$": {"type": "integer"}}}
    assert _compiled(schema, "openapi-3.1") is None
    assert list(_Checker(schema, "openapi-3.1").iter_errors({"a\n": "x"}))


def test_a_value_the_compiled_validator_cannot_read_goes_to_jsonschema() -> None:
    import datetime

    checker = _Checker({"type": "string"}, "openapi-3.1")
    assert [e.message for e in checker.iter_errors(datetime.date(2020, 1, 1))] == [
        "datetime.date(2020, 1, 1) is not of type 'string'"]
