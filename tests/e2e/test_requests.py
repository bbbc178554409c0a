"""The requests people send, against real servers (uvicorn on 127.0.0.1): multipart uploads
with files, forms, raw bytes, a body on DELETE, stored URLs as request targets, per-target
overrides, tokens re-derived by replays."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.e2e.conftest import REPO, run_cli

UPLOADS = REPO / "tests" / "apps" / "uploads_openapi.yaml"


def server(app: str, bug: str = "") -> str:
    env = f', env: {{UPLOADS_BUG: "{bug}"}}' if bug else ""
    return (f'{{command: ["${{python}}", -m, uvicorn, "tests.apps.uploads:{app}", --port, '
            f'"${{port}}"], cwd: "{REPO}", ready: {{path: /whoami, status: 401}}{env}}}')


def write_spec(tmp_path: Path, actions: str, model: str = "same_version",
               candidate: str = "buggy", bug: str = "none", generators: str = "") -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(f"""\
version: 1
openapi: {UPLOADS}
targets:
  model: {server(model)}
  candidate: {server(candidate, bug)}
reset: [{{request: POST /__reset}}]
{generators}
actions:
{actions}
run: {{sequences: 25, steps: 8}}
""")
    return path


BODIES = """\
  upload:
    request: uploadFile
    body:
      title: {string: {alphabet: ascii_letters, max_size: 4}}
      doc: {file: {content: {bytes: {max_size: 16}}, filename: "${name}", content_type: image/png}}
    store: {files: response.body.id}
  form:
    request: postForm
    content_type: application/x-www-form-urlencoded
  delete:
    request: deleteFile
    path: {id: {pick: files, remove: true}}
    content_type: application/json
    body: {reason: {one_of: [old, wrong]}}
"""
NAMES = "generators:\n  name: {one_of: [a.png, b.png]}\n"


def test_multipart_uploads_forms_and_a_body_on_delete_pass_on_equal_servers(
        tmp_path: Path) -> None:
    spec = write_spec(tmp_path, BODIES + "  blob: {request: putBlob}\n", generators=NAMES)
    done = run_cli("check", str(spec), "--seed", "4", "--no-database", "--no-color",
                   "--report-json", str(tmp_path / "r.json"))
    assert done.code == 0, done.text
    actions = json.loads((tmp_path / "r.json").read_text())["stats"]["actions"]
    for action, status in (("upload", "201"), ("form", "200"), ("delete", "200"),
                           ("blob", "200")):
        statuses = actions[action]["statuses"]
        assert statuses["model"] == statuses["candidate"] == {
            status: actions[action]["runs"]}, (action, statuses)
        assert actions[action]["runs"] > 0


def test_a_lost_file_media_type_is_found_shrunk_and_replayed(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, BODIES, bug="type", generators=NAMES)
    done = run_cli("check", str(spec), "--seed", "1", "--no-color", cwd=tmp_path)
    assert done.code == 1, done.text
    assert "DIFFERENCE after 1 call" in done.out
    assert 'body.parts[1].type: "image/png" ≠ "application/octet-stream"' in done.out
    assert '"file": {"content": {"base64": ' in done.out  # the file, as a spec writes it
    saved = next((tmp_path / ".mbtspec" / "failures").glob("spec-*.yaml"))
    assert "body_format: values" in saved.read_text()
    again = run_cli("replay", str(saved), "--no-color", cwd=tmp_path)
    assert again.code == 1, again.text
    assert "still shows" in again.out


def test_raw_bytes_that_are_not_ascii_are_sent_as_they_are(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "  blob: {request: putBlob}\n", bug="ascii")
    done = run_cli("check", str(spec), "--seed", "2", "--no-color", cwd=tmp_path)
    assert done.code == 1, done.text
    assert "PUT /blobs/" in done.out and '{"base64": ' in done.out
    saved = next((tmp_path / ".mbtspec" / "failures").glob("spec-*.yaml"))
    script = run_cli("replay", str(saved), "--curl", cwd=tmp_path)
    assert "printf '\\" in script.out and "--data-binary @-" in script.out


VERSIONS = """\
  upload:
    request: uploadFile
    store: {files: response.body.id, locations: response.headers.location}
  get:
    request: getFile
    url: {pick: locations}
  delete:
    request: deleteFile
    url: {pick: locations, remove: true}
  list:
    request: listFiles
    let: {n: {integer: {min: 0, max: 3}}}
    query: {limit: "${n}"}
    targets:
      candidate:
        query: {limit: null, page_size: "${n}"}
"""


def test_locations_and_a_renamed_query_across_two_versions(tmp_path: Path) -> None:
    """Version 2 answers absolute URLs under /v2 and names 'limit' 'page_size': with the
    stored Location as the request target and a per-target query, both versions agree."""
    spec = write_spec(tmp_path, VERSIONS, model="model", candidate="candidate")
    done = run_cli("check", str(spec), "--seed", "3", "--no-database", "--no-color",
                   "--report-json", str(tmp_path / "r.json"))
    assert done.code == 0, done.text
    report = json.loads((tmp_path / "r.json").read_text())
    for action in ("get", "delete", "list"):
        statuses = report["stats"]["actions"][action]["statuses"]
        assert statuses["model"] == statuses["candidate"] == {
            "200": report["stats"]["actions"][action]["runs"]}, (action, statuses)
    assert report["warnings"] == []


def test_without_the_override_the_renamed_query_is_a_difference(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, VERSIONS.split("    targets:")[0], model="model",
                      candidate="candidate")
    done = run_cli("check", str(spec), "--seed", "3", "--no-database", "--no-color")
    assert done.code == 1, done.text
    assert "status: 200 ≠ 400" in done.out


def test_a_url_on_another_host_is_not_sent(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, """\
  upload: {request: uploadFile, store: {files: response.body.id}}
  elsewhere:
    request: getFile
    url: "http://192.0.2.1/files/1"
""", model="model", candidate="candidate")
    done = run_cli("check", str(spec), "--seed", "1", "--no-database", "--no-color",
                   "--sequences", "5")
    assert done.code == 0, done.text
    assert ("warning: action 'elsewhere': " in done.err and "requests not sent: "
            "http://192.0.2.1/files/1 is not on the target's origin: mbtspec sends requests "
            "to its targets only" in done.err), done.err


LOGIN = """\
  login:
    request: login
    body: {user: ann, password: secret}
    store: {tokens: response.body.token}
  whoami:
    request: whoami
    let: {token: {pick: tokens}}
    headers: {Authorization: "Bearer ${token}"}
"""


def test_replays_log_in_again_instead_of_resending_old_tokens(tmp_path: Path) -> None:
    """The servers of a replay never issued the tokens of the run that saved the failure:
    resent, they would give 401 on both sides and the failure would look fixed. Replays draw
    the steps again, so the token of this replay's own login is sent."""
    spec = write_spec(tmp_path, LOGIN, bug="auth")
    done = run_cli("check", str(spec), "--seed", "1", "--no-color", cwd=tmp_path)
    assert done.code == 1, done.text
    assert "status: 200 ≠ 500" in done.out
    saved = next((tmp_path / ".mbtspec" / "failures").glob("spec-*.yaml"))
    recorded = yaml.safe_load(saved.read_text())["steps"][-1]
    assert recorded["draws"][0]["$pick"]["variable"] == "tokens"
    old = recorded["requests"]["candidate"]["headers"]["Authorization"]
    again = run_cli("replay", str(saved), "--no-color", cwd=tmp_path)
    assert again.code == 1, again.text
    assert "status: 200 ≠ 500" in again.out and "still shows" in again.out
    assert old.split()[-1] not in again.out  # (a new token was sent)
    # check tries the saved failure first, also drawing it again
    first = run_cli("check", str(spec), "--seed", "2", "--no-color", cwd=tmp_path)
    assert first.code == 1 and "still shows" in first.text, first.text


def test_a_saved_failure_whose_action_is_gone_is_dropped(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, LOGIN, bug="auth")
    assert run_cli("check", str(spec), "--seed", "1", cwd=tmp_path).code == 1
    saved = next((tmp_path / ".mbtspec" / "failures").glob("spec-*.yaml"))
    spec.write_text(spec.read_text().replace("whoami:\n    request: whoami",
                                             "me:\n    request: whoami"))
    done = run_cli("check", str(spec), "--seed", "1", "--no-color", "--sequences", "3",
                   cwd=tmp_path)
    assert (f"saved failure {saved.relative_to(tmp_path)}: cannot be replayed any more: step "
            "2: the spec has no action 'whoami' any more (renamed or removed?); its actions: "
            "login, me (the file was removed)") in " ".join(done.text.split()), done.text
    assert not saved.exists()


def test_a_scaffolded_spec_logs_in_and_sends_the_token(tmp_path: Path) -> None:
    """mbtspec init over a document with a bearer scheme: the spec it writes (targets filled
    in) logs in on each server and reaches the operation that needs the token."""
    spec = tmp_path / "spec.yaml"
    made = run_cli("init", str(UPLOADS), "-o", str(spec))
    assert made.code == 0, made.text
    data = yaml.safe_load(spec.read_text())
    keep = {"login", "whoami", "upload_file", "get_file"}
    data["actions"] = {k: v for k, v in data["actions"].items() if k in keep}
    data["targets"] = yaml.safe_load(f"model: {server('same_version')}\n"
                                     f"candidate: {server('buggy', 'auth')}\n")
    data["run"] = {"sequences": 20, "steps": 6}
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    done = run_cli("check", str(spec), "--seed", "1", "--no-database", "--no-color",
                   "--report-json", str(tmp_path / "r.json"))
    assert done.code == 1, done.text
    failure = json.loads((tmp_path / "r.json").read_text())["failure"]
    assert [s["action"] for s in failure["steps"]] == ["login", "whoami"]
    sent = failure["steps"][1]["requests"]["candidate"]["headers"]["Authorization"]
    assert sent.startswith("Bearer ") and len(sent) > len("Bearer ")
    assert "status: 200 ≠ 500" in done.out


def test_request_headers_are_shown_redacted_everywhere(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("""\
version: 1
targets:
  model: {app: "tests.apps.uploads:same_version", headers: {X-Api-Key: "${env.UPLOADS_KEY}"}}
  candidate: {app: "tests.apps.uploads:buggy", headers: {X-Api-Key: "${env.UPLOADS_KEY}"}}
reset: [{request: POST /__reset}]
generators:
  token: {pick: tokens}
actions:
  login:
    request: POST /login
    body: {user: ann}
    store: {tokens: response.body.token}
  whoami:
    request: GET /whoami
    headers: {Authorization: "Bearer ${token}", X-Trace: t-1}
""")
    env = {"UPLOADS_KEY": "k3y-s3cr3t", "UPLOADS_BUG": "auth", "PYTHONPATH": str(REPO)}
    done = run_cli("check", str(spec), "--seed", "1", "--no-color", "-v", "--html",
                   str(tmp_path / "r.html"), cwd=tmp_path, env=env)
    assert done.code == 1, done.text
    assert "k3y-s3cr3t" not in done.text + (tmp_path / "r.html").read_text()
    verbose = next(line for line in done.out.splitlines() if " login  POST /login" in line)
    assert verbose.endswith("[X-Api-Key: ***]  →  model 200  candidate 200")
    table = done.out[done.out.index("Minimal sequence"):]
    assert "X-Api-Key: *** Authorization: Bearer " in " ".join(table.split())
    assert "X-Trace: t-1" in " ".join(table.split())
    assert "X-Api-Key: ***  Authorization: Bearer " in (tmp_path / "r.html").read_text()
    saved = next((tmp_path / ".mbtspec" / "failures").glob("spec-*.yaml"))
    headers = yaml.safe_load(saved.read_text())["steps"][1]["requests"]["model"]["headers"]
    assert headers["X-Api-Key"] == "***" and headers["Authorization"].startswith("Bearer ")
