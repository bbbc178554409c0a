"""Stage 3: run a plan against its targets.

``run_plan`` starts the targets, resets them before every sequence, lets Hypothesis draw the
sequences (``_runtime.sequence_test``), and stops every target at the end -- also on Ctrl-C,
SIGTERM and errors. It knows nothing of how responses are compared: a ``judge`` (the compare
stage) is passed in.
"""

from __future__ import annotations

import contextlib
import gc
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import Flaky, HypothesisException, UnsatisfiedAssumption

from mbtspec.compiler import Plan, Unsatisfiable
from mbtspec.errors import RunError, TargetError
from mbtspec.executor._boundaries import iter_boundary_failures
from mbtspec.executor._draws import ReplayDraws
from mbtspec.executor._partition import Part
from mbtspec.executor._races import RaceShrinker, search_races
from mbtspec.executor._runtime import (
    Abort,
    Judge,
    Runtime,
    StepFailed,
    TimeUp,
    sequence_test,
)
from mbtspec.executor._session import Session
from mbtspec.executor._shrink import shrink
from mbtspec.executor.records import (
    Difference,
    Failure,
    Finding,
    Progress,
    Race,
    Request,
    Response,
    RunResult,
    Signature,
    Stats,
    Step,
    signature,
)

__all__ = [
    "Difference", "Failure", "Finding", "Judge", "Part", "Progress", "Race", "Request",
    "Response", "RunResult", "Signature", "Stats", "Step", "run_plan", "signature",
    "unreached_operations",
]


def run_plan(
    plan: Plan,
    *,
    judge: Judge,
    on_progress: Callable[[Progress], None] | None = None,
    on_step: Callable[[Step], None] | None = None,
    database: Path | None = None,
    known: tuple[Failure, ...] = (),
    part: Part | None = None,
) -> RunResult:
    """Run ``plan``; returns the result, or raises ``TargetError`` if a target fails.

    ``database`` is a folder for Hypothesis' example database; failures found before are
    tried first. It is keyed by the spec file's hash. ``on_step`` sees every step as it ends.
    ``known``: failures found already (saved ones that still show), reported first; with
    keep-going the search looks for others. ``part``: run only the sequences (and boundary
    cases) of that part of a split run (``_partition``); its examples are kept in a folder
    of the database of their own.
    """
    seed = plan.run.seed if plan.run.seed is not None else random.randrange(2**32)
    with Session(plan) as session, _fewer_collections():
        result = _run(plan, session, judge, seed, on_progress, on_step, database, known,
                      part)
        session.keeps_failure = bool(result.failures)
        return result


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Make the cyclic garbage collector work less during a run, and put it back after.

    Each step allocates thousands of short-lived objects (requests, responses, Hypothesis'
    choices), so with Python's defaults the collector runs several times a step, and now and
    then walks every object there is, the loaded spec and OpenAPI document included: about
    0.1 ms a step in all, measured on the example. Objects that exist before the run are set
    aside (``gc.freeze``) and collections are made rarer; garbage is still collected.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], 10_000), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _run(plan: Plan, session: Session, judge: Judge, seed: int,
         on_progress: Callable[[Progress], None] | None,
         on_step: Callable[[Step], None] | None, database: Path | None,
         known: tuple[Failure, ...], part: Part | None = None) -> RunResult:
    spec = plan.spec
    warnings: list[str] = []
    isolated = bool(spec.reset) or any(t.reset for t in spec.targets)
    if not isolated:
        warnings.append(
            "no 'reset' in the spec: sequences are not isolated from each other, so a "
            "difference may depend on earlier sequences; failures are replayed to confirm them")

    runtime = Runtime(plan, session.targets, judge, session.send_all, session.reset,
                      on_progress, session.check, on_step, part)
    if not any(runtime.enabled(action) for action in plan.actions):
        raise RunError(
            "no action can run at the start of a sequence: each one has a 'when' that is "
            "false, or picks a variable that nothing has stored yet; give at least one action "
            "(the one that creates things) no precondition")
    found: list[Failure] = list(known)
    for saved in known:
        runtime.known[signature(saved.steps[-1])] = 0
    stopped, over = "", False
    if any(p.inputs is not None and p.inputs.boundaries for p in plan.actions):
        stopped, over = _boundary_pass(runtime, seed, isolated, warnings, found)
    round_seed, first = seed, True
    if plan.run.concurrency is not None and not over:
        stopped = _race_search(runtime, session, seed, isolated, warnings, found)
        over = True
    while not over:
        try:
            failure, stopped = _search(runtime, round_seed, isolated, warnings,
                                       database if first else None,
                                       lambda: session.interrupted)
        except (TargetError, KeyboardInterrupt) as error:
            if not found:
                raise
            # a failure found before is never lost to what happens after
            stopped = "interrupted" if isinstance(error, KeyboardInterrupt) else "target error"
            if isinstance(error, TargetError):
                warnings.append(f"the search stopped early: {error}")
            break
        if failure is None:
            if not stopped:
                warnings.extend(_ended_early(runtime.stats, plan.run.sequences, part))
            break
        found.append(failure)
        runtime.known.setdefault(signature(failure.steps[-1]), 0)
        if not plan.run.keep_going or failure.ends_run or stopped:
            break
        if _generated(runtime.stats) >= plan.run.sequences:
            break
        # Search on, treating what was found as known (see ``Runtime.known``). Another seed:
        # the same one would draw the same sequences again.
        round_seed, first = (round_seed * 1_103_515_245 + 12_345) % 2**32, False
        runtime.failures, runtime.best, runtime.aborted = 0, None, None
    failures = tuple(replace(f, variants=runtime.known.get(signature(f.steps[-1]), 0))
                     for f in found)
    for action, (count, why) in runtime.refused.items():
        warnings.append(f"action '{action}': {count} request{'s' if count != 1 else ''} "
                        f"{why}: mbtspec sends requests to its targets only, so a URL in "
                        "'url' must point at the same target (a path, or its base URL)")
    return _result(runtime, seed, failures, stopped, warnings)


def _race_search(runtime: Runtime, session: Session, seed: int, isolated: bool,
                 warnings: list[str], found: list[Failure]) -> str:
    """Search with parallel sequences (``run.concurrency``); a failure found is shrunk and
    added to ``found``. Returns why the run stopped early, or "". (The first failure ends
    the search: keep-going does not apply to races.)"""
    if not isolated:
        warnings.append("without a reset, a race cannot be replayed reliably: its shrinking "
                        "and its confirmation may go astray")
    try:
        outcome = search_races(runtime, session, seed)
    except TimeUp:
        return "max-time"
    except (Abort, TargetError, KeyboardInterrupt) as error:
        if isinstance(error, Abort):
            error = error.error
        if not found:
            raise error from None
        return "interrupted" if isinstance(error, KeyboardInterrupt) else "target error"
    if outcome is None or outcome.failure is None:
        return ""
    failure = outcome.failure
    if failure.race is None:  # an ordinary failure, in the prefix
        failure = (_minimize(runtime, failure, warnings) if isolated
                   else _confirm(runtime, failure, warnings))
    else:
        shrinker = RaceShrinker(runtime, session, runtime.plan.run.shrink_time)
        try:
            failure = shrinker.shrink(outcome)
        except Abort as err:
            failure = _cut_short(failure.steps, err.error, warnings, failure)
        except KeyboardInterrupt:
            failure = _cut_short(failure.steps, None, warnings, failure)
    runtime.trace = []
    found.append(failure)
    return ""


def _ended_early(stats: Stats, asked: int, part: Part | None) -> list[str]:
    """Why a search that ended by itself ran fewer sequences than asked, if it did: Hypothesis
    stops when every distinct sequence the spec can draw has run (a spec whose actions draw
    no values that vary), when most drawn sequences had to be discarded, or, in a split run,
    when nearly every sequence it drew was another part's."""
    ran = _generated(stats)
    if ran >= asked:
        return []
    if part is not None and stats.elsewhere:
        return [f"part {part.index} of {part.count} ran {ran} of its {asked} sequences: "
                f"Hypothesis drew {stats.elsewhere} that belong to other parts before it gave "
                "up; the spec's sequences differ too little for this many parts (run fewer)"]
    if stats.discarded > ran:
        return [f"the search ended after {ran} of the {asked} sequences asked: "
                f"{stats.discarded} drawn sequences had to be discarded (no step could be "
                "drawn in them); see the actions' 'skipped' counts"]
    return [f"the search ended after {ran} of the {asked} sequences asked: every distinct "
            "sequence this spec can draw was run (its actions draw few values that vary); "
            "more would only repeat them"]


def _generated(stats: Stats) -> int:
    """Sequences of the random search so far (not those of shrinking or of the boundary
    pass): what ``run.sequences`` counts."""
    return stats.sequences - stats.shrinking - stats.boundary


def _boundary_pass(runtime: Runtime, seed: int, isolated: bool, warnings: list[str],
                   found: list[Failure]) -> tuple[str, bool]:
    """Try every boundary case once (``_boundaries``); each failure is shrunk and added to
    ``found``. Returns (why the run stopped early, or "", and whether it is over: a failure
    without keep-going, max_time, a target error or Ctrl-C after a failure)."""
    keep_going = runtime.plan.run.keep_going
    try:
        for failure in iter_boundary_failures(runtime, seed):
            runtime.end_sequence()
            failure = (_minimize(runtime, failure, warnings) if isolated
                       else _confirm(runtime, failure, warnings))
            runtime.trace = []
            found.append(failure)
            runtime.known.setdefault(signature(failure.steps[-1]), 0)
            runtime.failures, runtime.best, runtime.aborted = 0, None, None
            if not keep_going or failure.ends_run:
                return "", True
    except TimeUp:
        return "max-time", True
    except (Abort, TargetError, KeyboardInterrupt) as error:
        if isinstance(error, Abort):
            error = error.error
        if not found:
            raise error from None
        if isinstance(error, TargetError):
            warnings.append(f"the search stopped early: {error}")
            return "target error", True
        return "interrupted", True
    return "", False


def _search(runtime: Runtime, seed: int, isolated: bool, warnings: list[str],
            database: Path | None, interrupted: Callable[[], bool]
            ) -> tuple[Failure | None, str]:
    """Let Hypothesis draw sequences until one shows a failure that is not known yet, and
    shrink it; (the failure or None, why the search stopped early or ""). Raises
    ``TargetError`` or ``KeyboardInterrupt`` when that happens before any failure."""
    plan = runtime.plan
    part = runtime.part  # (each part of a split run keeps its examples apart: see run_plan)
    folder = (None if database is None else database / plan.spec.sha256[:16] if part is None
              else database / plan.spec.sha256[:16] / f"part-{part.index}-of-{part.count}")
    db = DirectoryBasedExampleDatabase(str(folder)) if folder is not None else None
    done = _generated(runtime.stats)
    run_settings = settings(
        max_examples=max(plan.run.sequences - done, 1),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=db,
        verbosity=Verbosity.quiet,
        report_multiple_bugs=False,
        # With a reset, mbtspec shrinks by replaying recorded steps (``_shrink``): much
        # cheaper than Hypothesis' search around the failing sequence. Without one, replays
        # are not reliable, and Hypothesis' shrinker is the better bet.
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target,
                *(() if isolated else (Phase.shrink,))),
        print_blob=False,
    )
    failure: Failure | None = None
    stopped = ""
    try:
        # (the seed first: applied after the settings, it would switch the database off)
        run_settings(hypothesis_seed(seed)(given(st.data())(sequence_test(runtime))))()
    except StepFailed as err:
        failure = Failure(err.steps[-1].findings[0].kind, err.steps)
    except Flaky as err:
        if interrupted():  # Ctrl-C in Hypothesis' final replay, which catches everything
            if runtime.best is None:
                raise KeyboardInterrupt from None
            runtime.end_sequence()
            return _cut_short(runtime.best, None, warnings), "interrupted"
        if runtime.aborted is not None:  # a target failed while Hypothesis replayed
            if runtime.best is None:
                raise runtime.aborted.error from None
            runtime.end_sequence()
            return _cut_short(runtime.best, runtime.aborted.error, warnings), ""
        if runtime.interrupted:  # Ctrl-C while Hypothesis replayed: it reports that as flaky
            if runtime.best is None:
                raise KeyboardInterrupt from None
            runtime.end_sequence()
            return _cut_short(runtime.best, None, warnings), "interrupted"
        first = next((e for e in getattr(err, "exceptions", ()) if isinstance(e, StepFailed)),
                     None)
        steps = first.steps if first else tuple(runtime.trace)
        kind = steps[-1].findings[0].kind if steps and steps[-1].findings else "difference"
        failure = Failure(kind, steps, flaky=True,
                          note="it showed once but not when the same sequence ran again")
    except TimeUp:
        stopped = "max-time"
    except Abort as err:
        if runtime.best is None:
            raise err.error from None
        failure = _cut_short(runtime.best, err.error, warnings)
    except KeyboardInterrupt:
        if runtime.best is None:
            raise
        failure = _cut_short(runtime.best, None, warnings)
        stopped = "interrupted"
    except HypothesisException as err:
        if part is None or not runtime.stats.elsewhere:
            raise RunError(f"the run could not proceed: {err}") from None
        # (nearly every sequence drawn was another part's: said by ``_ended_early``)
    runtime.end_sequence()
    if failure is not None and not failure.flaky and not failure.cut_short:
        failure = (_minimize(runtime, failure, warnings) if isolated
                   else _confirm(runtime, failure, warnings))
        runtime.trace = []  # (replays are not sequences of the run)
    return failure, stopped


def _result(runtime: Runtime, seed: int, failures: tuple[Failure, ...], stopped: str,
            warnings: list[str]) -> RunResult:
    unreached = unreached_operations(runtime.plan, runtime.stats)
    return RunResult(seed, time.monotonic() - runtime.started, runtime.stats,
                     failures[0] if failures else None, stopped, tuple(warnings), unreached,
                     failures)


def _cut_short(steps: tuple[Step, ...], error: TargetError | None,
               warnings: list[str], race: Failure | None = None) -> Failure:
    """The failure ``steps`` show, reported as it is because shrinking could not go on:
    a target failed (``error``) or the user stopped the run (``error`` is None). A failure
    once found is never lost to what happens after."""
    if error is None:
        why = "the run was interrupted"
    else:
        why = str(error)
        tail = [line for line in error.log_tail[-5:] if line.strip()]
        if tail:
            warnings.append(f"while shrinking, {error}; its last output: {' | '.join(tail)}")
    return Failure(steps[-1].findings[0].kind, steps, cut_short=True, ends_run=True,
                   note=f"shrinking stopped early ({why}): a shorter sequence may show it too",
                   race=race.race if race is not None else None)


def _replay(runtime: Runtime, steps: tuple[Step, ...], kind: str) -> tuple[Step, ...] | None:
    """Run recorded steps again from a clean start (same drawn values, picks re-resolved
    against what this replay stores); the new trace if it fails the same way, else None.
    ``Abort`` and ``KeyboardInterrupt`` go through."""
    runtime.start_replay()
    by_name = {p.name: p for p in runtime.plan.actions}
    try:
        for recorded in steps:
            plan = by_name[recorded.action]
            if not runtime.enabled(plan):
                return None
            step = runtime.step(plan, ReplayDraws(recorded.draws, recorded.origin))
            if step.findings:
                return tuple(runtime.trace) if step.findings[0].kind == kind else None
    except (Unsatisfiable, UnsatisfiedAssumption, IndexError, KeyError):
        return None
    return None


def _minimize(runtime: Runtime, failure: Failure, warnings: list[str]) -> Failure:
    """Shrink ``failure`` by replays within the run's shrink time; a target that fails
    meanwhile (or Ctrl-C) ends it with the shortest sequence so far."""
    best: list[tuple[Step, ...]] = [failure.steps]
    try:
        return shrink(runtime, failure, runtime.plan.run.shrink_time, best.append)
    except Abort as err:
        return _cut_short(best[-1], err.error, warnings)
    except KeyboardInterrupt:
        return _cut_short(best[-1], None, warnings)


def _confirm(runtime: Runtime, failure: Failure, warnings: list[str]) -> Failure:
    """Replay the minimal sequence once more (there is no reset to rely on)."""
    try:
        replayed = _replay(runtime, failure.steps, failure.kind)
    except Abort as err:
        return _cut_short(failure.steps, err.error, warnings)
    except KeyboardInterrupt:
        return _cut_short(failure.steps, None, warnings)
    if replayed is not None:
        return Failure(failure.kind, replayed)
    return Failure(failure.kind, failure.steps, flaky=True,
                   note="it did not show again when the minimal sequence was replayed "
                        "(without a reset, earlier sequences may have left state behind)")


def unreached_operations(plan: Plan, stats: Stats) -> tuple[str, ...]:
    doc = plan.spec.openapi
    if doc is None:
        return ()
    reached = {p.action.operation.key for p in plan.actions
               if p.action.operation is not None and p.name in stats.actions
               and stats.actions[p.name].runs}
    return tuple(op.key for op in doc.operations if op.key not in reached)


