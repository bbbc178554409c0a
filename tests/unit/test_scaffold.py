"""``mbtspec init``: the scaffolded spec lints clean, and ids are wired from the operations that
create them to the operations that take them as path parameters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mbtspec.compiler import compile_plan
from mbtspec.errors import UsageError
from mbtspec.scaffold import _cel_string, _quote, _scalar, scaffold_spec
from mbtspec.spec import lint_spec, load_spec

REPO = Path(__file__).resolve().parents[2]


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _scaffold(doc: Path, spec: Path) -> dict[str, Any]:
    """Scaffold ``doc`` into ``spec``, check that it lints without errors, return its data."""
    spec.parent.mkdir(parents=True, exist_ok=True)
    text = scaffold_spec(doc, spec)
    spec.write_text(text, encoding="utf-8")
    errors = [p.format() for p in lint_spec(spec) if p.severity == "error"]
    assert errors == [], text
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def _action(data: dict[str, Any], request: str) -> dict[str, Any]:
    found = [a for a in data["actions"].values() if a["request"] == request]
    assert len(found) == 1, f"{request}: {list(data['actions'])}"
    return dict(found[0])


PETS = """\
openapi: 3.0.3
info: {title: Pets, version: "1.0"}
paths:
  /pets:
    get:
      operationId: listPets
      summary: List all pets
      responses: {"200": {description: ok}}
    post:
      operationId: createPet
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object, properties: {name: {type: string}}, required: [name]}
      responses:
        "201":
          description: created
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Pet"}
  /pets/{petId}:
    parameters:
      - name: petId
        in: path
        required: true
        schema: {type: integer, format: int64, minimum: 0, exclusiveMinimum: true}
    get:
      operationId: showPetById
      responses: {"200": {description: ok}}
    delete:
      operationId: deletePet
      responses: {"204": {description: gone}}
  /pets/{petId}/toys/{toyId}:
    get:
      operationId: getToy
      parameters:
        - {name: petId, in: path, required: true, schema: {type: integer}}
        - {name: toyId, in: path, required: true, schema: {type: string}}
      responses: {"200": {description: ok}}
  /things/{thingId}:
    get:
      parameters:
        - {name: thingId, in: path, required: true, schema: {type: string, format: uuid}}
      responses: {"200": {description: ok}}
  /things:
    post:
      responses: {"201": {description: created, no schema}}
components:
  schemas:
    Pet:
      type: object
      properties:
        id: {type: integer, readOnly: true}
        name: {type: string}
"""


# --------------------------------------------------------------------------------- the layout


def test_the_whole_spec_for_a_small_api(tmp_path: Path) -> None:
    doc = _write(tmp_path / "openapi.yaml", PETS)
    spec = tmp_path / "spec.yaml"
    text = scaffold_spec(doc, spec)
    lines = text.splitlines()
    assert lines[0] == "# yaml-language-server: $schema=mbtspec.schema.json"
    assert "mbtspec schema > mbtspec.schema.json" in lines[1]
    data = _scaffold(doc, spec)
    assert data["version"] == 1
    assert data["openapi"] == "openapi.yaml"
    assert data["targets"] == {"model": {"base_url": "http://127.0.0.1:8000"},
                               "candidate": {"base_url": "http://127.0.0.1:8000"}}
    assert "# or in-process (ASGI/WSGI):   app: " in text
    assert "command: [" in text
    assert data["reset"] == [{"request": "POST /__reset"}]
    assert data["compare"] == {"status": "exact", "body": "exact"}
    assert "# ignore: [" in text
    assert data["invariants"] == [
        {"name": "no server errors", "check": "candidate.status < 500"},
        {"name": "documented responses", "check": "conforms_to_openapi(candidate)"},
    ]
    assert data["run"] == {"sequences": 100, "steps": 20}
    # one action per operation, sorted by path then method; nothing but what is needed
    assert [a["request"] for a in data["actions"].values()] == [
        "GET /pets", "POST /pets", "GET /pets/{petId}", "DELETE /pets/{petId}",
        "GET /pets/{petId}/toys/{toyId}", "POST /things", "GET /things/{thingId}",
    ]
    for action in data["actions"].values():
        assert set(action) <= {"request", "path", "store"}


def test_the_spec_compiles_for_a_run(tmp_path: Path) -> None:
    """Beyond lint: the generators' schemas are usable (OpenAPI 3.0's boolean
    exclusiveMinimum is turned into JSON Schema's number)."""
    doc = _write(tmp_path / "openapi.yaml", PETS)
    data = _scaffold(doc, tmp_path / "spec.yaml")
    assert data["generators"]["petId"] == {
        "schema": {"type": "integer", "format": "int64", "exclusiveMinimum": 0}}
    plan = compile_plan(load_spec(tmp_path / "spec.yaml"), environ={})
    assert len(plan.actions) == len(data["actions"])


# --------------------------------------------------------------------------------- the wiring


def test_name_matching_wires_post_on_the_collection_to_the_id(tmp_path: Path) -> None:
    doc = _write(tmp_path / "openapi.yaml", PETS)
    data = _scaffold(doc, tmp_path / "spec.yaml")
    assert _action(data, "POST /pets")["store"] == {"pet_id": "response.body.id"}
    picked = {"pick": "pet_id", "or": "petId"}
    assert _action(data, "GET /pets/{petId}")["path"] == {"petId": picked}
    assert _action(data, "DELETE /pets/{petId}")["path"] == {"petId": picked}
    # a nested path takes the pet too; nothing creates toys: the engine draws toyId itself
    toy = _action(data, "GET /pets/{petId}/toys/{toyId}")
    assert toy["path"] == {"petId": {"pick": "pet_id", "or": "petId_2"}}
    assert data["generators"]["petId_2"] == {"schema": {"type": "integer"}}
    # POST /things documents no response body: nothing to store, nothing to pick
    assert "store" not in _action(data, "POST /things")
    assert "path" not in _action(data, "GET /things/{thingId}")


def test_name_matching_by_exact_name_and_inside_a_wrapper(tmp_path: Path) -> None:
    doc = _write(tmp_path / "openapi.yaml", """\
        openapi: 3.1.0
        info: {title: Blog, version: "1"}
        paths:
          /users:
            post:
              responses:
                "201":
                  description: created
                  content:
                    application/json:
                      schema:
                        allOf:
                          - type: object
                            properties: {username: {type: string}}
          /users/{username}:
            get:
              parameters:
                - {name: username, in: path, required: true, schema: {type: string}}
              responses: {"200": {description: ok}}
          /articles:
            post:
              responses:
                "201":
                  description: created
                  content:
                    application/json:
                      schema:
                        type: object
                        properties:
                          article: {type: object, properties: {slug: {type: string}}}
          /articles/{slug}:
            put:
              parameters:
                - {name: slug, in: path, required: true, schema: {type: string, minLength: 1}}
              responses: {"200": {description: ok}}
        """)
    data = _scaffold(doc, tmp_path / "spec.yaml")
    assert _action(data, "POST /users")["store"] == {"username": "response.body.username"}
    assert _action(data, "GET /users/{username}")["path"] == {
        "username": {"pick": "username", "or": "username"}}
    assert _action(data, "POST /articles")["store"] == {
        "article_slug": "response.body.article.slug"}
    assert _action(data, "PUT /articles/{slug}")["path"] == {
        "slug": {"pick": "article_slug", "or": "slug"}}
    assert data["generators"]["slug"] == {"schema": {"type": "string", "minLength": 1}}


def test_name_matching_with_the_collection_prefix_and_wrapped_lists(tmp_path: Path) -> None:
    doc = _write(tmp_path / "openapi.yaml", """\
        openapi: 3.0.3
        info: {title: Wrapped, version: "1"}
        paths:
          /Services:
            post:
              responses:
                "201":
                  description: created
                  content:
                    application/json:
                      schema: {type: object, properties: {sid: {type: string}}}
          /Services/{ServiceSid}:
            get:
              parameters:
                - {name: ServiceSid, in: path, required: true, schema: {type: string}}
              responses: {"200": {description: ok}}
          /Accounts:
            put:
              responses:
                "200":
                  description: created
                  content:
                    application/json:
                      schema:
                        type: object
                        properties:
                          Accounts:
                            type: array
                            items: {type: object, properties: {AccountID: {type: string}}}
          /Accounts/{AccountID}:
            get:
              parameters:
                - {name: AccountID, in: path, required: true, schema: {type: string}}
              responses: {"200": {description: ok}}
        """)
    data = _scaffold(doc, tmp_path / "spec.yaml")
    assert _action(data, "POST /Services")["store"] == {"service_sid": "response.body.sid"}
    assert _action(data, "PUT /Accounts")["store"] == {
        "account_id": "response.body.Accounts[0].AccountID"}
    assert _action(data, "GET /Accounts/{AccountID}")["path"] == {
        "AccountID": {"pick": "account_id", "or": "AccountID"}}


def test_a_path_item_in_another_file(tmp_path: Path) -> None:
    """A path item $ref'd from another file keeps that file's own '#/...' refs: the loader sees
    the parameter (and its schema), so the scaffold needs no placeholder for it."""
    _write(tmp_path / "paths" / "pet.yaml", """\
        get:
          parameters:
            - $ref: "#/components/parameters/PetId"
          responses: {"200": {description: ok}}
        components:
          parameters:
            PetId: {name: petId, in: path, required: true, schema: {type: integer}}
        """)
    doc = _write(tmp_path / "openapi.yaml", """\
        openapi: 3.0.3
        info: {title: Split, version: "1"}
        paths:
          /pets/{petId}:
            $ref: "paths/pet.yaml"
        """)
    from mbtspec.spec._openapi import load_openapi

    operation = load_openapi(doc).find("GET /pets/{petId}")
    assert operation is not None
    param = operation.parameter("path", "petId")
    assert param is not None and param.schema == {"type": "integer"}
    data = _scaffold(doc, tmp_path / "spec.yaml")
    assert "path" not in _action(data, "GET /pets/{petId}")  # drawn from the schema


LINKS = """\
openapi: 3.0.3
info: {title: Users, version: "1"}
servers:
  - url: https://{region}.example.com/v2
    variables: {region: {default: eu}}
paths:
  /users:
    post:
      operationId: createUser
      responses:
        "201":
          description: created
          content:
            application/json:
              schema:
                type: object
                properties:
                  id: {type: integer}
                  data: {type: object, properties: {uid: {type: string}}}
          links:
            GetUser:
              operationId: getUser
              parameters: {userId: "$response.body#/data/uid"}
            Avatar:
              $ref: "#/components/links/Avatar"
            FromTheRequest:
              operationId: getUser
              parameters: {userId: "$request.body#/id"}
  /users/{userId}:
    get:
      operationId: getUser
      parameters:
        - {name: userId, in: path, required: true, schema: {type: string}}
      responses: {"200": {description: ok}}
    delete:
      operationId: deleteUser
      parameters:
        - {name: userId, in: path, required: true, schema: {type: string}}
      responses: {"204": {description: ok}}
  /avatars/{avatar-key}:
    get:
      parameters:
        - {name: avatar-key, in: path, required: true, schema: {type: string}}
      responses: {"200": {description: ok}}
components:
  links:
    Avatar:
      operationRef: "#/paths/~1avatars~1{avatar-key}/get"
      parameters: {path.avatar-key: "$response.body#/data/0/in"}
"""


def test_links_come_first_and_wire_the_whole_resource(tmp_path: Path) -> None:
    doc = _write(tmp_path / "openapi.yaml", LINKS)
    data = _scaffold(doc, tmp_path / "spec.yaml")
    # the link says data.uid (name matching would have said id); the $request link is ignored
    assert _action(data, "POST /users")["store"] == {
        "user_id": "response.body.data.uid",
        "avatar_key": 'response.body.data[0]["in"]',  # 'in' is a CEL keyword
    }
    assert data["actions"]["get_user"]["path"] == {"userId": {"pick": "user_id", "or": "userId"}}
    # no link names DELETE /users/{userId}, but it takes the same resource
    assert data["actions"]["delete_user"]["path"] == {
        "userId": {"pick": "user_id", "or": "userId"}}
    assert _action(data, "GET /avatars/{avatar-key}")["path"] == {
        "avatar-key": {"pick": "avatar_key", "or": "avatar_key"}}
    assert data["generators"]["avatar_key"] == {"schema": {"type": "string"}}
    # the first server, its variables replaced by their defaults
    assert data["targets"]["model"] == {"base_url": "https://eu.example.com/v2"}


# --------------------------------------------------------------------------------- names


def test_action_names_from_operation_ids_deduplicated(tmp_path: Path) -> None:
    doc = _write(tmp_path / "openapi.yaml", """\
        openapi: 3.0.3
        info: {title: Names, version: "1"}
        paths:
          /a:
            get: {operationId: getHTTPResponse, responses: {"200": {description: ok}}}
            post: {operationId: get_http_response, responses: {"200": {description: ok}}}
            put: {operationId: getHttpResponse, responses: {"200": {description: ok}}}
            delete: {operationId: 123, responses: {"200": {description: ok}}}
            patch: {operationId: "42go", responses: {"200": {description: ok}}}
          /b/{bId}/c-d:
            get: {responses: {"200": {description: ok}}}
          /:
            get: {responses: {"200": {description: ok}}}
        """)
    data = _scaffold(doc, tmp_path / "spec.yaml")
    names = {a["request"]: name for name, a in data["actions"].items()}
    assert names == {
        "GET /": "get_root",
        "GET /a": "get_http_response",
        "POST /a": "get_http_response_2",
        "PUT /a": "get_http_response_3",
        "PATCH /a": "patch_a",  # "42go" does not make a name
        "DELETE /a": "delete_a",  # not a string: no operationId for the loader either
        "GET /b/{bId}/c-d": "get_b_by_b_id_c_d",
    }


WEIRD = """\
{
  "openapi": "3.0.3",
  "info": {"title": "We\\u00efrd: \\"quotes\\" # and\\nnewlines", "version": "1"},
  "servers": [{"url": "/api/v3/"}],
  "paths": {
    "/caf\\u00e9/{id}": {"get": {"operationId": "caf\\u00e9#1: \\"r\\u00e9sum\\u00e9\\"",
      "summary": "line one\\nline two \\u2028 # not a key: x",
      "parameters": [{"name": "id", "in": "path", "required": true,
                      "schema": {"type": "string", "pattern": "^[a-z]+$",
                                 "description": "dropped", "enum": ["yes", "no", "on"]}}],
      "responses": {"200": {"description": "ok"}}}},
    "/caf\\u00e9": {"post": {"operationId": "a:b",
      "responses": {"201": {"description": "ok", "content": {"application/json": {"schema": {
        "type": "object", "properties": {"id": {"type": "string"}}}}}}}}},
    "/hash#tag/{x:y}": {"get": {"operationId": "'single' \\"double\\"",
      "responses": {"200": {"description": "ok"}}}},
    "/with space/{true}": {"get": {
      "parameters": [{"name": "true", "in": "path", "required": true,
                      "schema": {"type": "boolean"}}],
      "responses": {"200": {"description": "ok"}}}},
    "/\\u65e5\\u672c/{\\u540d}": {"delete": {"operationId": "\\u524a\\u9664",
      "responses": {"204": {"description": "ok"}}}},
    "relative/{x}": {"get": {"operationId": "relativeOne",
      "responses": {"200": {"description": "ok"}}}},
    "no-slash": {"get": {"responses": {"200": {"description": "ok"}}}}
  }
}
"""


def test_weird_operation_ids_paths_and_names_are_quoted(tmp_path: Path) -> None:
    doc = _write(tmp_path / "weird api.json", WEIRD)
    spec = tmp_path / "spec.yaml"
    data = _scaffold(doc, spec)
    assert data["openapi"] == "weird api.json"
    assert data["targets"]["candidate"] == {"base_url": "http://127.0.0.1:8000/api/v3"}
    actions = data["actions"]
    assert actions["cafe_1_resume"]["request"] == "GET /café/{id}"
    assert actions["cafe_1_resume"]["path"] == {"id": {"pick": "cafe_id", "or": "id"}}
    assert actions["a_b"] == {"request": "POST /café", "store": {"cafe_id": "response.body.id"}}
    assert actions["single_double"]["request"] == "GET /hash#tag/{x:y}"
    # placeholders that the document does not describe get a generator to adjust
    assert actions["single_double"]["path"] == {"x:y": "${x_y}"}
    assert data["generators"]["x_y"] == {
        "string": {"alphabet": "alphanumeric", "min_size": 1, "max_size": 12}}
    assert actions["get_with_space_by_true"]["request"] == "GET /with space/{true}"
    assert actions["delete_operation"]["request"] == "DELETE /日本/{名}"
    assert actions["delete_operation"]["path"] == {"名": "${param}"}
    # a path without its leading '/' is named by its operationId; without one it is left out
    assert actions["relative_one"]["request"] == "relativeOne"
    assert "no-slash" in spec.read_text()
    assert "no-slash" not in json.dumps(actions)
    # the schema's enum keeps its strings (not YAML 1.1 booleans); annotations are dropped
    assert data["generators"]["id"] == {
        "schema": {"type": "string", "pattern": "^[a-z]+$", "enum": ["yes", "no", "on"]}}
    # comments stay on one line each
    text = spec.read_text()
    assert "\u2028" not in text
    assert "# GET /café/{id} - line one line two # not a key: x" in text


def test_relative_openapi_path_from_a_sub_folder(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    doc = _write(tmp_path / "api" / "openapi.yaml", PETS)
    data = _scaffold(doc, tmp_path / "specs" / "pets" / "spec.yaml")
    assert data["openapi"] == "../../api/openapi.yaml"
    monkeypatch.chdir(tmp_path / "specs")
    text = scaffold_spec(Path("../api/openapi.yaml"), None)  # printed: relative to here
    assert yaml.safe_load(text)["openapi"] == "../api/openapi.yaml"
    assert _scaffold(Path("../api/openapi.yaml"), Path("spec.yaml"))["openapi"] == \
        "../api/openapi.yaml"


# --------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("name", "content", "words"), [
    ("swagger.yaml", 'swagger: "2.0"\ninfo: {title: t, version: "1"}\npaths: {}\n',
     ["Swagger 2.0", "convert it", "OpenAPI 3"]),
    ("garbage.yaml", "openapi: [3.0\n  : {{{\n", ["invalid YAML", "line 2"]),
    ("garbage.json", "{not json", ["invalid JSON", "line 1"]),
    ("text.yaml", "just some words\n", ["not an OpenAPI document", "top level"]),
    ("binary.yaml", "\x00\x01\x02", ["invalid YAML"]),
    ("four.yaml", "openapi: 4.0.0\ninfo: {title: t, version: '1'}\npaths: {}\n",
     ["OpenAPI 4.0.0 is not supported", "3.0 and 3.1"]),
    ("empty.yaml", "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n",
     ["documents no operation"]),
    ("no-version.yaml", "info: {title: t}\npaths: {}\n", ["no 'openapi' version field"]),
])
def test_unusable_documents_raise_a_usage_error(tmp_path: Path, name: str, content: str,
                                                words: list[str]) -> None:
    doc = tmp_path / name
    doc.write_text(content, encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        scaffold_spec(doc, None)
    message = str(caught.value)
    assert str(doc) in message
    for word in words:
        assert word in message


def test_no_operation_that_a_spec_can_name(tmp_path: Path) -> None:
    doc = _write(tmp_path / "openapi.yaml", """\
        openapi: 3.0.3
        info: {title: Bad paths, version: "1"}
        paths:
          "pets": {get: {responses: {"200": {description: ok}}}}
          "things/{id}": {get: {operationId: "get thing", responses: {"200": {description: ok}}}}
        """)
    with pytest.raises(UsageError, match="no operation can be named.*start with '/'"):
        scaffold_spec(doc, None)


def test_missing_files_and_bad_outputs(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="file not found.*check the path"):
        scaffold_spec(tmp_path / "nope.yaml", None)
    with pytest.raises(UsageError, match="is a directory"):
        scaffold_spec(tmp_path, None)
    doc = _write(tmp_path / "openapi.yaml", PETS)
    with pytest.raises(UsageError, match="the OpenAPI document itself"):
        scaffold_spec(doc, doc)
    with pytest.raises(UsageError, match="does not exist; create it first"):
        scaffold_spec(doc, tmp_path / "missing" / "spec.yaml")
    with pytest.raises(UsageError, match="is a directory"):
        scaffold_spec(doc, tmp_path)


def test_the_command_line(tmp_path: Path) -> None:
    _write(tmp_path / "openapi.yaml", PETS)
    swagger = _write(tmp_path / "swagger.json", '{"swagger": "2.0", "paths": {}}')

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "mbtspec.cli", "init", *args],
                              cwd=tmp_path, capture_output=True, text=True, check=False,
                              env={**os.environ, "PYTHONPATH": str(REPO)})

    done = run("openapi.yaml", "-o", "spec.yaml")
    assert done.returncode == 0, done.stderr
    assert [p for p in lint_spec(tmp_path / "spec.yaml") if p.severity == "error"] == []
    printed = run("openapi.yaml")
    assert printed.returncode == 0
    assert printed.stdout == (tmp_path / "spec.yaml").read_text()
    failed = run(str(swagger))
    assert failed.returncode == 2
    assert "Swagger 2.0" in failed.stderr
    assert "Traceback" not in failed.stderr


# --------------------------------------------------------------------------------- quoting


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_quoted_scalars_read_back_as_written(text: str) -> None:
    for written in (_quote(text), _scalar(text)):
        assert yaml.safe_load(f"key: {written}") == {"key": text}
    assert yaml.safe_load(f"[{_scalar(text, flow=True)}]") == [text]


@pytest.mark.parametrize("text", [
    "yes", "No", "on", "null", "~", "1e3", "0x1F", "2024-01-01", ".inf", "a: b", "a #b", "#x",
    "- x", "{a}", "[a]", "&x", "*x", "!x", "|", ">", "'q'", '"q"', "", " x", "x ", "\u2028",
    "\ufeff", "\x85", "\U0001F600", "GET /pets/{petId}", "../a b/c.yaml",
])
def test_tricky_scalars(text: str) -> None:
    assert yaml.safe_load(f"key: {_scalar(text)}") == {"key": text}


def test_cel_strings() -> None:
    import cel

    context = cel.Context()
    for text in ['a"b', "back\\slash", "new\nline", "é", "\U0001F600", "\x00"]:
        context.add_variable("response", {"body": {text: 7}})
        assert cel.compile(f"response.body[{_cel_string(text)}]").execute(context) == 7
