"""parse_yaml: positions of values and keys, YAML quirks reported as problems, offsets.

Positions are 1-based (line, column). Expected positions below are counted by hand from the
YAML text next to them (a ``^`` comment marks the column where it helps).
"""

from __future__ import annotations

from textwrap import dedent

import pytest

from mbtspec.spec._yaml import Mark, Positions, parse_yaml
from mbtspec.spec.problems import Problem, did_you_mean, format_path


def parse(text: str):
    return parse_yaml(dedent(text).lstrip("\n"), "s.yaml")


def codes(parsed) -> list[str]:
    return [p.code for p in parsed.problems]


def where(mark: Mark) -> tuple[int, int]:
    return mark.line, mark.column


# --------------------------------------------------------------------------- positions


BLOCK = """\
version: 1
targets:
  candidate:
    base_url: "http://x"
actions:
  list:
    request: GET /items
    query: {tag: 'a', n: 3}
    expect:
      - response.status == 200
      - [nested, list]
"""


def test_value_positions_of_block_and_flow_nodes() -> None:
    parsed = parse_yaml(BLOCK, "s.yaml")
    assert parsed.problems == []
    v = parsed.positions.values
    assert where(v[("version",)]) == (1, 10)
    assert where(v[("targets", "candidate", "base_url")]) == (4, 15)
    assert where(v[("actions", "list", "request")]) == (7, 14)
    # flow mapping: the mapping itself, then each value
    assert where(v[("actions", "list", "query")]) == (8, 12)
    assert where(v[("actions", "list", "query", "tag")]) == (8, 18)
    assert where(v[("actions", "list", "query", "n")]) == (8, 26)
    # list items, and a list nested in a list
    assert where(v[("actions", "list", "expect", 0)]) == (10, 9)
    assert where(v[("actions", "list", "expect", 1)]) == (11, 9)
    assert where(v[("actions", "list", "expect", 1, 0)]) == (11, 10)
    assert where(v[("actions", "list", "expect", 1, 1)]) == (11, 18)


def test_key_positions() -> None:
    parsed = parse_yaml(BLOCK, "s.yaml")
    k = parsed.positions.keys
    assert where(k[("version",)]) == (1, 1)
    assert where(k[("targets",)]) == (2, 1)
    assert where(k[("targets", "candidate")]) == (3, 3)
    assert where(k[("targets", "candidate", "base_url")]) == (4, 5)
    assert where(k[("actions", "list", "query", "tag")]) == (8, 13)
    assert where(k[("actions", "list", "query", "n")]) == (8, 23)
    # list items have no key
    assert ("actions", "list", "expect", 0) not in k


def test_scalar_style_is_recorded() -> None:
    parsed = parse_yaml(BLOCK, "s.yaml")
    v = parsed.positions.values
    assert v[("version",)].style is None
    assert v[("targets", "candidate", "base_url")].style == '"'
    assert v[("actions", "list", "query", "tag")].style == "'"
    block = parse("""
        a: |
          x
        b: >
          y
    """)
    assert block.positions.values[("a",)].style == "|"
    assert block.positions.values[("b",)].style == ">"


def test_data_is_plain_python() -> None:
    parsed = parse_yaml(BLOCK, "s.yaml")
    assert parsed.data == {
        "version": 1,
        "targets": {"candidate": {"base_url": "http://x"}},
        "actions": {"list": {
            "request": "GET /items",
            "query": {"tag": "a", "n": 3},
            "expect": ["response.status == 200", ["nested", "list"]],
        }},
    }


def test_of_falls_back_to_the_nearest_ancestor() -> None:
    positions = parse_yaml(BLOCK, "s.yaml").positions
    known = positions.of(("actions", "list", "query"))
    assert positions.of(("actions", "list", "query", "missing", 3)) == known
    # a key lookup without a key (a list index) falls back to the value position
    assert where(positions.of(("actions", "list", "expect", 0), key=True)) == (10, 9)
    # nothing known at all: the document's root
    assert where(positions.of(("nothing",))) == (1, 1)
    assert where(Positions("x").of(("a",))) == (1, 1)


def test_problem_is_located_at_value_or_key() -> None:
    positions = parse_yaml(BLOCK, "s.yaml").positions
    at_value = positions.problem(("targets", "candidate", "base_url"), "c", "m")
    at_key = positions.problem(("targets", "candidate", "base_url"), "c", "m", key=True)
    assert (at_value.line, at_value.column) == (4, 15)
    assert (at_key.line, at_key.column) == (4, 5)
    assert at_value.json_path == "targets.candidate.base_url"
    assert at_value.format() == "s.yaml:4:15: error[c] targets.candidate.base_url: m"
    warning = positions.problem(("version",), "w", "careful", severity="warning")
    assert warning.format() == "s.yaml:1:10: warning[w] version: careful"


def test_end_line_of_multi_line_nodes() -> None:
    parsed = parse_yaml(BLOCK, "s.yaml")
    assert parsed.positions.values[("targets",)].end_line == 5
    assert parsed.positions.values[("version",)].end_line == 1


def test_empty_document_has_no_data_and_no_problem() -> None:
    for text in ("", "# only a comment\n", "---\n"):
        parsed = parse_yaml(text, "s.yaml")
        assert parsed.data is None
        assert parsed.problems == []


# --------------------------------------------------------------------------- duplicates


def test_duplicate_key_reported_at_the_second_key() -> None:
    parsed = parse("""
        actions:
          list:
            request: GET /a
          other: {request: GET /b}
          list:
            request: GET /c
    """)
    assert codes(parsed) == ["yaml-duplicate-key"]
    problem = parsed.problems[0]
    assert (problem.line, problem.column) == (5, 3)
    assert problem.json_path == "actions.list"
    assert "first defined at line 2" in problem.message
    assert "remove or rename" in problem.message


def test_duplicate_keys_in_a_flow_mapping_and_at_several_depths() -> None:
    parsed = parse("""
        a: {x: 1, y: 2, x: 3}
        b:
          c: 1
          c: 2
        a: 0
    """)
    found = sorted((p.line, p.column, p.json_path) for p in parsed.problems)
    assert found == [(1, 17, "a.x"), (4, 3, "b.c"), (5, 1, "a")]
    assert set(codes(parsed)) == {"yaml-duplicate-key"}


def test_same_key_in_different_mappings_is_not_a_duplicate() -> None:
    parsed = parse("""
        a: {x: 1}
        b: {x: 1}
        c: [{x: 1}, {x: 2}]
    """)
    assert parsed.problems == []


# --------------------------------------------------------------------------- key types


@pytest.mark.parametrize(
    ("text", "shown", "column"),
    [
        ("headers:\n  on: '1'\n", "on", 3),  # YAML 1.1 boolean
        ("headers:\n  yes: '1'\n", "yes", 3),
        ("query:\n  404: x\n", "404", 3),
        ("query:\n  1.5: x\n", "1.5", 3),
        ("query:\n  null: x\n", "null", 3),
        ("query: {a: 1, 2: x}\n", "2", 15),
    ],
)
def test_non_string_keys_are_reported_at_the_key(text: str, shown: str, column: int) -> None:
    parsed = parse_yaml(text, "s.yaml")
    assert codes(parsed) == ["yaml-key-type"]
    problem = parsed.problems[0]
    assert (problem.line, problem.column) == (2 if "\n  " in text else 1, column)
    assert f"key '{shown}' is not a string" in problem.message
    assert f'"{shown}"' in problem.message  # how to fix: quote it
    # the data keeps going, with the key as the text that was written
    top = next(iter(parsed.data.values()))
    assert shown in top


def test_quoted_keys_that_look_like_numbers_are_fine() -> None:
    parsed = parse("""
        responses:
          "404": x
          'true': y
    """)
    assert parsed.problems == []
    assert parsed.data == {"responses": {"404": "x", "true": "y"}}


def test_collection_key_message_does_not_suggest_quoting_a_placeholder() -> None:
    parsed = parse_yaml("[a, b]: x\n", "s.yaml")
    assert codes(parsed) == ["yaml-key-type"]
    assert "a collection\")" not in parsed.problems[0].message


# --------------------------------------------------------------------------- tabs


def test_tab_in_indentation_is_reported_at_the_tab() -> None:
    parsed = parse_yaml("a:\n  b: 1\n  \tc: 2\n", "s.yaml")
    tab = [p for p in parsed.problems if p.code == "yaml-tab"]
    assert [(p.line, p.column) for p in tab] == [(3, 3)]
    assert "replace it with spaces" in tab[0].message
    assert parsed.data is None


def test_tab_after_content_is_not_an_indentation_problem() -> None:
    parsed = parse_yaml("a: 1\t# comment\nb:\t2\n", "s.yaml")
    assert parsed.problems == []
    assert parsed.data == {"a": 1, "b": 2}


def test_tab_in_indentation_is_reported_once() -> None:
    parsed = parse_yaml("a:\n\t- x\n", "s.yaml")
    assert codes(parsed) == ["yaml-tab"]


def test_tab_inside_block_scalar_text_is_fine() -> None:
    parsed = parse_yaml("a: |\n  x\n  \ty\n", "s.yaml")
    assert parsed.problems == []
    assert parsed.data == {"a": "x\n\ty\n"}


# --------------------------------------------------------------------------- syntax errors


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        # the second ':' of the line
        ("key: value: other\n", 1, 11, "mapping values are not allowed"),
        # 'b: 2' indented under a scalar: YAML sees the ':' of line 2
        ("a: 1\n b: 2\n", 2, 3, "mapping values are not allowed"),
        # the extra ']' of '[1, 2]]'
        ("a: [1, 2]]\n", 1, 10, "did not find expected key"),
        # a mapping key after a sequence at the same level
        ("- a\nb: 1\n", 2, 1, "expected '-' indicator"),
        # '@' cannot start a plain scalar
        ("a: @foo\n", 1, 4, "cannot start any token"),
    ],
)
def test_syntax_errors_at_the_place_yaml_reports(text: str, line: int, column: int,
                                                 words: str) -> None:
    parsed = parse_yaml(text, "s.yaml")
    assert parsed.data is None
    assert codes(parsed) == ["yaml-syntax"]
    problem = parsed.problems[0]
    assert (problem.line, problem.column) == (line, column)
    assert words in problem.message
    assert "fix the YAML syntax here" in problem.message
    assert problem.json_path == ""


def test_syntax_error_never_raises_and_keeps_the_file_name() -> None:
    parsed = parse_yaml("a: [\n", "dir/spec.yaml")
    assert parsed.problems and parsed.problems[0].file == "dir/spec.yaml"


def test_unclosed_quote_points_at_the_quote() -> None:
    parsed = parse_yaml('x: "unterminated\ny: 1\n', "s.yaml")
    problem = parsed.problems[0]
    assert (problem.line, problem.column) == (1, 4)


def test_second_document_message_is_understandable() -> None:
    parsed = parse_yaml("a: 1\n---\nb: 2\n", "s.yaml")
    assert codes(parsed) == ["yaml-syntax"]
    message = parsed.problems[0].message
    assert not message.startswith("but ")
    assert "document" in message and "---" in message


def test_unknown_tag_is_a_problem_at_the_tagged_value() -> None:
    parsed = parse_yaml("a: 1\nb: !foo x\n", "s.yaml")
    assert codes(parsed) == ["yaml-syntax"]
    problem = parsed.problems[0]
    assert (problem.line, problem.column, problem.json_path) == (2, 4, "b")
    assert "!foo" in problem.message


def test_python_tags_are_not_constructed() -> None:
    parsed = parse_yaml("c: !!python/name:os.getcwd ''\n", "s.yaml")
    assert codes(parsed) == ["yaml-syntax"]
    assert parsed.data == {"c": None}
    # a tag on a collection is not applied either: the data stays plain
    parsed = parse_yaml("c: !!python/object/apply:os.getcwd []\n", "s.yaml")
    assert parsed.data == {"c": []}


def test_construction_error_message_is_one_line() -> None:
    parsed = parse_yaml("a: !!binary zz\n", "s.yaml")
    assert codes(parsed) == ["yaml-syntax"]
    assert "\n" not in parsed.problems[0].message
    assert "<unicode string>" not in parsed.problems[0].message


def test_impossible_date_is_a_problem_not_a_crash() -> None:
    parsed = parse_yaml("a: 1\nseed: 2024-02-30\n", "s.yaml")
    assert [(p.line, p.column) for p in parsed.problems] == [(2, 7)]


def test_recursive_alias_is_reported() -> None:
    parsed = parse("""
        generators:
          loop: &loop {one_of: [1, *loop]}
    """)
    assert codes(parsed) == ["yaml-syntax"]
    problem = parsed.problems[0]
    assert "recursive alias" in problem.message
    assert problem.json_path == "generators.loop.one_of[1]"
    assert problem.line == 2


def test_an_alias_used_twice_is_not_recursive() -> None:
    parsed = parse("""
        a: &x {k: [1, 2]}
        b: *x
        c: [*x, *x]
    """)
    assert parsed.problems == []
    assert parsed.data["b"] == parsed.data["a"] == {"k": [1, 2]}
    assert parsed.data["c"] == [{"k": [1, 2]}, {"k": [1, 2]}]
    # a copy, not the same object: changing one must not change the other
    parsed.data["b"]["k"].append(3)
    assert parsed.data["a"] == {"k": [1, 2]}


# --------------------------------------------------------------------------- merge keys


MERGE = """\
base: &base
  x: 1
  y: 2
derived:
  <<: *base
  y: 3
  z: 4
"""


def test_merge_key_copies_keys_and_explicit_keys_win() -> None:
    parsed = parse_yaml(MERGE, "s.yaml")
    assert parsed.problems == []
    assert parsed.data["derived"] == {"x": 1, "y": 3, "z": 4}
    assert parsed.data["base"] == {"x": 1, "y": 2}
    assert "<<" not in parsed.data["derived"]


def test_merge_of_several_anchors_first_one_wins() -> None:
    parsed = parse("""
        a: &a {k: a, only_a: 1}
        b: &b {k: b, only_b: 2}
        c:
          <<: [*a, *b]
          own: 3
    """)
    assert parsed.problems == []
    assert parsed.data["c"] == {"own": 3, "k": "a", "only_a": 1, "only_b": 2}


def test_merged_key_is_located_where_it_is_written() -> None:
    parsed = parse_yaml(MERGE, "s.yaml")
    v = parsed.positions.values
    assert where(v[("derived", "x")]) == (2, 6)  # in the anchored mapping
    assert where(v[("derived", "z")]) == (7, 6)
    assert where(v[("derived",)]) == (5, 3)


def test_explicit_key_keeps_its_position_after_a_merge() -> None:
    parsed = parse_yaml(MERGE, "s.yaml")
    assert where(parsed.positions.values[("derived", "y")]) == (6, 6)
    assert where(parsed.positions.keys[("derived", "y")]) == (6, 3)


def test_merge_key_and_explicit_key_are_not_duplicates() -> None:
    parsed = parse_yaml(MERGE, "s.yaml")
    assert "yaml-duplicate-key" not in codes(parsed)


# --------------------------------------------------------------------------- offsets


def _problem_at(text: str, path: tuple, offset: tuple[int, int]) -> tuple[int, int]:
    positions = parse_yaml(text, "s.yaml").positions
    problem = positions.problem(path, "expression-syntax", "m", offset=offset)
    return problem.line, problem.column


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # plain: 'a ++ b' starts at column 8; offset column 4 is the second '+'
        ("check: a ++ b\n", (1, 11)),
        # single quoted: the text starts one column after the quote (column 8)
        ("check: 'a ++ b'\n", (1, 12)),
        # double quoted
        ('check: "a ++ b"\n', (1, 12)),
        # nested in a flow mapping, after other keys
        ("x: {name: n, check: a ++ b}\n", (1, 24)),
    ],
)
def test_offset_shifts_into_single_line_scalars(text: str, expected: tuple[int, int]) -> None:
    path = ("x", "check") if text.startswith("x:") else ("check",)
    line, column = _problem_at(text, path, (1, 4))
    assert (line, column) == expected
    assert text.splitlines()[line - 1][column - 1] == "+"


def test_offset_on_a_later_line_of_a_flow_scalar_falls_back_to_its_start() -> None:
    # line 2 of a plain multi-line scalar: columns cannot be mapped, the scalar's start is used
    assert _problem_at("check: a &&\n  b ++ c\n", ("check",), (2, 3)) == (1, 8)


def test_offset_line_in_a_block_scalar() -> None:
    text = "check: |\n  a &&\n  b ++ c\n"
    line, _ = _problem_at(text, ("check",), (2, 3))
    assert line == 3


def test_offset_column_in_a_block_scalar_includes_the_indentation() -> None:
    text = "check: |\n  a &&\n  b ++ c\n"
    line, column = _problem_at(text, ("check",), (2, 4))
    assert text.splitlines()[line - 1][column - 1] == "+"
    assert (line, column) == (3, 6)


def test_expression_error_column_points_into_the_expression() -> None:
    """End to end through the builder: CEL's column lands on the offending character."""
    import tempfile
    from pathlib import Path

    from mbtspec.spec import iter_problems

    spec = dedent("""\
        version: 1
        targets:
          candidate: {base_url: "http://127.0.0.1:1"}
        actions:
          a:
            request: GET /x
            when: size(x) ++ 1
            expect:
              - 'response.status ++ 200'
        """)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.yaml"
        path.write_text(spec)
        problems = [p for p in iter_problems(path) if p.code == "expression-syntax"]
    lines = spec.splitlines()
    assert [(p.line, p.json_path) for p in problems] == [
        (7, "actions.a.when"), (9, "actions.a.expect[0]")]
    for p in problems:
        # the reported column is the second '+' of '++'
        assert lines[p.line - 1][p.column - 1] == "+"
        assert lines[p.line - 1][p.column - 2] == "+"


# --------------------------------------------------------------------------- helpers


def test_format_path_reads_like_the_file() -> None:
    assert format_path(()) == ""
    assert format_path(("actions", "create", "body", "name")) == "actions.create.body.name"
    assert format_path(("reset", 0, "request")) == "reset[0].request"
    assert format_path(("headers", "X-Id")) == "headers.X-Id"
    assert format_path(("body", "a.b")) == "body['a.b']"
    assert format_path(("body", "1st")) == "body['1st']"
    assert format_path(("a", 0, 1)) == "a[0][1]"


def test_problems_sort_by_file_line_column() -> None:
    a = Problem("a.yaml", 3, 1, "", "x", "m")
    b = Problem("a.yaml", 1, 9, "", "x", "m")
    c = Problem("a.yaml", 1, 2, "", "x", "m")
    d = Problem("0.yaml", 9, 9, "", "x", "m")
    assert sorted([a, b, c, d]) == [d, c, b, a]


def test_problem_as_dict_has_every_field() -> None:
    p = Problem("f", 2, 3, "a.b", "code", "msg", "warning")
    assert p.as_dict() == {"file": "f", "line": 2, "column": 3, "json_path": "a.b",
                           "code": "code", "severity": "warning", "message": "msg"}
    assert Problem("f", 2, 3, "", "code", "msg").format() == "f:2:3: error[code] msg"


@pytest.mark.parametrize(
    ("name", "known", "hint"),
    [
        ("generator", ["generators", "actions"], " (did you mean 'generators'?)"),
        ("EXACT", ["exact", "class"], " (did you mean 'exact'?)"),  # case only
        ("zzz", ["exact", "class"], ""),
        ("x", [], ""),
    ],
)
def test_did_you_mean(name: str, known: list[str], hint: str) -> None:
    assert did_you_mean(name, known) == hint


def test_did_you_mean_ignores_non_strings() -> None:
    assert did_you_mean("1", [1, None, "2"]) == ""  # type: ignore[list-item]
