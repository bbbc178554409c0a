"""Hostile spec files through the real command line: bounded, positioned, never a traceback.

Each of these printed a traceback, hung or ate the memory before (see issue 8): lint of an
alias bomb or of /dev/zero, check of a schema generator with a $ref to nothing, of a literal
non-ASCII header value, of a 3,000-group pattern; and what lint passed, check refused.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.conftest import run_cli

pytestmark = pytest.mark.e2e


def orders_spec(action: str) -> str:
    """The orders app against itself, in-process, with one more action (YAML, indented)."""
    return f"""\
version: 1
targets:
  model: {{app: tests.apps.orders:app}}
  candidate: {{app: tests.apps.orders:app}}
reset: [{{request: POST /__reset}}]
actions:
  list: {{request: GET /orders}}
  odd:
    request: GET /orders
{action}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


def test_lint_of_a_billion_laughs_ends_at_once(tmp_path: Path) -> None:
    lines = ["x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"] + [
        f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    path = write(tmp_path, "version: 1\n" + "\n".join(lines) + "\n")
    started = time.monotonic()
    done = run_cli("lint", str(path), timeout=60)
    assert time.monotonic() - started < 10  # process start included; was > 120 s
    assert done.code == 1, done.text
    assert "error[yaml-limit]" in done.out and "Traceback" not in done.text


def test_lint_of_a_device_is_a_usage_error(tmp_path: Path) -> None:
    done = run_cli("lint", "/dev/zero", timeout=60)
    assert done.code == 2
    assert "/dev/zero: is a device, not a regular file" in done.err


@pytest.mark.parametrize(("value", "code"), [
    ("{schema: {$ref: '#/definitions/missing'}}", "cannot-generate"),
    ("{string: {pattern: '" + "(" * 3000 + ")" * 3000 + "'}}", "invalid-pattern"),
    ("{string: {pattern: '[^\\s\\S]'}}", "cannot-generate"),
    ("{number: {min: .nan}}", "invalid-generator"),
])
def test_check_refuses_what_lint_refuses_without_a_traceback(tmp_path: Path, value: str,
                                                            code: str) -> None:
    spec = orders_spec(f"    query: {{q: {value}}}")
    path = write(tmp_path, spec)
    lint = run_cli("lint", str(path), timeout=120)
    check = run_cli("check", str(path), "--sequences", "2", "--no-database", timeout=120)
    for done in (lint, check):
        assert f"error[{code}]" in done.out + done.err, done.text
        assert "Traceback" not in done.text
    assert (lint.code, check.code) == (1, 2)


def test_a_non_ascii_header_value_is_a_lint_problem_not_a_crash(tmp_path: Path) -> None:
    spec = orders_spec("    headers: {X-City: Zürich}")
    path = write(tmp_path, spec)
    check = run_cli("check", str(path), "--sequences", "2", "--no-database", timeout=120)
    assert check.code == 2, check.text
    assert "error[invalid-header]" in check.text and "Z%C3%BCrich" in check.text
    assert "Traceback" not in check.text


def test_drawn_non_ascii_header_values_are_sent(tmp_path: Path) -> None:
    spec = orders_spec("    headers: {X-Name: {string: {alphabet: 'aé€'}}}")
    path = write(tmp_path, spec)
    check = run_cli("check", str(path), "--sequences", "5", "--no-database", timeout=120)
    assert check.code == 0, check.text  # was a UnicodeEncodeError traceback
