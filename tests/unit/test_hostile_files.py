"""Hostile files: the loader stays bounded in time and memory, and says what is wrong.

Alias bombs, deep nesting, devices, FIFOs, directories and huge files, in the spec itself, in
its OpenAPI document and in files a ``$ref`` points to; ``$ref`` chains and fan-outs.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from mbtspec.errors import UsageError
from mbtspec.spec import lint_spec, load_spec
from mbtspec.spec._files import MAX_DOCUMENT_BYTES, MAX_SPEC_BYTES
from mbtspec.spec._openapi import MAX_SCHEMA_DEPTH, OpenApiLoadError, load_openapi

HEAD = """\
version: 1
targets:
  candidate: {base_url: "http://127.0.0.1:8080"}
"""


def bomb(levels: int) -> str:
    """A "billion laughs": each level holds ten aliases of the previous one."""
    lines = ["x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels):
        lines.append(f"x{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def spec_with_openapi(tmp_path: Path, ref: str, request: str = "GET /items") -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(f"{HEAD}openapi: {ref}\nactions:\n  a: {{request: {request}}}\n")
    return path


def errors(path: Path) -> list[tuple[int, int, str, str]]:
    return [(p.line, p.column, p.code, p.message) for p in lint_spec(path)
            if p.severity == "error"]


# --------------------------------------------------------------------------- the spec's YAML


def test_a_billion_laughs_is_refused_at_once_at_the_anchor(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(HEAD + bomb(9) + "actions:\n  a: {request: GET /items}\n")
    started = time.process_time()
    found = errors(path)
    assert time.process_time() - started < 1.0
    [(line, column, code, message)] = found
    assert code == "yaml-limit"
    # the deepest value over the budget on its own: 111,111 values, anchored as &a4 (line 8)
    assert (line, column) == (8, 5)  # at &a4
    assert message.startswith("the value anchored as &a4: aliases expand this value to 111,111")
    with pytest.raises(Exception, match="yaml-limit"):
        load_spec(path)


def test_anchors_within_the_budget_still_work(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    generators = "".join(f"  g{i}: {{one_of: {line.split(': ', 1)[1]}}}\n"
                         for i, line in enumerate(bomb(4).splitlines()))
    path.write_text(HEAD + "generators:\n" + generators + """\
actions:
  a: &defaults {request: GET /items, weight: 2}
  b: {<<: *defaults, weight: 3}
""")
    assert "yaml-limit" not in {p.code for p in lint_spec(path)}  # 1,111 values: fine
    spec = load_spec(path)
    assert [(a.name, a.weight, a.path) for a in spec.actions] == [
        ("a", 2, "/items"), ("b", 3, "/items")]
    assert len(str(dict(spec.generators)["g3"])) > 1000  # the aliases were expanded


def test_deep_nesting_is_a_problem_not_a_recursion_error(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    for depth in (150, 900):  # libyaml itself refuses 1,000 levels
        path.write_text(HEAD + "actions:\n  a:\n    request: GET /items\n    body: "
                        + "[" * depth + "]" * depth + "\n")
        [(line, _, code, message)] = errors(path)
        assert (line, code) == (7, "yaml-limit")
        assert "nested more than 100 levels deep" in message


def test_nesting_through_aliases_counts_too(tmp_path: Path) -> None:
    lines = ["x0: &a0 [1]"] + [f"x{i}: &a{i} [*a{i - 1}]" for i in range(1, 120)]
    path = tmp_path / "spec.yaml"
    path.write_text(HEAD + "\n".join(lines) + "\nactions:\n  a: {request: GET /items}\n")
    assert [e[2] for e in errors(path)] == ["yaml-limit"]


# --------------------------------------------------------------------------- what a path names


@pytest.mark.parametrize(("target", "words"), [
    ("/dev/zero", "is a device, not a regular file"),
    ("/dev/urandom", "is a device, not a regular file"),
    ("fifo", "is a FIFO (named pipe), not a regular file"),
    ("folder", "is a directory, not a file"),
    ("huge.yaml", f"is 51 MiB, more than the {MAX_DOCUMENT_BYTES // 2**20} MiB mbtspec reads"),
])
def test_openapi_must_be_a_regular_file_of_bounded_size(tmp_path: Path, target: str,
                                                        words: str) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "folder").mkdir()
    with open(tmp_path / "huge.yaml", "wb") as huge:  # sparse: nothing is written
        huge.truncate(51 * 2**20)
    path = spec_with_openapi(tmp_path, target)
    started = time.process_time()
    [(line, column, code, message)] = errors(path)
    assert time.process_time() - started < 2.0
    assert (line, column, code) == (4, 10, "openapi-invalid")  # at the openapi: value
    assert words in message


@pytest.mark.parametrize(("target", "words"), [
    ("/dev/zero", "is a device, not a regular file"),
    ("fifo", "is a FIFO (named pipe), not a regular file"),
    ("huge.yaml", "is 11 MiB, more than the 10 MiB mbtspec reads"),
])
def test_the_spec_file_must_be_a_regular_file_of_bounded_size(tmp_path: Path, target: str,
                                                              words: str) -> None:
    os.mkfifo(tmp_path / "fifo")
    with open(tmp_path / "huge.yaml", "wb") as huge:
        huge.truncate(MAX_SPEC_BYTES + 2**20)
    path = tmp_path / target
    with pytest.raises(UsageError, match=words.replace("(", r"\(").replace(")", r"\)")):
        lint_spec(path)
    with pytest.raises(UsageError, match="not a regular file|more than"):
        load_spec(path)


def test_a_ref_to_a_device_is_not_read(tmp_path: Path) -> None:
    doc = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/items": {
        "get": {"parameters": [{"$ref": "/dev/zero#/x"}], "responses": {"200": {
            "description": "ok", "content": {"application/json": {
                "schema": {"$ref": "/dev/urandom#/s"}}}}}}}}}
    (tmp_path / "openapi.json").write_text(json.dumps(doc))
    started = time.process_time()
    load_openapi(tmp_path / "openapi.json")  # unreadable refs count as dangling ones
    assert time.process_time() - started < 2.0


# --------------------------------------------------------------------------- OpenAPI documents


def openapi_yaml(body: str) -> str:
    return ("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /items:\n    get:\n"
            "      responses: {'200': {description: ok}}\n" + body)


def test_an_openapi_alias_bomb_is_refused(tmp_path: Path) -> None:
    (tmp_path / "openapi.yaml").write_text(openapi_yaml("x-bomb:\n" + "".join(
        "  " + line + "\n" for line in bomb(9).splitlines())))
    path = spec_with_openapi(tmp_path, "openapi.yaml")
    started = time.process_time()
    [(_, _, code, message)] = errors(path)
    assert time.process_time() - started < 1.0
    assert code == "openapi-invalid"
    assert "aliases expand this value to 111,111 values" in message
    assert message.endswith("(openapi.yaml:12:7)")  # at &a4 in the document


def test_an_openapi_alias_that_contains_itself_is_refused(tmp_path: Path) -> None:
    (tmp_path / "openapi.yaml").write_text(openapi_yaml("x-loop: &loop [1, *loop]\n"))
    [(_, _, code, message)] = errors(spec_with_openapi(tmp_path, "openapi.yaml"))
    assert code == "openapi-invalid" and "contains itself through an alias" in message


def test_a_deeply_nested_json_document_is_refused(tmp_path: Path) -> None:
    for depth in (150, 100_000):  # the second is beyond what Python's JSON reader follows
        (tmp_path / "openapi.json").write_text('{"openapi": "3.0.3", "x": '
                                               + "[" * depth + "]" * depth + "}")
        with pytest.raises(OpenApiLoadError, match="nested more than 100 levels deep"):
            load_openapi(tmp_path / "openapi.json")


def schema_doc(schemas: dict[str, object], root: str) -> dict[str, object]:
    return {"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
            "paths": {"/items": {"post": {
                "requestBody": {"content": {"application/json": {
                    "schema": {"$ref": f"#/components/schemas/{root}"}}}},
                "responses": {"200": {"description": "ok"}}}}},
            "components": {"schemas": schemas}}


def test_a_ref_fan_out_is_refused_not_walked(tmp_path: Path) -> None:
    """Ten references to a schema holding ten references ... nine levels: 10^9 values."""
    schemas: dict[str, object] = {f"S{level}": {"type": "object", "properties": {
        f"p{i}": {"$ref": f"#/components/schemas/S{level + 1}"} for i in range(10)}}
        for level in range(9)}
    schemas["S9"] = {"type": "string"}
    (tmp_path / "openapi.json").write_text(json.dumps(schema_doc(schemas, "S0")))
    started = time.process_time()
    with pytest.raises(OpenApiLoadError, match="the schema of a request body grows to more"):
        load_openapi(tmp_path / "openapi.json")
    assert time.process_time() - started < 2.0


def test_a_long_ref_chain_is_cut_not_a_recursion_error(tmp_path: Path) -> None:
    schemas: dict[str, object] = {f"C{i}": {"type": "object", "properties": {
        "next": {"$ref": f"#/components/schemas/C{i + 1}"}}} for i in range(2000)}
    schemas["C2000"] = {"type": "string"}
    (tmp_path / "openapi.json").write_text(json.dumps(schema_doc(schemas, "C0")))
    [operation] = load_openapi(tmp_path / "openapi.json").operations
    depth, node = 0, operation.body_schema
    while node:
        node = node.get("properties", {}).get("next")
        depth += 1
    assert depth < MAX_SCHEMA_DEPTH  # cut: anything goes below


def test_a_long_ref_chain_lints_clean_and_compiles(tmp_path: Path) -> None:
    from mbtspec.compiler import compile_plan

    schemas: dict[str, object] = {f"C{i}": {"type": "object", "properties": {
        "next": {"$ref": f"#/components/schemas/C{i + 1}"}}} for i in range(500)}
    schemas["C500"] = {"type": "string"}
    (tmp_path / "openapi.json").write_text(json.dumps(schema_doc(schemas, "C0")))
    path = spec_with_openapi(tmp_path, "openapi.json", "POST /items")
    assert errors(path) == []  # cut where it is too deep, not refused, not a RecursionError
    plan = compile_plan(load_spec(path))
    assert plan.actions[0].body is not None


# --------------------------------------------------------------------------- mbtspec init


@pytest.mark.parametrize("make", ["/dev/zero", "bomb", "folder"])
def test_init_refuses_hostile_documents_at_once(tmp_path: Path, make: str) -> None:
    from mbtspec.scaffold import scaffold_spec

    if make == "bomb":
        source = tmp_path / "openapi.yaml"
        source.write_text(openapi_yaml("x-bomb:\n" + "".join(
            "  " + line + "\n" for line in bomb(9).splitlines())))
    elif make == "folder":
        source = tmp_path / "api"
        source.mkdir()
    else:
        source = Path(make)
    started = time.process_time()
    with pytest.raises(UsageError, match="cannot scaffold|is a directory"):
        scaffold_spec(source, None)
    assert time.process_time() - started < 1.0


def test_unreadable_response_patterns_warn_and_do_not_break_conformance(tmp_path: Path) -> None:
    from mbtspec.spec.conformance import conformance_problems

    doc = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/items": {
        "get": {"responses": {"200": {"description": "ok", "content": {"application/json": {
            "schema": {"type": "object", "properties": {
                "name": {"type": "string", "pattern": "^\\p{L}+$"},
                "code": {"type": "string", "pattern": "(" * 60 + "x" + ")" * 60},
                "size": {"type": "integer"}}}}}}}}}}}
    (tmp_path / "openapi.json").write_text(json.dumps(doc))
    path = spec_with_openapi(tmp_path, "openapi.json")
    warnings = [p.message for p in lint_spec(path) if p.code == "openapi-not-valid"]
    assert any("the pattern '^\\p{L}+$' (GET /items response 200) is not a valid regular "
               "expression" in w for w in warnings)
    assert any("nests groups 60 levels deep" in w for w in warnings)
    [operation] = load_openapi(tmp_path / "openapi.json").operations
    response = {"status": 200, "headers": {"content-type": "application/json"},
                "body": {"name": "Zoë", "code": "x", "size": "big"}}
    # the rest of the schema is still checked; the unreadable patterns are not
    assert conformance_problems(operation, "openapi-3.0", response) == [
        "body.size: 'big' is not of type 'integer'"]
