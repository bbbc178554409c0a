"""Failures a person can act on: replay files and `mbtspec replay`, curl scripts run for real,
JUnit/JSON/HTML reports validated, saved failures tried first, terminal modes."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from tests.e2e.conftest import REPO, free_port, orders_spec, run_cli

IN_PROCESS = """\
  model: {app: tests.apps.variants:model}
  candidate: {app: tests.apps.variants:%s}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A working folder: the replay files go to its .mbtspec/failures/."""
    return tmp_path


def write_spec(folder: Path, candidate: str, **kw: object) -> Path:
    path = folder / "orders.yaml"
    path.write_text(orders_spec(IN_PROCESS % candidate, **kw))  # type: ignore[arg-type]
    return path


def cli(folder: Path, *args: str, env: dict[str, str] | None = None) -> object:
    return run_cli(*args, "--no-color", cwd=folder, env={"PYTHONPATH": str(REPO), **(env or {})})


def only_failure_file(folder: Path) -> Path:
    files = list((folder / ".mbtspec" / "failures").glob("*.yaml"))
    assert len(files) == 1, files
    return files[0]


def test_replay_file_round_trip(project: Path) -> None:
    spec = write_spec(project, "close_twice")
    done = cli(project, "check", str(spec), "--seed", "5")
    assert done.code == 1, done.text  # type: ignore[attr-defined]
    replay_file = only_failure_file(project)
    assert f"Replay: mbtspec replay {replay_file.relative_to(project)}" in done.out  # type: ignore[attr-defined]
    data = yaml.safe_load(replay_file.read_text())
    assert data["kind"] == "difference" and data["seed"] == 5
    assert [s["action"] for s in data["steps"]] == ["create", "close", "close"]
    last = data["steps"][-1]
    # the exact per-target requests: the candidate's ids are its own
    assert last["requests"]["model"]["path"] == "/orders/1/close"
    assert last["requests"]["candidate"]["path"] == "/orders/1001/close"
    assert last["responses"]["model"]["status"] == 409
    assert last["responses"]["candidate"]["status"] == 200
    assert last["findings"][0]["differences"][0]["path"] == "status"

    replayed = cli(project, "replay", str(replay_file))
    assert replayed.code == 1, replayed.text  # type: ignore[attr-defined]
    assert "the difference still shows after 3 call(s)" in replayed.out  # type: ignore[attr-defined]

    # the bug fixed: the same calls no longer differ
    spec.write_text(spec.read_text().replace("variants:close_twice", "variants:minted"))
    fixed = cli(project, "replay", str(replay_file))
    assert fixed.code == 0, fixed.text  # type: ignore[attr-defined]
    assert "the difference is gone" in fixed.out  # type: ignore[attr-defined]


def test_replay_says_which_step_no_longer_fits(project: Path) -> None:
    spec = write_spec(project, "close_twice")
    assert cli(project, "check", str(spec), "--seed", "5").code == 1  # type: ignore[attr-defined]
    replay_file = only_failure_file(project)
    spec.write_text(spec.read_text().replace("  close:\n", "  finish:\n"))
    done = cli(project, "replay", str(replay_file))
    assert done.code == 2, done.text  # type: ignore[attr-defined]
    assert "step 2: the spec has no action 'close' any more (renamed or removed?)" in done.err  # type: ignore[attr-defined]


def test_replay_of_a_file_that_is_not_one(project: Path) -> None:
    bogus = project / "x.yaml"
    bogus.write_text("hello: world\n")
    done = cli(project, "replay", str(bogus))
    assert done.code == 2  # type: ignore[attr-defined]
    assert "not an mbtspec replay file" in done.err  # type: ignore[attr-defined]
    assert "Traceback" not in done.text  # type: ignore[attr-defined]


def test_saved_failures_are_tried_first_and_removed_once_fixed(project: Path) -> None:
    spec = write_spec(project, "delete_noop")
    first = cli(project, "check", str(spec), "--seed", "3")
    assert first.code == 1  # type: ignore[attr-defined]
    replay_file = only_failure_file(project)
    again = cli(project, "check", str(spec), "--seed", "99")
    assert again.code == 1  # type: ignore[attr-defined]
    assert f"saved failure {replay_file.relative_to(project)}: still fails" in again.err  # type: ignore[attr-defined]
    assert "the saved failure" in again.out and "still shows" in again.out  # type: ignore[attr-defined]
    spec.write_text(spec.read_text().replace("variants:delete_noop", "variants:minted"))
    fixed = cli(project, "check", str(spec), "--seed", "99", "--sequences", "30")
    assert fixed.code == 0, fixed.text  # type: ignore[attr-defined]
    assert "fixed (the file was removed)" in fixed.err  # type: ignore[attr-defined]
    assert not replay_file.exists()


@pytest.fixture
def example_servers(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The example's two implementations as real uvicorn servers (the candidate unfixed)."""
    processes, urls = [], {}
    for name, app in (("model", "examples.employees.memory:app"),
                      ("candidate", "examples.employees.sqlite:app")):
        port = free_port()
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--log-level",
             "warning"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "EMPLOYEES_DB": str(tmp_path / f"{name}.db"),
                 "EMPLOYEES_CASE_SENSITIVE_LIKE": "0"}))
        urls[name] = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
    try:
        yield urls
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_script_reproduces_the_statuses(project: Path,
                                             example_servers: dict[str, str]) -> None:
    spec = project / "spec.yaml"
    spec.write_text((REPO / "examples/employees/spec.yaml").read_text().replace(
        "openapi: openapi.yaml", f"openapi: {REPO / 'examples/employees/openapi.yaml'}"))
    env = {"EMPLOYEES_CASE_SENSITIVE_LIKE": "0", "PYTHONPATH": str(REPO)}
    assert run_cli("check", str(spec), "--no-color", cwd=project, env=env).code == 1
    replay_file = only_failure_file(project)
    script = run_cli("replay", str(replay_file), "--curl", cwd=project)
    assert script.code == 0, script.text
    assert script.out.startswith("#!/bin/sh")
    done = subprocess.run(["sh", "-c", script.out], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "MODEL_URL": example_servers["model"],
                               "CANDIDATE_URL": example_servers["candidate"]}, check=False)
    assert done.returncode == 0, done.stderr
    got = re.findall(r"^(model|candidate): status (\d+)$", done.stdout, re.M)
    recorded = yaml.safe_load(replay_file.read_text())["steps"]
    expected = [(t, str(s["responses"][t]["status"])) for s in recorded
                for t in ("model", "candidate")]
    assert got == expected
    # and the difference shows through curl too: the candidate's search finds more
    assert done.stdout.count("Frontend-") > 2


def test_secrets_are_redacted_in_files_and_curl_unless_asked(project: Path) -> None:
    token = "tok-" + uuid.uuid4().hex
    targets = """\
  model: {app: tests.apps.variants:model, headers: {X-Api-Key: "${env.ORDERS_KEY}"}}
  candidate: {app: tests.apps.variants:close_twice, headers: {X-Api-Key: "${env.ORDERS_KEY}"}}
"""
    spec = project / "orders.yaml"
    spec.write_text(orders_spec(targets))
    env = {"ORDERS_KEY": token}
    report = project / "report.json"
    html = project / "report.html"
    junit = project / "junit.xml"
    done = cli(project, "check", str(spec), "--seed", "5", "--report-json", str(report),
               "--html", str(html), "--junit-xml", str(junit), env=env)
    assert done.code == 1  # type: ignore[attr-defined]
    replay_file = only_failure_file(project)
    for path in (replay_file, report, html, junit):
        text = path.read_text()
        assert token not in text, path
    assert "X-Api-Key: '***'" in replay_file.read_text() or '"***"' in replay_file.read_text()
    curl = cli(project, "replay", str(replay_file), "--curl", env=env)
    assert token not in curl.out and "X-Api-Key: ***" in curl.out  # type: ignore[attr-defined]
    shown = cli(project, "replay", str(replay_file), "--curl", "--show-secrets", env=env)
    assert f"X-Api-Key: {token}" in shown.out  # type: ignore[attr-defined]
    # replaying puts the secret back from the environment: the app still sees one
    assert cli(project, "replay", str(replay_file), env=env).code == 1  # type: ignore[attr-defined]


def test_a_secret_inside_a_header_value_is_restored_on_replay(project: Path) -> None:
    """Targets that answer 401 without 'Bearer <token>': a replay that lost the token would
    see 401 on both sides and call the bug gone."""
    token = "tok-" + uuid.uuid4().hex
    targets = """\
  model:
    app: tests.apps.variants:guarded_model
    headers: {Authorization: "Bearer ${env.ORDERS_TOKEN}"}
  candidate:
    app: tests.apps.variants:guarded_close_twice
    headers: {Authorization: "Bearer ${env.ORDERS_TOKEN}"}
"""
    spec = project / "orders.yaml"
    spec.write_text(orders_spec(targets))
    env = {"ORDERS_TOKEN": token}
    assert cli(project, "check", str(spec), "--seed", "5", env=env).code == 1  # type: ignore[attr-defined]
    replay_file = only_failure_file(project)
    assert token not in replay_file.read_text() and "Bearer ***" in replay_file.read_text()
    replayed = cli(project, "replay", str(replay_file), env=env)
    assert replayed.code == 1, replayed.text  # type: ignore[attr-defined]
    shown = cli(project, "replay", str(replay_file), "--curl", "--show-secrets", env=env)
    assert f"Authorization: Bearer {token}" in shown.out  # type: ignore[attr-defined]


def test_a_damaged_saved_failure_does_not_stop_the_check(project: Path) -> None:
    spec = write_spec(project, "minted")
    folder = project / ".mbtspec" / "failures"
    folder.mkdir(parents=True)
    (folder / "orders-bad.yaml").write_bytes(b"\xff\xfe not yaml")
    (folder / "orders-empty.yaml").write_text(
        f"mbtspec_replay: 1\nspec: {spec}\nspec_absolute: {spec.resolve()}\nsteps: []\n")
    done = cli(project, "check", str(spec), "--sequences", "10")
    assert done.code == 0, done.text  # type: ignore[attr-defined]
    assert "orders-empty.yaml: skipped:" in done.err and "has no steps" in done.err  # type: ignore[attr-defined]
    assert "Traceback" not in done.text  # type: ignore[attr-defined]


def test_json_report_validates_against_its_schema(project: Path) -> None:
    schema = json.loads((REPO / "schemas" / "report.schema.json").read_text())
    validator = Draft202012Validator(schema)
    failing, passing = project / "failing.json", project / "passing.json"
    assert cli(project, "check", str(write_spec(project, "list_limit")), "--seed", "2",
               "--report-json", str(failing)).code == 1  # type: ignore[attr-defined]
    (project / "ok").mkdir()
    assert cli(project / "ok", "check", str(write_spec(project / "ok", "minted")),
               "--sequences", "20", "--report-json", str(passing)).code == 0  # type: ignore[attr-defined]
    for path in (failing, passing):
        data = json.loads(path.read_text())
        errors = sorted(validator.iter_errors(data), key=str)
        assert not errors, [e.message for e in errors]
    bad = json.loads(failing.read_text())
    assert bad["outcome"] == "difference" and bad["failure"]["calls"] == 4
    assert bad["failure"]["replay_file"].endswith(".yaml")
    assert bad["stats"]["actions"]["list"]["runs"] >= 1
    good = json.loads(passing.read_text())
    assert good["failure"] is None and good["stats"]["sequences"] >= 20
    assert good["stats"]["operations"]["never_exercised"] == []
    assert set(good["stats"]["mean_latency_ms"]) == {"model", "candidate"}
    lengths = good["stats"]["sequence_lengths"]
    assert 1 <= lengths["min"] <= lengths["mean"] <= lengths["max"] <= 20


def test_junit_puts_an_invariant_failure_on_its_case(project: Path) -> None:
    xmlschema = pytest.importorskip("xmlschema", reason="pip install .[test]")
    spec = project / "orders.yaml"
    spec.write_text(orders_spec(IN_PROCESS % "minted").replace(
        "invariants:\n",
        "invariants:\n  - {name: \"closing doesn't conflict\", check: candidate.status != 409}\n"))
    junit = project / "junit.xml"
    assert cli(project, "check", str(spec), "--seed", "5", "--junit-xml",  # type: ignore[attr-defined]
               str(junit)).code == 1
    xmlschema.XMLSchema(str(REPO / "tests" / "data" / "junit.xsd")).validate(str(junit))
    import xml.etree.ElementTree as ET

    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    failure = cases["closing doesn't conflict"].find("failure")
    assert failure is not None and failure.get("type") == "invariant"


def test_junit_xml_validates_against_the_schema(project: Path) -> None:
    xmlschema = pytest.importorskip("xmlschema", reason="pip install .[test]")
    schema = xmlschema.XMLSchema(str(REPO / "tests" / "data" / "junit.xsd"))
    junit = project / "junit.xml"
    assert cli(project, "check", str(write_spec(project, "qty_off_by_one")), "--seed", "1",
               "--junit-xml", str(junit)).code == 1  # type: ignore[attr-defined]
    schema.validate(str(junit))
    import xml.etree.ElementTree as ET

    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert {"create", "get", "close", "delete", "list", "no server errors",
            "documented responses"} <= set(cases)
    failure = cases["create"].find("failure")
    assert failure is not None and failure.get("type") == "difference"
    assert "body.qty: 100 != 99" in (failure.text or "")
    assert suite.get("failures") == "1"


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None,
                    reason="no Chromium here (Debian package 'chromium'; .ci/run installs it "
                           "when it can)")
def test_html_report_in_a_headless_browser(project: Path) -> None:
    html = project / "report.html"
    assert cli(project, "check", str(write_spec(project, "close_twice")), "--seed", "5",
               "--html", str(html)).code == 1  # type: ignore[attr-defined]
    page = html.read_text()
    assert "http://" not in page.replace("http://app", "") and "https://" not in page
    assert "<script" not in page  # self-contained, nothing to fail
    browser = [_chromium() or "chromium", "--headless", "--no-sandbox", "--disable-gpu",
               "--no-first-run", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", f"--user-data-dir={project / 'profile'}",
               "--enable-logging=stderr", "--v=0", "--window-size=1280,1600"]
    shot = project / "shot.png"
    taken = subprocess.run([*browser, f"--screenshot={shot}", html.as_uri()],
                           capture_output=True, text=True, timeout=120, check=False)
    assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", taken.stderr
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    console = [line for line in taken.stderr.splitlines() if "CONSOLE" in line]
    assert console == []
    dom = subprocess.run([*browser, "--dump-dom", html.as_uri()], capture_output=True,
                         text=True, timeout=120, check=False).stdout
    assert 'id="diff"' in dom
    assert dom.count('class="line diff"') >= 1  # the differing status is highlighted
    assert "status 409" in dom and "status 200" in dom


def test_quiet_prints_the_verdict_only_and_verbose_every_call(project: Path) -> None:
    spec = write_spec(project, "minted")
    quiet = cli(project, "check", str(spec), "--sequences", "5", "--steps", "4", "-q",
                "--no-database")
    assert quiet.code == 0  # type: ignore[attr-defined]
    assert quiet.out.strip().splitlines() == [  # type: ignore[attr-defined]
        line for line in quiet.out.strip().splitlines() if line.startswith("✓ no difference")]  # type: ignore[attr-defined]
    assert len(quiet.out.strip().splitlines()) == 1  # type: ignore[attr-defined]
    verbose = cli(project, "check", str(spec), "--sequences", "5", "--steps", "4", "-v",
                  "--no-database")
    calls = [line for line in verbose.out.splitlines()  # type: ignore[attr-defined]
             if re.match(r"\s+\d+ \w+  \w+ /orders", line)]
    assert len(calls) >= 5
    assert all("→  model " in line and " candidate " in line for line in calls)
