"""A run's targets, started together and stopped together, with its event loop and signals.

``Session`` starts every target (in a per-run temporary folder), resets them on demand, sends
each step to all of them at once, and on leaving stops every target -- also on Ctrl-C, SIGTERM
and errors. A target that failed keeps its log files for the user.

The main thread never blocks in a call that a signal cannot end: requests to servers and WSGI
apps go out from one worker thread per target while the main thread waits on the mailbox of
``Interrupts``; in-process ASGI apps run on the event loop; reset commands are processes
(see ``_process``) whose exits are posted to the same mailbox. Ctrl-C therefore stops the run
within a fraction of a second in every phase (see ``_interrupts``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from mbtspec.compiler import NO_BODY, Plan
from mbtspec.errors import TargetError
from mbtspec.executor._interrupts import STOP, DaemonThreads, Interrupts
from mbtspec.executor._process import ManagedProcess, keep, new_mark, stop_all, sweep, tidy
from mbtspec.executor._runtime import Abort
from mbtspec.executor.records import Request, Response
from mbtspec.executor.targets import (
    CommandTarget,
    Target,
    command_line,
    interpolate,
    make_target,
)
from mbtspec.spec.model import ResetStep

RESET_COMMAND_TIMEOUT = 120.0  # seconds a reset command may run
GIVE_UP_AFTER = 1.0  # seconds past its timeout that a call without an answer is given up


class Session:
    """``with Session(plan) as session:`` -- the plan's targets, started."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.targets: dict[str, Target] = {}
        self.tmp = Path(tempfile.mkdtemp(prefix="mbtspec-"))
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(_quiet_on_interrupt)
        self.loop.set_default_executor(DaemonThreads())
        self.interrupts = Interrupts(self.loop)
        self.senders: dict[str, _Sender] = {}
        self.batch = 0
        self.commands: list[ManagedProcess] = []  # reset commands running now
        self.commands_mark = ""  # the start of the mark of every reset command's processes
        self.commands_started = 0
        self.supervised = any(t.kind in ("command", "compose") for t in plan.spec.targets) or any(
            step.command for step in _all_reset_steps(plan))

    def __enter__(self) -> Session:
        self.interrupts.install()
        try:
            if self.supervised:  # (this starts the supervisor now, while apps import)
                tidy(self.tmp)
            for name in self.plan.targets:
                definition = next(t for t in self.plan.spec.targets if t.name == name)
                self.targets[name] = make_target(definition, self.tmp)
            _check_ports_free(self.targets)
            self.run(_start_all(self.targets))
            _check_still_running(self.targets)
        except BaseException as error:
            self.__exit__(type(error), error, error.__traceback__)
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.interrupts.shield(self._hurry)
        try:
            stop_all([*self._processes(), *self.commands])
            stop_all(self._services())  # (after the servers that use them)
            if self.commands_mark:  # what reset commands left running in the background
                sweep(self.commands_mark + ".", 1.0)
            _stop_loop(self.loop, self.targets)
        finally:
            for sender in self.senders.values():
                sender.close()
            self.interrupts.uninstall()
            if not self.loop.is_closed():
                self.loop.close()
            interrupted = self.interrupts.received > 0
            failed = error.error if isinstance(error, Abort) else error
            if not isinstance(failed, TargetError) or interrupted:  # else its logs stay
                shutil.rmtree(self.tmp, ignore_errors=True)
            if self.supervised:
                keep(self.tmp)
        if interrupted and type(error) is not KeyboardInterrupt and not self.keeps_failure:
            # A real signal always wins over what else ended the run (an Abort, a target
            # error it caused, or nothing): the user asked to stop. Except over a failure
            # found before it, which the run reports (``keeps_failure``).
            raise KeyboardInterrupt from None
        if isinstance(error, Abort):  # never "interrupted" without a signal: the target error
            raise error.error from None

    #: Set by the run when it ends with a failure found: a signal that stopped shrinking or
    #: the search must not cost the user that failure (it is reported, exit code 1).
    keeps_failure = False

    @property
    def interrupted(self) -> bool:
        """Did a signal (Ctrl-C, SIGTERM) come during the run?"""
        return self.interrupts.received > 0

    def _processes(self) -> list[ManagedProcess]:
        return [t.process for t in self.targets.values() if t.process is not None]

    def _services(self) -> list[ManagedProcess]:
        return [p for t in self.targets.values() if isinstance(t, CommandTarget)
                for p in t.service_processes()]

    def _hurry(self) -> None:
        """A second signal while stopping: SIGKILL now, and stop waiting for the loop."""
        for process in [*self._processes(), *self.commands, *self._services()]:
            process.kill()
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(_cancel_all, self.loop)

    def run(self, awaitable: Any) -> Any:
        """Run a coroutine on the session's loop (``KeyboardInterrupt`` on Ctrl-C)."""
        return self.interrupts.run(awaitable)

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` if the user asked to stop."""
        self.interrupts.check()

    def send_all(self, requests: dict[str, Request]) -> dict[str, Response]:
        """Send each target its request, all at once: blocking transports (servers, WSGI
        apps) from their worker threads, ASGI apps on the event loop meanwhile; the main
        thread waits where a signal reaches it. ``TargetError`` if a target is gone. A call
        still without an answer ``GIVE_UP_AFTER`` seconds past its target's timeout (a WSGI
        app that never returns: nothing else times it out) is recorded as a timeout."""
        self.batch += 1
        started = time.monotonic()
        blocking = [n for n in requests if self.targets[n].sync_transport is not None]
        for name in blocking:
            self._sender(name).inbox.put((self.batch, requests[name]))
        answers: dict[str, Response] = {}
        on_loop = [n for n in requests if n not in blocking]
        if on_loop:
            answers.update(self.run(self._gather(on_loop, requests)))
        while len(answers) < len(requests):
            waiting = {n: started + self.targets[n].timeout + GIVE_UP_AFTER
                       for n in blocking if n not in answers}
            try:
                item = self.interrupts.next(max(min(waiting.values()) - time.monotonic(), 0))
            except queue.Empty:  # a call that ignores its timeout: an in-process WSGI app
                for name, deadline in waiting.items():
                    if time.monotonic() >= deadline:
                        answers[name] = self._give_up(name, started)
                continue
            if item is STOP or item[0] != "sent" or item[1] != self.batch:
                continue  # (a result of a batch that an error or a give-up cut short)
            _, _, name, ok, value = item
            if not ok:
                raise value
            answers[name] = value
        return answers

    def _give_up(self, name: str, started: float) -> Response:
        """No answer long after the target's timeout: record it as a timeout, and leave the
        stuck thread behind (a new one sends what comes next)."""
        self.senders.pop(name).close()
        return Response(None, elapsed_ms=round((time.monotonic() - started) * 1000, 3),
                        error=f"no response within {self.targets[name].timeout:g}s")

    def _sender(self, name: str) -> _Sender:
        if name not in self.senders:
            self.senders[name] = _Sender(self.targets[name], self.interrupts.mailbox)
        return self.senders[name]

    async def _gather(self, names: list[str], requests: dict[str, Request]
                      ) -> dict[str, Response]:
        """Each ASGI app's answer: one after the other, in this one task -- an app that
        never waits gains nothing from a task of its own, which costs more than its call --
        until one is seen waiting (``Target.waits``: a database, a timer); from then on
        concurrently, so that their waits overlap."""
        if len(names) == 1 or not any(self.targets[n].waits for n in names):
            return {n: await self.targets[n].send(requests[n]) for n in names}
        answers = await asyncio.gather(*(self.targets[n].send(requests[n]) for n in names))
        return dict(zip(names, answers, strict=True))

    def reset(self, only: tuple[str, ...] | None = None) -> None:
        """Run the reset steps on every target (step by step, the targets together), or on
        the targets named in ``only``, and forget their cookies; ``TargetError`` if a step
        fails, or a service has exited."""
        steps = {name: target.definition.reset if target.definition.reset is not None
                 else self.plan.spec.reset for name, target in self.targets.items()
                 if only is None or name in only}
        for name in steps:
            target = self.targets[name]
            target.forget()
            for service in getattr(target, "services", ()):
                if (error := service.exited()) is not None:
                    raise error
        for index in range(max((len(s) for s in steps.values()), default=0)):
            round_ = {name: s[index] for name, s in steps.items() if index < len(s)}
            restarts = {name: step for name, step in round_.items()
                        if step.restart is not None and _restarts(step, self.targets[name])}
            if restarts:
                self.run(_restart_all({n: self.targets[n] for n in restarts}, restarts))
            commands = {name: step for name, step in round_.items() if step.command}
            if commands:
                self._run_commands(commands)
            requests = {name: _reset_request(self.targets[name], step)
                        for name, step in round_.items() if step.method is not None}
            if requests:
                answers = self.send_all(requests)
                for name, response in answers.items():
                    _check_reset(self.targets[name], round_[name], response)

    def _run_commands(self, steps: dict[str, ResetStep]) -> None:
        """Run each target's reset command, all at once; wait for all of them (at most
        ``RESET_COMMAND_TIMEOUT``), where a signal reaches the main thread."""
        running: dict[str, ManagedProcess] = {}
        try:
            for name, step in steps.items():
                running[name] = self._start_command(self.targets[name], step)
            deadline = time.monotonic() + RESET_COMMAND_TIMEOUT
            while late := [n for n, p in running.items() if p.exit_code is None]:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TargetError(late[0], f"reset command {steps[late[0]].command[0]!r} "
                                      f"failed: it still ran after {RESET_COMMAND_TIMEOUT:g} "
                                      "seconds and was stopped")
                with contextlib.suppress(queue.Empty):
                    self.interrupts.next(timeout=left)
        finally:
            for process in running.values():
                if process.exit_code is None:
                    process.kill()
                else:  # (what it left running is stopped with the session)
                    process.release()
            self.commands = [p for p in self.commands if p.exit_code is None]
        for name, process in running.items():
            if process.exit_code != 0:
                raise TargetError(name, f"reset command {' '.join(process.argv)!r} exited "
                                  f"with code {process.exit_code}", process.log_tail(10))

    def _start_command(self, target: Target, step: ResetStep) -> ManagedProcess:
        env = target.env if isinstance(target, CommandTarget) else dict(os.environ)
        cwd = target.cwd if isinstance(target, CommandTarget) else None
        argv = command_line(target, step.command, "reset command")
        self.commands_mark = self.commands_mark or new_mark()
        self.commands_started += 1
        try:
            process = ManagedProcess(argv, env=env, cwd=cwd, lifetime="command", grace=1.0,
                                     log_path=self.tmp / f"{target.name}.reset.log",
                                     mark=f"{self.commands_mark}.{self.commands_started}")
        except OSError as err:
            raise TargetError(target.name, f"reset command {step.command[0]!r} failed: "
                              f"{err.strerror}; check the command") from None
        self.commands.append(process)
        process.on_exit(lambda: self.interrupts.mailbox.put(("exited",)))
        return process


class _Sender:
    """A daemon thread that sends one target's requests on its blocking transport and puts
    each answer (or error) in the mailbox. Daemon: a request still waiting for its timeout
    when the run ends must not keep mbtspec from exiting."""

    def __init__(self, target: Target, mailbox: queue.SimpleQueue[Any]) -> None:
        self.target = target
        self.mailbox = mailbox
        self.inbox: queue.SimpleQueue[tuple[int, Request] | None] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name=f"mbtspec-send-{target.name}",
                         daemon=True).start()

    def _serve(self) -> None:
        while (job := self.inbox.get()) is not None:
            batch, request = job
            try:
                answer: tuple[bool, Any] = (True, self.target.send_sync(request))
            except BaseException as error:  # handed to the main thread, which raises it
                answer = (False, error)
            self.mailbox.put(("sent", batch, self.target.name, *answer))

    def close(self) -> None:
        self.inbox.put(None)


def _restarts(step: ResetStep, target: Target) -> bool:
    """Does the restart ``step`` restart ``target``? (Only command targets restart.)"""
    return isinstance(target, CommandTarget) and (step.restart == "all"
                                                  or target.name in (step.restart or ()))


async def _restart_all(targets: dict[str, Target], steps: dict[str, ResetStep]) -> None:
    """Restart the targets together; the first error (after all of them ended) is raised."""
    results = await asyncio.gather(
        *(_restart(target, steps[name]) for name, target in targets.items()),
        return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def _restart(target: Target, step: ResetStep) -> None:
    assert isinstance(target, CommandTarget)
    await target.restart(step.commands)


def _all_reset_steps(plan: Plan) -> list[ResetStep]:
    steps = list(plan.spec.reset)
    for target in plan.spec.targets:
        steps += target.reset or []
    return steps


def _check_ports_free(targets: dict[str, Target]) -> None:
    """A command target whose ``base_url`` names a port that something already listens on
    would be tested against that other server: refuse it before starting anything."""
    for target in targets.values():
        if not isinstance(target, CommandTarget):
            continue
        parts = urlsplit(target.base_url)
        host = parts.hostname or "127.0.0.1"
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if host not in ("127.0.0.1", "localhost", "::1"):
            continue
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
            sock.settimeout(1.0)
            taken = sock.connect_ex((host, port)) == 0
        if taken:
            raise TargetError(target.name, f"port {port} is already in use on {host}, "
                              "before the command started: another server would answer in "
                              "its place; stop that server, or let mbtspec pick a free port "
                              "(${port} in the command, and no fixed base_url)")


def _check_still_running(targets: dict[str, Target]) -> None:
    """A command that is gone right after its ready check was answered: it crashed, or what
    answered was another server on its port."""
    for target in targets.values():
        process = target.process
        if process is not None and process.exit_code is not None:
            raise TargetError(
                target.name, f"the process exited with code {process.exit_code} right after "
                "its ready check was answered (by it, or by another server on its port)",
                process.log_tail(), str(process.log_path))


def _stop_loop(loop: asyncio.AbstractEventLoop, targets: dict[str, Target]) -> None:
    """Stop every target's in-process part (transports, ASGI lifespans), then the loop."""
    stopping = _stop_all(targets)
    with contextlib.suppress(BaseException):
        # (30 s: a compose target's 'down' stops containers, 5 s each at most)
        loop.run_until_complete(asyncio.wait_for(stopping, timeout=30))
    stopping.close()  # (a signal may cancel it before it starts: no "never awaited" warning)
    leftovers = asyncio.all_tasks(loop)  # e.g. requests cut short by Ctrl-C
    for task in leftovers:
        task.cancel()
    if leftovers:  # (gather() of nothing would make a new event loop of its own)
        with contextlib.suppress(BaseException):
            loop.run_until_complete(_settle(leftovers))


async def _settle(tasks: set[asyncio.Task[Any]]) -> None:
    await asyncio.gather(*tasks, return_exceptions=True)


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    for task in asyncio.all_tasks(loop):
        task.cancel()


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
