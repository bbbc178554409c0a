"""Every YAML example of the documentation is checked, so that documented features cannot rot.

- A whole spec is linted where it stands (with the OpenAPI document it names): no error, or,
  when the docs show what ``mbtspec lint`` prints for it, exactly that output.
- A fragment (a few keys of a spec) must fit somewhere in a spec: it is placed where it can go
  (top level, an action, a target, generators, compare) and checked against the format's JSON
  Schema, then linted in that place; only problems that come from the missing context (names
  defined elsewhere in the docs, operations of a document it does not show) are let through.
- Blocks marked ``<!-- not a spec: ... -->`` must still be YAML (or be an excerpt, said so).

Running the examples whose targets exist is in ``tests/e2e/test_doc_examples_run.py``.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from mbtspec.spec import lint_spec
from mbtspec.spec.problems import Problem
from tests.docs import REPO, Block, all_blocks

BLOCKS = all_blocks()
SCHEMA = json.loads((REPO / "schemas" / "mbtspec.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

#: Problems a fragment shows only because the rest of its spec is not there.
CONTEXT_CODES = frozenset({
    "unknown-generator", "unstored-variable", "undefined-variable", "unsatisfiable-when",
    "unknown-operation", "missing-path-parameter", "unknown-parameter", "undocumented-parameter",
    "undocumented-property", "undocumented-body", "invalid-literal", "unreachable-action",
    "no-reset", "no-model", "uncovered-operation", "openapi-invalid", "invalid-request",
    "command-port", "unknown-action",
})


def ids(blocks: list[Block]) -> list[str]:
    return [b.where for b in blocks]


SPECS = [b for b in BLOCKS if b.kind == "spec"]
FRAGMENTS = [b for b in BLOCKS if b.kind == "fragment"]
OTHERS = [b for b in BLOCKS if b.kind == "other"]


def test_the_docs_have_examples_of_every_kind() -> None:
    # a guard against the extraction silently finding nothing
    assert len(SPECS) >= 80 and len(FRAGMENTS) >= 50 and OTHERS
    assert sum(b.expected is not None for b in SPECS) >= 70


def _problems_openapi() -> str:
    problems = next(b for b in OTHERS if b.doc.name == "problems.md"
                    and b.text.startswith("openapi: 3"))
    return problems.text


def _support(block: Block, folder: Path) -> None:
    """Put next to the spec the files its examples name (the OpenAPI document)."""
    try:
        data = yaml.safe_load(block.text)
    except (yaml.YAMLError, ValueError):
        return
    name = data.get("openapi") if isinstance(data, dict) else None
    if not isinstance(name, str) or "/" in name:
        return
    if block.doc.name != "README.md" and name == "openapi.yaml":
        document = yaml.safe_load(_problems_openapi())
        document.update(yaml.safe_load(block.openapi_change or "{}"))
        (folder / name).write_text(yaml.safe_dump(document, sort_keys=False))
        return
    for place in (block.doc.parent, REPO / "examples" / "employees", REPO / "tests" / "apps"):
        if (place / name).is_file():
            shutil.copy(place / name, folder / name)
            return


def _lint_text(problems: list[Problem]) -> str:
    return "".join(p.format() + "\n" for p in problems)


@pytest.mark.parametrize("block", SPECS, ids=ids(SPECS))
def test_a_whole_spec_lints_as_the_docs_say(block: Block, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(block.text)
    _support(block, tmp_path)
    for name, text in block.files:
        (tmp_path / name).write_text(text)
    if block.expected is not None and block.expected.endswith("nothing was run\n"):
        # what `mbtspec check` prints: it stops before starting any target
        env = {k: v for k, v in os.environ.items() if not k.startswith("ITEMS_")}
        env.update(block.environment)
        done = subprocess.run([sys.executable, "-m", "mbtspec.cli", "check", "spec.yaml",
                               "--no-database", "--no-color"], capture_output=True,
                              text=True, env={**env, "COLUMNS": "300",
                                              "PYTHONPATH": str(REPO)}, check=False)
        assert (done.returncode, done.stdout + done.stderr) == (2, block.expected), block.where
        return
    problems = lint_spec("spec.yaml")
    if block.expected is not None:
        assert _lint_text(problems) == block.expected, block.where
        return
    if block.failing:
        assert problems, block.where
        return
    errors = [p.format() for p in problems if p.severity == "error"]
    assert errors == [], block.where


# ----------------------------------------------------------------------------- fragments

BASE: dict[str, Any] = {
    "version": 1,
    "targets": {"model": {"base_url": "http://127.0.0.1:8081"},
                "candidate": {"base_url": "http://127.0.0.1:8080"}},
    "reset": [{"request": "POST /__reset"}],
    "actions": {"list": {"request": "GET /items"}},
}
ACTION = {"request": "GET /items/{id}"}
#: A fragment is taken as generators only when each of its values is one (not a literal).
GENERATOR_KEYS = frozenset({"one_of", "integer", "number", "boolean", "string", "format", "list",
                            "object", "schema", "const", "let"})
TARGETS = [{"base_url": "http://127.0.0.1:8080"},
           {"command": ["server", "--port", "${port}"]}, {"app": "shop.app:app"}]


def _placements(fragment: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every way to put ``fragment`` into a whole spec."""

    def spec(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        doc = copy.deepcopy(BASE)
        change(doc)
        return doc

    if isinstance(fragment, list):
        yield "reset", spec(lambda d: d.update(reset=fragment))
        yield "invariants", spec(lambda d: d.update(invariants=fragment))
        return
    if not isinstance(fragment, dict):
        return
    yield "top level", spec(lambda d: d.update(fragment))
    yield "an action", spec(lambda d: d.update(actions={"a": {**ACTION, **fragment}}))
    yield "actions", spec(lambda d: d.update(actions=fragment))
    for base in TARGETS:
        yield "a target", spec(lambda d, b=base: d["targets"].update(  # type: ignore[misc]
            candidate={**b, **fragment}))
    yield "targets", spec(lambda d: d.update(targets=fragment))
    yield "some targets", spec(lambda d: d["targets"].update(fragment))
    yield "an invariant", spec(lambda d: d.update(invariants=[{"name": "i", **fragment}]))
    if all(isinstance(v, dict) and GENERATOR_KEYS & set(v) for v in fragment.values()):
        yield "generators", spec(lambda d: d.update(generators=fragment))
    yield "compare", spec(lambda d: d.update(compare=fragment))
    yield "run", spec(lambda d: d.update(run=fragment))


@pytest.mark.parametrize("block", FRAGMENTS, ids=ids(FRAGMENTS))
def test_a_fragment_fits_in_a_spec_and_lints(block: Block, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    fragment = yaml.safe_load(block.text)
    monkeypatch.chdir(tmp_path)
    tried: list[tuple[int, str, list[str]]] = []
    for place, doc in _placements(fragment):
        errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in VALIDATOR.iter_errors(doc)]
        if not errors:
            (tmp_path / "spec.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
            errors = [p.format() for p in lint_spec("spec.yaml")
                      if p.severity == "error" and p.code not in CONTEXT_CODES]
            if not errors:
                return
        tried.append((len(errors), place, errors))
    closest = min(tried, default=(0, "nowhere", []))
    pytest.fail(f"{block.where}: the fragment fits nowhere in a spec; closest, as "
                f"{closest[1]}: {closest[2]}")


@pytest.mark.parametrize("block", OTHERS, ids=ids(OTHERS))
def test_other_yaml_blocks_are_yaml_or_say_they_are_excerpts(block: Block) -> None:
    if "excerpt" in block.why:
        assert "..." in block.text, f"{block.where}: an excerpt leaves something out ('...')"
        return
    assert yaml.safe_load(block.text) is not None, block.where


def test_every_problem_code_has_a_section_with_a_failing_example() -> None:
    page = (REPO / "specs" / "problems.md").read_text(encoding="utf-8")
    table = set(re.findall(r"(?m)^\| `([a-z-]+)` \|", page))
    sections = {part.split("`", 1)[0]: part for part in re.split(r"\n### `", page)[1:]}
    assert table - set(sections) == set()
    missing = [code for code in table if code != "schema"
               and not re.search(r"failing[:,]", sections[code])]
    assert missing == []
    checked = {b.line for b in SPECS if b.doc.name == "problems.md" and b.expected}
    assert len(checked) >= len(table) - 1  # each failing example's output is compared
