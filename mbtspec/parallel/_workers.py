"""``mbtspec check --workers N``: the run's N parts (``_shards``) at once, one process each.
With ``--shard i/n`` too, the N workers run the N parts of shard i (``Shard.worker``).

Each worker is a fresh Python process (multiprocessing, spawn) that runs ``check`` on its part
with targets of its own: command targets started in it (their own ports and ``${tmp}``), app
targets imported in it; servers at a ``base_url`` are shared, which only a spec that says
``parallel_sequences: true`` for them allows (their resets would undo each other's
sequences). A failure is shrunk in the worker that found it, which writes its replay file
with the one-process command that finds it again (``--seed S --shard k/N``).

The first failure stops the other workers (SIGINT: each stops its targets as on Ctrl-C);
with keep-going all run to the end, and their failures are merged, one per signature. A worker
that dies (a crash, SIGKILL) stops the others and ends the run with an error; so does Ctrl-C.
Targets of a killed worker are stopped by the process supervisor (``executor._process``).
"""

from __future__ import annotations

import os
import pickle
import random
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from mbtspec._check import CheckResult, reproduce_command
from mbtspec.compiler import Plan, compile_plan
from mbtspec.errors import RunError, UsageError
from mbtspec.executor import Failure, RunResult, Stats, signature, unreached_operations
from mbtspec.executor._process import ManagedProcess, keep, stop_all, tidy
from mbtspec.executor.records import AcceptedCount, ActionStats
from mbtspec.parallel._shards import Shard
from mbtspec.spec import load_spec
from mbtspec.spec.model import Spec

#: Seconds the other workers get to stop (and stop their targets) once asked to.
STOP_WAIT = 20.0


def check_shared_targets(spec: Spec, workers: int) -> None:
    """Refuse ``--workers`` when a target is a server that cannot take parallel sequences."""
    if workers <= 1:
        return
    for target in spec.targets:
        if target.kind == "base_url" and not target.parallel_sequences:
            raise UsageError(
                f"--workers {workers}: target '{target.name}' is a server mbtspec does not "
                f"start (base_url), which the {workers} workers would share: the reset before "
                "each sequence of one worker would undo what another worker's sequence "
                "stored. If the server can take several sequences at once (each on data of "
                f"its own), say so with 'parallel_sequences: true' under targets.{target.name};"
                " else run without --workers, or let mbtspec start one server per worker "
                "(command:)")


def run_workers(spec_path: Path, workers: int, *, sequences: int | None = None,
                steps: int | None = None, seed: int | None = None,
                max_time: float | None = None, shrink_time: float | None = None,
                keep_going: bool | None = None, swarm: bool | None = None,
                mode: str | None = None, database: Path | None = None, failures: Path | None = None,
                on_plan: Callable[[Plan], None] | None = None,
                shard: Shard | None = None) -> CheckResult:
    """Run the spec's sequences in ``workers`` processes; one result, as ``check`` gives.
    ``shard``: run only that part of the run (its sequences cut again between the workers);
    its count of sequences is the shard's share."""
    spec = load_spec(spec_path)
    check_shared_targets(spec, workers)
    run_seed = seed if seed is not None else spec.run.seed
    if run_seed is None:
        run_seed = random.randrange(2**32)
    shard = shard or Shard(1, 1)
    plan = compile_plan(spec, sequences=sequences, steps=steps, seed=run_seed,
                        max_time=max_time, shrink_time=shrink_time, keep_going=keep_going,
                        swarm=swarm, mode=mode)  # type: ignore[arg-type]
    if on_plan is not None:
        on_plan(plan)
    options = {"sequences": sequences, "steps": steps, "seed": run_seed, "max_time": max_time,
               "shrink_time": shrink_time, "keep_going": keep_going, "swarm": swarm, "mode": mode,
               "failures": failures}
    started = time.monotonic()
    results = _supervise(spec_path, workers, options, database, plan.run.keep_going, shard)
    merged = merge_results([r for _, r in results], keep_going=plan.run.keep_going)
    merged = replace(merged, seed=run_seed, elapsed=time.monotonic() - started,
                     unreached=unreached_operations(plan, merged.stats))
    # the failing part's own command (--seed S --shard k/N; mbtspec replay FILE for a saved
    # failure that still shows), else the run's
    command = (results[0][1].command if merged.failures else
               (*reproduce_command(spec_path, run_seed, sequences, steps,
                                   keep_going=bool(keep_going), swarm=swarm, mode=mode,
                                   shard=shard),
                "--workers", str(workers)))
    files = _replay_files(results, merged.failures)
    return CheckResult(plan, merged, command, files[0] if files else None,
                       tuple(s for _, r in results for s in r.saved), files,
                       next((r.replay_error for _, r in results if r.replay_error), ""))


def _replay_files(results: list[tuple[int, CheckResult]], failures: tuple[Failure, ...]
                  ) -> tuple[Path, ...]:
    """The replay file of each merged failure (the workers wrote one per failure they found;
    a second one of the same failure, or one of a worker stopped early, is removed)."""
    by_signature: dict[Any, Path] = {}
    extra: list[Path] = []
    for _, outcome in results:
        if len(outcome.replay_files) != len(outcome.result.failures):
            continue  # (a folder that could not be written: said by replay_error)
        for failure, path in zip(outcome.result.failures, outcome.replay_files, strict=True):
            key = signature(failure.steps[-1])
            if key in by_signature or not any(signature(f.steps[-1]) == key and
                                               f.steps == failure.steps for f in failures):
                if not failure.source:  # (a saved failure's own file stays)
                    extra.append(path)
                continue
            by_signature[key] = path
    for path in set(extra) - set(by_signature.values()):  # (two workers that found the same
        path.unlink(missing_ok=True)  # calls wrote the same file: it stays)
    return tuple(by_signature[k] for k in (signature(f.steps[-1]) for f in failures)
                 if k in by_signature)


def _supervise(spec_path: Path, workers: int, options: dict[str, Any], database: Path | None,
               keep_going: bool, shard: Shard) -> list[tuple[int, CheckResult]]:
    """Start the workers, collect their results (the failing one first), stop them all.
    Worker ``index`` runs part ``shard.worker(index, workers)``; every part keeps its own
    examples in the database and replays its own saved failures."""
    folder = Path(tempfile.mkdtemp(prefix="mbtspec-workers-"))
    tidy(folder)  # (the supervisor removes it, and stops the workers, if mbtspec is killed)
    processes: dict[int, ManagedProcess] = {}
    done: dict[int, CheckResult | None] = {}
    order: list[int] = []
    error: BaseException | None = None
    try:
        for index in range(1, workers + 1):
            job = folder / f"job-{index}.pickle"
            part = shard.worker(index, workers)
            job.write_bytes(pickle.dumps((str(spec_path), part.index, part.count, options,
                                          database, str(folder / f"result-{index}.pickle"))))
            processes[index] = ManagedProcess(
                [sys.executable, "-m", "mbtspec.parallel._worker", str(job)],
                env=dict(os.environ), cwd=None, lifetime="command", grace=STOP_WAIT,
                log_path=folder / f"worker-{index}.log")
        stopping = False
        while len(done) < workers and error is None:
            time.sleep(0.05)
            for index, process in processes.items():
                if index in done or process.exit_code is None:
                    continue
                kind, payload = _read(folder / f"result-{index}.pickle", index, process,
                                      shard.worker(index, workers))
                if kind == "result":
                    done[index] = payload
                    order.append(index)
                    if payload.result.failures and not keep_going and not stopping:
                        stopping = True  # the first failure stops the others
                        for other, running in processes.items():
                            if other not in done:
                                running.request_stop()
                elif kind == "interrupted":
                    done[index] = None
                    if not stopping:
                        error = KeyboardInterrupt()
                else:
                    error = payload
    except KeyboardInterrupt as interrupt:
        error = interrupt
    finally:
        stop_all(list(processes.values()), grace=STOP_WAIT)
        keep(folder)
        shutil.rmtree(folder, ignore_errors=True)
    found = [(i, r) for i in order if (r := done.get(i)) is not None]
    failing = [(i, r) for i, r in found if r.result.failures]
    if error is not None and not failing:
        raise error
    if failing and not keep_going:
        first = failing[0]
        return [first, *[(i, r) for i, r in found if i != first[0]]]
    return sorted(found, key=lambda pair: (not pair[1].result.failures, pair[0]))


def _read(path: Path, index: int, process: ManagedProcess, part: Shard
          ) -> tuple[str, Any]:
    """What a worker that exited left: its message, or a ``RunError`` if it crashed."""
    try:
        kind, payload = pickle.loads(path.read_bytes())
        return kind, payload
    except OSError:
        pass
    code = process.exit_code
    how = (f"was killed by signal {signal.Signals(-code).name}" if code is not None and code < 0
           else f"exited with code {code}")
    tail = [line for line in process.log_tail(5) if line.strip()]
    return "error", RunError(
        f"worker {index} {how} before it finished its part; every worker and its targets "
        f"were stopped{'; its last output: ' + ' | '.join(tail) if tail else ''}. Run that "
        f"part alone to see what happens there: the same command with --shard {part} "
        "instead of --workers")


def merge_results(results: list[CheckResult], *, keep_going: bool) -> RunResult:
    """One result of several parts: stats summed, failures in order (the first part's
    first), one per signature (a failure seen in several parts counts as variants)."""
    stats = Stats()
    failures: list[Failure] = []
    seen: dict[Any, int] = {}
    warnings: list[str] = []
    stopped = ""
    for outcome in results:
        result = outcome.result
        add_stats(stats, result.stats)
        warnings += [w for w in result.warnings if w not in warnings]
        stopped = stopped or result.stopped
        for failure in result.failures:
            key = signature(failure.steps[-1])
            if key in seen:
                kept = failures[seen[key]]
                failures[seen[key]] = replace(kept, variants=kept.variants + 1 +
                                              failure.variants)
                continue
            seen[key] = len(failures)
            failures.append(failure)
    if not keep_going:
        failures = failures[:1]
    stale = [s for s in (results[0].result.stale if results else ())
             if all(s in r.result.stale for r in results)]
    return RunResult(0, 0.0, stats, failures[0] if failures else None, stopped,
                     tuple(warnings), (), tuple(failures), tuple(stale))


def add_stats(total: Stats, part: Stats) -> None:
    """Add the counts of ``part`` to ``total``."""
    total.sequences += part.sequences
    total.shrinking += part.shrinking
    total.boundary += part.boundary
    total.discarded += part.discarded
    total.elsewhere += part.elsewhere
    total.elsewhere_calls += part.elsewhere_calls
    total.drawn += part.drawn
    total.swarms += part.swarms
    total.swarm_actions += part.swarm_actions
    total.calls += part.calls
    total.steps += part.steps
    total.lengths += part.lengths
    for target, ms in part.time_ms.items():
        total.time_ms[target] = total.time_ms.get(target, 0.0) + ms
    for name, action in part.actions.items():
        into = total.actions.setdefault(name, ActionStats())
        into.runs += action.runs
        into.invalid += action.invalid
        into.could_run += action.could_run
        into.expected_runs += action.expected_runs
        into.when_false += action.when_false
        into.nothing_stored.update(action.nothing_stored)
        into.left_out += action.left_out
        into.skipped.update(action.skipped)
        for target, counts in action.statuses.items():
            into.statuses.setdefault(target, Counter()).update(counts)
    for key, count in part.accepted.items():
        kept = total.accepted.get(key)
        if kept is None:
            total.accepted[key] = AcceptedCount(count.reason, count.entry, count.place,
                                                count.action, steps=count.steps,
                                                differences=count.differences,
                                                example=count.example)
        else:
            kept.steps += count.steps
            kept.differences += count.differences
