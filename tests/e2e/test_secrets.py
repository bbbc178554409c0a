"""Secrets never show, in any form: every file and every output of a run, against apps that
echo what they receive, with secrets full of characters that encoders escape."""

from __future__ import annotations

import base64
import html
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

import pytest
import yaml

from tests.e2e.conftest import REPO, run_cli

#: Header secrets must be ASCII (HTTP headers are); the others go in paths, queries and bodies.
TOKEN = "ab\"cd'ef\\gh+ij/kl=mn<op&qr st"
WORD = "wö\"rd'\\ +/=<&€ 😀x"
PASSWORD = "pa\"ss'w\\o+r/d=<&"
BASIC = base64.b64encode(f"user:{PASSWORD}".encode()).decode()
RESET = "reset-\"'\\key"
ENV = {"MBT_TOKEN": TOKEN, "MBT_WORD": WORD, "MBT_BASIC": BASIC, "MBT_RESET": RESET}

SPEC = """\
version: 1
targets:
  model:
    app: tests.apps.echo:model
    headers: {Authorization: "Bearer ${env.MBT_TOKEN}", X-Api-Key: "${env.MBT_TOKEN}"}
  candidate:
    app: tests.apps.echo:candidate
    headers: {Authorization: "Bearer ${env.MBT_TOKEN}", X-Api-Key: "${env.MBT_TOKEN}"}
reset:
  - request: POST /reset
    headers: {X-Reset-Key: "${env.MBT_RESET}"}
    body: {key: "${env.MBT_RESET}"}
compare:
  headers: [x-echo-query, x-echo-path, x-echo-authorization, x-echo-x-api-key]
actions:
  echo:
    request: POST /echo/{word}
    path: {word: "${env.MBT_WORD}"}
    query: {key: "${env.MBT_TOKEN}", word: "${env.MBT_WORD}", "${env.MBT_RESET}": x}
    headers: {X-Basic: "Basic ${env.MBT_BASIC}"}
    body: {token: "${env.MBT_TOKEN}", word: "${env.MBT_WORD}", basic: "${env.MBT_BASIC}"}
  text:
    request: POST /text
    body: {token: "${env.MBT_TOKEN}", word: "${env.MBT_WORD}", reset: "${env.MBT_RESET}"}
run: {sequences: 3, steps: 3}
"""


def encodings(secret: str) -> set[str]:
    """The secret as every encoder that mbtspec or a server may apply writes it."""
    json_ascii, json_utf8 = json.dumps(secret), json.dumps(secret, ensure_ascii=False)
    percent = {quote(secret, safe=""), quote(secret), quote_plus(secret),
               quote_plus(secret, safe="/")}
    found = {
        secret,
        *percent, *(p.lower() for p in percent),
        json_ascii[1:-1], json_utf8[1:-1], json.dumps(json_utf8)[1:-1],
        html.escape(secret), html.escape(secret, quote=False), html.escape(json_utf8)[6:-6],
        xml_escape(secret), quoteattr(secret)[1:-1],
        shlex.quote(secret).strip("'"), repr(secret)[1:-1], ascii(secret)[1:-1],
        yaml.safe_dump(secret, allow_unicode=True).split("\n")[0].strip("\"'"),
        yaml.safe_dump(secret).split("\n")[0].strip("\"'"),
        base64.b64encode(secret.encode()).decode().rstrip("="),
        base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="),
    }
    for user in ("user", "us", "u", "alice"):
        found.add(base64.b64encode(f"{user}:{secret}".encode()).decode()[len(user) + 2:-4])
    return {text for text in found if len(text) >= 4}


def leaks(text: str, secrets: tuple[str, ...] = tuple(ENV.values())) -> list[str]:
    """The forms of the secrets that ``text`` holds."""
    return sorted({form for secret in (*secrets, PASSWORD, f"user:{PASSWORD}")
                   for form in encodings(secret) if form in text})


def assert_no_secret(text: str, where: str, secrets: tuple[str, ...] = tuple(ENV.values())
                     ) -> None:
    """No secret, in no encoding, in ``text``."""
    found = leaks(text, secrets)
    assert not found, f"{where} holds {found}"


def test_the_helper_sees_every_form() -> None:
    """(The helper's own check: each encoding of a secret is caught.)"""
    for secret in ENV.values():
        for form in encodings(secret):
            with pytest.raises(AssertionError):
                assert_no_secret(f"x{form}y", "text", (secret,))


@pytest.fixture
def failed_run(tmp_path: Path) -> tuple[Path, str]:
    """A failing check of the echo apps, with every report; the folder and the output."""
    spec = tmp_path / "echo.yaml"
    spec.write_text(SPEC)
    env = {"PYTHONPATH": str(REPO), **ENV}
    done = run_cli("check", str(spec), "--seed", "1", "--no-color", "--report-json",
                   "report.json", "--html", "report.html", "--junit-xml", "junit.xml",
                   cwd=tmp_path, env=env)
    assert done.code == 1, done.text
    return tmp_path, done.text


def test_no_output_and_no_file_of_a_run_holds_a_secret(failed_run: tuple[Path, str]) -> None:
    folder, output = failed_run
    assert "answered differently" in output and "***" in output
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert {"report.json", "report.html", "junit.xml"} <= {p.name for p in files}
    assert any(p.parent.name == "failures" for p in files)
    found = {str(path.relative_to(folder)): leaks(path.read_bytes().decode("utf-8", "replace"))
             for path in files}
    found["the terminal"] = leaks(output)
    assert {where: forms for where, forms in found.items() if forms} == {}


def test_verbose_lines_hold_no_secret(tmp_path: Path) -> None:
    spec = tmp_path / "echo.yaml"
    spec.write_text(SPEC)
    done = run_cli("check", str(spec), "--seed", "1", "--no-color", "-v", "--no-database",
                   cwd=tmp_path, env={"PYTHONPATH": str(REPO), **ENV})
    assert done.code == 1, done.text
    assert " echo  POST /echo/***?key=***" in done.out
    assert_no_secret(done.text, "the -v output")


def test_replay_and_curl_hold_no_secret_and_replay_still_sends_them(
        failed_run: tuple[Path, str]) -> None:
    folder, _ = failed_run
    [replay_file] = (folder / ".mbtspec" / "failures").glob("*.yaml")
    env = {"PYTHONPATH": str(REPO), **ENV}
    replayed = run_cli("replay", str(replay_file), "--no-color", cwd=folder, env=env)
    assert replayed.code == 1, replayed.text
    assert_no_secret(replayed.text, "the replay output")
    curl = run_cli("replay", str(replay_file), "--curl", cwd=folder, env=env)
    assert curl.code == 0, curl.text
    assert "Authorization: Bearer ***" in curl.out
    assert_no_secret(curl.text, "the curl script")
    shown = run_cli("replay", str(replay_file), "--curl", "--show-secrets", cwd=folder,
                    env=env)
    assert shlex.quote(f"Authorization: Bearer {TOKEN}") in shown.out  # asked for: shown


def test_replay_restores_a_header_secret_full_of_special_characters(tmp_path: Path) -> None:
    """Targets that answer 401 without the exact token: a replay that lost it (or sent it
    escaped) would see 401 on both sides and call the bug gone."""
    spec = tmp_path / "orders.yaml"
    from tests.e2e.conftest import orders_spec

    spec.write_text(orders_spec("""\
  model:
    app: tests.apps.variants:guarded_model
    headers: {Authorization: "Bearer ${env.ORDERS_TOKEN}"}
  candidate:
    app: tests.apps.variants:guarded_close_twice
    headers: {Authorization: "Bearer ${env.ORDERS_TOKEN}"}
"""))
    env = {"PYTHONPATH": str(REPO), "ORDERS_TOKEN": TOKEN}
    assert run_cli("check", str(spec), "--seed", "5", cwd=tmp_path, env=env).code == 1
    [replay_file] = (tmp_path / ".mbtspec" / "failures").glob("*.yaml")
    assert_no_secret(replay_file.read_text(), "the replay file", (TOKEN,))
    replayed = run_cli("replay", str(replay_file), cwd=tmp_path, env=env)
    assert replayed.code == 1, replayed.text
    assert "still shows" in replayed.out


def test_the_pytest_plugin_failure_holds_no_secret(tmp_path: Path) -> None:
    (tmp_path / "echo.mbtspec.yaml").write_text(SPEC)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--mbtspec-seed", "1",
         "-rA", "echo.mbtspec.yaml"], cwd=tmp_path, capture_output=True, text=True,
        timeout=300, env={**os.environ, "PYTHONPATH": str(REPO), **ENV}, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "answered differently" in done.stdout
    assert_no_secret(done.stdout + done.stderr, "the pytest output")


@pytest.mark.parametrize("value, what", [
    ("tok\n", "a line break (CR or LF)"),
    ("to\r\nken", "a line break (CR or LF)"),
    ("tok\x7fen", "a control character (U+007F)"),
    ("tok\x1ben", "a control character (U+001B)"),
    ("tokén", "a character outside ASCII"),
])
def test_a_header_secret_that_http_cannot_carry_is_refused_before_anything_starts(
        tmp_path: Path, value: str, what: str) -> None:
    spec = tmp_path / "echo.yaml"
    starts = "command: [\"${python}\", -c, 'open(\"started\", \"w\")', \"${port}\"]"
    spec.write_text(SPEC.replace("app: tests.apps.echo:candidate", starts))
    done = run_cli("check", str(spec), "--no-color", "--no-database", cwd=tmp_path,
                   env={"PYTHONPATH": str(REPO), **ENV, "MBT_TOKEN": value})
    assert done.code == 2, done.text
    assert (f"error[invalid-environment-value] targets.model.headers.Authorization: "
            f"environment variable MBT_TOKEN holds {what}") in done.err
    assert "targets.candidate.headers.X-Api-Key" in done.err
    assert value not in done.text and value.strip() not in done.text
    assert not (tmp_path / "started").exists()  # no target was started
    assert "Traceback" not in done.text


def test_a_header_that_would_end_with_a_space_is_refused(tmp_path: Path) -> None:
    spec = tmp_path / "echo.yaml"
    spec.write_text(SPEC)
    done = run_cli("check", str(spec), "--no-color", "--no-database", cwd=tmp_path,
                   env={"PYTHONPATH": str(REPO), **ENV, "MBT_TOKEN": "token "})
    assert done.code == 2, done.text
    assert "the header starts or ends with a space" in done.err
    assert "token " not in done.text
