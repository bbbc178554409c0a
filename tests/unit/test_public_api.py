"""The package's public surface is small, sorted and importable; the code passes its linters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mbtspec

REPO = Path(__file__).resolve().parents[2]


def test_all_is_sorted_and_complete() -> None:
    assert mbtspec.__all__ == sorted(mbtspec.__all__)
    assert set(mbtspec.__all__) == set(mbtspec._WHERE)
    for name in mbtspec.__all__:
        assert getattr(mbtspec, name) is not None


def test_published_schema_is_the_packaged_one() -> None:
    published = REPO / "schemas" / "mbtspec.schema.json"
    packaged = REPO / "mbtspec" / "spec" / "mbtspec.schema.json"
    assert published.read_text() == packaged.read_text()


def test_ruff_and_mypy_pass() -> None:
    ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "mbtspec", "tests", "bench",
                           "examples"], cwd=REPO,
                          capture_output=True, text=True, check=False)
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr
    mypy = subprocess.run([sys.executable, "-m", "mypy", "mbtspec"], cwd=REPO,
                          capture_output=True, text=True, check=False)
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr


def test_lint_loads_no_engine() -> None:
    """`mbtspec lint` runs on every commit: no Hypothesis, httpx, executor or Rich."""
    spec = REPO / "examples" / "employees" / "spec.yaml"
    code = (
        "import sys\n"
        "from mbtspec.cli import main\n"
        f"sys.argv = ['mbtspec', 'lint', {str(spec)!r}]\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert exit.code == 0, exit.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('hypothesis', 'httpx', 'rich', 'pydantic', 'schemathesis', 'jsonschema_rs') "
        "or m.startswith('mbtspec.executor'))\n"
        "print(heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout
