"""Small things found on the way: null query literals, problems reported once, HEAD in curl
scripts, and saying why a run counts more sequences than asked."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from mbtspec.compiler import NO_BODY
from mbtspec.errors import SpecError
from mbtspec.executor.replay import RecordedRequest, RecordedStep
from mbtspec.report.curl import render_curl
from mbtspec.report.replay_file import ReplayRecord
from mbtspec.spec import iter_problems, load_spec

OPENAPI = Path(__file__).resolve().parents[1] / "apps" / "uploads_openapi.yaml"


def _spec(tmp_path: Path, actions: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(f"version: 1\nopenapi: {OPENAPI}\ntargets:\n"
                    "  candidate: {base_url: \"http://127.0.0.1:9\"}\n"
                    "reset: [{request: POST /__reset}]\nactions:\n"
                    + textwrap.indent(textwrap.dedent(actions), "  "))
    return path


def test_a_null_query_parameter_is_left_out_not_an_invalid_literal(tmp_path: Path) -> None:
    spec = _spec(tmp_path, """\
      list: {request: listFiles, query: {limit: null}}
      up:
        request: uploadFile
        body: {title: null, doc: {file: {content: x}}}
    """)
    assert [p.format().split(": ", 1)[1] for p in iter_problems(spec)
            if p.severity == "error"] == [
        "error[invalid-literal] actions.up.body.title: null can never be a valid 'title' in the "
        "body of POST /files: null is not of type 'string'"]


def test_a_problem_met_twice_is_reported_once(tmp_path: Path) -> None:
    spec = _spec(tmp_path, """\
      list: {request: listFiles, query: {limit: {object: {a: 1}, optional: [b, b]}}}
    """)
    errors = [p.format() for p in iter_problems(spec) if p.severity == "error"]
    assert len(errors) == 1 and "optional key 'b' is not a key of the object" in errors[0]
    try:
        load_spec(spec)
    except SpecError as error:
        assert [p.format() for p in error.problems] == errors
    else:
        raise AssertionError("an invalid spec loaded")


def test_curl_asks_head_with_dash_i(tmp_path: Path) -> None:
    record = ReplayRecord(tmp_path / "r.yaml", tmp_path / "spec.yaml", "", 1, "difference", (
        RecordedStep("peek", {"model": RecordedRequest("HEAD", "/files/1"),
                              "candidate": RecordedRequest("GET", "/files/1", (), NO_BODY)}),),
        {"targets": ["model", "candidate"]})
    script = render_curl(record, {})
    assert "curl -sS -I -w '\\nmodel: status %{http_code}\\n' \"${MODEL_URL}\"/files/1" in script
    assert "curl -sS -X GET -w" in script
    assert "-X HEAD" not in script


def uploads_spec(tmp_path: Path, run: str) -> Path:
    """A spec of the uploads app that stores and picks, with ``run``."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent(f"""\
        version: 1
        openapi: {OPENAPI}
        targets:
          model: {{app: "tests.apps.uploads:model"}}
          candidate: {{app: "tests.apps.uploads:same_version"}}
        reset: [{{request: POST /__reset}}]
        actions:
          upload: {{request: uploadFile, store: {{files: response.body.id}}}}
          get: {{request: getFile, path: {{id: {{pick: files}}}}}}
        run: {run}
        """))
    return spec


def test_sequences_that_made_no_call_are_not_counted(tmp_path: Path) -> None:
    from mbtspec import check

    spec = uploads_spec(tmp_path, "{sequences: 20, steps: 5, swarm: false}")
    # (without swarm testing: a swarm's own draws change which sequences this seed gives,
    # and with them how many Hypothesis cuts short and draws again; see _beyond_asked)
    stats = check(spec, seed=1, database=None).result.stats
    # every sequence counted made calls (25 were counted once: 5 made no call); a few more
    # than asked may run: see test_the_verdict_says_why_more_sequences_ran_than_asked
    assert stats.sequences == len(stats.lengths) >= 20
    assert all(length > 0 for length in stats.lengths)


def test_the_verdict_says_why_more_sequences_ran_than_asked() -> None:
    from types import SimpleNamespace

    from mbtspec.executor.records import Stats
    from mbtspec.report.terminal import _beyond_asked

    plan: Any = SimpleNamespace(run=SimpleNamespace(sequences=20))
    assert _beyond_asked(Stats(sequences=23, shrinking=2), plan) == (
        " (1 more than the 20 asked: a sequence cut short, where no step could be drawn or "
        "the random data ran out, does not count, and another is drawn in its place)")
    assert _beyond_asked(Stats(sequences=22, shrinking=2), plan) == ""


def test_the_verdict_of_a_part_counts_what_other_parts_were_drawn(tmp_path: Path) -> None:
    from mbtspec import check
    from mbtspec.parallel import parse_shard
    from mbtspec.report.terminal import verdict_line

    spec = uploads_spec(tmp_path, "{sequences: 20, steps: 5}")
    outcome = check(spec, seed=1, database=None, shard=parse_shard("2/4"))
    stats = outcome.result.stats
    assert stats.elsewhere > 0
    line = verdict_line(outcome.result, outcome.plan)
    assert (f"(and {stats.elsewhere} drawn for other parts of the run, dropped after "
            f"{stats.elsewhere_calls} call") in line, line
    whole = check(spec, seed=1, database=None)
    assert "other parts" not in verdict_line(whole.result, whole.plan)
