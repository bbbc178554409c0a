"""The bundled example, run as the README says: the SQLite candidate's real difference is found
and shrunk; with its fix switched on, the same spec passes 500 sequences."""

from __future__ import annotations

import re

from tests.e2e.conftest import REPO, run_cli

SPEC = "examples/employees/spec.yaml"


def test_example_difference_is_found_and_shrunk() -> None:
    done = run_cli("check", SPEC, "--no-database", "--no-color",
                   env={"EMPLOYEES_CASE_SENSITIVE_LIKE": "0"})
    assert done.code == 1, done.text
    found = re.search(r"DIFFERENCE after (\d+) calls? \(seed 7\)", done.out)
    assert found and int(found.group(1)) <= 3, done.out
    # the last step is a name search whose answers differ by a name in another letter case
    assert re.search(r"\d+\s+search ✗\s+GET /api/employees\?name=", done.out), done.out
    assert "Reproduce: mbtspec check examples/employees/spec.yaml --seed 7" in done.out
    assert "Traceback" not in done.text


def test_example_with_the_fix_passes_500_sequences() -> None:
    done = run_cli("check", SPEC, "--no-database", "--no-color", "--sequences", "500",
                   env={"EMPLOYEES_CASE_SENSITIVE_LIKE": "1"}, timeout=600)
    assert done.code == 0, done.text
    found = re.search(r"✓ no difference in (\d+) sequences / (\d+) calls", done.out)
    assert found and int(found.group(1)) >= 500, done.out
    assert (REPO / SPEC).exists()
