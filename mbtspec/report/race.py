"""The parallel part of a race (``run.concurrency``) as data, and on a terminal as columns.

A race failure's ``steps`` are the prefix and then the closest interleaving as run on the
model, up to the step that did not match: ``render_sequence`` shows them like any sequence.
What is added here is what the candidate did concurrently: one column per branch, the steps
of a branch one under the other, then the ``then`` steps; and how the check went (orders
tried, the closest one).
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mbtspec.executor.records import Failure, Race, Step
from mbtspec.report.data import Redactor, clip, shown_json, slot_name


def race_summary(race: Race) -> str:
    """One line: how many orders were tried, and the closest one."""
    closest = " → ".join(slot_name(s) for s in race.closest)
    if race.tried:
        return (f"{race.tried} of {race.total} orders of the parallel steps run on the model, "
                f"none explains the answers; closest: {closest} ({race.matched} step"
                f"{'s' if race.matched != 1 else ''} matched)")
    return (f"the answer that broke a check came in the parallel part (single-target mode: "
            f"each answer is checked on its own; {race.total} possible orders)")


def _cell(step: Step, redact: Redactor) -> str:
    request = step.request("candidate")
    response = step.response("candidate")
    sent = f"{request.method} {request.path}"
    if request.content is not None:
        sent += " " + shown_json(request.body, 80, redact)
    answer = str(response.status) if response.status is not None else \
        f"no answer ({response.error})"
    return f"{escape(step.action)}\n[dim]{escape(clip(redact(sent), 200))}[/dim]\n→ {answer}"


def render_race(console: Console, failure: Failure, redact: Redactor) -> None:
    """The parallel part as columns, the ``then`` steps, and how the check went."""
    race = failure.race
    assert race is not None
    console.print(f"[bold]Parallel part[/bold] (after step {race.prefix}: sent to the "
                  f"candidate concurrently, one column per branch):")
    table = Table(box=box.SIMPLE, header_style="bold", show_header=True)
    for number in range(len(race.branches)):
        table.add_column(f"branch {number + 1}", overflow="fold")
    for row in range(max(len(b) for b in race.branches)):
        table.add_row(*(f"[bold]{number + 1}.{row + 1}[/bold] " + _cell(b[row], redact)
                        if row < len(b) else "" for number, b in enumerate(race.branches)))
    console.print(table)
    if race.then:
        console.print("[bold]Then[/bold] (on the candidate, one after another): " + "; ".join(
            f"{escape(s.action)} → {s.response('candidate').status}" for s in race.then))
    console.print(escape(race_summary(race)), soft_wrap=True)
    if race.runs > 1:
        console.print(f"[dim]shown on run {race.tries} of up to {race.runs} of this "
                      "sequence (races depend on timing)[/dim]")
