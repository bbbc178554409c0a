"""Bodies people send: raw bytes, forms, multipart forms with files, a body on an operation
that documents none; how they are encoded, filled from the document, shown and saved."""

from __future__ import annotations

import email.parser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from mbtspec.compiler import NO_BODY, compile_plan
from mbtspec.compiler._payloads import FilePart, as_data, from_data
from mbtspec.executor._bodies import encode_body
from mbtspec.spec import iter_problems, load_spec

UPLOADS = Path(__file__).resolve().parents[1] / "apps" / "uploads_openapi.yaml"


def _parts(content: bytes, media_type: str) -> list[tuple[str | None, str | None, str, bytes]]:
    message = email.parser.BytesParser().parsebytes(
        b"Content-Type: " + media_type.encode() + b"\r\n\r\n" + content)
    return [(p.get_param("name", header="content-disposition"), p.get_filename(),
             p.get_content_type(), p.get_payload(decode=True)) for p in message.get_payload()]


def test_multipart_sends_text_parts_and_file_parts() -> None:
    body = {"title": "a \"b\"", "n": 3, "skip": None, "tags": ["x", "y"],
            "doc": FilePart(b"\x00\xff", "d.bin", "image/png"), "raw": b"ab"}
    content, media_type = encode_body(body, "multipart/form-data")
    assert content is not None and media_type is not None
    assert media_type.startswith("multipart/form-data; boundary=mbtspec-")
    assert _parts(content, media_type) == [
        ("title", None, "text/plain", b'a "b"'),
        ("n", None, "text/plain", b"3"),
        ("tags", None, "text/plain", b"x"),
        ("tags", None, "text/plain", b"y"),
        ("doc", "d.bin", "image/png", b"\x00\xff"),
        ("raw", "raw", "application/octet-stream", b"ab"),
    ]


def test_multipart_is_the_same_bytes_each_time_and_keeps_a_given_boundary() -> None:
    body = {"doc": FilePart("hello", "h.txt")}
    first, media_type = encode_body(body, "multipart/form-data")
    assert encode_body(body, "multipart/form-data") == (first, media_type)
    assert media_type is not None
    again, same = encode_body(body, media_type)  # (a replay: the boundary recorded)
    assert (again, same) == (first, media_type)
    other, _ = encode_body({"doc": FilePart("hellO", "h.txt")}, "multipart/form-data")
    assert other is not None and other.split(b"\r\n")[0] != first.split(b"\r\n")[0]


def test_forms_lists_give_one_field_per_element_and_null_is_left_out() -> None:
    content, media_type = encode_body({"a": "x y&z", "b": [1, None, 2], "c": None,
                                       "d": b"\x00\xff", "e": True},
                                      "application/x-www-form-urlencoded")
    assert content == b"a=x+y%26z&b=1&b=2&d=%00%FF&e=true"
    assert media_type == "application/x-www-form-urlencoded"


@pytest.mark.parametrize(("body", "media_type", "expected"), [
    (b"\x00\xff", None, (b"\x00\xff", "application/octet-stream")),
    (b"\x00\xff", "image/png", (b"\x00\xff", "image/png")),
    ({"data": b"hi"}, None, (b'{"data":"aGk="}', "application/json")),
    ("text", "text/plain", (b"text", "text/plain")),
    (NO_BODY, "application/json", (None, None)),
])
def test_raw_bytes_and_json(body: Any, media_type: str | None,
                            expected: tuple[bytes | None, str | None]) -> None:
    assert encode_body(body, media_type) == expected


def test_saved_bodies_read_back_as_they_were_sent() -> None:
    body = {"doc": FilePart(b"\x01", "a.bin", "image/png"), "raw": b"\xff", "n": [1, "x"],
            "text": FilePart("t")}
    data = as_data(body)
    assert data == {"doc": {"file": {"content": {"base64": "AQ=="}, "filename": "a.bin",
                                     "content_type": "image/png"}},
                    "raw": {"base64": "/w=="}, "n": [1, "x"],
                    "text": {"file": {"content": "t"}}}
    assert from_data(data) == body
    plain = {"a": [1, {"b": None}]}
    assert as_data(plain) is plain  # nothing to convert: the same object


def _spec(tmp_path: Path, actions: str, openapi: bool = True) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(
        "version: 1\n" + (f"openapi: {UPLOADS}\n" if openapi else "")
        + "targets:\n  candidate: {app: \"tests.apps.uploads:model\"}\n"
        + "reset: [{request: POST /__reset}]\nactions:\n" + actions)
    return path


def _problems(path: Path) -> list[str]:
    return [f"{p.line}:{p.column} {p.code} {p.json_path}: {p.message}"
            for p in iter_problems(path) if p.severity == "error"]


def test_values_of_bytes_and_files_parse(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path, """\
  up:
    request: uploadFile
    body:
      title: {string: {max_size: 3}}
      doc: {file: {content: {base64: "AAE="}, filename: "${name}", content_type: image/png}}
  raw:
    request: putBlob
    path: {key: abc}
    body: {bytes: {min_size: 2, max_size: 4}}
generators:
  name: {one_of: [a.png, b.png]}
"""))
    plan = compile_plan(spec)
    up, raw = plan.actions
    assert up.media_type == "multipart/form-data"
    assert raw.media_type == "application/octet-stream"
    assert raw.body is not None and raw.body.node.strategy is not None
    assert all(isinstance(b, bytes) and 2 <= len(b) <= 4 for b in _examples(raw.body.node))
    assert up.body is not None and up.body.node.strategy is not None
    for body in _examples(up.body.node):
        assert body["doc"].content == b"\x00\x01" and body["doc"].filename in ("a.png", "b.png")


def test_documented_files_are_filled_as_file_parts(tmp_path: Path) -> None:
    plan = compile_plan(load_spec(_spec(tmp_path, "  up: {request: uploadFile}\n"
                                                  "  raw: {request: putBlob}\n")))
    up, raw = plan.actions
    assert up.body is not None and raw.body is not None
    for body in _examples(up.body.node):
        assert isinstance(body["doc"], FilePart) and body["doc"].filename == "doc.bin"
    assert all(isinstance(body, bytes) for body in _examples(raw.body.node))


def _examples(node: Any, count: int = 5) -> list[Any]:
    """A few values the node draws (through Hypothesis, as a run draws them)."""
    assert node.strategy is not None
    drawn: list[Any] = []

    @settings(max_examples=count, database=None, derandomize=True)
    @given(node.strategy)
    def collect(value: Any) -> None:
        drawn.append(value)

    collect()
    return drawn


def test_a_body_the_operation_does_not_document_needs_a_content_type(tmp_path: Path) -> None:
    actions = """\
  up: {request: uploadFile, store: {ids: response.body.id}}
  delete:
    request: deleteFile
    path: {id: {pick: ids}}
    body: {reason: old}
"""
    assert _problems(_spec(tmp_path, actions)) == [
        "11:5 undocumented-body actions.delete.body: DELETE /files/{id} documents no request "
        "body: remove 'body', or set 'content_type' (e.g. application/json) to send it "
        "anyway"]
    fixed = actions.replace("    body:", "    content_type: application/json\n    body:")
    assert _problems(_spec(tmp_path, fixed)) == []
    plan = compile_plan(load_spec(tmp_path / "spec.yaml"))
    assert plan.actions[1].media_type == "application/json"


def test_content_type_must_be_documented_and_chooses_the_schema(tmp_path: Path) -> None:
    assert _problems(_spec(tmp_path, """\
  form: {request: postForm, content_type: application/x-www-form-urlencode}
""")) == ["7:43 undocumented-media-type actions.form.content_type: POST /forms documents no "
          "request body of type 'application/x-www-form-urlencode' (did you mean "
          "'application/x-www-form-urlencoded'?); documented: application/json, "
          "application/x-www-form-urlencoded"]
    plan = compile_plan(load_spec(_spec(tmp_path, """\
  form: {request: postForm, content_type: application/x-www-form-urlencoded, fill: required}
  form_all: {request: postForm, content_type: Application/X-WWW-Form-Urlencoded}
""")))
    assert plan.actions[1].action.body_schema["properties"].keys() == {"name", "tags"}


def test_files_only_go_into_multipart_bodies(tmp_path: Path) -> None:
    assert _problems(_spec(tmp_path, """\
  a:
    request: POST /a
    query: {q: {file: {content: x}}}
    body: {f: {file: {content: x}}}
  b:
    request: POST /b
    content_type: multipart/form-data
    body: {ok: [{file: {content: x}}], deep: {x: {file: {content: x}}}}
""", openapi=False)) == [
        "8:23 misplaced-file actions.a.query.q.file: a file can only be a property of a "
        "multipart/form-data body; send bytes here ({bytes: ...}, as base64 text) or move it "
        "to 'body'",
        "9:22 misplaced-file actions.a.body.f.file: a file cannot be sent here: the body is "
        "sent as application/json: set 'content_type: multipart/form-data' to send files",
        "13:57 misplaced-file actions.b.body.deep.x.file: a file cannot be sent here: a file "
        "must be a property of the body (or an element of a property's list), not nested "
        "deeper",
    ]


def test_base64_must_be_base64(tmp_path: Path) -> None:
    assert _problems(_spec(tmp_path, "  a: {request: POST /a, body: {base64: 'no!'}}\n",
                           openapi=False)) == [
        "6:40 invalid-generator actions.a.body.base64: 'base64' text is not valid base64: "
        "write the bytes as standard base64 (A-Z a-z 0-9 + / and = padding)"]


def test_expressions_see_bytes_and_files_as_a_spec_writes_them() -> None:
    from mbtspec.compiler import RequestDraft
    from mbtspec.executor._http import build_request
    from mbtspec.spec._yaml import Mark
    from mbtspec.spec.expressions import compile_expression

    draft = RequestDraft("POST", "/files", {}, [], {}, {"doc": FilePart(b"\x01", "a.bin")},
                         "multipart/form-data")
    request = build_request(draft, "model", "http://h:1", {})
    check = compile_expression("request.body.doc.file.filename == 'a.bin' && "
                               "request.body.doc.file.content.base64 == 'AQ=='", Mark(1, 1))
    assert check.evaluate({"request": request.context}) is True


def test_files_in_a_url_or_an_override_are_misplaced_too(tmp_path: Path) -> None:
    assert _problems(_spec(tmp_path, """\
  a:
    request: POST /a
    url: {file: {content: x}}
    targets:
      candidate: {body: {f: {file: {content: x}}}}
""", openapi=False)) == [
        "8:17 misplaced-file actions.a.url.file: a file can only be a property of a "
        "multipart/form-data body; send bytes here ({bytes: ...}, as base64 text) or move it "
        "to 'body'",
        "10:36 misplaced-file actions.a.targets.candidate.body.f.file: a file cannot be sent "
        "here: the body is sent as application/json: set 'content_type: multipart/form-data' "
        "to send files"]
