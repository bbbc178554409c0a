"""The spec loader's problems, one folder per case under tests/cases/spec/.

Each case folder holds ``spec.yaml`` (plus any OpenAPI document it needs; several share
``_shared/openapi.yaml``) and ``expected.txt``: the exact lines ``Problem.format()`` prints, with
file paths relative to the case folder. An empty ``expected.txt`` means "no problem at all".

A case whose ``expected.txt`` says what the output SHOULD be but is not yet has an ``xfail.txt``
holding the reason; it runs as a strict xfail, so fixing the loader turns it into a failure that
asks for the xfail.txt to be deleted.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mbtspec.errors import SpecError, UsageError
from mbtspec.spec import Problem, iter_problems, load_spec

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "tests" / "cases" / "lint"


def _cases() -> list[Path]:
    return sorted(p for p in CASES.iterdir() if p.is_dir() and not p.name.startswith("_"))


def _param(case: Path) -> object:
    reason = case / "xfail.txt"
    marks = ([pytest.mark.xfail(strict=True, reason=reason.read_text().strip())]
             if reason.exists() else [])
    return pytest.param(case, id=case.name, marks=marks)


def _expected(case: Path) -> list[str]:
    return [line for line in (case / "expected.txt").read_text().splitlines() if line.strip()]


def _actual(case: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.chdir(case)
    return [p.format() for p in iter_problems("spec.yaml")]


@pytest.mark.parametrize("case", [_param(c) for c in _cases()])
def test_case(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _actual(case, monkeypatch) == _expected(case)


# --------------------------------------------------------------------------- the cases themselves


def _passing_cases() -> list[Path]:
    return [c for c in _cases() if not (c / "xfail.txt").exists()]


def test_there_are_enough_cases() -> None:
    with_problems = [c for c in _cases() if _expected(c)]
    with_errors = [c for c in _cases() if any(" error[" in line for line in _expected(c))]
    assert len(with_problems) >= 40 and len(with_errors) >= 40


def test_every_loader_code_is_covered_by_a_passing_case() -> None:
    """Each problem code the loader can produce shows up in a case that passes today."""
    wanted = {
        "yaml-syntax", "yaml-duplicate-key", "yaml-key-type", "empty-spec", "yaml-limit",
        "missing-key", "unknown-key", "wrong-type", "invalid-value", "out-of-range", "empty",
        "openapi-invalid", "target-kind", "target-option", "command-port", "invalid-reference",
        "reset-step", "invalid-method", "invalid-request", "unknown-operation",
        "unknown-generator", "unstored-variable", "recursive-generator",
        "invalid-path", "expression-syntax", "undefined-variable", "unknown-function",
        "unknown-parameter", "missing-path-parameter", "ambiguous-generator",
        "invalid-generator", "invalid-pattern", "yaml-tab", "undocumented-parameter",
        "undocumented-property", "undocumented-body", "invalid-literal", "unreachable-action",
        "unsatisfiable-when", "no-reset", "no-model", "uncovered-operation", "openapi-not-valid",
        "cannot-generate", "invalid-header", "expression-limit",
    }
    seen = set()
    for case in _passing_cases():
        for line in _expected(case):
            seen.add(line.split("[", 1)[1].split("]", 1)[0])
    assert wanted - seen == set()


def test_expected_files_are_well_formed() -> None:
    for case in _cases():
        assert (case / "spec.yaml").exists(), case.name
        for line in _expected(case):
            assert line.startswith("spec.yaml:"), (case.name, line)
            assert " error[" in line or " warning[" in line, (case.name, line)


# --------------------------------------------------------------------------- valid specs


VALID = [
    REPO / "examples" / "employees" / "spec.yaml",
    *[c / "spec.yaml" for c in _cases()
      if not any(" error[" in line for line in _expected(c)) and not (c / "xfail.txt").exists()],
]


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.parent.name)
def test_valid_spec_loads_without_errors(path: Path) -> None:
    assert [p for p in iter_problems(path) if p.severity == "error"] == []
    spec = load_spec(path)
    assert spec.path == path
    assert spec.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert spec.candidate.name == "candidate"


def test_valid_specs_include_the_example_and_the_full_case() -> None:
    names = {p.parent.name for p in VALID}
    assert {"employees", "valid_full", "valid_minimal"} <= names


def test_employees_example_model() -> None:
    spec = load_spec(REPO / "examples" / "employees" / "spec.yaml")
    assert [t.name for t in spec.targets] == ["model", "candidate"]
    assert spec.model is not None and spec.model.kind == "app"
    assert spec.candidate.kind == "command"
    assert spec.candidate.ready is not None and spec.candidate.ready.path == "/api/employees"
    assert [a.name for a in spec.actions] == ["create", "get_one", "rename", "by_department",
                                              "search"]
    search = spec.actions[-1]
    assert (search.method, search.path) == ("GET", "/api/employees")  # from the operationId
    assert search.operation is not None and search.operation.operation_id == "listEmployees"
    assert search.fill == "none"
    assert [p.text for p in search.compare.unordered] == ["body"]
    # the top-level ignore paths are inherited by every action
    assert [p.text for p in search.compare.ignore] == ["body.createdAt", "body[*].createdAt"]
    assert spec.variables == ("known",)
    assert [c.name for c in spec.invariants] == ["no server errors", "documented responses"]
    assert (spec.run.sequences, spec.run.steps, spec.run.seed) == (200, 30, 7)


def test_full_case_model_details() -> None:
    spec = load_spec(CASES / "valid_full" / "spec.yaml")
    actions = {a.name: a for a in spec.actions}
    assert actions["create"].weight == 3
    assert [c.name for c in actions["create"].expect] == ["response.status == 201",
                                                          "echoes the name"]
    get = actions["get"]
    assert get.compare.status == "class"
    assert get.compare.headers == ("etag",)
    # action rules extend the top-level ones
    assert [p.text for p in get.compare.ignore] == ["body.createdAt", "body.price"]
    assert actions["delete"].compare.body == "ignore"
    assert actions["delete"].compare.headers == ("content-type",)
    assert actions["delete"].when is not None
    listing = actions["list"]
    assert [p.segments for p in listing.compare.ignore[1:]] == [
        ("body", "*", "id"), ("body", "**", "etag"), ("headers", "x-id")]
    candidate = spec.candidate
    assert candidate.kind == "command" and candidate.timeout == 2.5
    assert candidate.reset is not None and len(candidate.reset) == 2
    assert candidate.reset[0].command == ("./reset.sh", "--hard")
    assert (candidate.reset[1].method, candidate.reset[1].path,
            candidate.reset[1].status) == ("POST", "/__reset", 204)
    assert spec.reset[0].method == "POST" and spec.reset[0].path == "/__reset"
    assert (spec.run.max_time, spec.run.sequences) == (2.5, 5)
    # the model target: in-process app, no ready check
    assert spec.model is not None and spec.model.ready is None


def test_defaults_of_a_minimal_spec() -> None:
    spec = load_spec(CASES / "valid_minimal" / "spec.yaml")
    assert (spec.run.sequences, spec.run.steps, spec.run.seed, spec.run.max_time) == (
        100, 20, None, None)
    assert spec.compare.status == "exact" and spec.compare.body == "exact"
    assert all(a.fill == "all" and a.weight == 1 for a in spec.actions)
    assert spec.variables == ("items",)


def test_boolean_header_value_reads_as_written() -> None:
    spec = load_spec(CASES / "valid_full" / "spec.yaml")
    assert dict(spec.candidate.headers)["X-Flag"] == "true"


# --------------------------------------------------------------------------- load_spec errors


def test_load_spec_raises_spec_error_with_sorted_problems(
        monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES / "unknown_generator"
    monkeypatch.chdir(case)
    with pytest.raises(SpecError) as caught:
        load_spec("spec.yaml")
    problems = caught.value.problems
    errors = [line for line in _expected(case) if " error[" in line]
    assert len(problems) == len(errors) >= 2  # the errors only: warnings do not stop a run
    assert list(problems) == sorted(problems)
    assert [p.format() for p in problems] == errors
    assert all(isinstance(p, Problem) and p.severity == "error" for p in problems)
    more = len(problems) - 1
    assert str(caught.value) == f"{problems[0].format()} (and {more} more)"


def test_spec_error_with_one_problem_has_no_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CASES / "command_port")
    with pytest.raises(SpecError) as caught:
        load_spec("spec.yaml")
    assert len(caught.value.problems) == 1
    assert str(caught.value) == caught.value.problems[0].format()


def test_problems_are_sorted_even_across_stages(monkeypatch: pytest.MonkeyPatch) -> None:
    # builder problems (values, expressions, operations) come out in file order
    monkeypatch.chdir(CASES / "expression_syntax")
    problems = iter_problems("spec.yaml")
    assert problems == sorted(problems)
    assert [p.line for p in problems] == sorted(p.line for p in problems)


def test_yaml_problems_stop_before_the_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    # this case is otherwise schema-valid; a YAML error must not be followed by
    # schema noise about the half-read document
    monkeypatch.chdir(CASES / "yaml_key_type")
    assert {p.code for p in iter_problems("spec.yaml")} == {"yaml-key-type"}


def test_schema_problems_stop_before_the_builder(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("version: 1\ntargets: {candidate: {base_url: 'http://x'}}\n"
                    "actions: {a: {request: GET /x, weight: 0, body: '${nothing}'}}\n")
    assert [p.code for p in iter_problems(path)] == ["out-of-range"]


def test_file_name_is_shown_as_given(tmp_path: Path) -> None:
    path = tmp_path / "odd name.yaml"
    path.write_text("version: 1\n")
    problems = iter_problems(path)
    assert problems and all(p.file == str(path) for p in problems)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda d: d / "missing.yaml", "no such file"),
        (lambda d: d, "is a directory"),
    ],
)
def test_unreadable_spec_is_a_usage_error(tmp_path: Path, make, words: str) -> None:
    with pytest.raises(UsageError, match=words):
        load_spec(make(tmp_path))
    with pytest.raises(UsageError, match=words):
        iter_problems(make(tmp_path))


def test_non_utf8_spec_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_bytes(b"version: 1\nname: \xff\xfe\n")
    with pytest.raises(UsageError, match="not UTF-8"):
        load_spec(path)


def test_top_level_list_is_a_wrong_type(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("- version: 1\n")
    problems = iter_problems(path)
    assert [(p.code, p.line, p.column) for p in problems] == [("wrong-type", 1, 1)]
    assert "expected a mapping, got a list" in problems[0].message
