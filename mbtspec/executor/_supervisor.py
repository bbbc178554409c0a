"""The supervisor: one process that owns every process mbtspec starts, and stops them all once
mbtspec is gone -- also when mbtspec is killed with SIGKILL and runs no code of its own.

mbtspec starts it once (``python -I -S _supervisor.py``: standard library only, no site
packages, so that it is up in about 10 ms) and asks it, over its standard input, to start each
command target and each reset command: a *job*. Each job runs in a session of its own, with
``MBTSPEC_JOB=<supervisor pid>.<job id>`` in its environment. On Linux the supervisor is a
child subreaper (``PR_SET_CHILD_SUBREAPER``): a process that leaves its session or forks twice
to become a daemon still has the supervisor as an ancestor, so a job's processes are all found
-- its descendants that carry its mark -- wherever they went. The command itself gets
``PR_SET_PDEATHSIG`` (SIGTERM if the supervisor itself is killed).

When its standard input closes (mbtspec stopped, crashed or was killed), the supervisor stops
every job and then whatever else descends from it: SIGTERM, each job's grace period, SIGKILL;
removes the folders it was asked to tidy; and exits.

Messages from mbtspec: ``<verb> <job id> <size>\\n`` then ``size`` bytes:
  ``spawn``  a marshalled ``(argv, env, cwd, output path, grace, lifetime)``: start a job;
             lifetime ``server``: it is over when the command and every process it started
             are gone (a command may put its server in the background and exit);
             ``command``: it is over when the command exits (what it left running is
             stopped with the job, or when mbtspec goes)
  ``stop``   the grace in seconds (ASCII): SIGTERM to the job's processes, SIGKILL after grace
  ``kill``   SIGKILL now (also cuts a stop's grace short)
  ``tidy`` / ``keep``  a folder (UTF-8) to remove when mbtspec goes / no longer
Reports to mbtspec, one line each: ``started <id> <pid>``, ``error <id> <errno>`` (the command
could not be started), ``child <id> <code>`` (the command exited, processes it started live
on), ``exit <id> <code> <left>`` (the command's exit code, negative for a signal; ``left`` 1 if
processes it started live on, for a ``command`` job),
``stopped <id>`` (after ``stop``/``kill``: none of its processes is left; the id is forgotten).

Limits: without ``/proc`` (not Linux) only the command and its process group are known. A
process started on the job's behalf by a service outside this tree (systemd, a container
engine) is not a descendant, and one that replaced its whole environment loses the mark (it
is still stopped when mbtspec goes, with the rest of the tree).
"""

from __future__ import annotations

import marshal
import os
import select
import sys
import time
from typing import Any

MARK = "MBTSPEC_JOB"
SIGTERM, SIGKILL = 15, 9
_RESTORED = (13, 25)  # SIGPIPE, SIGXFSZ: Python ignores them; the command gets the defaults
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36
LINUX = sys.platform.startswith("linux")
STRAYS = 0  # the pseudo-job of everything else in the tree, stopped when mbtspec goes


class Job:
    """A command the supervisor started, and what it knows of it."""

    def __init__(self, ident: int, pid: int, grace: float, lifetime: str) -> None:
        self.id = ident
        self.pid = pid
        self.grace = grace
        self.lifetime = lifetime
        self.mark = f"\0{MARK}={os.getpid()}.{ident}\0".encode()
        self.code: int | None = None  # the command's exit code, once it was reaped
        self.said_child = False
        self.said_exit = False
        self.kill_at: float | None = None  # set once stopping: SIGKILL from then on
        self.pidfd: int | None = None
        if hasattr(os, "pidfd_open") and pid > 0:
            try:
                self.pidfd = os.pidfd_open(pid)
            except OSError:
                self.pidfd = None

    def reaped(self, status: int) -> None:
        self.code = os.waitstatus_to_exitcode(status)
        self.close()

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


class Supervisor:
    def __init__(self) -> None:
        self.jobs: dict[int, Job] = {}
        self.by_pid: dict[int, Job] = {}
        self.folders: set[str] = set()
        self.buffer = b""
        self.closed = False
        self.prctl = _prctl()
        if self.prctl is not None:
            self.prctl(PR_SET_CHILD_SUBREAPER, 1)

    # -- the loop ------------------------------------------------------------------------

    def serve(self) -> None:
        while not (self.closed and not self.jobs):
            watched = [] if self.closed else [0]
            watched += [j.pidfd for j in self.jobs.values() if j.pidfd is not None]
            readable, _, _ = select.select(watched, [], [], self.timeout())
            if 0 in readable:
                self.receive()
            self.reap()
            table = self.table() if any(self.needs_table(j) for j in self.jobs.values()) \
                else None
            for job in list(self.jobs.values()):
                self.advance(job, table)

    def timeout(self) -> float:
        if any(j.kill_at is not None for j in self.jobs.values()):
            return 0.02  # stopping: look often, a fast stop is a fast exit
        if any(j.code is not None and not j.said_exit for j in self.jobs.values()):
            return 0.25  # a command exited, what it started lives on: see when that goes
        return 2.0  # now and then, to reap orphans that were handed to us

    def needs_table(self, job: Job) -> bool:
        return job.kill_at is not None or (job.code is not None and not job.said_exit)

    def receive(self) -> None:
        data = os.read(0, 1 << 16)
        if not data:
            self.closed = True
            self.stop_everything()
            return
        self.buffer += data
        while b"\n" in self.buffer:
            header, _, rest = self.buffer.partition(b"\n")
            verb, ident, size = header.decode().split()
            if len(rest) < int(size):
                return  # the rest of the payload is still on its way
            payload, self.buffer = rest[:int(size)], rest[int(size):]
            self.handle(verb, int(ident), payload)

    def handle(self, verb: str, ident: int, payload: bytes) -> None:
        if verb == "spawn":
            self.spawn(ident, *marshal.loads(payload))
        elif verb in ("stop", "kill"):
            job = self.jobs.get(ident)
            if job is None:
                say(f"stopped {ident}")
            else:
                self.stop(job, 0.0 if verb == "kill" else float(payload))
        elif verb == "tidy":
            self.folders.add(payload.decode())
        elif verb == "keep":
            self.folders.discard(payload.decode())

    # -- jobs ----------------------------------------------------------------------------

    def spawn(self, ident: int, argv: list[str], env: dict[str, str], cwd: str | None,
              output: str, grace: float, lifetime: str) -> None:
        env = {**env, MARK: f"{os.getpid()}.{ident}"}
        errors, errors_w = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child, until exec
            _exec(argv, env, cwd, output, errors_w, parent, self.prctl)
        os.close(errors_w)
        with os.fdopen(errors, "rb") as stream:
            failed = stream.read()  # empty: exec succeeded (the pipe closed on exec)
        if failed:
            os.waitpid(pid, 0)
            say(f"error {ident} {int(failed) if failed.isdigit() else 0}")
            return
        job = Job(ident, pid, grace, lifetime)
        self.jobs[ident] = job
        self.by_pid[pid] = job
        say(f"started {ident} {pid}")

    def stop(self, job: Job, grace: float) -> None:
        now = time.monotonic()
        if job.kill_at is None:
            job.kill_at = now + grace
            self.signal(job, SIGTERM if grace > 0 else SIGKILL, self.table())
        else:
            job.kill_at = min(job.kill_at, now + grace)

    def stop_everything(self) -> None:
        """mbtspec is gone: stop every job, and every other process of the tree with them."""
        grace = max((j.grace for j in self.jobs.values()), default=5.0)
        strays = Job(STRAYS, -1, grace, "command")
        strays.code = 0
        strays.said_exit = strays.said_child = True
        for job in list(self.jobs.values()):
            self.stop(job, job.grace)
        self.jobs[STRAYS] = strays
        self.stop(strays, grace)

    def advance(self, job: Job, table: dict[int, tuple[int, bytes]] | None) -> None:
        """Report what changed for ``job``; carry on stopping it."""
        if job.code is not None and not job.said_exit:
            members = self.members(job, table)
            if job.lifetime == "command" or not members:
                job.said_exit = True
                say(f"exit {job.id} {job.code} {int(bool(members))}")
                if not members and job.kill_at is None:
                    self.forget(job)  # nothing left: no stop will be needed
                    return
            elif not job.said_child:
                job.said_child = True
                say(f"child {job.id} {job.code}")
        if job.kill_at is None:
            return
        members = self.members(job, table)
        if not members and job.code is not None:
            if not job.said_exit:
                say(f"exit {job.id} {job.code} 0")
            self.forget(job)
            if job.id != STRAYS:
                say(f"stopped {job.id}")
        elif time.monotonic() >= job.kill_at:
            self.signal(job, SIGKILL, table)

    def forget(self, job: Job) -> None:
        job.close()
        self.jobs.pop(job.id, None)
        self.by_pid.pop(job.pid, None)

    def reap(self) -> None:
        """Collect the exit status of every child that ended: our commands, and orphans
        handed to us as subreaper."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            job = self.by_pid.get(pid)
            if job is not None:
                job.reaped(status)

    # -- processes -----------------------------------------------------------------------

    def table(self) -> dict[int, tuple[int, bytes]] | None:
        """Every live process: pid -> (parent pid, state); None without /proc."""
        if not LINUX:
            return None
        found: dict[int, tuple[int, bytes]] = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as stream:
                    stat = stream.read()
            except OSError:
                continue
            fields = stat[stat.rfind(b")") + 2:].split()
            if fields and fields[0] not in (b"Z", b"X"):
                found[int(name)] = (int(fields[1]), fields[0])
        return found

    def members(self, job: Job, table: dict[int, tuple[int, bytes]] | None) -> set[int]:
        """The live processes of ``job``: its command (until reaped) and every descendant of
        the supervisor that carries the job's mark (for the strays: every descendant)."""
        found = {job.pid} if job.code is None and job.pid > 0 else set()
        if table is None:
            return found
        children: dict[int, list[int]] = {}
        for pid, (parent, _) in table.items():
            children.setdefault(parent, []).append(pid)
        below, todo = [], list(children.get(os.getpid(), []))
        while todo:
            pid = todo.pop()
            below.append(pid)
            todo.extend(children.get(pid, []))
        if job.id == STRAYS:
            return found | set(below)
        return found | {pid for pid in below if _marked(pid, job.mark)}

    def signal(self, job: Job, signum: int, table: dict[int, tuple[int, bytes]] | None
               ) -> None:
        if job.code is None and job.pid > 0:  # (the group id is ours while it lives)
            _quietly(os.killpg, job.pid, signum)
        for pid in self.members(job, table):
            _quietly(os.kill, pid, signum)

    def tidy(self) -> None:
        if self.folders:
            import shutil

            for folder in self.folders:
                shutil.rmtree(folder, ignore_errors=True)


def _marked(pid: int, mark: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as stream:
            return mark in b"\0" + stream.read()
    except OSError:
        return False


def _quietly(kill: Any, target: int, signum: int) -> None:
    try:
        kill(target, signum)
    except OSError:  # gone already, or not ours to signal
        pass


def _exec(argv: list[str], env: dict[str, str], cwd: str | None, output: str, errors: int,
          parent: int, prctl: Any) -> None:  # pragma: no cover - runs in the child
    """Become the job's command: a session of its own, stdin from /dev/null, stdout and
    stderr to ``output``; on failure, write the errno to ``errors``."""
    try:
        os.setsid()
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, SIGTERM)
            if os.getppid() != parent:  # the supervisor died before prctl took effect
                os._exit(1)
        if cwd:
            os.chdir(cwd)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        log = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        signals = __import__("_signal")
        for signum in _RESTORED:
            signals.signal(signum, signals.SIG_DFL)
        os.execvpe(argv[0], argv, env)
    except OSError as err:
        os.write(errors, str(err.errno or 0).encode())
    except BaseException:
        os.write(errors, b"0")
    os._exit(127)


def _prctl() -> Any:
    if not LINUX:
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def say(line: str) -> None:
    try:
        os.write(1, line.encode() + b"\n")
    except OSError:  # mbtspec is gone: carry on stopping
        pass


def main() -> None:
    supervisor = Supervisor()
    try:
        supervisor.serve()
    finally:
        if not supervisor.closed:  # an error of our own: stop everything all the same
            supervisor.closed = True
            supervisor.stop_everything()
            supervisor.serve()
        supervisor.tidy()


if __name__ == "__main__":
    main()
