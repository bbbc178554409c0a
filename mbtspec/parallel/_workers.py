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
that dies (a crash, SIGKILL) or meets an error stops the others and ends the run with that
error (``WorkerError`` for a death or an internal error), unless a worker found a failure
before it stopped: that failure is the result, the error a warning beside it. Ctrl-C stops
every worker. Targets of a killed worker are stopped by the process supervisor
(``executor._process``). Each worker keeps its progress in a small file that the parent sums
for the live progress line (``_worker.progress_writer``).
"""

from __future__ import annotations

import os
import pickle
import random
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mbtspec._check import CheckResult, reproduce_command
from mbtspec.compiler import Plan, compile_plan
from mbtspec.errors import MbtspecError, TargetError, UsageError, WorkerError
from mbtspec.executor import Failure, RunResult, Stats, signature, unreached_operations
from mbtspec.executor._process import ManagedProcess, keep, stop_all, tidy
from mbtspec.executor.records import AcceptedCount, ActionStats
from mbtspec.parallel._shards import Shard
from mbtspec.parallel._worker import progress_path
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


@dataclass(frozen=True)
class WorkersProgress:
    """The progress of a ``--workers`` run, summed over its workers (as ``Progress`` is for
    one process): sequences run, calls, failing sequences seen, and the workers (numbered
    from 1) that are shrinking a failure now."""

    sequences: int
    calls: int
    failures: int
    shrinking: tuple[int, ...] = ()


def run_workers(spec_path: Path, workers: int, *, sequences: int | None = None,
                steps: int | None = None, seed: int | None = None,
                max_time: float | None = None, shrink_time: float | None = None,
                keep_going: bool | None = None, swarm: bool | None = None,
                mode: str | None = None, concurrency: int | None = None,
                database: Path | None = None, failures: Path | None = None,
                on_plan: Callable[[Plan], None] | None = None,
                on_progress: Callable[[WorkersProgress], None] | None = None,
                shard: Shard | None = None) -> CheckResult:
    """Run the spec's sequences in ``workers`` processes; one result, as ``check`` gives.
    ``shard``: run only that part of the run (its sequences cut again between the workers);
    its count of sequences is the shard's share.

    ``on_progress`` is called about ten times a second with the workers' progress summed.
    Raises what a worker raised (``TargetError``, ``RunError`` ...), ``WorkerError`` for a
    worker that died or met an internal error (unless another worker found a failure: then
    that is the result, with a warning), ``KeyboardInterrupt`` on Ctrl-C."""
    spec = load_spec(spec_path)
    check_shared_targets(spec, workers)
    run_seed = seed if seed is not None else spec.run.seed
    if run_seed is None:
        run_seed = random.randrange(2**32)
    whole = shard or Shard(1, 1)
    plan = compile_plan(spec, sequences=sequences, steps=steps, seed=run_seed,
                        max_time=max_time, shrink_time=shrink_time, keep_going=keep_going,
                        swarm=swarm, mode=mode, concurrency=concurrency)  # type: ignore[arg-type]
    if on_plan is not None:
        on_plan(plan)
    options = {"sequences": sequences, "steps": steps, "seed": run_seed, "max_time": max_time,
               "shrink_time": shrink_time, "keep_going": keep_going, "swarm": swarm, "mode": mode,
               "concurrency": concurrency, "failures": failures}

    def command(part: Shard | None) -> tuple[str, ...]:
        return reproduce_command(spec_path, run_seed, sequences, steps,
                                 keep_going=bool(keep_going), swarm=swarm, mode=mode,
                                 concurrency=concurrency, shard=part)

    started = time.monotonic()
    results, crash = _supervise(spec_path, workers, options, database, plan.run.keep_going,
                                lambda index: command(whole.worker(index, workers)),
                                on_progress, whole)
    merged = merge_results([r for _, r in results], keep_going=plan.run.keep_going)
    merged = replace(merged, seed=run_seed, elapsed=time.monotonic() - started,
                     unreached=unreached_operations(plan, merged.stats),
                     warnings=merged.warnings + ((f"the run stopped early: {crash}",)
                                                 if crash is not None else ()))
    # the failing part's own command (--seed S --shard k/N; mbtspec replay FILE for a saved
    # failure that still shows), else the run's
    shown = (results[0][1].command if merged.failures else
             (*command(whole), "--workers", str(workers)))
    files = _replay_files(results, merged.failures)
    return CheckResult(plan, merged, shown, files[0] if files else None,
                       tuple(s for _, r in results for s in r.saved), files,
                       next((r.replay_error for _, r in results if r.replay_error), ""),
                       _commands(results, merged.failures))


def _commands(results: list[tuple[int, CheckResult]], failures: tuple[Failure, ...]
              ) -> tuple[tuple[str, ...], ...]:
    """The command of each merged failure: that of the part whose failure was kept (the
    first that found it), so that each ``Reproduce:`` finds its own failure."""
    by_signature: dict[Any, tuple[str, ...]] = {}
    for _, outcome in results:
        for failure in outcome.result.failures:
            by_signature.setdefault(signature(failure.steps[-1]), outcome.command)
    return tuple(by_signature[signature(f.steps[-1])] for f in failures)


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
               keep_going: bool, command: Callable[[int], tuple[str, ...]],
               on_progress: Callable[[WorkersProgress], None] | None, shard: Shard
               ) -> tuple[list[tuple[int, CheckResult]], MbtspecError | None]:
    """Start the workers, collect their results (the failing one first), stop them all.
    Worker ``index`` runs part ``shard.worker(index, workers)``; every part keeps its own
    examples in the database and replays its own saved failures.

    A worker that ends with an error stops the others; what they found before they stopped
    is still the result, with that error beside it (else it is raised)."""
    folder = Path(tempfile.mkdtemp(prefix="mbtspec-workers-"))
    tidy(folder)  # (the supervisor removes it, and stops the workers, if mbtspec is killed)
    processes: dict[int, ManagedProcess] = {}
    done: dict[int, CheckResult | None] = {}
    order: list[int] = []
    error: BaseException | None = None
    stopping_since: float | None = None  # when the others were asked to stop

    def stop_others() -> None:
        nonlocal stopping_since
        if stopping_since is None:
            stopping_since = time.monotonic()
            for other, running in processes.items():
                if other not in done:
                    running.request_stop()

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
        while len(done) < workers:
            time.sleep(0.05)
            if on_progress is not None:
                on_progress(_progress(folder, workers, done))
            for index, process in processes.items():
                if index in done or process.exit_code is None:
                    continue
                kind, payload = _read(folder / f"result-{index}.pickle", index, workers,
                                      process, command(index))
                done[index] = payload if kind == "result" else None
                if kind == "result":
                    order.append(index)
                    if payload.result.failures and not keep_going:
                        stop_others()  # the first failure stops the others
                elif kind == "interrupted":
                    if stopping_since is None:  # (not asked to: someone pressed Ctrl-C)
                        error = KeyboardInterrupt()
                        break
                else:
                    error = error or payload
                    stop_others()
            if isinstance(error, KeyboardInterrupt):
                break
            if stopping_since is not None and time.monotonic() - stopping_since > STOP_WAIT:
                break  # (those still running are stopped below, by force)
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
    crash = error if isinstance(error, MbtspecError) else None
    if failing and not keep_going:
        first = failing[0]
        return [first, *[(i, r) for i, r in found if i != first[0]]], crash
    return sorted(found, key=lambda pair: (not pair[1].result.failures, pair[0])), crash


def _progress(folder: Path, workers: int, done: dict[int, CheckResult | None]
              ) -> WorkersProgress:
    """The workers' progress files summed (a finished worker's own counts where it left
    a result)."""
    sequences = calls = failures = 0
    shrinking = []
    for index in range(1, workers + 1):
        try:
            counts = [int(n) for n in progress_path(folder / "result", index).read_text()
                      .split()]
        except (OSError, ValueError):
            counts = []
        if len(counts) != 3:
            counts = [0, 0, 0]
        outcome = done.get(index)
        if outcome is not None:
            counts[:2] = outcome.result.stats.sequences, outcome.result.stats.calls
        elif index not in done and counts[2]:
            shrinking.append(index)
        sequences, calls, failures = (sequences + counts[0], calls + counts[1],
                                      failures + counts[2])
    return WorkersProgress(sequences, calls, failures, tuple(shrinking))


def _read(path: Path, index: int, workers: int, process: ManagedProcess,
          command: tuple[str, ...]) -> tuple[str, Any]:
    """What a worker that exited left: its message, or a ``WorkerError`` if it died or met
    an internal error (a target error says which worker too)."""
    alone = f"run that part alone with: {shlex.join(command)}"
    try:
        kind, payload = pickle.loads(path.read_bytes())
    except (OSError, EOFError, pickle.UnpicklingError):
        kind, payload = "died", None
    if kind == "internal":
        line, details = payload
        return "error", WorkerError(f"worker {index} of {workers}: {line}; {alone}",
                                    internal=True, details=details)
    if isinstance(payload, TargetError):
        payload = replace(payload, message=f"{payload.message} (in worker {index} of "
                                           f"{workers}; {alone})")
    if kind != "died":
        return kind, payload
    code = process.exit_code
    how = (f"was killed by signal {signal.Signals(-code).name}" if code is not None and code < 0
           else f"exited with code {code}")
    tail = [line.strip() for line in process.log_tail(5) if line.strip()]
    return "error", WorkerError(
        f"worker {index} of {workers} {how} before it finished its part "
        f"({'its last output: ' + ' | '.join(tail) if tail else 'no output'}); every "
        f"worker and its targets were stopped; {alone}")


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
    total.parallel += part.parallel
    total.interleavings += part.interleavings
    total.check_seconds += part.check_seconds
    total.reset_seconds += part.reset_seconds
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
