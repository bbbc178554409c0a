"""Stage 3: run a plan against its targets.

``run_plan`` starts the targets, resets them before every sequence, lets Hypothesis drive the
state machine, and stops every target at the end -- also on Ctrl-C, SIGTERM and errors. It
knows nothing of how responses are compared: a ``judge`` (the compare stage) is passed in.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import Flaky, HypothesisException, UnsatisfiedAssumption
from hypothesis.stateful import run_state_machine_as_test

from mbtspec.compiler import NO_BODY, Plan, State, Unsatisfiable
from mbtspec.errors import RunError, TargetError
from mbtspec.executor._runtime import (
    Abort,
    Judge,
    ReplayDraws,
    Runtime,
    StepFailed,
    TimeUp,
    build_machine,
)
from mbtspec.executor.records import (
    Difference,
    Failure,
    Finding,
    Progress,
    Request,
    Response,
    RunResult,
    Stats,
    Step,
)
from mbtspec.executor.targets import CommandTarget, Target, interpolate, make_target
from mbtspec.spec.model import ResetStep

__all__ = [
    "Difference", "Failure", "Finding", "Judge", "Progress", "Request", "Response",
    "RunResult", "Stats", "Step", "run_plan",
]


def run_plan(
    plan: Plan,
    *,
    judge: Judge,
    on_progress: Callable[[Progress], None] | None = None,
    database: Path | None = None,
) -> RunResult:
    """Run ``plan``; returns the result, or raises ``TargetError`` if a target fails.

    ``database`` is a folder for Hypothesis' example database; failures found before are
    tried first. It is keyed by the spec file's hash.
    """
    seed = plan.run.seed if plan.run.seed is not None else random.randrange(2**32)
    secrets = set(plan.secrets)
    tmp = Path(tempfile.mkdtemp(prefix="mbtspec-"))
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(_quiet_on_interrupt)
    targets: dict[str, Target] = {}
    keep_tmp = False
    interrupts = _Interrupts(loop)
    interrupts.install()
    try:
        for name in plan.targets:
            definition = next(t for t in plan.spec.targets if t.name == name)
            targets[name] = make_target(definition, tmp, secrets)
        interrupts.run(_start_all(targets))
        return _run(plan, targets, judge, interrupts, seed, on_progress, database)
    except TargetError:
        keep_tmp = True  # the log files stay for the user to read
        raise
    finally:
        interrupts.shielded = True
        try:
            _stop_everything(loop, targets)
        finally:
            interrupts.uninstall()
            loop.close()
            if not keep_tmp:
                shutil.rmtree(tmp, ignore_errors=True)


def _stop_everything(loop: asyncio.AbstractEventLoop, targets: dict[str, Target]) -> None:
    """Stop every target (processes first: they matter most), then the event loop."""
    for target in targets.values():
        if target.process is not None:
            target.process.stop()
    with contextlib.suppress(BaseException):
        loop.run_until_complete(asyncio.wait_for(_stop_all(targets), timeout=10))
    leftovers = asyncio.all_tasks(loop)  # e.g. requests cut short by Ctrl-C
    for task in leftovers:
        task.cancel()
    if leftovers:  # (gather() of nothing would make a new event loop of its own)
        with contextlib.suppress(BaseException):
            loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))


def _run(plan: Plan, targets: dict[str, Target], judge: Judge, interrupts: _Interrupts,
         seed: int, on_progress: Callable[[Progress], None] | None,
         database: Path | None) -> RunResult:
    spec = plan.spec
    warnings: list[str] = []
    if not spec.reset and not any(t.reset for t in spec.targets):
        warnings.append(
            "no 'reset' in the spec: sequences are not isolated from each other, so a "
            "difference may depend on earlier sequences; failures are replayed to confirm them")

    def reset() -> None:
        interrupts.run(_reset_all(targets, plan))

    runtime = Runtime(plan, targets, judge, interrupts.run, reset, on_progress,
                      interrupts.check)
    if not any(runtime.enabled(action) for action in plan.actions):
        raise RunError(
            "no action can run at the start of a sequence: each one has a 'when' that is "
            "false, or picks a variable that nothing has stored yet; give at least one action "
            "(the one that creates things) no precondition")
    machine = hypothesis_seed(seed)(build_machine(runtime))
    db = (DirectoryBasedExampleDatabase(str(database / spec.sha256[:16]))
          if database is not None else None)
    run_settings = settings(
        max_examples=plan.run.sequences,
        stateful_step_count=plan.run.steps,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=db,
        verbosity=Verbosity.quiet,
        report_multiple_bugs=False,
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink),
        print_blob=False,
    )
    failure: Failure | None = None
    stopped = ""
    try:
        run_state_machine_as_test(machine, settings=run_settings)
    except StepFailed as err:
        failure = Failure(err.steps[-1].findings[0].kind, err.steps)
    except Flaky as err:
        first = next((e for e in getattr(err, "exceptions", ()) if isinstance(e, StepFailed)),
                     None)
        steps = first.steps if first else tuple(runtime.trace)
        kind = steps[-1].findings[0].kind if steps and steps[-1].findings else "difference"
        failure = Failure(kind, steps, flaky=True,
                          note="it showed once but not when the same sequence ran again")
    except TimeUp:
        stopped = "max-time"
    except Abort as err:
        raise err.error from None
    except HypothesisException as err:
        raise RunError(f"the run could not proceed: {err}") from None
    if failure is not None and not failure.flaky:
        failure = _confirm(runtime, failure) if warnings else _minimize(runtime, failure)
    unreached = _unreached(plan, runtime.stats)
    return RunResult(seed, time.monotonic() - runtime.started, runtime.stats, failure,
                     stopped, tuple(warnings), unreached)


def _replay(runtime: Runtime, steps: tuple[Step, ...], kind: str) -> tuple[Step, ...] | None:
    """Run recorded steps again from a clean start (same drawn values, picks re-resolved
    against what this replay stores); the new trace if it fails the same way, else None."""
    runtime.reset_targets()
    runtime.state = State(runtime.variables)
    runtime.trace = []
    by_name = {p.name: p for p in runtime.plan.actions}
    try:
        for recorded in steps:
            plan = by_name[recorded.action]
            if not runtime.enabled(plan):
                return None
            step = runtime.step(plan, ReplayDraws(recorded.draws))
            if step.findings:
                return tuple(runtime.trace) if step.findings[0].kind == kind else None
    except (Unsatisfiable, UnsatisfiedAssumption, IndexError, KeyError):
        return None
    except Abort as err:
        raise err.error from None
    return None


def _minimize(runtime: Runtime, failure: Failure) -> Failure:
    """Try leaving out single steps of Hypothesis' result; keep any shorter failing sequence.

    Hypothesis' shrinker can stop at a local minimum when removing a step shifts the choices
    of the steps after it; replaying the recorded values step by step does not have that
    problem.
    """
    steps = failure.steps
    improved = True
    while improved and len(steps) > 1:
        improved = False
        for index in range(len(steps) - 1):
            shorter = _replay(runtime, steps[:index] + steps[index + 1:], failure.kind)
            if shorter is not None and len(shorter) < len(steps):
                steps, improved = shorter, True
                break
    return Failure(failure.kind, steps) if steps != failure.steps else failure


def _confirm(runtime: Runtime, failure: Failure) -> Failure:
    """Replay the minimal sequence once more (there is no reset to rely on)."""
    replayed = _replay(runtime, failure.steps, failure.kind)
    if replayed is not None:
        return Failure(failure.kind, replayed)
    return Failure(failure.kind, failure.steps, flaky=True,
                   note="it did not show again when the minimal sequence was replayed "
                        "(without a reset, earlier sequences may have left state behind)")


def _unreached(plan: Plan, stats: Stats) -> tuple[str, ...]:
    doc = plan.spec.openapi
    if doc is None:
        return ()
    reached = {p.action.operation.key for p in plan.actions
               if p.action.operation is not None and stats.actions.get(p.name)}
    return tuple(op.key for op in doc.operations if op.key not in reached)


def _quiet_on_interrupt(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Tasks cut short by Ctrl-C or an aborted run are expected: do not log them."""
    if isinstance(context.get("exception"), KeyboardInterrupt | Abort | asyncio.CancelledError):
        return
    loop.default_exception_handler(context)


async def _start_all(targets: dict[str, Target]) -> None:
    results = await asyncio.gather(*(t.start() for t in targets.values()),
                                   return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def _stop_all(targets: dict[str, Target]) -> None:
    await asyncio.gather(*(_stop(t) for t in targets.values()), return_exceptions=True)


async def _stop(target: Target) -> None:
    with contextlib.suppress(AttributeError):  # never started: no client
        await target.stop()


async def _reset_all(targets: dict[str, Target], plan: Plan) -> None:
    await asyncio.gather(*(
        _reset(target, target.definition.reset if target.definition.reset is not None
               else plan.spec.reset)
        for target in targets.values()
    ))


async def _reset(target: Target, steps: tuple[ResetStep, ...]) -> None:
    for step in steps:
        if step.command:
            await _reset_command(target, step)
            continue
        assert step.method is not None and step.path is not None
        content = None
        headers = dict(target.headers)
        try:  # ${env.NAME} may stand in a reset request's headers and body
            headers.update({k: interpolate(v, {}) for k, v in step.headers})
            body = _interpolate_strings(step.body)
        except KeyError as err:
            raise TargetError(target.name, f"reset step: {err.args[0]}") from None
        if body is not None:
            content = json.dumps(body).encode()
            headers.setdefault("content-type", "application/json")
        request = Request(step.method, target.base_url.rstrip("/") + step.path, step.path,
                          tuple(headers.items()), body if body is not None else NO_BODY,
                          content, None)
        response = await target.send(request)
        ok = (response.status == step.status if step.status is not None
              else response.status is not None and response.status < 400)
        if not ok:
            answered = response.status if response.status is not None else response.error
            raise TargetError(
                target.name, f"reset step '{step.method} {step.path}' answered {answered}"
                f"{f', expected {step.status}' if step.status else ''}; check the reset "
                "request (the target must offer a way to start clean)")


def _interpolate_strings(value: Any) -> Any:
    if isinstance(value, str):
        return interpolate(value, {})
    if isinstance(value, dict):
        return {k: _interpolate_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate_strings(v) for v in value]
    return value


async def _reset_command(target: Target, step: ResetStep) -> None:
    env = target.env if isinstance(target, CommandTarget) else None
    cwd = target.cwd if isinstance(target, CommandTarget) else None
    try:
        argv = [interpolate(a, target.variables) for a in step.command]
        done = await asyncio.to_thread(subprocess.run, argv, env=env, cwd=cwd,
                                       capture_output=True, timeout=120, check=False)
    except KeyError as err:
        raise TargetError(target.name, f"reset command {step.command[0]!r}: "
                          f"{err.args[0]} is not available for this target") from None
    except (OSError, subprocess.TimeoutExpired) as err:
        raise TargetError(target.name, f"reset command {step.command[0]!r} failed: "
                          f"{err}") from None
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).decode(errors="replace").splitlines()[-10:]
        raise TargetError(target.name, f"reset command {' '.join(step.command)!r} "
                          f"exited with code {done.returncode}", tail)


class _Interrupts:
    """Ctrl-C (SIGINT) and SIGTERM stop the run, and every target with it.

    Signals are taken through the event loop (``add_signal_handler``): the handler sets a flag
    and cancels what the loop is waiting for, and ``run`` turns that into ``KeyboardInterrupt``
    at a known place. A ``KeyboardInterrupt`` raised at an arbitrary point could land in a
    weakref callback or in a function CEL called, where Python prints and swallows it. While
    targets are being stopped (``shielded``), signals only set the flag.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.flag = False
        self.shielded = False
        self.previous: dict[int, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread
        for signum in (signal.SIGINT, signal.SIGTERM):
            self.previous[signum] = signal.getsignal(signum)
            self.loop.add_signal_handler(signum, self.handler)

    def uninstall(self) -> None:
        for signum, previous in self.previous.items():
            self.loop.remove_signal_handler(signum)
            signal.signal(signum, previous)

    def handler(self) -> None:
        self.flag = True
        if not self.shielded:
            for task in asyncio.all_tasks(self.loop):
                task.cancel()

    def check(self) -> None:
        if self.flag and not self.shielded:
            raise KeyboardInterrupt

    def run(self, awaitable: Any) -> Any:
        """Run ``awaitable`` on the loop; ``KeyboardInterrupt`` if a signal stopped it."""
        self.check()
        try:
            return self.loop.run_until_complete(awaitable)
        except asyncio.CancelledError:
            if self.flag:
                raise KeyboardInterrupt from None
            raise
