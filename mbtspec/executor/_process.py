"""Processes a run starts -- command targets and reset commands -- and how none outlives it.

Each command starts in a session (and process group) of its own, its output in a log file, with
``MBTSPEC_JOB=<token>.<job>`` in its environment. The processes it starts inherit the mark, so
that all of them are found (through ``/proc``) even when they leave the group or fork twice to
become daemons; ``stop`` sends SIGTERM to all of them, SIGKILL after a grace period.

Cleaning up does not depend on mbtspec surviving: a supervisor process (``_supervisor``),
started once before the first command and waited for by nothing, holds a pipe from mbtspec;
when the pipe closes for whatever reason (SIGKILL included) it stops every process carrying this
mbtspec's token and removes the temporary folders it was given. On Linux the command itself also
gets SIGTERM from the kernel when mbtspec dies (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import itertools
import os
import pwd
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from mbtspec.executor import _supervisor
from mbtspec.executor._supervisor import MARK

SUPERVISOR = Path(_supervisor.__file__)
SCAN_EVERY = 0.25  # seconds between two looks for a command's other processes
_PROC = os.path.isdir("/proc/self")
_LINUX = sys.platform.startswith("linux")
_LIVE: set[ManagedProcess] = set()
_LOCK = threading.Lock()
_IDS = itertools.count(1)
_TOKEN = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"  # this mbtspec process's mark
_SUPERVISOR: _Supervisor | None = None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def new_mark() -> str:
    """A mark for the processes of one job (the value of ``MBTSPEC_JOB``); starts the
    supervisor, which must run before anything carries the mark."""
    supervisor()
    return f"{_TOKEN}.{next(_IDS)}"


def supervisor() -> _Supervisor:
    """The running supervisor, started if there is none (or it died)."""
    global _SUPERVISOR
    with _LOCK:
        if _SUPERVISOR is None or _SUPERVISOR.popen.poll() is not None:
            _SUPERVISOR = _Supervisor()
        return _SUPERVISOR


def tidy(folder: Path) -> None:
    """Have ``folder`` removed if mbtspec goes without removing it."""
    supervisor().send(f"tidy {folder}")


def keep(folder: Path) -> None:
    """Undo ``tidy``: the folder was removed, or is kept on purpose."""
    if _SUPERVISOR is not None:
        _SUPERVISOR.send(f"keep {folder}")


class _Supervisor:
    """The supervisor process and the pipe that keeps it waiting."""

    def __init__(self) -> None:
        read, self.pipe = os.pipe()
        try:
            self.popen = subprocess.Popen(
                [sys.executable, "-I", "-S", str(SUPERVISOR), _TOKEN], stdin=read,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                env={})  # (it needs nothing, and must not carry a mark itself)
        except BaseException:
            os.close(self.pipe)
            raise
        finally:
            os.close(read)
        self.writing = threading.Lock()

    def send(self, line: str) -> None:
        data = memoryview(line.encode("utf-8", "surrogateescape") + b"\n")
        with self.writing, contextlib.suppress(OSError):  # (it died: a new one comes)
            while data:
                data = data[os.write(self.pipe, data):]


class ManagedProcess:
    """A command started for the run, in a session of its own.

    ``lifetime="server"``: ``exit_code`` stays None while any of its processes lives (a
    command may start its server in the background and exit); ``"command"``: it is the
    command's own exit code, as soon as it exits. ``stop`` ends every process of it.
    """

    def __init__(self, argv: Sequence[str], *, env: Mapping[str, str], cwd: str | None,
                 log_path: Path, lifetime: Literal["server", "command"] = "server",
                 grace: float = 5.0, mark: str | None = None,
                 user: str | None = None) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        self.lifetime = lifetime
        self.grace = grace
        self.mark = mark or new_mark()
        self._kill_at: float | None = None  # set once stopping: SIGKILL from then on
        self._seen: tuple[float, bool] = (0.0, True)  # (when, whether) others lived
        self._termed: set[int] = set()  # processes of it that got a signal
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed when it is over
        account = as_user(user) if user else {}
        try:
            self.popen = subprocess.Popen(
                self.argv, cwd=cwd, env={**env, **account.pop("env", {}), MARK: self.mark},
                stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent(os.getpid()) if _LINUX else None, **account)
        except BaseException:
            self._log.close()
            raise
        self.pid = self.popen.pid
        _LIVE.add(self)

    @property
    def exit_code(self) -> int | None:
        """None while it runs; else its exit code (negative: the signal that ended it)."""
        code = self.popen.poll()
        if code is None:
            return None
        if self.lifetime == "server" and self._others_alive():
            return None
        return code

    @property
    def command_code(self) -> int | None:
        """The exit code of the command itself (its other processes may live on)."""
        return self.popen.poll()

    def _others_alive(self) -> bool:
        """Do processes it started live on (looked at no more than every ``SCAN_EVERY``)?"""
        when, alive = self._seen
        if alive and time.monotonic() - when >= SCAN_EVERY:
            alive = bool(_marked([self])) if _PROC else _group_alive(self.pid)
            self._seen = (time.monotonic(), alive)
        return alive

    def on_exit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` from another thread once the command itself has exited."""

        def wait() -> None:
            self.popen.wait()
            callback()

        threading.Thread(target=wait, name="mbtspec-wait", daemon=True).start()

    def release(self) -> None:
        """The command has exited and what it left running is someone else's to stop (with
        ``sweep``): forget it."""
        _LIVE.discard(self)
        self._log.close()

    def log_tail(self, lines: int = 20) -> list[str]:
        try:
            if not self._log.closed:
                self._log.flush()
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        return text.splitlines()[-lines:]

    def request_stop(self, grace: float | None = None) -> None:
        """SIGTERM to all of its processes, SIGKILL after ``grace`` seconds (its own grace by
        default) by ``wait_stopped``; returns at once."""
        if self._kill_at is None:
            self._kill_at = time.monotonic() + (self.grace if grace is None else grace)
            self._signal(signal.SIGTERM, _marked([self]).get(self.mark, []))

    def kill(self) -> None:
        """SIGKILL to all of its processes now (also during a stop's grace period)."""
        self._kill_at = time.monotonic()
        self._signal(signal.SIGKILL, _marked([self]).get(self.mark, []))

    def wait_stopped(self, timeout: float) -> bool:
        """Wait until none of its processes is left (SIGKILL once the grace is over);
        False if that took longer than ``timeout``."""
        return stop_all([self], timeout=timeout, ask=False)

    def stop(self, grace: float | None = None) -> None:
        """SIGTERM to every process of it, SIGKILL after ``grace`` seconds (default: the
        grace it was started with); returns once they are gone. Idempotent."""
        stop_all([self], grace)

    def _settle(self, live: dict[str, list[tuple[int, int]]]) -> bool:
        """One look while stopping: True once nothing of it is left; SIGKILL past the grace."""
        processes = live.get(self.mark, [])
        grouped = not _PROC and _group_alive(self.pid)
        if self.popen.poll() is not None and not processes and not grouped:
            _LIVE.discard(self)
            self._log.close()
            return True
        if self._past_grace():
            self._signal(signal.SIGKILL, processes)
        elif self._kill_at is not None:  # (started after the first SIGTERM: one for them too)
            self._signal(signal.SIGTERM, [(pid, group) for pid, group in processes
                                          if pid not in self._termed], whole_group=False)
        return False

    def _past_grace(self) -> bool:
        return self._kill_at is not None and time.monotonic() >= self._kill_at

    def _signal(self, signum: int, processes: Iterable[tuple[int, int]], *,
                whole_group: bool = True) -> None:
        """``signum`` to its process group and to each of ``processes`` (pid, group) outside
        it: once to each (a second SIGTERM makes some servers skip their graceful stop)."""
        # (the group id is ours while the command lives)
        grouped = whole_group and (self.popen.poll() is None or not _PROC)
        if grouped:
            with contextlib.suppress(OSError):
                os.killpg(self.pid, signum)
        for pid, group in processes:
            self._termed.add(pid)
            if not (grouped and group == self.pid):
                with contextlib.suppress(OSError):
                    os.kill(pid, signum)


def stop_all(processes: Sequence[ManagedProcess], grace: float | None = None, *,
             timeout: float | None = None, ask: bool = True) -> bool:
    """Stop ``processes`` together (each gets its grace at the same time); returns once none
    of their processes is left, or False after ``timeout`` (default: the longest grace + 5 s).
    """
    if ask:
        for process in processes:
            process.request_stop(grace)
    if timeout is None:
        timeout = max((p.grace if grace is None else grace for p in processes), default=0) + 5
    deadline = time.monotonic() + timeout
    pending = list(processes)
    while True:
        # (/proc is read only for what needs it: a command that exited, or a grace that ran out)
        live = _marked([p for p in pending if p.popen.poll() is not None or p._past_grace()])
        pending = [p for p in pending if not p._settle(live)]
        if not pending:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def sweep(prefix: str, grace: float) -> None:
    """Stop every process whose mark starts with ``prefix`` (SIGTERM, SIGKILL after
    ``grace``)."""
    if _PROC:
        _supervisor.sweep(prefix.encode(), grace)


def _marked(processes: Sequence[ManagedProcess]) -> dict[str, list[tuple[int, int]]]:
    """The live processes of each of ``processes``, by mark: (pid, process group) pairs
    (nothing without /proc)."""
    if not _PROC or not processes:
        return {}
    wanted = {p.mark for p in processes}
    found: dict[str, list[tuple[int, int]]] = {}
    for pid, (mark, group) in _supervisor.marks(_TOKEN.encode() + b".").items():
        if mark in wanted:
            found.setdefault(mark, []).append((pid, group))
    return found


def as_user(name: str) -> dict[str, Any]:
    """``Popen`` arguments that run a command as the account ``name`` (its user, its group,
    no other groups, and its ``HOME``, ``USER`` and ``LOGNAME``); ``KeyError`` if there is no
    such account. Only root may switch accounts."""
    account = pwd.getpwnam(name)
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": [],
            "env": {"HOME": account.pw_dir, "USER": name, "LOGNAME": name}}


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover
        return True
    return True


def _die_with_parent(parent: int) -> Callable[[], None]:
    """Linux: have the kernel send SIGTERM to the child if mbtspec itself is killed."""

    def in_the_child() -> None:  # pragma: no cover - runs in the child, before exec
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            return
        if os.getppid() != parent:  # mbtspec died before prctl: no signal will come
            os._exit(1)

    return in_the_child


@atexit.register
def _stop_all() -> None:  # pragma: no cover - last line of defence
    stop_all(list(_LIVE), grace=1.0)
