"""Send the branches of a parallel part to one target, truly concurrently.

Each branch is a list of requests sent one after another; the branches run side by side and
start together, and no step of a branch waits for another branch. A server or a WSGI app gets
one thread per branch: the threads wait on a barrier, then each sends its requests on the
target's connection pool, which gives every request in flight a connection of its own (one
connection per branch at a time). An in-process ASGI app gets one task per branch on the
session's event loop, so the app's own ``await``\\ s interleave the branches as a server's
event loop would.

As in ``Session.send_all``, the main thread waits where a signal reaches it, and a call that
never answers is recorded as a timeout ``GIVE_UP_AFTER`` seconds past its deadline.
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import threading
import time
from collections.abc import Sequence
from typing import Any

from mbtspec.errors import TargetError
from mbtspec.executor._session import GIVE_UP_AFTER, Session
from mbtspec.executor.records import Request, Response

_batches = itertools.count(1)  # tells a late answer of an earlier parallel part from these


Slot = tuple[int, int]  # (branch, step), from 0


def send_branches(session: Session, name: str, branches: Sequence[Sequence[Request]]
                  ) -> tuple[list[list[Response]], list[Slot]]:
    """Send each branch's requests to target ``name``, the branches concurrently: the
    responses, branch by branch, and the order in which the calls ended. ``TargetError``
    when the target is gone."""
    target = session.targets[name]
    if target.sync_transport is None:
        finished: list[Slot] = []
        answers: list[list[Response]] = session.run(_gather(session, name, branches,
                                                            finished))
        return answers, finished
    return _threads(session, name, branches)


async def _gather(session: Session, name: str, branches: Sequence[Sequence[Request]],
                  finished: list[Slot]) -> list[list[Response]]:
    target = session.targets[name]

    async def branch(index: int, requests: Sequence[Request]) -> list[Response]:
        answers = []
        for position, request in enumerate(requests):
            answers.append(await target.send(request))
            finished.append((index, position))
        return answers

    return list(await asyncio.gather(*(branch(i, b) for i, b in enumerate(branches))))


def _threads(session: Session, name: str, branches: Sequence[Sequence[Request]]
             ) -> tuple[list[list[Response]], list[Slot]]:
    target = session.targets[name]
    batch = next(_batches)
    mailbox = session.interrupts.mailbox
    start = threading.Barrier(len(branches))

    def run(index: int, requests: Sequence[Request]) -> None:
        try:
            start.wait(timeout=5.0)
        except threading.BrokenBarrierError:
            pass  # (a thread that did not start in time: go anyway)
        for position, request in enumerate(requests):
            try:
                answer: tuple[bool, Any] = (True, target.send_sync(request))
            except BaseException as error:  # handed to the main thread, which raises it
                answer = (False, error)
            mailbox.put(("branch", batch, index, position, *answer))
            if not answer[0]:
                return

    for index, requests in enumerate(branches):
        threading.Thread(target=run, args=(index, requests), daemon=True,
                         name=f"mbtspec-branch-{index + 1}").start()
    answers: dict[Slot, Response] = {}
    wanted = sum(len(b) for b in branches)
    started = time.monotonic()
    # every step of the longest branch may take its whole timeout
    deadline = started + (target.timeout + GIVE_UP_AFTER) * max(len(b) for b in branches)
    while len(answers) < wanted:
        try:
            item = session.interrupts.next(max(deadline - time.monotonic(), 0))
        except queue.Empty:
            for index, requests in enumerate(branches):
                for position in range(len(requests)):
                    answers.setdefault((index, position), Response(
                        None, error=f"no response within {target.timeout:g}s"))
            break
        if not isinstance(item, tuple) or item[:2] != ("branch", batch):
            continue
        _, _, index, position, ok, value = item
        if not ok:
            if isinstance(value, TargetError | KeyboardInterrupt):
                raise value
            raise TargetError(name, f"a concurrent call failed: {type(value).__name__}: "
                              f"{value}")
        answers[(index, position)] = value
    return ([[answers[(i, p)] for p in range(len(b))] for i, b in enumerate(branches)],
            list(answers))
