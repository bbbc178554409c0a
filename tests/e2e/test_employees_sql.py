"""End to end: the seed's own story. ``examples/employees-sql/spec.yaml`` starts PostgreSQL
and MariaDB itself (services), runs one application on each, finds that MariaDB's LIKE
ignores case, and shrinks it to two calls; with a binary collation the two agree.

Needs the Debian servers (``postgresql``, ``mariadb-server``; ``.ci/run`` installs them as
root) and the two drivers (``pip install '.[sql-example]'``): the tests skip, saying which is
missing, only where they cannot be had."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, processes_with, run_cli

SPEC = REPO / "examples" / "employees-sql" / "spec.yaml"
# The spec's default is Debian 12's PostgreSQL 15; another version is passed as PG_BIN.
_VERSIONS = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"),
                   key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
PG_BIN = Path(os.environ.get("PG_BIN") or (_VERSIONS[-1].parent if _VERSIONS
                                           else "/usr/lib/postgresql/15/bin"))


def _missing() -> str:
    wanted = {"PostgreSQL (Debian package postgresql)": (PG_BIN / "postgres").is_file(),
              "MariaDB (Debian package mariadb-server)": bool(shutil.which("mariadbd")),
              "psycopg (pip install '.[sql-example]')": bool(importlib.util.find_spec("psycopg")),
              "PyMySQL (pip install '.[sql-example]')": bool(importlib.util.find_spec("pymysql"))}
    return ", ".join(name for name, found in wanted.items() if not found)


pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(bool(_missing()), reason=f"not installed: {_missing()}")]


def test_the_databases_differ_on_like_and_the_difference_shrinks_to_two_calls(
        tmp_path: Path) -> None:
    mark = f"employees-sql-{tmp_path.name}"  # inherited by the apps and the databases
    done = run_cli("check", str(SPEC), "--no-database", "--no-color", "--seed", "7",
                   env={"EMPLOYEES_TEST_MARK": mark, "PG_BIN": str(PG_BIN)})
    assert done.code == 1, done.text
    assert "shrunk to 2 call(s)" in done.text
    steps = [line.split()[1] for line in done.text.splitlines() if line[:3] in ("1  ", "2  ")]
    assert steps == ["create", "search"], done.text
    assert "body[0]: <absent> ≠ " in done.text  # the model (PostgreSQL) found nobody
    assert "reset: " in done.text
    assert not processes_with(mark)  # both databases and both apps are gone


def test_with_a_binary_collation_the_databases_agree() -> None:
    done = run_cli("check", str(SPEC), "--no-database", "--no-color", "--seed", "7",
                   "--sequences", "10", "--steps", "10",
                   env={"EMPLOYEES_COLLATION": "utf8mb4_bin", "PG_BIN": str(PG_BIN)})
    assert done.code == 0, done.text
    assert "✓ no difference" in done.text
