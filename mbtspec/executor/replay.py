"""Replay recorded calls: exactly the requests a failure was made of, after the spec's reset.

Each recorded request is sent to the same target of the current spec (its base URL and its
configured headers, so that redacted secrets are filled in again); responses are stored and
judged with the spec's current rules. The outcome says whether the failure still shows, or
which step cannot be replayed any more and why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from mbtspec.compiler import NO_BODY, ActionPlan, InputChange, Plan, State, Unsatisfiable
from mbtspec.executor._draws import ReplayDraws
from mbtspec.executor._http import encode_body
from mbtspec.executor._runtime import Abort, Judge, Runtime
from mbtspec.executor._session import Session
from mbtspec.executor.records import REDACTED, Request, Step
from mbtspec.executor.targets import Target


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # path and query string
    headers: tuple[tuple[str, str], ...] = ()
    body: Any = NO_BODY
    media_type: str | None = None


@dataclass(frozen=True)
class RecordedStep:
    action: str
    requests: dict[str, RecordedRequest] = field(default_factory=dict)
    change: InputChange | None = None  # the invalid or boundary value it sent on purpose
    #: What the step drew (picks as the entries they chose), and its ``Step.origin``: a
    #: replay draws the step again from them, when the spec is the one they were drawn for.
    draws: tuple[Any, ...] | None = None
    origin: int = 0


@dataclass(frozen=True)
class ReplayOutcome:
    """``reproduced``: a step failed again (the last step is the failing one); ``gone``: every
    step passed, in every replay; ``unfit``: the spec changed so that ``step`` (1-based)
    cannot be replayed.

    ``runs`` counts the replays made, ``seen`` those in which the failure showed: a flaky
    failure is replayed several times, and "gone" after one clean replay would be a guess.
    """

    status: Literal["reproduced", "gone", "unfit"]
    steps: tuple[Step, ...]
    reason: str = ""
    step: int = 0
    runs: int = 0
    seen: int = 0


def replay_requests(plan: Plan, recorded: Sequence[RecordedStep], *, judge: Judge,
                    on_step: Callable[[Step], None] | None = None, times: int = 1,
                    until_seen: bool = True, rederive: bool = True) -> ReplayOutcome:
    """Send ``recorded`` to the plan's targets after their reset, up to ``times`` times (one
    start of the targets, a reset before each replay); see ``ReplayOutcome``. With
    ``until_seen``, stop at the first replay that shows the failure; else make every replay,
    to count how often it shows. The steps of the outcome are those of the first replay that
    showed it, else of the last one.

    With ``rederive`` (for a spec unchanged since the steps were recorded), a step with its
    draws is drawn again from them, so that the values it takes from earlier responses (ids,
    tokens, URLs: its picks) are those of this replay's responses; a step without draws, or
    whose draws no longer fit, resends its recorded requests."""
    actions = {p.name: p for p in plan.actions}
    for number, step in enumerate(recorded, start=1):  # check the fit before starting
        if step.action not in actions:
            return ReplayOutcome(
                "unfit", (), f"step {number}: the spec has no action '{step.action}' any more "
                f"(renamed or removed?); its actions: {', '.join(actions)}", number)
        missing = [t for t in plan.targets if t not in step.requests]
        if missing:
            return ReplayOutcome(
                "unfit", (), f"step {number}: nothing was recorded for target "
                f"{', '.join(missing)} (the spec's targets changed)", number)
    with Session(plan) as session:
        runtime = Runtime(plan, session.targets, judge, session.send_all, session.reset,
                          checkpoint=session.check, on_step=on_step)
        shown: tuple[Step, ...] = ()
        seen = runs = 0
        try:
            while runs < times and not (seen and until_seen):
                runs += 1
                trace = _replay_once(runtime, session, actions, recorded, rederive)
                if trace[-1].findings:
                    shown = trace if not seen else shown
                    seen += 1
                elif not seen:
                    shown = trace
        except Abort as err:
            raise err.error from None
        return ReplayOutcome("reproduced" if seen else "gone", shown, runs=runs, seen=seen)


def _replay_once(runtime: Runtime, session: Session, actions: Mapping[str, Any],
                 recorded: Sequence[RecordedStep], rederive: bool) -> tuple[Step, ...]:
    """One replay from a reset; the steps sent, up to the first with a finding."""
    runtime.trace = []
    runtime.state = State(runtime.variables)
    runtime.reset_targets()
    for step in recorded:
        done = _redraw(runtime, actions[step.action], step) if rederive else None
        if done is None:
            requests = {name: _request(step.requests[name], session.targets[name])
                        for name in runtime.names}
            done = runtime.execute(actions[step.action], requests, change=step.change,
                                   origin=step.origin, draws=step.draws or ())
        if done.findings:
            break
    return tuple(runtime.trace)


def _redraw(runtime: Runtime, plan: ActionPlan, step: RecordedStep) -> Step | None:
    """``step`` drawn again from its draws (None when it has none, or they do not fit: a
    pick of an entry this replay did not store, a value of another kind)."""
    if step.draws is None:
        return None
    try:
        return runtime.step(plan, ReplayDraws(step.draws, step.origin))
    except (Unsatisfiable, IndexError, KeyError, TypeError, ValueError, AttributeError):
        return None


def _request(recorded: RecordedRequest, target: Target) -> Request:
    headers = dict(restore_secrets(recorded.headers, target.headers))
    content, _ = encode_body(recorded.body, recorded.media_type)
    return Request(recorded.method, target.base_url.rstrip("/") + recorded.path,
                   recorded.path, tuple(headers.items()), recorded.body, content,
                   recorded.media_type)


def restore_secrets(headers: Iterable[tuple[str, str]], configured: Mapping[str, str]
                    ) -> list[tuple[str, str]]:
    """``headers`` with each redacted value put back: a value holding ``***`` becomes the
    configured header of the same name (in any case), when there is one."""
    known = {k.lower(): v for k, v in configured.items()}
    return [(name, known[name.lower()] if REDACTED in value and name.lower() in known
             else value) for name, value in headers]
