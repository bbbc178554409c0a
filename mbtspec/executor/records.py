"""What a run produces: exchanges, steps, findings, statistics. Plain frozen data."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from mbtspec.compiler._inputs import InputChange
from mbtspec.compiler._payloads import as_data

#: What stands for a secret wherever a request is shown or saved.
REDACTED = "***"


class Redacted:
    """A drawn value that held a secret, read back from a replay file: drawn again."""

    def __repr__(self) -> str:
        return "<redacted>"


@dataclass(frozen=True)
class Request:
    """A request exactly as sent to one target (secrets included; redact when showing)."""

    method: str
    url: str
    path: str  # path and query string, without the target's base URL
    headers: tuple[tuple[str, str], ...]
    body: Any  # compiler.NO_BODY when there is none
    content: bytes | None  # the encoded body
    media_type: str | None
    #: Why it was not sent (a stored URL on another origin than the target's), if it was not.
    refused: str = ""

    @cached_property
    def context(self) -> dict[str, Any]:
        """The request as expressions see it (computed once)."""
        return self.as_context()

    def as_context(self) -> dict[str, Any]:
        """The request as expressions see it."""
        return {
            "method": self.method,
            "path": self.path,
            "url": self.url,
            "headers": dict(self.headers),
            # (bytes and files as a spec writes them: {base64: ...}, {file: ...})
            "body": None if self.content is None else as_data(self.body),
        }


@dataclass(frozen=True)
class Response:
    """What one target answered. ``status`` is None when it did not answer (see ``error``)."""

    status: int | None
    headers: tuple[tuple[str, str], ...] = ()
    body: Any = None  # parsed JSON, else text, else None
    elapsed_ms: float = 0.0
    error: str | None = None

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @cached_property
    def context(self) -> dict[str, Any]:
        """The response as expressions see it (computed once)."""
        return self.as_context()

    def as_context(self) -> dict[str, Any]:
        """The response as expressions see it."""
        return {
            "status": self.status if self.status is not None else 0,
            "headers": dict(self.headers),
            "body": self.body,
            "elapsed_ms": self.elapsed_ms,
            "error": self.error or "",
        }


@dataclass(frozen=True)
class Difference:
    """One place where model and candidate disagree. ``path`` is like ``body.items[2].name``."""

    path: str
    model: Any
    candidate: Any
    note: str = ""
    #: The place as segments (``("body", "items", 2, "name")``): what ``accept`` places match
    at: tuple[str | int, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Accepted:
    """Differences of one step that an ``accept`` entry of the spec declares known: shown as
    accepted, counted, never a failure."""

    reason: str
    entry: str  # where the entry is written (``spec.yaml:12:5``): names it in reports
    place: str  # the entry's place, as written
    differences: tuple[Difference, ...]  # the first ones (``compare.KEPT_DIFFERENCES``)
    count: int  # differences accepted, kept or not


@dataclass
class AcceptedCount:
    """How often an ``accept`` entry accepted differences of one action, in a run."""

    reason: str
    entry: str
    place: str
    action: str
    steps: int = 0  # steps with a difference it accepted
    differences: int = 0
    example: Difference | None = None  # the first difference it accepted


@dataclass(frozen=True)
class Finding:
    """Something wrong with a step: a behaviour difference, or a failed invariant/expect."""

    kind: Literal["difference", "invariant", "expect"]
    title: str
    differences: tuple[Difference, ...] = ()
    details: tuple[str, ...] = ()
    target: str | None = None
    check: str | None = None  # the invariant or expectation that failed
    omitted: int = 0  # differences found past the ones kept in ``differences``


@dataclass(frozen=True)
class Step:
    """One action run against every target."""

    index: int  # 1-based within its sequence
    action: str
    draws: tuple[Any, ...]
    requests: tuple[tuple[str, Request], ...]
    responses: tuple[tuple[str, Response], ...]
    findings: tuple[Finding, ...] = ()
    #: Which step this is, across replays: entries it stores are known by it (a replay that
    #: leaves steps out still picks the same entries), and a replayed step keeps it.
    origin: int = 0
    #: For each of ``draws``, which generator drew it (0 for a pick): values drawn by the
    #: same generator can stand in for each other when a failure is shrunk.
    slots: tuple[int, ...] = ()
    #: The deliberately invalid (or boundary) value this step sent, if any (negative mode).
    change: InputChange | None = None
    #: Differences the spec accepts (``accept``), one per entry that accepted some
    accepted: tuple[Accepted, ...] = ()

    def request(self, target: str) -> Request:
        return next(r for name, r in self.requests if name == target)

    def response(self, target: str) -> Response:
        return next(r for name, r in self.responses if name == target)


@dataclass(frozen=True)
class Race:
    """The parallel part of a failure found with ``run.concurrency``.

    ``Failure.steps`` holds the prefix, then the closest interleaving (the order of the
    parallel steps, and the ``then`` steps, that matched the most steps on the model) up to
    the step that fails, with both targets' exchanges. Here is what the candidate did
    concurrently, branch by branch, and how the check went.
    """

    prefix: int  # how many of ``Failure.steps`` ran before the parallel part
    branches: tuple[tuple[Step, ...], ...]  # the candidate's steps, one tuple per branch
    then: tuple[Step, ...] = ()  # the candidate's steps after the parallel part
    #: The closest interleaving, as (branch, step) pairs from 1 (one per parallel step).
    closest: tuple[tuple[int, int], ...] = ()
    matched: int = 0  # steps of it (parallel and then) that matched before one did not
    tried: int = 0  # interleavings run on the model (0 in single-target mode)
    total: int = 0  # interleavings of the parallel part
    tries: int = 1  # runs of the reported sequence it took to show the failure
    runs: int = 1  # runs of it made at most


@dataclass(frozen=True)
class Failure:
    """The minimal failing sequence. ``reproduced`` is False when a replay did not show it."""

    kind: Literal["difference", "invariant", "expect"]
    steps: tuple[Step, ...]
    flaky: bool = False
    note: str = ""
    cut_short: bool = False  # shrinking stopped early (see note): maybe not the shortest
    #: Shrinking was stopped by a target that failed or by Ctrl-C, not by the shrink time:
    #: the run cannot go on searching (with keep-going, it ends here)
    ends_run: bool = False
    source: str = ""  # the replay file it was replayed from; "" when this run found it
    minimal: bool = False  # checked 1-minimal: leaving out any single step loses it
    #: With keep-going: how many more times the same failure (``signature``) showed
    variants: int = 0
    race: Race | None = None  # found with run.concurrency: the parallel part

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.steps[-1].findings if self.steps else ()


def _times(count: int, unit: str = "time") -> str:
    return f"{count} {unit}" + ("" if count == 1 else "s")


@dataclass
class ActionStats:
    """How often an action ran, what each target answered, and, for the steps the engine
    drew, whether the action could have run: the counts that say why an action is starved."""

    runs: int = 0
    statuses: dict[str, Counter[str]] = field(default_factory=dict)
    invalid: int = 0  # of the runs, those that sent an invalid value on purpose
    #: Drawn steps at which the action could run: its picks found entries, its ``when`` was
    #: true, and (with swarm testing) the sequence's swarm held it.
    could_run: int = 0
    #: The runs its weight gives it: at each of those steps, its weight over the weights of
    #: all the actions that could run then, summed. Far more than ``runs`` means starved.
    expected_runs: float = 0.0
    when_false: int = 0  # drawn steps at which its ``when`` was false (or failed)
    #: Drawn steps at which a variable it needs held nothing, per variable (the first one
    #: missing, in alphabetical order).
    nothing_stored: Counter[str] = field(default_factory=Counter)
    left_out: int = 0  # drawn steps at which it could run, but the swarm left it out
    #: Times it was chosen but its values could not be drawn (the step went to another
    #: action), per reason: "no unused value of 'title' left", ...
    skipped: Counter[str] = field(default_factory=Counter)

    def why_never_ran(self) -> str:
        """Why an action that never ran did not ("" when it ran), from the counts: its values
        could not be drawn, it was never chosen, swarm testing left it out, or it could not
        run at any step (its ``when`` was false, or a variable it picks held nothing)."""
        if self.runs:
            return ""
        if self.skipped:
            reason, _ = self.skipped.most_common(1)[0]
            return (f"chosen {_times(sum(self.skipped.values()))}, but its values could not "
                    f"be drawn: {reason}")
        if self.could_run:
            return (f"never chosen, though it could run at {_times(self.could_run, 'step')} "
                    f"({self.expected_runs:.1f} runs expected from its weight)")
        if self.left_out:
            return ("left out by swarm testing at every step where it could run "
                    f"({self.left_out})")
        blocked = [(f"nothing was stored in {variable}", count)
                   for variable, count in sorted(self.nothing_stored.items())]
        if self.when_false:
            blocked.append(("its 'when' was false", self.when_false))
        total = sum(count for _, count in blocked)
        if len(blocked) == 1:
            return f"{blocked[0][0]} at every step ({total})"
        if blocked:
            return (f"at every step ({total}), "
                    + " or ".join(f"{what} ({count})" for what, count in blocked))
        return "no step was drawn"


@dataclass
class Stats:
    """Counts for the summary: per action, how often it ran and what each target answered."""

    sequences: int = 0
    shrinking: int = 0  # of which run while shrinking a failure
    boundary: int = 0  # of which run to try boundary values (before the random search)
    #: of which cut short where a drawn step could not run (no action's values could be drawn
    #: before the sequence made a call; a parallel prefix's pick found nothing): Hypothesis
    #: does not count them against ``run.sequences``, and draws others in their place
    discarded: int = 0
    #: A split run (``--shard``, ``--workers``): sequences drawn here that belong to another
    #: part, dropped before the step that showed it was sent; not counted in ``sequences``
    #: (Hypothesis draws others in their place). ``elsewhere_calls``: the calls their steps
    #: before that one made (counted in ``calls`` too: they were sent).
    elsewhere: int = 0
    elsewhere_calls: int = 0
    calls: int = 0  # requests sent, all targets together
    steps: int = 0
    actions: dict[str, ActionStats] = field(default_factory=dict)
    time_ms: dict[str, float] = field(default_factory=dict)  # per target
    lengths: list[int] = field(default_factory=list)  # steps of each finished sequence
    parallel: int = 0  # parallel parts run (run.concurrency)
    interleavings: int = 0  # interleavings of them run on the model
    check_seconds: float = 0.0  # spent running interleavings on the model
    reset_seconds: float = 0.0  # spent resetting the targets before sequences
    drawn: int = 0  # steps the engine drew (not replays): the steps ``could_run`` counts
    #: Swarm testing: sequences that drew a swarm, and the actions their swarms held in all
    swarms: int = 0
    swarm_actions: int = 0
    #: Accepted differences, per (entry, action); counted in the search, not while shrinking
    accepted: dict[tuple[str, str], AcceptedCount] = field(default_factory=dict)

    def record_accepted(self, step: Step) -> None:
        """Count the differences ``step`` accepted."""
        for accepted in step.accepted:
            count = self.accepted.get((accepted.entry, step.action))
            if count is None:
                count = self.accepted[accepted.entry, step.action] = AcceptedCount(
                    accepted.reason, accepted.entry, accepted.place, step.action,
                    example=accepted.differences[0] if accepted.differences else None)
            count.steps += 1
            count.differences += accepted.count

    def record(self, step: Step) -> None:
        self.steps += 1
        stats = self.action(step.action)
        stats.runs += 1
        if step.change is not None and step.change.kind == "invalid":
            stats.invalid += 1
        for target, response in step.responses:
            self.calls += 1
            shown = str(response.status) if response.status is not None else "no answer"
            stats.statuses.setdefault(target, Counter())[shown] += 1
            self.time_ms[target] = self.time_ms.get(target, 0.0) + response.elapsed_ms

    def action(self, name: str) -> ActionStats:
        """The counts of action ``name`` (made on first use)."""
        stats = self.actions.get(name)
        if stats is None:
            stats = self.actions[name] = ActionStats()
        return stats


@dataclass(frozen=True)
class Progress:
    sequences: int
    calls: int
    failures: int
    elapsed: float


@dataclass(frozen=True)
class RunResult:
    """The outcome of ``run_plan``."""

    seed: int
    elapsed: float
    stats: Stats
    failure: Failure | None
    stopped: str = ""  # why the run ended before all sequences ran ("max-time"), if it did
    warnings: tuple[str, ...] = ()
    unreached: tuple[str, ...] = ()  # documented operations no step exercised
    #: Every distinct failure, in the order found (``failure`` is the first); more than one
    #: only with keep-going.
    failures: tuple[Failure, ...] = ()
    #: The ``accept`` entries (where they are written) that accepted nothing in the run
    stale: tuple[str, ...] = ()


#: (action, kind, place): what makes two failing steps "the same failure".
Signature = tuple[str, str, str]


def signature(step: Step) -> Signature:
    """The failure a step shows: its action, the kind of its first finding, and where. (A
    flaky failure's last step may show nothing when run again: its kind is "flaky".)"""
    if not step.findings:
        return step.action, "flaky", ""
    finding = step.findings[0]
    if finding.kind == "difference":
        paths = sorted(re.sub(r"\[\d+\]", "[*]", d.path) for d in finding.differences)
        place = "status" if "status" in paths else paths[0] if paths else ""
    else:
        place = finding.check or finding.title
    return step.action, finding.kind, place
