"""``mbtspec init`` with ``securitySchemes``: the login (or register) action stores each
target's token and the actions that need it send it; and a named value may ``pick``."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import yaml

from mbtspec.compiler import compile_plan
from mbtspec.scaffold import scaffold_spec
from mbtspec.spec import iter_problems, lint_spec, load_spec

UPLOADS = Path(__file__).resolve().parents[1] / "apps" / "uploads_openapi.yaml"


def _scaffold(doc: Path, tmp_path: Path) -> dict[str, Any]:
    spec = tmp_path / "spec.yaml"
    spec.write_text(scaffold_spec(doc, spec))
    assert [p.format() for p in lint_spec(spec) if p.severity == "error"] == []
    data: dict[str, Any] = yaml.safe_load(spec.read_text())
    return data


def test_a_bearer_token_is_stored_by_the_login_and_sent_where_needed(tmp_path: Path) -> None:
    data = _scaffold(UPLOADS, tmp_path)
    assert data["generators"]["auth_token"] == {"pick": "auth_tokens"}
    assert data["generators"]["auth_header"] == "Bearer ${auth_token}"
    login = data["actions"]["login"]
    assert login["store"] == {"auth_tokens": "response.body.token"}
    assert login["mode"] == "positive"
    assert data["actions"]["whoami"]["headers"] == {"Authorization": "${auth_header}"}
    unsecured = [name for name, a in data["actions"].items() if "headers" not in a]
    assert len(unsecured) == len(data["actions"]) - 1  # (only whoami requires the token)
    plan = compile_plan(load_spec(tmp_path / "spec.yaml"))
    assert next(a for a in plan.actions if a.name == "whoami").needs == {"auth_tokens"}


CONDUIT_LIKE = """\
openapi: 3.0.3
info: {title: blog, version: "1"}
components:
  securitySchemes:
    Token:
      type: apiKey
      in: header
      name: Authorization
      description: "Send a valid JWT token as 'Token xxxxxx.yyyyyyy.zzzzzz'."
  responses:
    UserResponse:
      description: the user
      content:
        application/json:
          schema:
            type: object
            properties:
              user:
                type: object
                properties:
                  email: {type: string}
                  token: {type: string}
paths:
  /users/login:
    post:
      operationId: Login
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {email: {type: string}}}
      responses:
        "200": {$ref: "#/components/responses/UserResponse"}
  /users:
    post:
      operationId: CreateUser
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {email: {type: string}}}
      responses:
        "201": {$ref: "#/components/responses/UserResponse"}
  /user:
    get:
      operationId: GetCurrentUser
      security: [{Token: []}]
      responses:
        "200": {$ref: "#/components/responses/UserResponse"}
  /articles:
    get:
      operationId: GetArticles
      security: [{}, {Token: []}]
      responses:
        "200": {description: ok}
  /keys:
    get:
      operationId: GetKeys
      security: [{Key: []}]
      responses:
        "200": {description: ok}
"""


def test_an_api_key_header_with_its_prefix_and_a_register_first(tmp_path: Path) -> None:
    doc = tmp_path / "openapi.yaml"
    doc.write_text(CONDUIT_LIKE)
    data = _scaffold(doc, tmp_path)
    assert data["generators"]["auth_header"] == "Token ${auth_token}"
    assert data["actions"]["create_user"]["store"] == {"auth_tokens": "response.body.user.token"}
    assert "store" not in data["actions"]["login"]  # registering works after a reset
    assert data["actions"]["get_current_user"]["headers"] == {
        "Authorization": "${auth_header}"}
    assert "headers" not in data["actions"]["get_articles"]  # optional: anonymous is fine
    assert "headers" not in data["actions"]["get_keys"]  # (another scheme, not defined)


def test_without_an_operation_that_answers_a_token_nothing_is_scaffolded(
        tmp_path: Path) -> None:
    doc = tmp_path / "openapi.yaml"
    doc.write_text(CONDUIT_LIKE.replace("token: {type: string}", "name: {type: string}"))
    data = _scaffold(doc, tmp_path)
    assert not any("auth" in name for name in data.get("generators", {}))
    assert not any("headers" in a or "mode" in a for a in data["actions"].values())
    assert 'headers: {Authorization: "${env.API_KEY}"}' in (tmp_path / "spec.yaml").read_text()


def test_an_api_key_header_is_documented_by_its_scheme(tmp_path: Path) -> None:
    doc = tmp_path / "openapi.yaml"
    doc.write_text(CONDUIT_LIKE.replace("name: Authorization", "name: X-Api-Key"))
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent("""\
        version: 1
        openapi: openapi.yaml
        targets: {candidate: {base_url: "http://127.0.0.1:9"}}
        actions:
          me: {request: GetCurrentUser, headers: {X-Api-Key: k, X-Other: o}}
        """))
    assert [(p.code, p.json_path) for p in iter_problems(spec) if p.severity == "error"] == [
        ("undocumented-parameter", "actions.me.headers.X-Other")]


def test_a_generator_may_pick_and_actions_need_what_it_picks(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent("""\
        version: 1
        targets: {candidate: {base_url: "http://127.0.0.1:9"}}
        generators:
          token: {pick: tokens}
          auth: "Bearer ${token}"
          maybe: {pick: tokens, or: none}
          other: {pick: others}
        actions:
          login: {request: POST /login, store: {tokens: response.body.token}}
          me: {request: GET /me, headers: {Authorization: "${auth}"}}
          loose: {request: GET /loose, headers: {X-T: "${maybe}"}}
          shadowed: {request: GET /s, let: {auth: x}, headers: {X-A: "${auth}"}}
          stuck: {request: POST /stuck, query: {o: "${other}"}, store: {others: response.body}}
        """))
    problems = [(p.code, p.json_path) for p in iter_problems(spec) if p.severity == "error"]
    assert problems == [("unreachable-action", "actions.stuck")]
    spec.write_text(spec.read_text().replace(
        '  stuck: {request: POST /stuck, query: {o: "${other}"}, store: {others: response.body}}\n',
        "").replace("  other: {pick: others}\n", ""))
    plan = compile_plan(load_spec(spec))
    needs = {a.name: a.needs for a in plan.actions}
    assert needs == {"login": frozenset(), "me": {"tokens"}, "loose": frozenset(),
                     "shadowed": frozenset()}
