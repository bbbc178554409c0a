"""Processes a run starts -- command targets and reset commands -- and how none outlives it.

They are started by a supervisor process (``_supervisor.py``, one per mbtspec process, started
on first use) rather than by mbtspec itself: the supervisor stops all of them as soon as its
pipe from mbtspec closes, so that cleaning up does not depend on mbtspec still running (a
SIGKILL, an out-of-memory kill, a crash). On the normal path ``stop`` asks it to end one job:
SIGTERM to every process of the job, SIGKILL after a grace period. Output goes to a log file.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import itertools
import marshal
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

SUPERVISOR = Path(__file__).with_name("_supervisor.py")
ANSWER_TIMEOUT = 10.0  # for the supervisor to say that it started a command
_PROC = os.path.isdir("/proc/self")
_LIVE: set[ManagedProcess] = set()
_LOCK = threading.Lock()
_SUPERVISOR: _Supervisor | None = None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def supervisor() -> _Supervisor:
    """The running supervisor, started if there is none (or the last one died)."""
    global _SUPERVISOR
    with _LOCK:
        if _SUPERVISOR is None or not _SUPERVISOR.alive:
            _SUPERVISOR = _Supervisor()
        return _SUPERVISOR


def tidy(folder: Path) -> None:
    """Have ``folder`` removed if mbtspec goes without removing it (starts the supervisor)."""
    supervisor().send("tidy", 0, str(folder).encode())


def keep(folder: Path) -> None:
    """Undo ``tidy``: the folder was removed, or is kept on purpose."""
    if _SUPERVISOR is not None and _SUPERVISOR.alive:
        _SUPERVISOR.send("keep", 0, str(folder).encode())


class _Supervisor:
    """The supervisor process, the pipe that keeps it waiting, and a thread reading what it
    reports about each job."""

    def __init__(self) -> None:
        control_r, self.control = os.pipe()
        status_r, status_w = os.pipe()
        try:
            self.popen = subprocess.Popen(
                [sys.executable, "-I", "-S", str(SUPERVISOR)], stdin=control_r,
                stdout=status_w, stderr=subprocess.DEVNULL, start_new_session=True,
                env={})  # (each job gets its own environment; this one needs none)
        except BaseException:
            os.close(self.control)
            os.close(status_r)
            raise
        finally:
            os.close(control_r)
            os.close(status_w)
        self.alive = True
        self.jobs: dict[int, ManagedProcess] = {}
        self.ids = itertools.count(1)
        self.writing = threading.Lock()
        threading.Thread(target=self._read, args=(status_r,), name="mbtspec-supervisor",
                         daemon=True).start()

    def send(self, verb: str, ident: int, payload: bytes = b"") -> None:
        message = memoryview(f"{verb} {ident} {len(payload)}\n".encode() + payload)
        with self.writing:
            try:
                while message:
                    message = message[os.write(self.control, message):]
            except OSError:  # it died: what it ran got SIGTERM from the kernel (PDEATHSIG)
                self.alive = False

    def spawn(self, process: ManagedProcess, argv: list[str], env: Mapping[str, str],
              cwd: str | None, grace: float) -> int:
        ident = next(self.ids)
        self.jobs[ident] = process
        self.send("spawn", ident, marshal.dumps(
            (argv, dict(env), cwd, str(process.log_path), grace, process.lifetime)))
        if not self.alive:
            self.jobs.pop(ident, None)
            raise OSError(errno.EPIPE, "the supervisor process is gone")
        return ident

    def _read(self, fd: int) -> None:
        with open(fd, "rb") as reports:
            for line in reports:
                verb, ident, *values = line.decode().split()
                process = self.jobs.get(int(ident))
                if verb in ("stopped", "error"):
                    self.jobs.pop(int(ident), None)
                if process is not None:
                    process.report(verb, [int(v) for v in values])
        self.alive = False
        for process in list(self.jobs.values()):
            process.report("lost", [])
        self.jobs.clear()


class ManagedProcess:
    """A command started through the supervisor, in a session of its own.

    ``lifetime="server"``: ``exit_code`` stays None while any of its processes lives (a
    command may start its server in the background and exit); ``"command"``: it is the
    command's own exit code, as soon as it exits. ``stop`` ends every process of it.
    """

    def __init__(self, argv: Sequence[str], *, env: Mapping[str, str], cwd: str | None,
                 log_path: Path, lifetime: Literal["server", "command"] = "server",
                 grace: float = 5.0) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        self.lifetime = lifetime
        self.grace = grace
        self.pid: int | None = None
        self.command_code: int | None = None  # the command's own, once it exited
        self._code: int | None = None
        self._error: int | None = None
        self._stopping = False
        self._stopped = False
        self._changed = threading.Condition()
        self._on_exit: list[Callable[[], None]] = []
        log_path.write_bytes(b"")  # (a folder that is not there: OSError here, said clearly)
        self._supervisor = supervisor()
        self._id = self._supervisor.spawn(self, self.argv, env, cwd, grace)
        _LIVE.add(self)
        try:
            with self._changed:
                answered = self._changed.wait_for(
                    lambda: self.pid is not None or self._error is not None or self._stopped,
                    ANSWER_TIMEOUT)
        except BaseException:  # e.g. Ctrl-C while waiting
            self.kill()
            raise
        if self._error is not None or not answered or self.pid is None:
            _LIVE.discard(self)
            if not answered:
                self.kill()
            code = self._error or errno.ECHILD
            raise OSError(code, os.strerror(code) if self._error else
                          "the supervisor process did not start it")

    @property
    def exit_code(self) -> int | None:
        """None while it runs; else its exit code (negative: the signal that ended it)."""
        if (self._code is None and self.command_code is None and self.pid is not None
                and not _running(self.pid)):
            with self._changed:  # it just ended: the supervisor is about to say so
                self._changed.wait_for(lambda: self._code is not None
                                       or self.command_code is not None, 1.0)
        return self._code

    @property
    def stopped(self) -> bool:
        """Is every process of it gone (after ``stop``, or on its own)?"""
        return self._stopped

    def on_exit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from another thread) once ``exit_code`` is known; at once if it
        is known already."""
        with self._changed:
            if self._code is None:
                self._on_exit.append(callback)
                return
        callback()

    def report(self, verb: str, values: list[int]) -> None:
        """What the supervisor said about this process (called from its reading thread)."""
        callbacks: list[Callable[[], None]] = []
        with self._changed:
            if verb == "started":
                self.pid = values[0]
            elif verb == "error":
                self._error = values[0]
            elif verb == "child":
                self.command_code = values[0]
            elif verb in ("exit", "stopped", "lost") and self._code is None:
                self.command_code = self._code = values[0] if values else -signal.SIGTERM
                callbacks, self._on_exit = self._on_exit, []
            if verb in ("stopped", "lost") or (verb == "exit" and values[1:2] != [1]):
                self._stopped = True  # (nothing of it is left)
                _LIVE.discard(self)
            self._changed.notify_all()
        for callback in callbacks:
            callback()

    def log_tail(self, lines: int = 20) -> list[str]:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        return text.splitlines()[-lines:]

    def request_stop(self, grace: float | None = None) -> None:
        """Ask for SIGTERM to all of its processes, SIGKILL after ``grace`` seconds; returns
        at once (``wait_stopped``). Idempotent."""
        if not self._stopping and not self._stopped:
            self._stopping = True
            self._supervisor.send("stop", self._id,
                                  f"{self.grace if grace is None else grace:g}".encode())

    def kill(self) -> None:
        """SIGKILL to all of its processes now (also during a stop's grace period)."""
        if not self._stopped:
            self._stopping = True
            self._supervisor.send("kill", self._id)

    def wait_stopped(self, timeout: float) -> bool:
        """Wait until none of its processes is left; False if that took too long (then its
        process group is killed from here, as a last resort)."""
        with self._changed:
            done = self._changed.wait_for(lambda: self._stopped, timeout)
        if not done and self.pid is not None:
            with contextlib.suppress(OSError):
                os.killpg(self.pid, signal.SIGKILL)
        _LIVE.discard(self)
        return done

    def stop(self, grace: float | None = None) -> None:
        """SIGTERM to every process of it, SIGKILL after ``grace`` seconds (default: the
        grace it was started with); returns once they are gone. Idempotent."""
        self.request_stop(grace)
        self.wait_stopped((self.grace if grace is None else grace) + 5.0)


def stop_all(processes: Sequence[ManagedProcess], grace: float | None = None) -> None:
    """Stop ``processes`` together: each gets its grace period at the same time."""
    for process in processes:
        process.request_stop(grace)
    longest = max((p.grace if grace is None else grace for p in processes), default=0.0)
    deadline = time.monotonic() + longest + 5.0
    for process in processes:
        process.wait_stopped(max(deadline - time.monotonic(), 0.0))


def _running(pid: int) -> bool:
    """Does ``pid`` run (not a zombie waiting for the supervisor to collect it)?"""
    if not _PROC:  # ask the kernel (a zombie counts as running)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            stat = stream.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2:][:1] not in (b"Z", b"X")


@atexit.register
def _stop_all() -> None:  # pragma: no cover - last line of defence
    stop_all(list(_LIVE), grace=1.0)
