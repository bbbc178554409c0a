"""The YAML examples of the documentation (``specs/*.md`` and ``README.md``), as data.

Documented features must not rot: every YAML block of the docs is found here and classified,
so that tests can lint each one, compare what the docs say a command prints with what it
prints, and run the ones whose targets exist.

A block is one of:

- ``spec``: a whole spec file (it has ``version``);
- ``fragment``: part of a spec (a few keys, an action, a generator...);
- ``other``: YAML that is not a spec, declared by an HTML comment on the line before the block:
  ``<!-- not a spec: WHAT -->`` (a pre-commit configuration, a replay file, an OpenAPI
  document...).

A block may be followed by what a command prints for it: a paragraph ending in ``prints:`` or
``Printed:``, then a plain code block. ``expected`` holds that text.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted((REPO / "specs").glob("*.md")) + [REPO / "README.md"]

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n?", re.S | re.M)
_NOT_A_SPEC = re.compile(r"<!--\s*not a spec:\s*(.*?)\s*-->\s*$")
_ENVIRONMENT = re.compile(r'<!--\s*environment:\s*(\w+)="(.*)"\s*-->\s*$')
_PRINTS = re.compile(r"(?:prints|Printed|printed):\s*$")


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int  # of the opening fence
    text: str
    kind: str  # spec, fragment, other
    why: str = ""  # for ``other``: what it is
    expected: str | None = None  # what the docs say ``mbtspec lint`` (or check) prints
    failing: bool = False  # a failing example of problems.md
    openapi_change: str = ""  # keys that replace those of the OpenAPI document it uses
    files: tuple[tuple[str, str], ...] = ()  # other files next to the spec: (name, text)
    #: environment variables the example is run with: ``<!-- environment: NAME="value" -->``
    #: on the line before the block (the value with Python's backslash escapes)
    environment: tuple[tuple[str, str], ...] = ()

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(REPO)}:{self.line}"


def iter_blocks(doc: Path) -> list[Block]:
    text = doc.read_text(encoding="utf-8")
    fences = list(_FENCE.finditer(text))
    blocks = []
    for index, fence in enumerate(fences):
        if fence.group(1) != "yaml":
            continue
        line = text.count("\n", 0, fence.start()) + 1
        lines_before = text[:fence.start()].rstrip("\n").rsplit("\n", 2)
        before = lines_before[-1]
        environment: tuple[tuple[str, str], ...] = ()
        found_env = _ENVIRONMENT.search(before)
        if found_env:
            value = found_env.group(2).encode().decode("unicode_escape")
            environment = ((found_env.group(1), value),)
            before = lines_before[-2] if len(lines_before) > 1 else ""
            if not before.strip():
                before = lines_before[-3] if len(lines_before) > 2 else ""
        body = fence.group(2)
        marker = _NOT_A_SPEC.search(before)
        expected = None
        following = fences[index + 1] if index + 1 < len(fences) else None
        if following is not None and following.group(1) == "":
            between = text[fence.end():following.start()].strip()
            if between and "```" not in between and _PRINTS.search(between) \
                    and len(between) < 300:
                expected = following.group(2)
        failing = bool(re.search(r"Example \d+, failing:\s*$", before)) or (
            doc.name == "problems.md" and before.strip().endswith("failing:"))
        if marker:
            blocks.append(Block(doc, line, body, "other", marker.group(1), expected, failing))
            continue
        try:
            data = yaml.safe_load(body)
        except (yaml.YAMLError, ValueError):  # (failing examples: an impossible date...)
            data = None
        corrected = before.strip().startswith("Corrected")  # a part of the file, corrected
        kind = "spec" if (isinstance(data, dict) and "version" in data and not corrected
                          or failing) else "fragment"
        blocks.append(Block(doc, line, body, kind, "", expected, failing,
                            environment=environment))
    for index, block in enumerate(blocks[:-1]):  # a spec, then what goes with it
        after = blocks[index + 1]
        if block.kind != "spec" or after.kind != "other":
            continue
        if after.why.startswith("a change to the OpenAPI document"):
            block = dataclasses.replace(block, openapi_change=after.text)
        elif after.why.startswith("the file "):
            block = dataclasses.replace(block, files=((after.why[9:], after.text),))
        else:
            continue
        blocks[index] = dataclasses.replace(block, expected=block.expected or after.expected)
    return blocks


def all_blocks() -> list[Block]:
    return [block for doc in DOCS for block in iter_blocks(doc)]
