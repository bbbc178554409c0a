"""Services of a command target (databases): started before it, stopped after it.

Each service gets a free port (``${port}``) and an empty folder of its own under the run's
temporary folder (``${dir}``, ``<tmp>/<target>.<service>``). Its ``setup`` commands run in
order (each must exit with 0), then its server starts, and it is ready once its
``ready.command`` exits with 0 or, without one, once its port accepts a TCP connection. All
its processes are ``ManagedProcess``es: marked, so that nothing outlives the run, also when
mbtspec is killed.

Database servers refuse to run as root: when mbtspec runs as root, a service's ``user`` is
the account its commands run as (its folder is given to that account, and the run's folder
made passable, not readable, for it).
"""

from __future__ import annotations

import asyncio
import os
import pwd
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from mbtspec.errors import TargetError
from mbtspec.executor._process import ManagedProcess, free_port
from mbtspec.spec.model import ServiceDef

SETUP_TIMEOUT = 120.0  # seconds a setup command may run
READY_ATTEMPT = 5.0  # seconds one run of a ready command may take
POLL = 0.02


class CommandFailed(Exception):
    """A command run to its end did not succeed: why, and the end of its output."""

    def __init__(self, reason: str, tail: list[str]) -> None:
        super().__init__(reason)
        self.tail = tail


async def run_to_end(argv: Sequence[str], *, env: Mapping[str, str], cwd: str | None,
                     log_path: Path, timeout: float, user: str | None = None) -> int:
    """Run ``argv`` until it exits (its exit code); ``CommandFailed`` if it cannot start or
    runs longer than ``timeout`` seconds (it is then killed). Cancelling kills it too."""
    try:
        process = ManagedProcess(argv, env=env, cwd=cwd, log_path=log_path,
                                 lifetime="command", grace=1.0, user=user)
    except OSError as err:
        raise CommandFailed(f"cannot start {argv[0]!r}: {err.strerror}", []) from None
    deadline = time.monotonic() + timeout
    try:
        while (code := process.exit_code) is None:
            if time.monotonic() >= deadline:
                raise CommandFailed(f"it still ran after {timeout:g} seconds and was stopped",
                                    process.log_tail(10))
            await asyncio.sleep(POLL)
    finally:
        if process.exit_code is None:
            process.kill()
            await asyncio.to_thread(process.wait_stopped, 5.0)
        else:
            process.release()  # (what it left running is swept with the run)
    if code != 0:
        raise CommandFailed(f"exited with code {code}", process.log_tail(10))
    return code


class Service:
    """One service of one target, not started yet (``start``)."""

    process: ManagedProcess | None = None

    def __init__(self, definition: ServiceDef, target: str, tmp: Path,
                 base_env: Mapping[str, str], cwd: str | None) -> None:
        from mbtspec.executor.targets import interpolate  # (targets imports this module)

        self.definition = definition
        self.name = definition.name
        self.target = target
        self.port = str(free_port())
        self.dir = tmp / f"{target}.{definition.name}"
        self.tmp = tmp
        self.cwd = cwd
        self.user = definition.user if definition.user and os.geteuid() == 0 else None
        variables = {"port": self.port, "dir": str(self.dir), "tmp": str(tmp),
                     "python": sys.executable}
        try:
            self.argv = [interpolate(a, variables) for a in definition.command]
            self.setup = [[interpolate(a, variables) for a in argv] for argv in definition.setup]
            self.ready = [interpolate(a, variables) for a in definition.ready_command]
            self.env = {**base_env, **{k: interpolate(v, variables) for k, v in definition.env}}
        except KeyError as err:
            raise self.error(str(err.args[0])) from None
        self.log_path = tmp / f"{target}.{definition.name}.log"

    def error(self, message: str, tail: list[str] | None = None) -> TargetError:
        return TargetError(self.target, f"service '{self.name}': {message}", tail or [],
                           str(self.log_path) if tail else None)

    async def start(self) -> None:
        """Make its folder, run its setup, start it and wait until it is ready."""
        self._make_folder()
        for i, argv in enumerate(self.setup):
            log = self.tmp / f"{self.target}.{self.name}.setup.log"
            try:
                await run_to_end(argv, env=self.env, cwd=self.cwd, log_path=log,
                                 timeout=SETUP_TIMEOUT, user=self.user)
            except CommandFailed as err:
                raise TargetError(
                    self.target, f"service '{self.name}': setup command {i + 1} "
                    f"({' '.join(argv)!r}) failed: {err}", err.tail,
                    str(log) if err.tail else None) from None
        try:
            self.process = ManagedProcess(self.argv, env=self.env, cwd=self.cwd,
                                          log_path=self.log_path, user=self.user)
        except OSError as err:
            raise self.error(f"cannot start {self.argv[0]!r}: {err.strerror}; check the "
                             "command") from None
        await self._wait_ready()

    def _make_folder(self) -> None:
        self.dir.mkdir()
        if self.user is None:
            return
        try:
            account = pwd.getpwnam(self.user)
        except KeyError:
            raise self.error(f"there is no user {self.user!r} on this machine; create it, or "
                             "change 'user'") from None
        os.chown(self.dir, account.pw_uid, account.pw_gid)
        os.chmod(self.tmp, 0o711)  # (the account may pass through the run's folder, not list it)

    async def _wait_ready(self) -> None:
        assert self.process is not None
        timeout = self.definition.ready_timeout
        deadline = time.monotonic() + timeout
        last = "not tried yet"
        while time.monotonic() < deadline:
            if self.process.exit_code is not None:
                raise self.error(f"exited with code {self.process.exit_code} before it was "
                                 "ready", self.process.log_tail())
            if self.ready:
                last = await self._ready_command(deadline)
            else:
                last = await self._port_open(deadline)
            if not last:
                return
            await asyncio.sleep(0.05)
        raise self.error(f"not ready after {timeout:g}s ({last}); raise ready.timeout or check "
                         "the service's command", self.process.log_tail())

    async def _ready_command(self, deadline: float) -> str:
        """"" once the ready command exits with 0, else what it did."""
        log = self.tmp / f"{self.target}.{self.name}.ready.log"
        try:
            await run_to_end(self.ready, env=self.env, cwd=self.cwd, log_path=log,
                             user=self.user,
                             timeout=max(min(READY_ATTEMPT, deadline - time.monotonic()), 0.1))
        except CommandFailed as err:
            return f"ready command {self.ready[0]!r}: {err}"
        return ""

    async def _port_open(self, deadline: float) -> str:
        """"" once its port accepts a TCP connection, else why not."""
        wait = max(min(1.0, deadline - time.monotonic()), 0.05)
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", int(self.port)), wait)
        except (OSError, TimeoutError) as err:
            return f"port {self.port}: {type(err).__name__}"
        writer.close()
        return ""

    def exited(self) -> TargetError | None:
        """The error to stop the run with if it has exited during the run."""
        if self.process is not None and self.process.exit_code is not None:
            return self.error(f"exited with code {self.process.exit_code} during the run",
                              self.process.log_tail())
        return None


async def start_services(services: Sequence[Service]) -> None:
    """Start ``services`` one after the other, in the order written (a later one may need
    an earlier one)."""
    for service in services:
        await service.start()
