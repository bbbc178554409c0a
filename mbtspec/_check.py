"""The whole pipeline for one spec: load -> compile -> (saved failures) -> run -> replay file.

Before generating anything, the replay files this spec's earlier failures left behind are run
again: one that still fails is the answer at once; one that no longer fails is removed (the bug
is fixed). Hypothesis' own database, keyed by the spec's hash, then replays what it kept.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from mbtspec.compare import make_judge, stale_entries, stale_warning
from mbtspec.compiler import Plan, compile_plan
from mbtspec.errors import UsageError
from mbtspec.executor import (
    Failure,
    Progress,
    RunResult,
    Stats,
    Step,
    run_plan,
    unreached_operations,
)
from mbtspec.executor.replay import replay_requests
from mbtspec.parallel._shards import Shard
from mbtspec.report.data import Redactor
from mbtspec.report.replay_file import read_replay_file, saved_failures, write_replay_file
from mbtspec.spec import load_spec

#: How often a saved failure that was flaky is replayed before it counts as not seen.
FLAKY_REPLAYS = 5


@dataclass(frozen=True)
class CheckResult:
    plan: Plan
    result: RunResult
    command: tuple[str, ...] = ()  # the one-line command that reproduces the run
    replay_file: Path | None = None  # written for the failure, or the saved one it came from
    saved: tuple[tuple[Path, str], ...] = ()  # saved failures tried first, and what became of them
    replay_files: tuple[Path, ...] = ()  # one per failure of ``result.failures``
    replay_error: str = ""  # why a replay file could not be written
    #: The command of each failure of ``result.failures``, when they differ (a --workers run
    #: with keep-going: each failure's own part); empty: ``command`` for every one
    commands: tuple[tuple[str, ...], ...] = ()


def reproduce_command(spec_path: str | Path, seed: int, sequences: int | None,
                      steps: int | None, *, keep_going: bool = False,
                      swarm: bool | None = None, mode: str | None = None,
                      concurrency: int | None = None,
                      shard: Shard | None = None) -> tuple[str, ...]:
    command = ["mbtspec", "check", str(spec_path), "--seed", str(seed)]
    if shard is not None and shard.count > 1:  # (the part that found it: see ``parallel``)
        command += ["--shard", str(shard)]
    if sequences is not None:
        command += ["--sequences", str(sequences)]
    if steps is not None:
        command += ["--steps", str(steps)]
    if keep_going:
        command.append("--keep-going")
    if mode is not None:
        command += ["--mode", mode]
    if swarm is not None:
        command.append("--swarm" if swarm else "--no-swarm")
    if concurrency is not None:
        command += ["--concurrency", str(concurrency)]
    return tuple(command)  # shell-quoted where shown: shlex.join


def check(
    spec_path: str | Path,
    *,
    sequences: int | None = None,
    steps: int | None = None,
    seed: int | None = None,
    max_time: float | None = None,
    shrink_time: float | None = None,
    keep_going: bool | None = None,
    swarm: bool | None = None,
    mode: str | None = None,
    concurrency: int | None = None,
    database: Path | None = Path(".mbtspec/hypothesis"),
    failures: Path | None = None,
    on_plan: Callable[[Plan], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_step: Callable[[Step], None] | None = None,
    shard: Shard | None = None,
) -> CheckResult:
    """Load, compile and run the spec at ``spec_path``.

    ``failures``: the folder of replay files (tried first, and written on a new failure);
    None for neither. ``shard``: run only that part of the run's sequences (``parallel``);
    the seed of the result and of the command is the run's, not the part's.
    Each part replays the saved failures that are its own (``Shard.owns_failure``). Raises
    ``SpecError`` (invalid spec), ``UsageError``, ``RunError`` or ``TargetError``.
    """
    spec = load_spec(spec_path)
    run_seed, part_seed, part_sequences = seed, seed, sequences
    if shard is not None:
        run_seed = seed if seed is not None else spec.run.seed
        if run_seed is None:
            run_seed = random.randrange(2**32)
        part_seed = shard.seed(run_seed)
        part_sequences = shard.sequences(sequences if sequences is not None
                                         else spec.run.sequences)
    plan = compile_plan(spec, sequences=part_sequences, steps=steps, seed=part_seed,
                        max_time=max_time, shrink_time=shrink_time, keep_going=keep_going,
                        swarm=swarm, mode=mode, concurrency=concurrency)  # type: ignore[arg-type]
    if on_plan is not None:
        on_plan(plan)
    judge = make_judge(plan)
    redact = Redactor(plan.secrets)
    tried: list[tuple[Path, str]] = []
    still: list[Failure] = []  # saved failures that still show (kept going past them)
    saved = saved_failures(plan, failures) if failures is not None else []
    if plan.run.keep_going:  # all are replayed: oldest first, so they keep their numbers
        saved.reverse()
    for path in saved:
        started = time.monotonic()
        try:
            record = read_replay_file(path)
        except UsageError as err:  # a damaged file must not stop the check
            if shard is None or shard.owns_failure(path, ""):
                tried.append((path, f"skipped: {err}"))
            continue
        if shard is not None and not shard.owns_failure(path, str(record.data.get(
                "reproduce", ""))):
            continue  # (another part's)
        times = FLAKY_REPLAYS if record.flaky else 1
        outcome = replay_requests(plan, record.steps, judge=judge, on_step=on_step,
                                  times=times, rederive=record.fits(plan))
        if outcome.status == "reproduced":
            kind = outcome.steps[-1].findings[0].kind
            when = f" (in replay {outcome.runs} of up to {times})" if record.flaky else ""
            failure = Failure(kind, outcome.steps, flaky=record.flaky, source=str(path),
                              note=f"the saved failure {path} still shows{when}")
            tried.append((path, f"still fails{when}"))
            if plan.run.keep_going:
                still.append(failure)
                continue
            stats = Stats(sequences=outcome.runs, lengths=[len(outcome.steps)])
            for step in outcome.steps:
                stats.record(step)
            result = RunResult(record.seed or 0, time.monotonic() - started, stats, failure,
                               unreached=unreached_operations(plan, stats),
                               failures=(failure,))
            return CheckResult(plan, result, ("mbtspec", "replay", str(path)), path,
                               tuple(tried), (path,))
        if outcome.status == "gone":
            path.unlink(missing_ok=True)  # it will not be tried again
            tried.append((path, f"not seen in {outcome.runs} replays; it was flaky, so it may "
                                "still be there (the file was removed)" if record.flaky
                          else "fixed (the file was removed)"))
        else:  # the spec changed so that it cannot happen any more: it would stay forever
            path.unlink(missing_ok=True)
            tried.append((path, f"cannot be replayed any more: {outcome.reason} (the file "
                                "was removed)"))
    # (with --concurrency, parts are not cut by sequence: each searches with its own seed)
    part = shard.part() if shard is not None and concurrency is None else None
    result = run_plan(plan, judge=judge, on_progress=on_progress, on_step=on_step,
                      database=database, known=tuple(still), part=part)
    if run_seed is not None and shard is not None:
        result = replace(result, seed=run_seed)
    stale = stale_entries(plan.spec, result.stats.accepted)
    if stale:  # (the accept entries that accepted nothing: a warning each)
        early = bool(result.stopped or (result.failures and not plan.run.keep_going))
        result = replace(result, stale=tuple(e.where for e in stale), warnings=(
            *result.warnings,
            *(stale_warning(plan.spec, e, result.stats, stopped_early=early) for e in stale)))
    command = reproduce_command(spec_path, result.seed, sequences, steps,
                                keep_going=bool(keep_going), swarm=swarm, mode=mode,
                                concurrency=concurrency, shard=shard)
    files: list[Path] = []
    replay_error = ""
    if failures is not None:
        for failure in result.failures:
            if failure.source:
                files.append(Path(failure.source))
                continue
            if failure.race is not None:
                # A replay file replays steps one after another: it cannot show a race (the
                # seed and --concurrency in the command repeat the search instead).
                continue
            try:  # (a folder that cannot be written must not cost the user the failure found)
                files.append(write_replay_file(plan, failure, seed=result.seed,
                                               command=list(command), redact=redact,
                                               folder=failures))
            except OSError as error:
                replay_error = (f"cannot write the replay file in {failures}: "
                                f"{error.strerror or error}")
                break
    return CheckResult(plan, result, command, files[0] if files else None, tuple(tried),
                       tuple(files), replay_error)
