"""Render results for a terminal (or a CI log) with Rich. Rendering only: no decisions."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from mbtspec.compare import KEPT_DIFFERENCES
from mbtspec.compiler import Plan
from mbtspec.errors import SpecError, TargetError
from mbtspec.executor.records import Failure, Request, Response, RunResult, Stats, Step
from mbtspec.report.data import (
    SHOWN_DIFFERENCES,
    Redactor,
    accepted_by_entry,
    body_lines,
    clip,
    command_of,
    failure_signature,
    more_differences,
    never_ran,
    printable,
    run_failures,
    shown_json,
)
from mbtspec.report.race import render_race
from mbtspec.spec.problems import Problem

#: Lines of a response body shown on the terminal, and characters of each line.
SHOWN_LINES, LINE_WIDTH = 40, 200


def render_problems(console: Console, problems: Sequence[Problem]) -> None:
    for problem in problems:
        style = "red" if problem.severity == "error" else "yellow"
        console.print(Text(printable(problem.format()), style=style), soft_wrap=True)


def short_json(value: Any, redact: Redactor, limit: int = 120) -> str:
    """A value on one line, redacted, printable and cut to ``limit`` characters."""
    return shown_json(value, limit, redact)


def shown(text: str, redact: Redactor, limit: int = 10_000) -> str:
    """Text from a run (a message, a path, a log line): redacted, printable, bounded."""
    return clip(printable(redact(text[: limit + 1 + redact.reach])), limit)


def _request_line(request: Request, redact: Redactor) -> str:
    body = "" if request.content is None else " " + short_json(request.body, redact, 80)
    return f"{request.method} {shown(request.path, redact, 160)}{body}"


def header_text(request: Request, redact: Redactor, limit: int = 200) -> str:
    """The headers a request carried (the target's and the action's; not ``content-type``,
    which the body's media type says), redacted, each value cut to 60 characters:
    ``Authorization: Bearer ***  X-Version: 2``; "" when there are none."""
    return clip("  ".join(f"{shown(k, redact, 60)}: {shown(v, redact, 60)}"
                          for k, v in request.headers if k.lower() != "content-type"), limit)


def _status(response: Response, redact: Redactor) -> str:
    if response.status is not None:
        return str(response.status)
    return f"✗ {shown(response.error or '', redact, 160)}"


def render_sequence(console: Console, steps: Sequence[Step], targets: Sequence[str],
                    redact: Redactor) -> None:
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("#", justify="right")
    table.add_column("action")
    table.add_column("request")
    for name in targets:
        table.add_column(name, justify="center")
    for step in steps:
        shown_requests = {t: (_request_line(step.request(t), redact),
                              header_text(step.request(t), redact)) for t in targets}
        if len(set(shown_requests.values())) == 1:
            line, headers = shown_requests[targets[0]]
            sent = escape(line) + (f"\n[dim]{escape(headers)}[/dim]" if headers else "")
        else:  # per-target values: each target received its own request
            sent = "\n".join(
                f"{escape(line)}  [dim]({t})[/dim]"
                + (f"\n[dim]{escape(headers)}[/dim]" if headers else "")
                for t, (line, headers) in shown_requests.items())
        mark = " [red]✗[/red]" if step.findings else ""
        if step.change is not None:  # said under the request: it was sent on purpose
            sent += f"\n[yellow]{escape(change_line(step, redact))}[/yellow]"
        table.add_row(str(step.index), step.action + mark, sent,
                      *(escape(_status(step.response(t), redact)) for t in targets))
    console.print(table)


def change_line(step: Step, redact: Redactor) -> str:
    """``invalid: body.qty: below minimum 1 (sent 0)`` (or ``boundary: ...``)."""
    assert step.change is not None
    return f"{step.change.kind}: {shown(step.change.text(), redact, 200)}"


def _pretty(response: Response, redact: Redactor) -> Any:
    if response.status is None:
        return Text(f"no answer: {shown(response.error or '', redact)}", style="red")
    lines, more = body_lines(response.body, redact, lines=SHOWN_LINES, width=LINE_WIDTH)
    parts: list[Any] = [Text(f"status {response.status}", style="bold")]
    if lines:
        parts.append(Syntax("\n".join(text for text, _ in lines), "json", word_wrap=True,
                            theme="ansi_dark", background_color="default"))
    if more:
        parts.append(Text(f"… (only the first {SHOWN_LINES} lines are shown; --html shows "
                          "more)", style="dim"))
    return Group(*parts)


def render_findings(console: Console, step: Step, redact: Redactor, where_more: str = "") -> None:
    """What was found at ``step``: each finding's title, details and its first
    ``SHOWN_DIFFERENCES`` differences (and how many more there are, and ``where_more`` they
    can be seen)."""
    for finding in step.findings:
        console.print(f"[bold]Step {step.index} ({escape(step.action)}): "
                      f"{escape(shown(finding.title, redact))}[/bold]")
        for line in finding.details:
            console.print(f"  {escape(shown(line, redact))}", soft_wrap=True)
        for difference in finding.differences[:SHOWN_DIFFERENCES]:
            note = f"  [dim]({escape(difference.note)})[/dim]" if difference.note else ""
            console.print(
                f"  [cyan]{escape(shown(difference.path, redact, 200))}[/cyan]: "
                f"{escape(short_json(difference.model, redact))} [red]≠[/red] "
                f"{escape(short_json(difference.candidate, redact))}{note}", soft_wrap=True)
        more = more_differences(finding, SHOWN_DIFFERENCES)
        if more:
            console.print(f"  … and {more:,} more difference{'s' if more != 1 else ''}"
                          + (f" ({where_more})" if where_more else ""), soft_wrap=True,
                          markup=False, style="dim")
    render_accepted(console, step, redact)


def render_accepted(console: Console, step: Step, redact: Redactor) -> None:
    """The differences of ``step`` that ``accept`` entries accepted: not failures."""
    for accepted in step.accepted:
        console.print(f"  [green]accepted[/green] ({escape(shown(accepted.reason, redact))}, "
                      f"{escape(accepted.entry)}):", soft_wrap=True)
        for difference in accepted.differences[:SHOWN_DIFFERENCES]:
            console.print(
                f"    [cyan]{escape(shown(difference.path, redact, 200))}[/cyan]: "
                f"{escape(short_json(difference.model, redact))} ≠ "
                f"{escape(short_json(difference.candidate, redact))}", soft_wrap=True)
        more = accepted.count - min(len(accepted.differences), SHOWN_DIFFERENCES)
        if more:
            console.print(f"    … and {more:,} more", style="dim", markup=False)


def render_failure(console: Console, failure: Failure, plan: Plan, seed: int,
                   command: Sequence[str], redact: Redactor,
                   replay_file: Path | None = None) -> None:
    targets = plan.targets
    calls = len(failure.steps)
    if failure.flaky and not failure.source:
        console.print(Text(f"FLAKY: a {failure.kind} was seen but does not reproduce: "
                           f"{shown(failure.note, redact)}", style="bold yellow"))
    else:
        noun = {"difference": "DIFFERENCE", "invariant": "INVARIANT BROKEN",
                "expect": "EXPECTATION FAILED"}[failure.kind]
        flaky = "FLAKY " if failure.flaky else ""
        race = "RACE: " if failure.race is not None else ""
        console.print(Text(f"✗ {flaky}{race}{noun} after {calls} call"
                           f"{'s' if calls != 1 else ''} (seed {seed})", style="bold red"))
        if failure.note:
            console.print(Text(f"note: {shown(failure.note, redact)}", style="yellow"),
                          soft_wrap=True)
    if failure.variants:
        console.print(Text(f"seen again {failure.variants} time"
                           f"{'s' if failure.variants != 1 else ''} in this run (not reported "
                           "again)", style="dim"), soft_wrap=True)
    console.print()
    if failure.race is not None:
        render_race(console, failure, redact)
        console.print()
        checked = ("; leaving out any branch, any step of a branch or any step of the prefix "
                   "loses the race" if failure.minimal else "")
        order = ("the parallel steps in the closest order, on the model"
                 if failure.race.tried else "the parallel steps, branch by branch")
        console.print(f"[bold]The prefix, then {order}[/bold] ({escape(' and '.join(targets))}"
                      f"{checked}):")
    else:
        checked = "; leaving out any one step loses the failure" if failure.minimal else ""
        console.print("[bold]Minimal sequence[/bold] (each step sent to "
                      f"{' and '.join(targets)}{checked}):")
    render_sequence(console, failure.steps, targets, redact)
    last = failure.steps[-1]
    console.print()
    render_findings(console, last, redact,
                    f"--report-json saves the first {KEPT_DIFFERENCES:,} and counts the rest")
    side = Table(show_header=True, header_style="bold", expand=True)
    for name in targets:
        side.add_column(f"{name}: {escape(_request_line(last.request(name), redact))}",
                        ratio=1, overflow="fold")
    side.add_row(*(_pretty(last.response(t), redact) for t in targets))
    console.print(side)
    console.print(f"Reproduce: [bold]{escape(shlex.join(command))}[/bold]", soft_wrap=True)
    if replay_file is not None:
        console.print(f"Replay: mbtspec replay {replay_file}  (add --curl for a shell script)",
                      soft_wrap=True, markup=False)


def render_failures(console: Console, result: RunResult, plan: Plan, command: Sequence[str],
                    redact: Redactor, replay_files: Sequence[Path] = (),
                    commands: Sequence[Sequence[str]] = ()) -> None:
    """Every failure of the run in full, each with its own ``Replay:`` line (and its own
    ``Reproduce:`` command when ``commands`` gives one per failure); with more than one
    (keep-going), the table of them first and each one numbered under a rule."""
    failures = run_failures(result)
    several = len(failures) > 1
    if several:
        render_failure_table(console, failures, replay_files, redact)
    for number, failure in enumerate(failures, start=1):
        if several:
            action, kind, place = failure_signature(failure)
            where = f": {action}, {shown(place, redact, 200)}" if place else f": {action}"
            console.rule(Text(f"Failure {number} of {len(failures)}{where}", style="bold"),
                         align="left")
        replay_file = replay_files[number - 1] if number <= len(replay_files) else None
        render_failure(console, failure, plan, result.seed,
                       command_of(command, commands, number) or command, redact, replay_file)
        console.print()


#: How the ``calls`` column of the failure table marks a sequence not checked 1-minimal.
_MARKS = {
    "*": "shrinking stopped early: a shorter sequence may show it too (see its note)",
    "+": "a saved failure that still shows, replayed as it was saved",
    "?": "not checked 1-minimal (a flaky failure, or a run without a reset)",
}


def _mark(failure: Failure) -> str:
    if failure.cut_short:
        return "*"
    if failure.source:
        return "+"
    return "" if failure.minimal else "?"


#: Characters of a place in the table of failures (each failure's report shows it whole).
TABLE_PLACE = 60


def render_failure_table(console: Console, failures: Sequence[Failure],
                         replay_files: Sequence[Path] = (),
                         redact: Redactor | None = None) -> None:
    """One line per distinct failure (keep-going), before each is shown in full: its number,
    kind, action and place (its signature), its length, how often it was seen again, and its
    replay file. Replay files in one folder are named once, in the title, so that the table
    fits 80 columns; a long place wraps, a replay file name does not (it is copied)."""
    redact = redact or Redactor(())
    folders = {path.parent for path in replay_files}
    folder = folders.pop() if len(folders) == 1 else None
    title = f"{len(failures)} distinct failures"
    if folder is not None:
        title += f" (replay files in {folder}{'' if str(folder).endswith('/') else '/'})"
    files = [shown(path.name if folder is not None else str(path), redact)
             for path in replay_files[:len(failures)]]
    files += ["-"] * (len(failures) - len(files))
    rows = []
    for number, (failure, file) in enumerate(zip(failures, files, strict=True), start=1):
        action, kind, place = failure_signature(failure)
        kind = ("flaky " if failure.flaky else "") + _KIND_WORDS.get(kind, kind)
        rows.append((str(number), kind, action, shown(place, redact, TABLE_PLACE) or "-",
                     f"{len(failure.steps)}{_mark(failure)}", str(failure.variants), file))
    headers = ("#", "kind", "action", "place", "calls", "seen again", "replay file")
    widths = [max(cell_len(h), *(cell_len(row[n]) for row in rows))
              for n, h in enumerate(headers)]
    # (the place takes what the other columns leave, and wraps: Rich would squeeze them all)
    room = console.width - sum(widths) + widths[3] - len(widths)
    table = Table(title=Text(shown(title, redact), style="bold"), title_justify="left",
                  box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0),
                  header_style="bold")
    for n, header in enumerate(headers):
        table.add_column(header, justify="right" if n in (0, 4, 5) else "left",
                         overflow="fold", no_wrap=n != 3 and n != 2,
                         max_width=max(room, 12) if n == 3 else None)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    console.print(table)
    marks = {_mark(failure) for failure in failures}
    for mark, meaning in _MARKS.items():
        if mark in marks:
            console.print(Text(f"{mark} {meaning}", style="dim"), soft_wrap=True)
    console.print()


def render_warnings(console: Console, plan: Plan, result: RunResult, redact: Redactor) -> None:
    for warning in (*plan.notes, *result.warnings):
        console.print(f"warning: {shown(warning, redact)}", style="yellow", soft_wrap=True,
                      markup=False)


def render_error(console: Console, error: BaseException, spec: Path, what: str,
                 redact: Redactor | None = None) -> None:
    """What went wrong, for the user: an invalid spec's problems, a target's error and the
    end of its output, an interruption, or another mbtspec error's message. Messages and
    output lines are redacted with ``redact`` (a target may print a secret, a URL may hold
    one)."""
    redact = redact or Redactor(())
    if isinstance(error, SpecError):
        render_problems(console, error.problems)
        count = len(error.problems)
        console.print(f"{spec}: invalid spec ({count} problem{'s' if count != 1 else ''}); "
                      f"nothing was {what}", markup=False, soft_wrap=True)
    elif isinstance(error, TargetError):
        console.print(f"error: {shown(str(error), redact)}", style="red", soft_wrap=True,
                      markup=False)
        if error.log_tail:
            where = f" ({error.log_path})" if error.log_path else ""
            console.print(f"last lines of its output{where}:", markup=False, soft_wrap=True)
            for line in error.log_tail:
                console.print(f"  | {shown(line, redact, 1000)}", markup=False,
                              highlight=False, soft_wrap=True)
    elif isinstance(error, KeyboardInterrupt):
        console.print("interrupted; every target was stopped")
    else:
        console.print(f"error: {shown(str(error), redact)}", style="red", soft_wrap=True,
                      markup=False)


def render_summary(console: Console, result: RunResult, plan: Plan) -> None:
    stats = result.stats
    targets = plan.targets
    table = Table(title=None, header_style="bold", box=None)
    table.add_column("action")
    table.add_column("runs", justify="right")
    negative = any(action.inputs is not None for action in plan.actions)
    if negative:
        table.add_column("invalid", justify="right")
    for name in targets:
        table.add_column(f"{name} statuses")
    for action in plan.actions:
        entry = stats.actions.get(action.name)
        runs = entry.runs if entry else 0
        cells = []
        for name in targets:
            counts: dict[str, int] = dict(entry.statuses.get(name, {})) if entry else {}
            cells.append(", ".join(f"{code}×{n}" for code, n in sorted(counts.items())) or "-")
        invalid = [str(entry.invalid if entry else 0)] if negative else []
        table.add_row(action.name, str(runs), *invalid, *cells)
    console.print(table)
    timing = ", ".join(f"{name} {stats.time_ms.get(name, 0.0) / max(stats.steps, 1):.1f} "
                       "ms/call" for name in targets)
    console.print(f"[dim]mean latency: {timing}[/dim]")
    if stats.reset_seconds and result.elapsed > 0:
        console.print(f"[dim]reset: {stats.reset_seconds:.1f}s of {result.elapsed:.1f}s "
                      f"({stats.reset_seconds / result.elapsed:.0%}), "
                      f"{stats.reset_seconds * 1000 / max(stats.sequences, 1):.1f} "
                      "ms/sequence[/dim]")
    if plan.run.concurrency is not None:
        rate = (f", {stats.interleavings / stats.check_seconds:,.0f}/s"
                if stats.check_seconds > 0 else "")
        console.print(f"[dim]parallel parts: {stats.parallel:,} (the parallel calls went to "
                      "the candidate only); orders of their steps run on the model: "
                      f"{stats.interleavings:,} in {stats.check_seconds:.1f}s{rate}[/dim]")
    if result.unreached:
        console.print(f"[yellow]never reached ({len(result.unreached)}):[/yellow] "
                      + ", ".join(result.unreached))
    idle = never_ran(plan, stats)
    if idle:
        console.print(f"[yellow]never ran ({len(idle)}):[/yellow]")
        for name, why in idle:
            console.print(f"  {escape(name)}: {escape(why)}")
    accepted = accepted_by_entry(result)
    if accepted:
        console.print(f"accepted: {sum(n for _, n in accepted):,} ("
                      + ", ".join(f"{reason} ×{n:,}" for reason, n in accepted) + ")",
                      markup=False, soft_wrap=True, highlight=False)


def verdict_line(result: RunResult, plan: Plan) -> str:
    stats = result.stats
    what = (f"{stats.sequences} sequence{'s' if stats.sequences != 1 else ''} / "
            f"{stats.steps} call{'s' if stats.steps != 1 else ''}")
    if stats.boundary:
        what += f" ({stats.boundary} boundary case{'s' if stats.boundary != 1 else ''})"
    if stats.shrinking:
        what += f" ({stats.shrinking} of the sequences while shrinking)"
    what += _beyond_asked(stats, plan)
    if stats.elsewhere:  # (a part of a split run: --shard)
        what += (f" (and {stats.elsewhere} drawn for other parts of the run, dropped after "
                 f"{stats.elsewhere_calls} call{'s' if stats.elsewhere_calls != 1 else ''})")
    stopped = " (stopped at --max-time)" if result.stopped == "max-time" else ""
    if result.failure is None and not stats.steps:
        return (f"✓ nothing was checked: no call was made in {result.elapsed:.1f}s{stopped} "
                f"(seed {result.seed})")
    if result.failure is None:
        mode = "no difference" if len(plan.targets) == 2 else "no invariant broken"
        accepted = sum(n for _, n in accepted_by_entry(result))
        if accepted:
            mode += f" ({accepted:,} accepted)"
        return f"✓ {mode} in {what} in {result.elapsed:.1f}s{stopped} (seed {result.seed})"
    failures = run_failures(result)
    if len(failures) > 1:
        return _several_verdict(failures, what, result.seed)
    kind = _KIND_WORDS.get(result.failure.kind, result.failure.kind)
    if result.failure.source:
        flaky = "flaky " if result.failure.flaky else ""
        return f"✗ {flaky}{kind}: {result.failure.note} ({len(result.failure.steps)} call(s))"
    if result.failure.flaky:
        return f"✗ flaky {kind} in {what} (seed {result.seed})"
    shrunk = ("shrinking stopped early at" if result.failure.cut_short else "shrunk to")
    race = result.failure.race
    if race is not None:  # e.g. "shrunk to 1 + 2 branches of 1 + 1 call(s)"
        branches = " + ".join(str(len(b)) for b in race.branches)
        why = f"{kind}: not linearizable" if race.tried else f"{kind} in the parallel part"
        return (f"✗ race ({why}) found in {what}, {shrunk} {race.prefix} "
                f"call(s) + {len(race.branches)} concurrent branches of {branches} call(s) "
                f"(seed {result.seed})")
    return (f"✗ {kind} found in {what}, {shrunk} "
            f"{len(result.failure.steps)} call(s) (seed {result.seed})")


def _several_verdict(failures: Sequence[Failure], what: str, seed: int) -> str:
    """``✗ N distinct failures (...) found in ..., shrunk to A, B, C call(s) (seed S)``; the
    parenthesis counts the failures that are saved ones, flaky, or not fully shrunk."""
    counts = [(sum(1 for f in failures if f.source), "saved and still showing"),
              (sum(1 for f in failures if f.flaky), "flaky"),
              (sum(1 for f in failures if f.cut_short), "not fully shrunk")]
    parts = "; ".join(f"{n} {words}" for n, words in counts if n)
    lengths = ", ".join(str(len(f.steps)) for f in failures)
    return (f"✗ {len(failures)} distinct failures{f' ({parts})' if parts else ''} found in "
            f"{what}, shrunk to {lengths} call(s) (seed {seed})")


_KIND_WORDS = {"invariant": "broken invariant", "expect": "failed expectation"}


def _beyond_asked(stats: Stats, plan: Plan) -> str:
    """Why more sequences ran than ``run.sequences`` asked for, when they did: Hypothesis
    counts only the sequences it could draw to their end."""
    extra = stats.sequences - stats.shrinking - stats.boundary - plan.run.sequences
    if extra <= 0:
        return ""
    return (f" ({extra} more than the {plan.run.sequences} asked: a sequence cut short, where "
            "no step could be drawn or the random data ran out, does not count, and another "
            "is drawn in its place)")


def render_step_line(step: Step, redact: Redactor) -> str:
    """One call, as ``-v`` prints it while the run goes on."""
    def line(request: Request) -> str:
        headers = header_text(request, redact, 120)
        return _request_line(request, redact) + (f" [{headers}]" if headers else "")

    requests = {line(r) for _, r in step.requests}
    sent = requests.pop() if len(requests) == 1 else " | ".join(
        f"{name}: {line(r)}" for name, r in step.requests)
    answers = "  ".join(f"{name} {_status(r, redact)}" for name, r in step.responses)
    mark = "  ✗ " + shown(step.findings[0].title, redact) if step.findings else ""
    change = f"  [{change_line(step, redact)}]" if step.change is not None else ""
    return f"{step.index:3d} {step.action}  {sent}{change}  →  {answers}{mark}"
