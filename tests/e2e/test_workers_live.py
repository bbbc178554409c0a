"""``--workers`` as a user meets it: live progress on a terminal (and nothing of it in a log),
how a run ends when a worker dies or meets a bug (exit 3 or 4, which worker, the command
that runs its part alone, nothing left running; a failure found before is still reported),
and races searched by several workers."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

from bench.races import spec_for
from tests.docs import all_blocks
from tests.e2e.conftest import REPO, orders_spec, processes_with, run_cli
from tests.e2e.test_workers import gone

PASSING = """\
  model: {app: tests.apps.variants:model}
  candidate: {app: tests.apps.variants:model}
"""
SLOW_BUG = """\
  model: {app: tests.apps.variants:model}
  candidate: {app: tests.apps.fragile:slow_close_twice}
"""


def spec_file(folder: Path, targets: str) -> Path:
    spec = folder / "spec.yaml"
    spec.write_text(orders_spec(targets))
    return spec


def run_in_terminal(*args: str, env: dict[str, str]) -> tuple[int, str]:
    """Run ``mbtspec`` with a pseudo-terminal as its output, as in a shell: its exit code
    and everything it wrote, control sequences included."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "mbtspec.cli", *args], cwd=REPO,
                               stdin=subprocess.DEVNULL, stdout=follower, stderr=follower,
                               env={**os.environ, "TERM": "xterm-256color", **env})
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # (EIO: the last writer closed the terminal)
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return process.wait(timeout=120), b"".join(chunks).decode(errors="replace")


def test_workers_show_their_progress_summed_on_a_terminal(tmp_path: Path) -> None:
    spec = spec_file(tmp_path, PASSING)
    code, shown = run_in_terminal("check", str(spec), "--workers", "2", "--seed", "1",
                                  "--sequences", "300", "--no-database", env={})
    assert code == 0, shown
    counts = [(int(s), int(c)) for s, c in
              re.findall(r"(\d+)/300 sequences · (\d+) calls · 0 failing", shown)]
    assert len(set(counts)) >= 2, shown  # updated while the run went on ...
    assert counts == sorted(counts) and counts[-1][0] > 0  # ... and growing
    assert "checking" in shown
    assert "no difference" in shown.splitlines()[-1] or "✓" in shown


def test_the_progress_names_the_worker_that_shrinks_a_failure(tmp_path: Path) -> None:
    spec = spec_file(tmp_path, SLOW_BUG)  # (50 ms a call: shrinking takes seconds)
    code, shown = run_in_terminal("check", str(spec), "--workers", "2", "--seed", "1",
                                  "--sequences", "300", "--no-database", env={})
    assert code == 1, shown
    assert re.search(r"shrinking \(workers? [12](, 2)?\)\x1b\[0m \S+ \d+/300 sequences · "
                     r"\d+ calls · [1-9]\d* failing", shown), shown


def test_without_a_terminal_workers_print_no_progress(tmp_path: Path) -> None:
    spec = spec_file(tmp_path, PASSING)
    for workers in ("1", "2"):  # (as one process does: nothing but the summary)
        done = run_cli("check", str(spec), "--workers", workers, "--seed", "1",
                       "--sequences", "20", "--no-database")
        assert done.code == 0, done.text
        assert "sequences ·" not in done.text
        assert "\r" not in done.text and "\x1b" not in done.text


def test_an_app_that_fails_to_import_in_one_worker_ends_the_run_as_a_target_error(
        tmp_path: Path) -> None:
    marker = f"mbtspec-once-{uuid.uuid4().hex}"
    (tmp_path / "once.py").write_text(
        "import os\n"
        "try:\n"
        "    os.close(os.open(os.environ['ONCE_FLAG'], os.O_CREAT | os.O_EXCL))\n"
        "except FileExistsError:\n"
        "    raise RuntimeError('imported a second time') from None\n"
        "from tests.apps.variants import model\n")
    spec = spec_file(tmp_path, "  model: {app: tests.apps.variants:model}\n"
                               "  candidate: {app: once:model}\n")
    done = run_cli("check", str(spec), "--workers", "2", "--seed", "4", "--sequences", "50",
                   "--no-database", "--no-color",
                   env={"PYTHONPATH": f"{tmp_path}:{REPO}", "ONCE_FLAG": str(tmp_path / "flag"),
                        "MARKER": marker})
    assert done.code == 3, done.text
    line = next(x for x in done.err.splitlines() if x.startswith("error:"))
    assert "target 'candidate': cannot import app module 'once': RuntimeError: imported a " \
           "second time (in worker " in line
    assert re.search(r"run that part alone with: mbtspec check \S+ --seed 4 --shard [12]/2 "
                     r"--sequences 50\)$", line), line
    assert gone(marker), processes_with(marker)


BREAK_WORKER = """\
import os, signal, sys, time
if b"mbtspec.parallel._worker" in open("/proc/self/cmdline", "rb").read():
    import mbtspec._check as _check
    _real = _check.check

    def check(*args, **options):
        if options["shard"].index != 2:
            return _real(*args, **options)
        if os.environ["BREAK"] == "bug":
            raise ZeroDivisionError("boom in worker 2")
        # die (SIGKILL) once worker 1 has found a failure and is shrinking it
        first = os.path.join(os.path.dirname(sys.argv[1]), "progress-1")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if open(first).read().split()[2] != "0":
                    break
            except (OSError, IndexError):
                pass
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGKILL)

    _check.check = check
"""


def break_worker_2(tmp_path: Path, how: str, marker: str) -> dict[str, str]:
    """The environment that makes worker 2 (and it only) raise an internal error, or die
    once worker 1 shrinks a failure: a ``sitecustomize`` that replaces ``check`` there."""
    (tmp_path / "sitecustomize.py").write_text(BREAK_WORKER)
    return {"PYTHONPATH": f"{tmp_path}:{REPO}", "BREAK": how, "MARKER": marker}


def test_an_internal_error_in_a_worker_exits_4_and_says_where(tmp_path: Path) -> None:
    marker = f"mbtspec-bug-{uuid.uuid4().hex}"
    spec = spec_file(tmp_path, PASSING)
    env = break_worker_2(tmp_path, "bug", marker)
    done = run_cli("check", str(spec), "--workers", "2", "--seed", "2", "--sequences", "4000",
                   "--no-database", "--no-color", env=env)
    assert done.code == 4, done.text
    assert done.err.count("\n") == 1, done.err  # one line
    assert done.err.startswith(
        "error: worker 2 of 2: internal error: ZeroDivisionError: boom in worker 2 — a bug in "
        "mbtspec, please report it (rerun with MBTSPEC_DEBUG=1 to see the traceback); run "
        f"that part alone with: mbtspec check {spec} --seed 2 --shard 2/2 --sequences 4000")
    assert gone(marker), processes_with(marker)
    debug = run_cli("check", str(spec), "--workers", "2", "--seed", "2", "--sequences", "4000",
                    "--no-database", "--no-color", env={**env, "MBTSPEC_DEBUG": "1"})
    assert debug.code == 4, debug.text
    assert "Traceback (most recent call last)" in debug.err
    assert 'raise ZeroDivisionError("boom in worker 2")' in debug.err


def test_a_failure_found_before_a_worker_died_is_still_reported(tmp_path: Path) -> None:
    marker = f"mbtspec-died-{uuid.uuid4().hex}"
    spec = spec_file(tmp_path, SLOW_BUG)
    done = run_cli("check", str(spec), "--workers", "2", "--seed", "1", "--sequences", "400",
                   "--no-database", "--no-color", env=break_worker_2(tmp_path, "die", marker))
    assert done.code == 1, done.text
    assert "✗ DIFFERENCE" in done.out
    assert re.search(r"Reproduce: mbtspec check \S+ --seed 1 --shard 1/2 --sequences 400",
                     done.out)
    warning = next(x for x in done.err.splitlines() if "worker 2 of 2" in x)
    assert warning.startswith("warning: the run stopped early: worker 2 of 2 was killed by "
                              "signal SIGKILL before it finished its part")
    assert gone(marker), processes_with(marker)


def test_two_workers_search_races_and_report_one_as_one_process_does(tmp_path: Path) -> None:
    spec = spec_for("card_issued_twice", tmp_path)
    report, html = tmp_path / "w.json", tmp_path / "w.html"
    done = run_cli("check", str(spec), "--workers", "2", "--concurrency", "2", "--seed", "1",
                   "--no-database", "--no-color", "--report-json", str(report),
                   "--html", str(html))
    assert done.code == 1, done.text
    assert "✗ RACE: DIFFERENCE after" in done.out
    assert "branch 1" in done.out and "branch 2" in done.out
    assert "shrunk to 1 call(s) + 2 concurrent branches of 1 + 1 call(s)" in done.out
    data = json.loads(report.read_text())
    race = data["failure"]["race"]
    assert race["prefix"] == 1 and len(race["branches"]) == 2
    assert data["stats"]["parallel_parts"] > 0  # (the workers' counts summed)
    assert data["stats"]["interleavings_checked"] >= data["stats"]["parallel_parts"]
    assert "branch 2" in html.read_text()
    line = next(x for x in done.out.splitlines() if x.startswith("Reproduce: "))
    command = line.removeprefix("Reproduce: ").split()
    assert command[command.index("--concurrency") + 1] == "2"
    assert command[command.index("--shard") + 1] in ("1/2", "2/2")
    alone = run_cli(*command[1:], "--no-database", "--no-color", "--report-json",
                    str(tmp_path / "one.json"))
    assert alone.code == 1, alone.text
    single = json.loads((tmp_path / "one.json").read_text())["failure"]["race"]
    assert [[s["action"] for s in b] for b in single["branches"]] == \
           [[s["action"] for s in b] for b in race["branches"]]


TIMINGS = {"elapsed_s", "elapsed_ms", "time_ms", "mean_latency_ms", "reset_ms", "verdict"}


def without_timings(value: object) -> object:
    """A JSON report without what differs from run to run (durations; the verdict line)."""
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def junit_cases(path: Path) -> list[object]:
    """A JUnit file's suite counts, properties and test cases, with what each holds."""
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    counts = {k: v for k, v in suite.attrib.items() if k not in ("time", "timestamp")}
    properties = [(p.get("name"), p.get("value")) for p in suite.iter("property")]
    cases = [(c.get("classname"), c.get("name"),
              [(e.tag, e.get("type"), e.get("message"), e.text) for e in c])
             for c in suite.iter("testcase")]
    return [counts, properties, cases]


def test_merged_shard_reports_are_the_reports_the_workers_run_writes(tmp_path: Path) -> None:
    spec = spec_file(tmp_path, "  model: {app: tests.apps.variants:model}\n"
                               "  candidate: {app: tests.apps.fragile:several}\n")
    # (with this seed, part 1 finds one failure and part 2 two others)
    common = ("--seed", "4", "--sequences", "12", "--keep-going", "--no-database",
              "--no-color")
    for index in (1, 2):
        done = run_cli("check", str(spec), "--shard", f"{index}/2", *common,
                       "--report-json", str(tmp_path / f"s{index}.json"))
        assert done.code == 1, done.text
    merged = run_cli("merge-reports", str(tmp_path / "s1.json"), str(tmp_path / "s2.json"),
                     "--report-json", str(tmp_path / "m.json"), "--junit-xml",
                     str(tmp_path / "m.xml"))
    assert merged.code == 1, merged.text
    both = run_cli("check", str(spec), "--workers", "2", *common, "--report-json",
                   str(tmp_path / "w.json"), "--junit-xml", str(tmp_path / "w.xml"))
    assert both.code == 1, both.text
    cases = junit_cases(tmp_path / "w.xml")
    assert cases == junit_cases(tmp_path / "m.xml")
    texts = [text for _, _, held in cases[2] for tag, _, _, text in held  # type: ignore[misc]
             if tag == "failure"]
    assert len(texts) == 3 and all("Reproduce: mbtspec check" in t for t in texts)
    report = json.loads((tmp_path / "w.json").read_text())
    assert without_timings(report) == without_timings(json.loads((tmp_path / "m.json")
                                                                 .read_text()))
    # each failure's command is that of the part that found it
    found_by = {(f["action"], f["place"]): index for index in (2, 1) for f in
                json.loads((tmp_path / f"s{index}.json").read_text())["failures"]}
    assert len(set(found_by.values())) == 2
    assert [f["reproduce"][f["reproduce"].index("--shard") + 1] for f in report["failures"]] \
        == [f"{found_by[f['action'], f['place']]}/2" for f in report["failures"]]
    shown = [x.split("--shard ")[1][:3] for x in both.out.splitlines()
             if x.startswith("Reproduce: ")]
    assert shown == [f"{found_by[f['action'], f['place']]}/2" for f in report["failures"]]


def test_the_documented_race_example_runs_with_two_workers(tmp_path: Path) -> None:
    block = next(b for b in all_blocks() if b.where.startswith("specs/run.md")
                 and "defect_card_issued_twice" in b.text)
    spec = tmp_path / "cards.yaml"
    spec.write_text(block.text)
    done = run_cli("check", str(spec), "--workers", "2", "--seed", "1", "--no-database",
                   "--no-color")
    assert done.code == 1, done.text
    assert "✗ race (difference: not linearizable) found in" in done.out
    assert re.search(r"Reproduce: mbtspec check \S+ --seed 1 --shard [12]/2\n", done.out)
