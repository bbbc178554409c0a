"""Text from outside, shown safely: lint output of a spec holding control characters."""

from __future__ import annotations

import json
from pathlib import Path

from mbtspec.report.problems import render_github, render_text
from mbtspec.report.text import printable
from mbtspec.spec import lint_spec


def test_printable_escapes_what_terminals_and_xml_must_not_get() -> None:
    text = "tab\tline\nesc\x1b[31m nul\x00 del\x7f c1\x85 lone\ud800 non\uffff é😀"
    shown = printable(text)
    assert shown == ("tab\tline\nesc\\u001b[31m nul\\u0000 del\\u007f c1\\u0085 lone\\ud800 "
                     "non\\uffff é😀")
    assert json.loads(f'"{printable(json.dumps(text)[1:-1])}"') == text  # same JSON value


def test_lint_output_never_holds_a_control_character(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text('version: 1\ntargets:\n  candidate: {base_url: "http://x"}\n'
                    'actions:\n  "a\\e[2Jb": {request: GET /}\n')
    problems = list(lint_spec(spec))
    assert any("\x1b" in p.message for p in problems)  # the name, quoted from the file
    lines = [*render_text(problems), *render_github(problems)]
    assert all("\x1b" not in line for line in lines)
    assert any("a\\u001b[2Jb" in line for line in lines)
