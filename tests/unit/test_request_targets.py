"""Where a request goes and what each target gets: a stored URL or path as the whole request
target (``url``), and per-target overrides (``targets:`` in an action)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mbtspec.compiler import NO_BODY, PerTarget, RequestDraft, compile_plan
from mbtspec.executor._http import address, build_request
from mbtspec.spec import iter_problems, load_spec

UPLOADS = Path(__file__).resolve().parents[1] / "apps" / "uploads_openapi.yaml"


@pytest.mark.parametrize(("stored", "base", "url", "path"), [
    ("/files/3", "http://127.0.0.1:8001", "http://127.0.0.1:8001/files/3", "/files/3"),
    ("/files/a%2Fb?x=1", "http://h:1", "http://h:1/files/a%2Fb?x=1", "/files/a%2Fb?x=1"),
    ("/api/files/3", "http://h:1/api", "http://h:1/api/files/3", "/files/3"),
    ("files/3", "http://h:1/api/", "http://h:1/api/files/3", "/files/3"),
    ("http://h:1/v2/files/3", "http://h:1", "http://h:1/v2/files/3", "/v2/files/3"),
    ("HTTP://H:1/x", "http://h:1", "http://H:1/x", "/x"),
    ("http://h/x", "http://h:80", "http://h/x", "/x"),
    ("/a b", "http://h:1", "http://h:1/a%20b", "/a%20b"),
])
def test_a_stored_url_or_path_is_sent_as_it_is(stored: str, base: str, url: str,
                                               path: str) -> None:
    assert address(stored, base) == (url, path, "")


@pytest.mark.parametrize("stored", ["http://example.com/files/1", "https://h:1/x",
                                    "http://h:2/x", "//other/x"])
def test_a_url_on_another_origin_is_refused(stored: str) -> None:
    url, _, refused = address(stored, "http://h:1")
    assert refused == f"not sent: {url} is not on the target's origin"


def test_what_is_not_a_url_is_refused_too() -> None:
    assert address("http://[::1", "http://h:1") == (
        "http://[::1", "http://[::1", "not sent: 'http://[::1' is not a URL (Invalid IPv6 URL)")
    assert address("/files/1#part", "http://h:1") == ("http://h:1/files/1", "/files/1", "")


def _draft(**changes: object) -> RequestDraft:
    draft = RequestDraft("GET", "/files/{id}", {"id": 1}, [("limit", 2), ("sort", "a")],
                         {"X-A": "1"}, NO_BODY, None)
    return RequestDraft(**{**draft.__dict__, **changes})  # type: ignore[arg-type]


def test_each_target_gets_its_url_and_its_overrides() -> None:
    draft = _draft(url=PerTarget((("model", "/files/5"), ("candidate", "http://h:2/v2/f/5"))),
                   overrides={"candidate": {"query": (("limit", None), ("page_size", 2)),
                                            "headers": (("x-a", None), ("X-B", "2"))}})
    model = build_request(draft, "model", "http://h:1", {})
    candidate = build_request(draft, "candidate", "http://h:2", {"X-T": "t"})
    assert (model.url, model.headers) == ("http://h:1/files/5?limit=2&sort=a", (("X-A", "1"),))
    assert candidate.url == "http://h:2/v2/f/5?sort=a&page_size=2"
    assert candidate.headers == (("X-T", "t"), ("X-B", "2"))
    assert not model.refused and not candidate.refused


def test_an_override_replaces_a_parameter_where_it_stood_and_the_body() -> None:
    draft = _draft(body={"a": 1}, overrides={"model": {"query": (("limit", 9),),
                                                        "path": (("id", "x/y"),),
                                                        "body": None}})
    request = build_request(draft, "model", "http://h:1", {})
    assert request.path == "/files/x%2Fy?limit=9&sort=a"
    assert request.content == b"null"


def _spec(tmp_path: Path, actions: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(f"version: 1\nopenapi: {UPLOADS}\ntargets:\n"
                    "  model: {app: \"tests.apps.uploads:model\"}\n"
                    "  candidate: {app: \"tests.apps.uploads:candidate\"}\n"
                    "reset: [{request: POST /__reset}]\nactions:\n"
                    "  upload: {request: uploadFile, store: {at: response.headers.location}}\n"
                    + actions)
    return path


def _errors(path: Path) -> list[str]:
    return [f"{p.line}:{p.column} {p.code} "
            f"{p.json_path}: {p.message}" for p in iter_problems(path) if p.severity == "error"]


def test_url_replaces_the_path_and_needs_what_it_picks(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "  get: {request: getFile, url: {pick: at}}\n"
                           "  delete: {request: deleteFile, url: {pick: ats}}\n")
    assert _errors(spec) == [
        "10:45 unstored-variable actions.delete.url.pick: nothing stores 'ats' (did you mean "
        "'at'?); add 'store: {ats: response.body...}' to the action that creates it"]
    plan = compile_plan(load_spec(_spec(tmp_path, "  get: {request: getFile, url: {pick: at}}\n")))
    get = plan.actions[1]
    assert get.needs == {"at"} and get.path_params == ()


def test_overrides_are_checked_like_the_actions_values(tmp_path: Path) -> None:
    spec = _spec(tmp_path, """\
  list:
    request: listFiles
    query: {limit: 1}
    targets:
      candidate: {query: {limit: null, page_size: "${size}"}, headers: {X-V: "a\\nb"}}
      modle: {query: {limit: 2}}
""")
    assert _errors(spec) == [
        "14:7 unknown-key actions.list.targets.modle: unknown key 'modle' (did you mean "
        "'model'?)"]
    spec.write_text(spec.read_text().replace("      modle: {query: {limit: 2}}\n", ""))
    assert _errors(spec) == [
        "13:52 unknown-generator actions.list.targets.candidate.query.page_size: no generator "
        "'size'; define it under 'generators:' (or in this action's 'let:')",
        "13:80 invalid-header actions.list.targets.candidate.headers.X-V: the value holds a "
        "line break (CR or LF), which would end this header and start another (header "
        "injection); remove it"]


def test_path_values_beside_a_url_are_a_problem(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "  get: {request: getFile, url: {pick: at}, path: {id: 1}}\n")
    assert _errors(spec) == [
        "9:51 unknown-parameter actions.get.path.id: 'id' is not used: the action's 'url' is "
        "the whole request target, so no path parameter is filled in; remove it from 'path'"]
