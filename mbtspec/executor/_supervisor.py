"""The supervisor: stops every process mbtspec started once mbtspec is gone -- also when mbtspec
is killed with SIGKILL and runs no code of its own.

mbtspec starts it once per process, before its first command, as
``python -I -S _supervisor.py <token>`` (standard library only: it is up in about 10 ms, and
nothing waits for it), in a session of its own, with a pipe from mbtspec as standard input.
Every process mbtspec starts carries ``MBTSPEC_JOB=<token>.<job>`` in its environment, and so
do the processes those start (environments are inherited), wherever they go: another process
group, another session, a double fork to become a daemon.

The supervisor reads its standard input until it closes -- mbtspec stopped, crashed or was
killed; the kernel closes the pipe in every case. Meanwhile, mbtspec may send lines
``tidy <folder>`` (remove this folder when mbtspec goes) and ``keep <folder>`` (no longer).
Then it sends SIGTERM to every process that carries the token, waits up to ``GRACE`` seconds
for them to end, sends SIGKILL to the rest, watches for a second more for marked processes
that appear late (a command mbtspec forked just before it died), removes the folders, and
exits.

Limits: processes are found through ``/proc`` (Linux); elsewhere the supervisor can do nothing
(mbtspec's own stop and the kernel's PR_SET_PDEATHSIG are all there is). A process that
replaced its whole environment (``env -i``) loses the mark, and a process started on mbtspec's
behalf by a service (systemd, a container engine) never had it.
"""

from __future__ import annotations

import os
import sys
import time

MARK = "MBTSPEC_JOB"
GRACE = 5.0
SIGTERM, SIGKILL = 15, 9


def marks(prefix: bytes) -> dict[int, tuple[str, int]]:
    """Live processes (not zombies) whose ``MBTSPEC_JOB`` starts with ``prefix``: pid -> (its
    value, its process group). (``prefix`` may end with a NUL byte, to match a value exactly.)
    """
    needle = b"\0" + MARK.encode() + b"="
    found: dict[int, tuple[str, int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as stream:
                environ = b"\0" + stream.read()
            at = environ.find(needle + prefix)
            if at < 0:
                continue
            with open(f"/proc/{name}/stat", "rb") as stream:
                stat = stream.read()
        except OSError:  # gone, or not ours to read
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if fields[0] not in (b"Z", b"X"):
            start = at + len(needle)
            value = environ[start:environ.find(b"\0", start)].decode()
            found[int(name)] = (value, int(fields[2]))
    return found


def sweep(prefix: bytes, grace: float, settle: float = 1.0) -> None:
    """SIGTERM to every marked process (once: a second one makes some servers skip their
    graceful stop), SIGKILL to what is left after ``grace`` seconds; done when no marked
    process was seen for ``settle`` seconds. (mbtspec may have been killed between the fork
    and the exec of a command: that child carries the mark only once it has exec'd, a moment
    after the pipe closed; the settle time waits for such late ones.)"""
    deadline = time.monotonic() + grace
    termed: set[int] = set()
    last_seen = time.monotonic()
    while True:
        pids = marks(prefix)
        now = time.monotonic()
        if not pids:
            if now - last_seen >= settle:
                return
            time.sleep(0.05)
            continue
        last_seen = now
        late = now >= deadline
        for pid in pids:
            if late or pid not in termed:
                termed.add(pid)
                try:
                    os.kill(pid, SIGKILL if late else SIGTERM)
                except OSError:
                    pass
        if now >= deadline + 10:
            return  # (unkillable: a process stuck in the kernel)
        time.sleep(0.05)


def main() -> None:
    token = sys.argv[1].encode()
    folders: set[str] = set()
    buffer = b""
    while data := os.read(0, 1 << 16):
        buffer += data
        while b"\n" in buffer:
            line, _, buffer = buffer.partition(b"\n")
            verb, _, folder = line.decode("utf-8", "surrogateescape").partition(" ")
            if verb == "tidy":
                folders.add(folder)
            elif verb == "keep":
                folders.discard(folder)
    if os.path.isdir("/proc"):
        sweep(token + b".", GRACE)
    if folders:
        import shutil

        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
