"""The package's public surface is small, sorted and importable; the code passes its linters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mbtspec

REPO = Path(__file__).resolve().parents[2]


def test_all_is_sorted_and_complete() -> None:
    assert mbtspec.__all__ == sorted(mbtspec.__all__)
    for name in mbtspec.__all__:
        assert getattr(mbtspec, name) is not None


def test_published_schema_is_the_packaged_one() -> None:
    published = REPO / "schemas" / "mbtspec.schema.json"
    packaged = REPO / "mbtspec" / "spec" / "mbtspec.schema.json"
    assert published.read_text() == packaged.read_text()


def test_ruff_and_mypy_pass() -> None:
    ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=REPO,
                          capture_output=True, text=True, check=False)
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr
    mypy = subprocess.run([sys.executable, "-m", "mypy", "mbtspec"], cwd=REPO,
                          capture_output=True, text=True, check=False)
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr
