"""specs/problems.md: every failing example prints exactly what the page says it prints.

Each example is a whole spec.yaml (with the page's shared openapi.yaml next to it, and any
other file the example names); "Printed" is the output of ``mbtspec lint spec.yaml`` (of
``mbtspec check`` for the compile stage, recognised by its closing "nothing was run" line).
Every code of the summary table has a section, and each section a failing example.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mbtspec.spec import iter_problems

REPO = Path(__file__).resolve().parents[2]
PAGE = (REPO / "specs" / "problems.md").read_text(encoding="utf-8")
SHARED = re.search(r"```yaml\n(openapi: 3.*?)```", PAGE, re.S)
EXAMPLE = re.compile(r"failing:\n\n```yaml\n(?P<spec>.*?)```\n\n(?:with (?:`(?P<name>[^`]+)` "
                     r"next to it|the `openapi.yaml` above, except (?P<change>[^\n]*)):\n\n"
                     r"```yaml\n(?P<other>.*?)```\n\n)?Printed:\n\n```\n(?P<printed>.*?)```",
                     re.S)


def sections() -> dict[str, str]:
    return {part.split("`", 1)[0]: part for part in re.split(r"\n### `", PAGE)[1:]}


def examples() -> list[object]:
    out = []
    for code, text in sections().items():
        for number, found in enumerate(EXAMPLE.finditer(text), start=1):
            out.append(pytest.param(found, id=f"{code}-{number}"))
    return out


@pytest.mark.parametrize("found", examples())
def test_the_example_prints_what_the_page_says(found: re.Match[str], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    printed = found["printed"].strip().splitlines()
    if printed[-1].endswith("nothing was run"):
        pytest.skip("a compile-stage example: mbtspec check needs the environment it names")
    assert SHARED is not None
    (tmp_path / "spec.yaml").write_text(found["spec"], encoding="utf-8")
    shared = SHARED[1]
    if found["change"]:  # "except that its info has no version": the line shown replaces it
        key = found["other"].split(":", 1)[0]
        shared = re.sub(rf"(?m)^{key}:.*$", found["other"].strip(), shared)
    (tmp_path / "openapi.yaml").write_text(shared, encoding="utf-8")
    if found["name"]:
        (tmp_path / found["name"]).write_text(found["other"], encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert [p.format() for p in iter_problems("spec.yaml")] == printed


def test_every_code_of_the_table_has_a_section_with_a_failing_example() -> None:
    table = set(re.findall(r"(?m)^\| `([a-z-]+)` \|", PAGE))
    documented = sections()
    assert table - set(documented) == set()
    missing = [code for code in table if code != "schema" and not EXAMPLE.search(
        documented[code])]
    assert missing == []
