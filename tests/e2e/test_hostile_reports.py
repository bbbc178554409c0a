"""Reports of hostile answers: bytes that are not UTF-8, control characters, bodies nested
thousands of levels deep, bodies that differ in every one of their 15,000 elements; and runs
that check nothing. Every report stays bounded, readable and valid; nothing is a traceback."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import REPO, run_cli

REPORTS = ("--report-json", "report.json", "--html", "report.html", "--junit-xml", "junit.xml")


def check(folder: Path, spec: str, *args: str) -> tuple[int, str]:
    (folder / "spec.yaml").write_text(spec)
    done = run_cli("check", "spec.yaml", "--no-color", "--seed", "1", *REPORTS, *args,
                   cwd=folder, env={"PYTHONPATH": str(REPO)})
    assert "Traceback" not in done.text and "internal error" not in done.text, done.text
    return done.code, done.out + done.err


def assert_valid_reports(folder: Path) -> dict[str, str]:
    """Every report parses, as what it is; returns their texts."""
    texts = {name: (folder / name).read_text(encoding="utf-8")
             for name in ("report.json", "report.html", "junit.xml")}
    json.loads(texts["report.json"])
    ET.fromstring(texts["junit.xml"].encode())
    xmlschema = pytest.importorskip("xmlschema", reason="pip install .[test]")
    xmlschema.XMLSchema(str(REPO / "tests" / "data" / "junit.xsd")).validate(
        str(folder / "junit.xml"))
    for name, text in texts.items():  # no control character, which HTML and XML forbid
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]", text), name
    for path in (folder / ".mbtspec" / "failures").glob("*.yaml"):
        assert yaml.safe_load(path.read_text(encoding="utf-8"))["steps"]
        texts[path.name] = path.read_text(encoding="utf-8")
    return texts


def spec(candidate: str, model: str, actions: str) -> str:
    return f"""\
version: 1
targets:
  model: {{app: "tests.apps.echo:{model}"}}
  candidate: {{app: "tests.apps.echo:{candidate}"}}
actions:
{actions}
run: {{sequences: 2, steps: 2}}
"""


@pytest.mark.parametrize("path", ["/raw", "/json"])
def test_binary_and_control_characters_in_every_report(tmp_path: Path, path: str) -> None:
    code, output = check(tmp_path, spec("binary_candidate", "binary_model",
                                        f"  get:\n    request: GET {path}\n"))
    assert code == 1, output
    assert "\x1b" not in output and "\x00" not in output  # no terminal commands
    assert "\\u001b" in output  # shown, escaped
    texts = assert_valid_reports(tmp_path)
    assert "&lt;/pre&gt;&lt;script&gt;" in texts["report.html"]


@pytest.mark.parametrize("depth", [900, 5000])
def test_a_body_nested_thousands_of_levels_deep(tmp_path: Path, depth: int) -> None:
    code, output = check(tmp_path, spec("deep_candidate", "deep_model",
                                        f"  deep:\n    request: GET /deep\n"
                                        f"    query: {{depth: \"{depth}\"}}\n"))
    assert code == 1, output
    texts = assert_valid_reports(tmp_path)
    report = json.loads(texts["report.json"])
    body = report["failure"]["steps"][0]["responses"]["model"]["body"]
    assert isinstance(body, str) and body.startswith("[[[[")
    replay_file = next((tmp_path / ".mbtspec" / "failures").glob("*.yaml"))
    replayed = run_cli("replay", str(replay_file), "--no-color", cwd=tmp_path,
                       env={"PYTHONPATH": str(REPO)})
    assert replayed.code == 1, replayed.text


def test_fifteen_thousand_differences_print_twenty(tmp_path: Path) -> None:
    code, output = check(tmp_path, spec("huge_candidate", "huge_model",
                                        "  huge:\n    request: GET /huge\n"
                                        "    query: {mb: \"1\"}\n"))
    assert code == 1, output
    from tests.apps.echo import huge_count

    count = huge_count(1)  # elements, each with a different score
    differences = [line for line in output.splitlines() if "≠" in line]
    assert len(differences) == 20
    assert (f"… and {count - 20:,} more differences (--report-json saves the first 1,000 "
            "and counts the rest)") in output
    assert len(output.splitlines()) < 150
    texts = assert_valid_reports(tmp_path)
    finding = json.loads(texts["report.json"])["failure"]["steps"][0]["findings"][0]
    assert len(finding["differences"]) == 1000
    assert finding["differences_omitted"] == count - 1000
    assert texts["junit.xml"].count(" != ") == 20
    assert f"… and {count - 20:,} more differences" in texts["report.html"]
    assert len(texts["report.html"]) < 1_000_000
    saved = next(name for name in texts if name.endswith(".yaml"))
    assert len(texts[saved]) < 500_000  # bodies of 1 MB each, saved as their first 64 KiB


def test_a_run_that_checks_nothing_says_so_in_every_report(tmp_path: Path) -> None:
    code, output = check(tmp_path, spec("candidate", "model", "  echo:\n    request: GET /\n"),
                         "--max-time", "0.001")
    assert code == 0, output
    assert "✓ nothing was checked: no call was made" in output
    texts = assert_valid_reports(tmp_path)
    report = json.loads(texts["report.json"])
    assert report["outcome"] == "pass" and report["stats"]["steps"] == 0
    assert 'skipped message="not run' in texts["junit.xml"]


def test_a_report_that_cannot_be_written_is_said_and_the_others_are_written(
        tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    (tmp_path / "afolder").mkdir()
    (tmp_path / "spec.yaml").write_text(spec("candidate", "model",
                                             "  echo:\n    request: GET /\n"))
    done = run_cli("check", "spec.yaml", "--no-color", "--seed", "1", "--junit-xml",
                   "afile/junit.xml", "--html", "afolder", "--report-json", "ok/report.json",
                   cwd=tmp_path, env={"PYTHONPATH": str(REPO)})
    assert done.code == 1, done.text  # the candidate differs: the run's own exit code
    assert "error: cannot write afile/junit.xml: afile is a file, not a folder" in done.err
    assert "error: cannot write afolder: it is a folder; give a file name" in done.err
    assert json.loads((tmp_path / "ok" / "report.json").read_text())["outcome"] == "difference"
    assert "Traceback" not in done.text


def test_a_replay_file_that_cannot_be_written_does_not_cost_the_failure(
        tmp_path: Path) -> None:
    (tmp_path / ".mbtspec").write_text("")  # a file where the folder should be
    code, output = check(tmp_path, spec("candidate", "model", "  echo:\n    request: GET /\n"))
    assert code == 1, output
    assert "error: cannot write the replay file in .mbtspec/failures: Not a directory" in output
    assert "DIFFERENCE after 1 call" in output


def test_names_with_control_characters_in_every_report(tmp_path: Path) -> None:
    """An invariant's name comes from the spec: YAML lets it hold any character."""
    code, output = check(tmp_path, spec("candidate", "model", "  echo:\n    request: GET /\n")
                         + 'invariants:\n  - {name: "bell\\a esc\\e", check: "true"}\n')
    assert code == 1, output
    texts = assert_valid_reports(tmp_path)
    assert 'name="bell\\u0007 esc\\u001b"' in texts["junit.xml"]
