"""Ctrl-C (SIGINT) and SIGTERM during a run: stop at once, at a place where stopping is safe.

The signal handler itself never raises (a ``KeyboardInterrupt`` raised at an arbitrary point
can land in a weakref callback or in a function CEL called, where Python prints and swallows
it). It counts the signal and wakes whatever the main thread waits on:

- the mailbox (``next``): the main thread waits there while worker threads send requests and
  while reset commands run; ``next`` raises ``KeyboardInterrupt``;
- the event loop: a watchdog thread cancels its tasks, and ``run`` raises ``KeyboardInterrupt``;
- otherwise the main thread is computing (drawing values, judging a step, shrinking) and meets
  ``check`` within a step.

Only if none of that happens within ``ESCALATE_AFTER`` (the main thread is stuck in code that
is not ours: an app module that takes long to import, an in-process app that blocks the event
loop) does the watchdog send the signal again to the main thread, and the handler then raises
``KeyboardInterrupt`` wherever it lands -- again every ``ESCALATE_AFTER`` until one is seen.

While targets are being stopped (``shield``), a signal does not interrupt the stop; a second
one hurries it (SIGKILL instead of the grace period).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import queue
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import FrameType
from typing import Any, ParamSpec, TypeVar

from mbtspec.errors import SIGNALS_BEFORE_RUN

ESCALATE_AFTER = 0.3  # seconds the main thread may take to notice a signal by itself
STOP = ("stop",)  # put in the mailbox on a signal

P = ParamSpec("P")
T = TypeVar("T")


class Interrupts:
    """The signals of one run: see the module's docstring."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.received = 0  # signals received (SIGINT or SIGTERM)
        self.signum: int = signal.SIGINT
        self.shielded = False
        self.raised = False  # a KeyboardInterrupt for it left from one of our places
        #: What the main thread waits on: worker threads put their results here, a signal
        #: puts ``STOP``.
        self.mailbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._wake: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._escalate = False
        self._hurry: Callable[[], None] = lambda: None
        self._previous: dict[int, Any] = {}
        self._main = threading.main_thread().ident or 0
        self._watchdog: threading.Thread | None = None

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._on_signal)
        if SIGNALS_BEFORE_RUN:  # (its exit may have been swallowed: stop the run now)
            self.received += 1
            self.signum = SIGNALS_BEFORE_RUN[-1]
            self.mailbox.put(STOP)
        self._watchdog = threading.Thread(target=self._watch, name="mbtspec-signals",
                                          daemon=True)
        self._watchdog.start()

    def uninstall(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()
        if self._watchdog is not None:
            self._wake.put(None)
            self._watchdog = None

    def shield(self, hurry: Callable[[], None]) -> None:
        """From now on, targets are being stopped: signals no longer interrupt; a signal
        after the first one calls ``hurry`` (from another thread)."""
        self._hurry = hurry
        self.shielded = True

    # -- in the main thread --------------------------------------------------------------

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` if a signal came."""
        if self.received and not self.shielded:
            raise self._interrupt()

    def next(self, timeout: float | None = None) -> Any:
        """The next item of the mailbox (``queue.Empty`` after ``timeout`` seconds);
        ``KeyboardInterrupt`` as soon as a signal comes."""
        self.check()
        item = self.mailbox.get(timeout=timeout)
        self.check()
        return item

    def run(self, awaitable: Any) -> Any:
        """Run ``awaitable`` on the loop; ``KeyboardInterrupt`` if a signal came, whatever
        else it raised (a real signal always wins)."""
        if self.received and not self.shielded:
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            raise self._interrupt()
        try:
            return self.loop.run_until_complete(awaitable)
        except BaseException:
            if self.received and not self.shielded:
                raise self._interrupt() from None
            raise

    def _interrupt(self) -> KeyboardInterrupt:
        self.raised = True
        return KeyboardInterrupt()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Runs in the main thread between two bytecodes: anywhere. Only counts and wakes
        # (SimpleQueue.put may be called from a signal handler), except when the watchdog
        # asked for an escalation.
        if self._escalate:
            self._escalate = False
            if self.shielded:
                return  # (the stop began meanwhile: this is not a second signal)
            raise KeyboardInterrupt
        self.received += 1
        self.signum = signum
        self.mailbox.put(STOP)
        self._wake.put(signum)

    # -- in the watchdog thread ----------------------------------------------------------

    def _watch(self) -> None:
        while True:
            try:
                signum = self._wake.get(timeout=ESCALATE_AFTER if self._pending() else None)
            except queue.Empty:
                if self._pending() and hasattr(signal, "pthread_kill"):
                    self._escalate = True  # stuck in code that is not ours: interrupt it there
                    with contextlib.suppress(OSError, ValueError):
                        signal.pthread_kill(self._main, self.signum)
                continue
            if signum is None:
                return
            if self.shielded:
                if self.received > 1:
                    self._hurry()
                continue
            with contextlib.suppress(RuntimeError):  # (the loop is closed)
                self.loop.call_soon_threadsafe(self._cancel)

    def _pending(self) -> bool:
        return bool(self.received) and not self.raised and not self.shielded

    def _cancel(self) -> None:
        if not self.shielded:
            for task in asyncio.all_tasks(self.loop):
                task.cancel()


class DaemonThreads(ThreadPoolExecutor):
    """The event loop's executor (``asyncio.to_thread``: ready checks), on daemon threads.

    A call still blocked when the run ends (a ready check to a server that does not answer,
    waiting for its timeout) must not keep mbtspec from exiting, as the threads of a
    ``ThreadPoolExecutor`` would: the interpreter waits for them at exit.
    """

    def __init__(self) -> None:
        super().__init__(max_workers=1)

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()

        def call() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as error:  # handed to the caller, as any executor does
                future.set_exception(error)
            else:
                future.set_result(result)

        threading.Thread(target=call, name="mbtspec-call", daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        pass  # nothing to wait for: see the class docstring
