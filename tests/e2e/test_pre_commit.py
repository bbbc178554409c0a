"""The pre-commit hook, run by the real pre-commit tool on a throwaway git repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OPENAPI = (REPO / "examples" / "employees" / "openapi.yaml").read_text()
GOOD = (REPO / "examples" / "employees" / "spec.yaml").read_text()
BAD = GOOD.replace('"${name}"}', '"${nmae}"}', 1)


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900,
                          check=False)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_hook_passes_good_specs_and_fails_bad_ones(tmp_path: Path) -> None:
    pytest.importorskip("pre_commit", reason="pre-commit is not installed (pip install .[test])")
    if not (REPO / ".git").exists():
        pytest.skip("the hook is tried from this repository's git history; not a checkout")
    work = tmp_path / "project"
    work.mkdir()
    (work / "openapi.yaml").write_text(OPENAPI)
    (work / "good.mbtspec.yaml").write_text(GOOD)
    (work / "bad.mbtspec.yaml").write_text(BAD)
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache"),
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    run(["git", "init", "-q"], work, env)
    run(["git", "add", "."], work, env)
    pre_commit = [sys.executable, "-m", "pre_commit", "try-repo", str(REPO), "mbtspec-lint"]

    good = run([*pre_commit, "--files", "good.mbtspec.yaml"], work, env)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "mbtspec lint" in good.stdout and "Passed" in good.stdout

    bad = run([*pre_commit, "--files", "bad.mbtspec.yaml"], work, env)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "Failed" in bad.stdout
    assert "bad.mbtspec.yaml:" in bad.stdout
    assert "error[unknown-generator]" in bad.stdout and "did you mean 'name'?" in bad.stdout

    everything = run([*pre_commit, "--all-files"], work, env)
    assert everything.returncode == 1  # the bad file is among them; openapi.yaml is not linted
    assert "openapi.yaml:" not in everything.stdout
