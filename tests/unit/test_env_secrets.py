"""Which environment values are secrets, and headers that cannot carry them (compile time)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mbtspec.compiler import compile_plan
from mbtspec.errors import SpecError
from mbtspec.spec import load_spec

SPEC = """\
version: 1
targets:
  model:
    base_url: http://127.0.0.1:1
    headers: {Authorization: "Bearer ${env.TOKEN}"}
  candidate:
    base_url: http://127.0.0.1:2
    reset:
      - request: POST /reset
        headers: {X-Reset: "${env.RESET_KEY}"}
        body: {key: "${env.RESET_BODY}", more: ["${env.RESET_LIST}"]}
reset:
  - request: POST /reset
generators:
  key: "k-${env.GENERATED}"
actions:
  call:
    request: GET /x/{id}
    path: {id: "${env.IN_PATH}"}
    query: {q: "${env.IN_QUERY}"}
    headers: {X-Key: "${key}", X-Other: "${env.OTHER:-none}"}
    body: {b: "${env.IN_BODY}"}
"""
ENV = {name: f"{name.lower()}-value" for name in (
    "TOKEN", "RESET_KEY", "RESET_BODY", "RESET_LIST", "GENERATED", "IN_PATH", "IN_QUERY",
    "IN_BODY")}


def compile_with(tmp_path: Path, environ: dict[str, str], text: str = SPEC) -> object:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return compile_plan(load_spec(path), environ=environ)


def test_every_environment_value_a_request_may_carry_is_a_secret(tmp_path: Path) -> None:
    plan = compile_with(tmp_path, {**ENV, "SHORT": "abc"})
    assert plan.secrets == frozenset(ENV.values())  # type: ignore[attr-defined]


@pytest.mark.parametrize("name, value, where, what", [
    ("TOKEN", "tok\n", "targets.model.headers.Authorization", "a line break (CR or LF)"),
    ("TOKEN", "tok\x00en", "targets.model.headers.Authorization", "a NUL character"),
    ("TOKEN", "tok\ten", None, None),  # a tab is allowed inside a value
    ("RESET_KEY", "a\rb", "targets.candidate.reset[0].headers.X-Reset",
     "a line break (CR or LF)"),
    ("GENERATED", "x\x1by", "actions.call.headers.X-Key", "a control character (U+001B)"),
    ("OTHER", "naïve", "actions.call.headers.X-Other", "a character outside ASCII"),
    ("IN_QUERY", "a\nb", None, None),  # a query, a path or a body can carry anything
    ("IN_BODY", "a\x00b", None, None),
])
def test_a_header_that_cannot_carry_its_environment_value_is_a_problem(
        tmp_path: Path, name: str, value: str, where: str | None, what: str | None) -> None:
    environ = {**ENV, name: value}
    if where is None:
        compile_with(tmp_path, environ)
        return
    with pytest.raises(SpecError) as raised:
        compile_with(tmp_path, environ)
    [problem] = raised.value.problems
    assert (problem.code, problem.json_path) == ("invalid-environment-value", where)
    assert problem.message.startswith(f"environment variable {name} holds {what}, which an "
                                      "HTTP header cannot carry (its value is a secret and is "
                                      "not shown)")
    assert value not in problem.format() and value.strip() not in problem.format()
    assert problem.line > 1


def test_spaces_at_the_ends_of_a_header_are_a_problem_inside_are_not(tmp_path: Path) -> None:
    compile_with(tmp_path, {**ENV, "TOKEN": "to ken"})
    with pytest.raises(SpecError) as raised:
        compile_with(tmp_path, {**ENV, "OTHER": " padded"})
    [problem] = raised.value.problems
    assert problem.json_path == "actions.call.headers.X-Other"
    assert "the header starts or ends with a space" in problem.message


def test_a_base_url_with_a_line_break_from_the_environment_is_a_problem(tmp_path: Path) -> None:
    text = SPEC.replace("base_url: http://127.0.0.1:1", 'base_url: "http://${env.HOST}"')
    compile_with(tmp_path, {**ENV, "HOST": "127.0.0.1:1"}, text)
    with pytest.raises(SpecError) as raised:
        compile_with(tmp_path, {**ENV, "HOST": "127.0.0.1:1\n"}, text)
    [problem] = raised.value.problems
    assert (problem.code, problem.json_path) == ("invalid-environment-value",
                                                 "targets.model.base_url")
    assert problem.message.startswith("environment variable HOST holds a line break (CR or "
                                      "LF), which a URL cannot hold")
