"""Response paths (``compare.ignore``/``unordered``), building the request a target receives,
and the per-target values of the run's state."""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mbtspec.compiler import NO_BODY, PerTarget, RequestDraft, State, resolve, text_of
from mbtspec.executor._http import build_request
from mbtspec.executor.records import Request, Response
from mbtspec.spec._paths import PathSyntaxError, matches, parse_path

SETTINGS = settings(database=None, max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- parse_path


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("body", ("body",)),
        ("status", ("status",)),
        ("body.createdAt", ("body", "createdAt")),
        ("body.items[*].id", ("body", "items", "*", "id")),
        ("body[0]", ("body", 0)),
        ("body[12].name", ("body", 12, "name")),
        ("body[*]", ("body", "*")),
        ("body.*.createdAt", ("body", "*", "createdAt")),
        ("body.**.etag", ("body", "**", "etag")),
        ('body["key.with.dots"]', ("body", "key.with.dots")),
        ("body[\"a'b\"]", ("body", "a'b")),  # the other quote inside a key
        ("body['a b'].c", ("body", "a b", "c")),
        ('body[""]', ("body", "")),
        ("body.snake_case-and-dash", ("body", "snake_case-and-dash")),
        # header names are case-insensitive: kept in lower case
        ("headers.X-Request-Id", ("headers", "x-request-id")),
        ('headers["ETag"]', ("headers", "etag")),
    ],
)
def test_parse_path_valid(text: str, segments: tuple) -> None:
    pattern = parse_path(text)
    assert pattern.segments == segments
    assert pattern.text == text


def test_body_keys_keep_their_case() -> None:
    assert parse_path("body.CreatedAt").segments == ("body", "CreatedAt")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "must start with one of body, headers, status"),
        ("createdAt", "'createdAt' must start with one of body, headers, status"),
        ("Body.x", "must start with one of"),
        ("response.body", "must start with one of"),
        ("[0]", "must start with one of"),
        ("body[", "cannot read 'body[' at character 5"),
        ("body..id", "cannot read 'body..id' at character 5"),
        ("body.", "at character 5"),
        ("body[x]", "at character 5"),
        ("body[-1]", "at character 5"),
        ('body["open', "at character 5"),
    ],
)
def test_parse_path_errors(text: str, words: str) -> None:
    with pytest.raises(PathSyntaxError) as caught:
        parse_path(text)
    assert words in str(caught.value)


def test_parse_error_says_how_to_write_paths() -> None:
    with pytest.raises(PathSyntaxError, match=r"write paths like body\.items\[\*\]\.id"):
        parse_path("body[")
    with pytest.raises(PathSyntaxError, match=r"e\.g\. body\.createdAt"):
        parse_path("id")


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        (("body",), ("body",), True),
        (("body",), ("body", "x"), False),  # prefixes are handled by the comparer, not here
        (("body", "x"), ("body",), False),
        (("body", "*"), ("body", 3), True),
        (("body", "*"), ("body", "key"), True),
        (("body", "*", "id"), ("body", 0, "id"), True),
        (("body", "*", "id"), ("body", 0, "name"), False),
        (("body", "*", "id"), ("body", 0, "x", "id"), False),
        (("body", "**", "etag"), ("body", "etag"), True),  # ** is zero or more
        (("body", "**", "etag"), ("body", "a", 1, "b", "etag"), True),
        (("body", "**", "etag"), ("body", "a", "etag", "x"), False),
        (("body", "**"), ("body",), True),
        (("body", "**"), ("body", 1, 2, 3), True),
        (("**",), ("anything", 1), True),
        (("body", 0), ("body", 0), True),
        (("body", 0), ("body", 1), False),
        (("body", 0), ("body", "0"), False),  # an index is not a key
        ((), (), True),
        ((), ("body",), False),
    ],
)
def test_matches(pattern: tuple, path: tuple, expected: bool) -> None:
    assert matches(pattern, path) is expected


@SETTINGS
@given(st.lists(st.one_of(st.integers(0, 5), st.sampled_from(["a", "b", "id"])), max_size=6))
def test_a_path_matches_itself_and_wildcards_of_its_length(path: list) -> None:
    concrete = ("body", *path)
    assert matches(concrete, concrete)
    assert matches(("body", *["*"] * len(path)), concrete)
    assert matches(("body", "**"), concrete)
    assert not matches(("body", *["*"] * (len(path) + 1)), concrete)


# --------------------------------------------------------------------------- text_of


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("x y", "x y"), (True, "true"), (False, "false"), (None, "null"), (5, "5"),
        (2.5, "2.5"), (-0.0, "-0.0"), ([1, "a"], '[1,"a"]'), ({"k": "é"}, '{"k":"é"}'),
    ],
)
def test_text_of(value: Any, text: str) -> None:
    assert text_of(value) == text


# --------------------------------------------------------------------------- build_request


def draft(**kw: Any) -> RequestDraft:
    base: dict[str, Any] = {"method": "GET", "path": "/items", "path_params": {}, "query": [],
                            "headers": {}, "body": NO_BODY, "media_type": None}
    base.update(kw)
    return RequestDraft(**base)


def test_plain_get() -> None:
    request = build_request(draft(), "candidate", "http://h:1/", {})
    assert request == Request(method="GET", url="http://h:1/items", path="/items", headers=(),
                              body=NO_BODY, content=None, media_type=None)


def test_base_url_with_a_prefix() -> None:
    request = build_request(draft(), "candidate", "http://h:1/api/v2/", {})
    assert request.url == "http://h:1/api/v2/items"
    assert request.path == "/items"


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("a/b", "a%2Fb"),  # a '/' must not split the path
        ("a b", "a%20b"),
        ("50%", "50%25"),
        ("x?y#z", "x%3Fy%23z"),
        ("é", "%C3%A9"),
        ("..", ".."),
        (42, "42"),
        (True, "true"),
    ],
)
def test_path_parameters_are_percent_encoded(value: Any, encoded: str) -> None:
    request = build_request(draft(path="/items/{id}/x", path_params={"id": value}), "m",
                            "http://h", {})
    assert request.path == f"/items/{encoded}/x"


@SETTINGS
@given(st.text(min_size=1))
def test_any_path_parameter_round_trips(value: str) -> None:
    request = build_request(draft(path="/i/{id}", path_params={"id": value}), "m", "http://h", {})
    encoded = request.path.removeprefix("/i/")
    assert "/" not in encoded and "?" not in encoded and "#" not in encoded
    assert unquote(encoded, errors="surrogatepass") == value


def test_several_path_parameters() -> None:
    request = build_request(draft(path="/a/{x}/b/{y}", path_params={"x": 1, "y": "z"}),
                            "m", "http://h", {})
    assert request.path == "/a/1/b/z"


def test_query_lists_booleans_and_none() -> None:
    request = build_request(draft(query=[
        ("tag", ["a", "b c"]), ("flag", True), ("off", False), ("skip", None),
        ("n", 3), ("q", "x&y=z"),
    ]), "m", "http://h", {})
    query = urlsplit(request.url).query
    assert parse_qsl(query, keep_blank_values=True) == [
        ("tag", "a"), ("tag", "b c"), ("flag", "true"), ("off", "false"), ("n", "3"),
        ("q", "x&y=z"),
    ]
    assert "b%20c" in query  # spaces as %20, not '+'
    assert request.path == "/items?" + query


def test_empty_query_list_adds_nothing() -> None:
    request = build_request(draft(query=[("tag", [])]), "m", "http://h", {})
    assert request.path == "/items"


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c d"]), st.text()), max_size=4))
def test_query_round_trips(pairs: list[tuple[str, str]]) -> None:
    request = build_request(draft(query=pairs), "m", "http://h", {})
    query = urlsplit(request.url).query
    assert parse_qsl(query, keep_blank_values=True, errors="surrogatepass") == pairs


PAIR = PerTarget.of({"model": 5, "candidate": 1005})


def test_per_target_values_are_resolved_per_target() -> None:
    d = draft(method="PUT", path="/orders/{id}", path_params={"id": PAIR},
              query=[("ref", PAIR), ("many", [PAIR, 1])],
              headers={"X-Order": PAIR},
              body={"order": PAIR, "list": [PAIR, {"deep": PAIR}]})
    model = build_request(d, "model", "http://m", {})
    candidate = build_request(d, "candidate", "http://c", {})
    assert model.path == "/orders/5?ref=5&many=5&many=1"
    assert candidate.path == "/orders/1005?ref=1005&many=1005&many=1"
    assert dict(model.headers)["X-Order"] == "5"
    assert dict(candidate.headers)["X-Order"] == "1005"
    assert model.body == {"order": 5, "list": [5, {"deep": 5}]}
    assert json.loads(candidate.content) == {"order": 1005, "list": [1005, {"deep": 1005}]}
    # the draft itself is unchanged
    assert d.path_params == {"id": PAIR}


def test_json_body_encoding_and_content_type() -> None:
    body = {"name": "é", "n": 1.5, "ok": True, "none": None}
    request = build_request(draft(method="POST", body=body), "m", "http://h", {})
    assert request.content == '{"name":"é","n":1.5,"ok":true,"none":null}'.encode()
    assert json.loads(request.content) == body
    assert dict(request.headers)["content-type"] == "application/json"
    assert request.media_type == "application/json"
    assert request.body == body


def test_json_null_body_is_sent() -> None:
    request = build_request(draft(method="POST", body=None), "m", "http://h", {})
    assert request.content == b"null"
    assert dict(request.headers)["content-type"] == "application/json"


def test_documented_media_type_is_used() -> None:
    request = build_request(
        draft(method="POST", body=[1], media_type="application/merge-patch+json"),
        "m", "http://h", {})
    assert request.content == b"[1]"
    assert dict(request.headers)["content-type"] == "application/merge-patch+json"


def test_form_and_text_bodies() -> None:
    form = build_request(draft(method="POST", body={"a": "x y", "b": True},
                               media_type="application/x-www-form-urlencoded"), "m", "h", {})
    assert parse_qsl(form.content.decode()) == [("a", "x y"), ("b", "true")]
    assert dict(form.headers)["content-type"] == "application/x-www-form-urlencoded"
    text = build_request(draft(method="POST", body=12, media_type="text/plain"), "m", "h", {})
    assert text.content == b"12"


def test_no_body_sends_nothing_and_no_content_type() -> None:
    request = build_request(draft(method="DELETE"), "m", "http://h", {"X-Key": "k"})
    assert request.content is None and request.body is NO_BODY
    assert dict(request.headers) == {"X-Key": "k"}
    assert request.as_context()["body"] is None


def test_explicit_content_type_is_kept() -> None:
    request = build_request(draft(method="POST", body={}, headers={"Content-Type": "text/x"}),
                            "m", "http://h", {})
    headers = dict(request.headers)
    assert headers["Content-Type"] == "text/x" and "content-type" not in headers


def test_target_headers_and_action_headers() -> None:
    request = build_request(draft(headers={"X-A": 1, "X-B": False}), "m", "http://h",
                            {"Authorization": "Bearer t", "X-A": "target"})
    assert dict(request.headers) == {"Authorization": "Bearer t", "X-A": "1", "X-B": "false"}


def test_request_context_for_expressions() -> None:
    request = build_request(draft(method="POST", path="/o/{id}", path_params={"id": 7},
                                  query=[("q", "a")], body={"x": 1}), "m", "http://h", {})
    assert request.as_context() == {
        "method": "POST", "path": "/o/7?q=a", "url": "http://h/o/7?q=a",
        "headers": {"content-type": "application/json"}, "body": {"x": 1}}


def test_response_record_helpers() -> None:
    response = Response(200, (("etag", "v1"), ("content-type", "application/json")), [1])
    assert response.header("ETag") == "v1"
    assert response.header("missing") is None
    assert response.as_context() == {"status": 200, "headers": {"etag": "v1",
                                     "content-type": "application/json"}, "body": [1],
                                     "elapsed_ms": 0.0, "error": ""}
    failed = Response(None, error="connection refused")
    assert failed.as_context()["status"] == 0
    assert failed.as_context()["error"] == "connection refused"


def test_unquoted_date_in_a_body(tmp_path: Path) -> None:
    from hypothesis import find

    from mbtspec.compiler import DrawContext, compile_plan
    from mbtspec.errors import SpecError
    from mbtspec.spec import load_spec

    path = tmp_path / "spec.yaml"
    path.write_text(dedent("""\
        version: 1
        targets:
          candidate: {app: "tests.apps.orders:app"}
        actions:
          create:
            request: POST /orders
            body: {item: x, qty: 1, due: 2024-01-01}
        """))
    try:
        plan = compile_plan(load_spec(path), environ={})
    except SpecError:
        return  # reported: fine

    class Draws:
        def draw(self, strategy: Any) -> Any:
            return find(strategy, lambda v: True)

    d = plan.actions[0].draw(DrawContext(Draws(), State(), plan.targets))
    request = build_request(d, "candidate", "http://h", {})
    assert json.loads(request.content)["due"] == "2024-01-01"


# --------------------------------------------------------------------------- PerTarget, State


def test_per_target_of_collapses_equal_values() -> None:
    assert PerTarget.of({"model": 5, "candidate": 5}) == 5
    assert PerTarget.of({"model": "a"}) == "a"
    assert PerTarget.of({}) is None
    assert PerTarget.of({"model": [1], "candidate": [1]}) == [1]


@pytest.mark.parametrize(("a", "b"), [(5, 6), (1, 1.0), (True, 1), (0, False), ("1", 1),
                                      (None, 0)])
def test_per_target_of_keeps_values_that_differ_in_value_or_type(a: Any, b: Any) -> None:
    pair = PerTarget.of({"model": a, "candidate": b})
    assert isinstance(pair, PerTarget)
    assert pair.get("model") is a and pair.get("candidate") is b
    assert list(pair) == [("model", a), ("candidate", b)]


def test_per_target_get_unknown_target() -> None:
    with pytest.raises(KeyError):
        PAIR.get("other")


def test_resolve_goes_into_containers() -> None:
    value = {"a": PAIR, "b": [PAIR, (PAIR, 1)], "c": "plain",
             "d": PerTarget.of({"model": [PAIR], "candidate": []})}
    assert resolve(value, "model") == {"a": 5, "b": [5, (5, 1)], "c": "plain", "d": [5]}
    assert resolve(value, "candidate") == {"a": 1005, "b": [1005, (1005, 1)], "c": "plain",
                                           "d": []}
    assert resolve(7, "model") == 7


@SETTINGS
@given(st.recursive(st.one_of(st.integers(), st.text(), st.none()),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=10))
def test_resolve_without_per_target_values_is_the_identity(value: Any) -> None:
    assert resolve(value, "model") == value


def test_state_store_remove_and_view() -> None:
    state = State()
    assert state.bag("ids") == []
    state.store("ids", PAIR)
    state.store("ids", 7)
    state.store("names", "x")
    assert state.view("model") == {"ids": [5, 7], "names": ["x"]}
    assert state.view("candidate") == {"ids": [1005, 7], "names": ["x"]}
    state.remove("ids", 0)
    assert state.bag("ids") == [7]
    state.remove("ids", 5)  # out of range: ignored
    state.remove("nothing", 0)
    assert state.bag("ids") == [7]


def test_state_pairs_are_the_per_target_scalars() -> None:
    state = State()
    state.store("ids", PAIR)
    state.store("ids", 3)  # the same for both: no pair needed
    state.store("names", PerTarget.of({"model": "a", "candidate": "b"}))
    state.store("lists", PerTarget.of({"model": [1], "candidate": [2]}))  # unhashable
    state.store("flags", PerTarget.of({"model": True, "candidate": None}))
    assert state.pairs("model", "candidate") == {(5, 1005), ("a", "b"), (True, None)}
    assert state.pairs("candidate", "model") == {(1005, 5), ("b", "a"), (None, True)}
    assert State().pairs("model", "candidate") == set()
