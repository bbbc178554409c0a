"""The pytest plugin: spec files collected and run as tests (through the installed entry point).

Each inner pytest runs in a subprocess: in-process runs would unload and import again the
Rust-backed CEL module between runs, which it does not survive.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.apps.wsgi_notes import SPEC as NOTES_SPEC

pytest_plugins = ["pytester"]

NOTES_APP = (Path(__file__).parents[1] / "apps" / "wsgi_notes.py").read_text()
SPEC = NOTES_SPEC.replace("tests.apps.wsgi_notes:", "notes_app:")
BROKEN = SPEC + """\
  - {name: short lists, check: "action != 'all' || size(candidate.body) < 2"}
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(notes_app=NOTES_APP)
    return pytester


def test_a_passing_spec_is_a_passing_test(project: pytest.Pytester) -> None:
    project.makefile(".mbtspec.yaml", notes=SPEC)
    result = project.runpytest_subprocess("--mbtspec-sequences", "15", "-rP")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*mbtspec check notes.mbtspec.yaml*",
                                 "*no difference in * sequences*"])


def test_a_failure_shows_the_report_and_how_to_run_it_again(project: pytest.Pytester) -> None:
    project.makefile(".mbtspec.yaml", broken=BROKEN)
    result = project.runpytest_subprocess("--mbtspec-sequences", "40", "--mbtspec-seed", "1")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*INVARIANT BROKEN after 3 calls (seed 1)*",
        "*invariant 'short lists' broken*",
        "Reproduce: mbtspec check *broken.mbtspec.yaml --seed 1 --sequences 40",
        "Replay: mbtspec replay .mbtspec/failures/broken.mbtspec-*.yaml*",
        "In pytest: pytest broken.mbtspec.yaml::check --mbtspec-seed 1 --mbtspec-sequences 40",
    ])
    again = project.runpytest_subprocess()  # the saved failure is tried first
    again.assert_outcomes(failed=1)
    again.stdout.fnmatch_lines(["*the saved failure * still shows (3 call(s))*"])


TWO_BUGS = BROKEN + """\
  - {name: first note only, check: "action != 'read' || candidate.body.id == 500"}
"""


@pytest.mark.parametrize("how", ["spec", "option"])
def test_keep_going_shows_every_failure(project: pytest.Pytester, how: str) -> None:
    spec = TWO_BUGS + ("run: {keep_going: true}\n" if how == "spec" else "")
    project.makefile(".mbtspec.yaml", two=spec)
    options = ["--mbtspec-keep-going"] if how == "option" else []
    result = project.runpytest_subprocess("--mbtspec-sequences", "60", "--mbtspec-seed", "1",
                                          *options)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "2 distinct failures (replay files in .mbtspec/failures/)*",
        "Failure 1 of 2: *",
        "*INVARIANT BROKEN after * calls (seed 1)*",
        "Replay: mbtspec replay .mbtspec/failures/two.mbtspec-*.yaml*",
        "Failure 2 of 2: *",
        "*INVARIANT BROKEN after * calls (seed 1)*",
        "Replay: mbtspec replay .mbtspec/failures/two.mbtspec-*.yaml*",
        "✗ 2 distinct failures found in *",
        "In pytest: pytest two.mbtspec.yaml::check --mbtspec-seed 1 --mbtspec-sequences 60"
        + (" --mbtspec-keep-going" if how == "option" else ""),
    ])
    table = result.stdout.str().split("Failure 1 of 2")[0]
    assert re.search(r"^\d  broken invariant  all +short lists +3 ", table, re.M)
    assert re.search(r"^\d  broken invariant  read +first note only +3 ", table, re.M)
    assert len(list((project.path / ".mbtspec" / "failures").iterdir())) == 2


def test_an_invalid_spec_fails_with_its_place(project: pytest.Pytester) -> None:
    project.makefile(".mbtspec.yaml", bad=SPEC.replace("GET /notes\n", "GETT /notes\n"))
    result = project.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert ("bad.mbtspec.yaml:19:14: error[invalid-method] actions.all.request: 'GETT' is not "
            "an HTTP method" in output)
    assert "bad.mbtspec.yaml: invalid spec (1 problem); nothing was run" in output
    assert "Traceback" not in output


def test_a_target_that_cannot_start_fails_with_the_reason(project: pytest.Pytester) -> None:
    project.makefile(".mbtspec.yaml", gone=SPEC.replace("notes_app:candidate", "nowhere:app"))
    result = project.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*cannot import app module 'nowhere'*"])


def test_other_yaml_files_are_collected_only_when_named(project: pytest.Pytester) -> None:
    project.makefile(".yaml", spec=SPEC, other="version: 2\nname: not a spec\n")
    project.runpytest_subprocess().assert_outcomes()  # neither matches the default patterns
    named = project.runpytest_subprocess("spec.yaml", "--mbtspec-sequences", "5")
    named.assert_outcomes(passed=1)
    other = project.runpytest_subprocess("other.yaml")  # pytest's own "not found"
    assert other.ret == pytest.ExitCode.USAGE_ERROR
    other.stderr.fnmatch_lines(["*not found: *other.yaml*"])


def test_patterns_come_from_the_ini_file(project: pytest.Pytester) -> None:
    project.makefile(".yaml", api_spec=SPEC)
    project.makeini("[pytest]\nmbtspec_files = *_spec.yaml\n")
    project.runpytest_subprocess("--mbtspec-sequences", "5").assert_outcomes(passed=1)


def test_no_database_leaves_no_files(project: pytest.Pytester) -> None:
    project.makefile(".mbtspec.yaml", broken=BROKEN)
    result = project.runpytest_subprocess("--mbtspec-no-database", "--mbtspec-sequences", "40",
                               "--mbtspec-seed", "1")
    result.assert_outcomes(failed=1)
    assert not (project.path / ".mbtspec").exists()


def test_bad_option_values_are_usage_errors(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--mbtspec-sequences", "0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--mbtspec-sequences must be more than 0, not 0*"])


BOOM = """\
import {module}


def boom(*args, **kwargs):
    raise RuntimeError("boom")


{module}.{name} = boom
"""


@pytest.mark.parametrize("module, name, spec", [
    ("mbtspec._check", "check", SPEC),  # while running
    ("mbtspec.report.terminal", "render_failure", BROKEN),  # while showing a failure
])
def test_a_bug_in_mbtspec_is_a_clear_failure_not_an_internalerror(
        project: pytest.Pytester, module: str, name: str, spec: str) -> None:
    project.makeconftest(BOOM.format(module=module, name=name))
    project.makefile(".mbtspec.yaml", notes=spec)
    result = project.runpytest_subprocess("--mbtspec-sequences", "40", "--mbtspec-seed", "1")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["internal error: RuntimeError: boom — a bug in mbtspec, please "
                                 "report it (rerun with MBTSPEC_DEBUG=1 to see the traceback)"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert "Traceback" not in result.stdout.str()


def test_pytest_xdist_spreads_spec_files_and_shards_over_its_workers(
        project: pytest.Pytester) -> None:
    project.makefile(".mbtspec.yaml", one=SPEC, two=SPEC)
    result = project.runpytest_subprocess("-n", "2", "-v", "-p", "xdist",
                                          "--mbtspec-shards", "2", "--mbtspec-sequences", "10")
    result.assert_outcomes(passed=4)
    output = result.stdout.str()
    for name in ("one", "two"):
        for shard in ("shard-1-of-2", "shard-2-of-2"):
            assert f"{name}.mbtspec.yaml::check[{shard}]" in output
    assert "[gw0] " in output and "[gw1] " in output  # both workers ran items


def test_a_shard_fails_with_the_command_of_its_part(project: pytest.Pytester) -> None:
    project.makefile(".mbtspec.yaml", broken=BROKEN)
    result = project.runpytest_subprocess("-n", "2", "-p", "xdist", "--mbtspec-shards", "2",
                                          "--mbtspec-sequences", "40", "--mbtspec-seed", "1")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 1
    output = result.stdout.str()
    found = re.search(r"Reproduce: mbtspec check \S*broken.mbtspec.yaml --seed 1 --shard "
                      r"(\d)/2 --sequences 40", output)
    assert found, output
    assert (f"In pytest: pytest 'broken.mbtspec.yaml::check[shard-{found[1]}-of-2]' "
            "--mbtspec-seed 1 --mbtspec-sequences 40 --mbtspec-shards 2") in output


def test_shards_without_a_seed_are_parts_of_one_run(project: pytest.Pytester) -> None:
    # no --mbtspec-seed and no run.seed: every xdist worker takes the same run seed
    project.makefile(".mbtspec.yaml", broken=BROKEN)
    result = project.runpytest_subprocess("-n", "2", "-p", "xdist", "--mbtspec-shards", "2",
                                          "--mbtspec-sequences", "40", "--mbtspec-no-database")
    seeds = set(re.findall(r"Reproduce: mbtspec check \S+ --seed (\d+) --shard",
                           result.stdout.str()))
    assert len(seeds) == 1, result.stdout.str()
