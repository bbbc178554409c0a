"""The whole specs of the documentation whose targets exist are run, briefly: a documented
feature that crashes is the worst kind of bug. (Linting every example is in
``tests/unit/test_doc_examples.py``.)

A target exists when it is an in-process ``app`` whose module can be imported from the
repository, or a ``command`` that runs ``${python} -m <module>`` with such a module. A run must
end with exit code 0 (no difference) or 1 (a finding): never 2, 3 or 4, never a traceback.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.docs import REPO, Block, all_blocks
from tests.e2e.conftest import run_cli


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _target_exists(target: Any) -> bool:
    if not isinstance(target, dict):
        return False
    if "app" in target and len(target) == 1 or set(target) <= {"app", "headers", "timeout"}:
        return _module_exists(str(target.get("app", "")).partition(":")[0])
    command = target.get("command")
    if isinstance(command, list) and command[:2] == ["${python}", "-m"] and len(command) > 2:
        return _module_exists(str(command[2]))
    return False


def _runnable(block: Block) -> bool:
    if block.kind != "spec" or block.failing:
        return False
    try:
        data = yaml.safe_load(block.text)
    except (yaml.YAMLError, ValueError):
        return False
    targets = data.get("targets") if isinstance(data, dict) else None
    return isinstance(targets, dict) and bool(targets) and all(
        _target_exists(t) for t in targets.values())


RUNNABLE = [b for b in all_blocks() if _runnable(b)]


def test_some_documented_specs_can_run() -> None:
    assert len(RUNNABLE) >= 2, [b.where for b in RUNNABLE]


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.where for b in RUNNABLE])
def test_a_documented_spec_runs(block: Block, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(block.text)
    name = yaml.safe_load(block.text).get("openapi")
    if isinstance(name, str):
        for place in (REPO / "examples" / "employees", REPO / "tests" / "apps"):
            if (place / name).is_file():
                shutil.copy(place / name, tmp_path / name)
                break
    done = run_cli("check", str(spec), "--sequences", "5", "--steps", "8", "--seed", "1",
                   "--no-database", "--no-color")
    assert done.code in (0, 1), f"{block.where}: exit {done.code}\n{done.text}"
    assert "Traceback" not in done.text
