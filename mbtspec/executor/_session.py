"""A run's targets, started together and stopped together, with its event loop and signals.

``Session`` starts every target (in a per-run temporary folder), resets them on demand, runs
coroutines on its loop, and on leaving stops every target -- also on Ctrl-C, SIGTERM and
errors. A target that failed keeps its log files for the user.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

from mbtspec.compiler import NO_BODY, Plan
from mbtspec.errors import TargetError
from mbtspec.executor._runtime import Abort
from mbtspec.executor.records import Request, Response
from mbtspec.executor.targets import CommandTarget, Target, interpolate, make_target
from mbtspec.spec.model import ResetStep


class Session:
    """``with Session(plan) as session:`` -- the plan's targets, started."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.targets: dict[str, Target] = {}
        self.tmp = Path(tempfile.mkdtemp(prefix="mbtspec-"))
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(_quiet_on_interrupt)
        self.interrupts = _Interrupts(self.loop)
        self.pool = ThreadPoolExecutor(max_workers=max(len(plan.targets), 1),
                                       thread_name_prefix="mbtspec-send")

    def __enter__(self) -> Session:
        self.interrupts.install()
        try:
            for name in self.plan.targets:
                definition = next(t for t in self.plan.spec.targets if t.name == name)
                self.targets[name] = make_target(definition, self.tmp)
            self.run(_start_all(self.targets))
        except BaseException as error:
            self.__exit__(type(error), error, error.__traceback__)
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.interrupts.shielded = True
        try:
            _stop_everything(self.loop, self.targets)
        finally:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.interrupts.uninstall()
            if not self.loop.is_closed():
                self.loop.close()
            if not isinstance(error, TargetError):  # else its log files stay to be read
                shutil.rmtree(self.tmp, ignore_errors=True)

    def run(self, awaitable: Any) -> Any:
        """Run a coroutine on the session's loop (``KeyboardInterrupt`` on Ctrl-C)."""
        return self.interrupts.run(awaitable)

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` if the user asked to stop."""
        self.interrupts.check()

    def send_all(self, requests: dict[str, Request]) -> dict[str, Response]:
        """Send each target its request, all at once: blocking transports (servers, WSGI
        apps) from worker threads, the last of them from this thread, and ASGI apps on the
        event loop meanwhile. ``TargetError`` if a target is gone."""
        blocking = [n for n in requests if self.targets[n].sync_transport is not None]
        on_loop = [n for n in requests if n not in blocking]
        here = blocking[-1] if blocking and not on_loop else None
        pending = {n: self.pool.submit(self.targets[n].send_sync, requests[n])
                   for n in blocking if n != here}
        answers: dict[str, Response] = {}
        try:
            if on_loop:
                answers.update(self.run(self._gather(on_loop, requests)))
            if here is not None:
                answers[here] = self.targets[here].send_sync(requests[here])
        finally:
            for name, future in pending.items():
                answers[name] = future.result()
        return answers

    async def _gather(self, names: list[str], requests: dict[str, Request]
                      ) -> dict[str, Response]:
        answers = await asyncio.gather(*(self.targets[n].send(requests[n]) for n in names))
        return dict(zip(names, answers, strict=True))

    def reset(self) -> None:
        """Run the reset steps on every target (step by step, the targets together) and
        forget their cookies; ``TargetError`` if a step fails."""
        steps = {name: target.definition.reset if target.definition.reset is not None
                 else self.plan.spec.reset for name, target in self.targets.items()}
        for target in self.targets.values():
            target.forget()
        for index in range(max((len(s) for s in steps.values()), default=0)):
            round_ = {name: s[index] for name, s in steps.items() if index < len(s)}
            commands = [name for name, step in round_.items() if step.command]
            if commands:
                self.run(asyncio.gather(*(_reset_command(self.targets[name], round_[name])
                                          for name in commands)))
            requests = {name: _reset_request(self.targets[name], step)
                        for name, step in round_.items() if not step.command}
            if requests:
                answers = self.send_all(requests)
                for name, response in answers.items():
                    _check_reset(self.targets[name], round_[name], response)


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
    await target.stop()


def _reset_request(target: Target, step: ResetStep) -> Request:
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
    return Request(step.method, target.base_url.rstrip("/") + step.path, step.path,
                   tuple(headers.items()), body if body is not None else NO_BODY, content, None)


def _check_reset(target: Target, step: ResetStep, response: Response) -> None:
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
        self.polled = 0.0
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
        # Calls to servers block this thread outside the loop, where the signal handler only
        # runs when the loop does: let it run now and then, to see a Ctrl-C.
        now = time.monotonic()
        if not self.flag and now - self.polled > 0.05 and not self.loop.is_running():
            self.polled = now
            self.loop.run_until_complete(asyncio.sleep(0))
            self.loop.run_until_complete(asyncio.sleep(0))
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
