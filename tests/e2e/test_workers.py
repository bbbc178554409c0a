"""``--workers N`` and ``--shard i/n`` end to end: the same failures as one process finds for
the same part, reports that validate, shared servers refused, and Ctrl-C or a killed worker
stopping every worker and every target."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.e2e.conftest import REPO, orders_spec, processes_with, run_cli

SEVERAL = """\
  model: {app: tests.apps.variants:model}
  candidate: {app: tests.apps.fragile:several}
"""
REPORT_SCHEMA = json.loads((REPO / "schemas" / "report.schema.json").read_text())


def spec_file(tmp_path: Path, targets: str = SEVERAL) -> Path:
    spec = tmp_path / "spec.yaml"
    spec.write_text(orders_spec(targets))
    return spec


def failing_steps(report: dict[str, Any]) -> list[list[tuple[str, str]]]:
    """Each failure's steps as (action, request path of the model), timings left out."""
    return [[(s["action"], s["requests"]["model"]["path"]) for s in f["steps"]]
            for f in report["failures"]]


@pytest.mark.parametrize(("shard", "sequences", "parts"), [
    ([], "60", ("1/2", "2/2")),
    # worker j of shard 2/2 runs part 2 + 2*(j-1) of 4
    (["--shard", "2/2"], "120", ("2/4", "4/4")),
])
def test_workers_find_what_the_part_finds_alone(tmp_path: Path, shard: list[str],
                                                sequences: str, parts: tuple[str, ...]
                                                ) -> None:
    spec = spec_file(tmp_path)
    both = run_cli("check", str(spec), "--workers", "2", *shard, "--seed", "1",
                   "--sequences", sequences, "--no-database", "--no-color", "--report-json",
                   str(tmp_path / "w.json"), cwd=REPO)
    assert both.code == 1, both.text
    line = next(x for x in both.out.splitlines() if x.startswith("Reproduce: "))
    command = line.removeprefix("Reproduce: ").split()
    assert command[command.index("--shard") + 1] in parts
    alone = run_cli(*command[1:], "--no-database", "--no-color", "--report-json",
                    str(tmp_path / "one.json"), cwd=REPO)
    assert alone.code == 1, alone.text
    parallel = json.loads((tmp_path / "w.json").read_text())
    single = json.loads((tmp_path / "one.json").read_text())
    Draft202012Validator(REPORT_SCHEMA).validate(parallel)
    assert failing_steps(parallel) == failing_steps(single)
    assert parallel["seed"] == single["seed"] == 1


def test_keep_going_merges_the_parts_one_failure_per_signature(tmp_path: Path) -> None:
    spec = spec_file(tmp_path)
    done = run_cli("check", str(spec), "--workers", "2", "--seed", "3", "--sequences", "120",
                   "--keep-going", "--no-database", "--no-color", "--report-json",
                   str(tmp_path / "w.json"), cwd=REPO)
    assert done.code == 1, done.text
    report = json.loads((tmp_path / "w.json").read_text())
    Draft202012Validator(REPORT_SCHEMA).validate(report)
    last = [f["steps"][-1]["action"] for f in report["failures"]]
    assert sorted(last) == ["close", "create", "list"]
    assert report["stats"]["sequences"] >= 120


def test_a_shared_server_is_refused_unless_it_takes_parallel_sequences(tmp_path: Path) -> None:
    spec = spec_file(tmp_path, "  model: {base_url: 'http://127.0.0.1:9'}\n"
                               "  candidate: {app: tests.apps.fragile:several}\n")
    refused = run_cli("check", str(spec), "--workers", "2", "--no-database", "--no-color",
                      cwd=REPO)
    assert refused.code == 2
    assert "target 'model' is a server mbtspec does not start" in refused.err
    assert "parallel_sequences: true" in refused.err


def test_every_worker_keeps_its_examples_and_replays_its_own_saved_failures(
        tmp_path: Path) -> None:
    spec = spec_file(tmp_path)
    env = {"PYTHONPATH": str(REPO)}
    first = run_cli("check", str(spec), "--workers", "2", "--seed", "4", "--sequences", "60",
                    "--keep-going", "--no-color", cwd=tmp_path, env=env)
    assert first.code == 1, first.text
    saved = sorted((tmp_path / ".mbtspec" / "failures").glob("spec-*.yaml"))
    assert len(saved) >= 2
    parts = {p.name for p in (tmp_path / ".mbtspec" / "hypothesis").glob("*/part-*")}
    assert parts == {"part-1-of-2", "part-2-of-2"}
    again = run_cli("check", str(spec), "--workers", "2", "--seed", "4", "--sequences", "60",
                    "--keep-going", "--no-color", cwd=tmp_path, env=env)
    assert again.code == 1, again.text
    for path in saved:  # (each replayed once: by the worker whose part found it)
        assert again.err.count(f"saved failure {path.relative_to(tmp_path)}:") == 1, again.err


COMMANDS = """\
  model:
    command: ["${{python}}", -m, uvicorn, tests.apps.orders:env_app, --port, "${{port}}"]
    env: {{MARKER: "{marker}"}}
  candidate:
    command: ["${{python}}", -m, uvicorn, tests.apps.orders:env_app, --port, "${{port}}"]
    env: {{MARKER: "{marker}"}}
"""


def start_long_run(tmp_path: Path) -> tuple[subprocess.Popen[str], str]:
    marker = f"mbtspec-workers-{uuid.uuid4().hex}"
    spec = spec_file(tmp_path, COMMANDS.format(marker=marker))
    process = subprocess.Popen(
        [sys.executable, "-m", "mbtspec.cli", "check", str(spec), "--workers", "2",
         "--sequences", "100000", "--no-database", "--no-color"],
        cwd=REPO, env={**os.environ, "MARKER": marker}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    # four servers (two per worker), all answering: the run is under way
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(servers(marker)) < 4:
        time.sleep(0.1)
    assert len(servers(marker)) == 4
    time.sleep(1.0)
    return process, marker


def servers(marker: str) -> list[int]:
    return [pid for pid in processes_with(marker) if b"uvicorn" in
            Path(f"/proc/{pid}/cmdline").read_bytes()]


def workers(marker: str) -> list[int]:
    return [pid for pid in processes_with(marker) if b"mbtspec.parallel._worker" in
            Path(f"/proc/{pid}/cmdline").read_bytes()]


def gone(marker: str, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not processes_with(marker):
            return True
        time.sleep(0.1)
    return False


def test_ctrl_c_stops_every_worker_and_every_target(tmp_path: Path) -> None:
    process, marker = start_long_run(tmp_path)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, out + err
    assert gone(marker), processes_with(marker)


def test_a_killed_worker_stops_the_others_and_every_target(tmp_path: Path) -> None:
    process, marker = start_long_run(tmp_path)
    victim = workers(marker)[0]
    os.kill(victim, signal.SIGKILL)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 3, out + err  # (as for a target that died)
    line = next(x for x in err.splitlines() if x.startswith("error: worker "))
    assert re.fullmatch(
        r"error: worker ([12]) of 2 was killed by signal SIGKILL before it finished its part "
        r"\((its last output: .*|no output)\); every worker and its targets were stopped; run "
        r"that part alone with: mbtspec check \S+ --seed \d+ --shard \1/2 --sequences 100000",
        line), line
    assert gone(marker), processes_with(marker)


def test_shards_cover_the_run_and_their_reports_merge(tmp_path: Path) -> None:
    spec = spec_file(tmp_path)
    parts = []
    for index in (1, 2, 3):
        report = tmp_path / f"shard-{index}.json"
        done = run_cli("check", str(spec), "--shard", f"{index}/3", "--seed", "5",
                       "--sequences", "90", "--keep-going", "--no-database", "--no-color",
                       "--report-json", str(report), cwd=REPO)
        assert done.code in (0, 1), done.text
        parts.append(json.loads(report.read_text()))
    assert {p["seed"] for p in parts} == {5}
    merged_path, junit = tmp_path / "merged.json", tmp_path / "merged.xml"
    merged = run_cli("merge-reports", *(str(tmp_path / f"shard-{i}.json") for i in (1, 2, 3)),
                     "--report-json", str(merged_path), "--junit-xml", str(junit), cwd=REPO)
    report = json.loads(merged_path.read_text())
    Draft202012Validator(REPORT_SCHEMA).validate(report)
    assert merged.code == (1 if report["failures"] else 0)
    generated = sum(p["stats"]["sequences"] - p["stats"]["sequences_while_shrinking"]
                    for p in parts)
    assert generated >= 90
    assert report["stats"]["sequences"] == sum(p["stats"]["sequences"] for p in parts)
    assert report["stats"]["other_parts_sequences"] == sum(
        p["stats"]["other_parts_sequences"] for p in parts) > 0
    keys = [(f["action"], f["kind"], f["place"]) for f in report["failures"]]
    assert len(keys) == len(set(keys))
    assert set(keys) == {(f["action"], f["kind"], f["place"]) for p in parts
                         for f in p["failures"]}
    assert junit.read_text().count("<failure ") == len(keys)  # (a test case each)


def test_reports_of_other_runs_are_not_merged(tmp_path: Path) -> None:
    spec = spec_file(tmp_path)
    for seed in (1, 2):
        run_cli("check", str(spec), "--shard", "1/2", "--seed", str(seed), "--sequences", "4",
                "--no-database", "--no-color", "--report-json", str(tmp_path / f"{seed}.json"),
                cwd=REPO)
    done = run_cli("merge-reports", str(tmp_path / "1.json"), str(tmp_path / "2.json"),
                   cwd=REPO)
    assert done.code == 2
    assert "its seed is 2, not 1" in done.err
    assert "only the shards of one run (same spec, same --seed) can be merged" in done.err
