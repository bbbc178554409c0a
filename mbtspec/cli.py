"""Command line. The only module that prints and picks exit codes.

Exit codes: 0 no difference (or no problem), 1 difference / invariant broken (lint: errors),
2 invalid spec or usage, 3 a target could not be started or reached (or a --workers worker
died), 4 internal error (a bug in mbtspec, or in a worker: one line says so,
``MBTSPEC_DEBUG=1`` shows the traceback), 130 interrupted.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from mbtspec.errors import (
    SIGNALS_BEFORE_RUN,
    MbtspecError,
    TargetError,
    UsageError,
    WorkerError,
    debugging,
    internal_error_message,
)

if TYPE_CHECKING:
    from rich.console import Console

    from mbtspec.compiler import Plan
    from mbtspec.executor import Progress as RunProgress
    from mbtspec.executor import RunResult, Step
    from mbtspec.parallel._workers import WorkersProgress
    from mbtspec.report.data import Redactor
    from mbtspec.spec import Spec

EXIT_OK, EXIT_FAILURE, EXIT_INVALID, EXIT_TARGET, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_INTERNAL = 4  # never 1: CI reads 1 as "a difference was found"

#: The secrets of the spec being run, once known: an internal error's message is redacted too.
_secrets: set[str] = set()

app = typer.Typer(
    name="mbtspec",
    help="Model-based, differential testing of HTTP APIs from a YAML spec over OpenAPI.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Model-based, differential testing of HTTP APIs from a YAML spec over OpenAPI."""


def _consoles(no_color: bool) -> tuple[Console, Console]:
    from rich.console import Console  # imported here: `mbtspec lint` needs no Rich

    plain = {"color_system": None} if no_color else {}  # no colour, no bold: plain text
    out = Console(highlight=False, soft_wrap=False, **plain)  # type: ignore[arg-type]
    err = Console(stderr=True, highlight=False, **plain)  # type: ignore[arg-type]
    return out, err


class Mode(StrEnum):
    """``--mode``: which requests a run sends (Schemathesis' names)."""

    positive = "positive"
    negative = "negative"
    all = "all"


@app.command()
def check(
    spec: Annotated[Path, typer.Argument(help="The spec file (YAML).")],
    seed: Annotated[int | None, typer.Option(help="Random seed (default: run.seed, else "
                                             "random and printed).", min=0)] = None,
    sequences: Annotated[int | None, typer.Option(help="Sequences to run.", min=1)] = None,
    steps: Annotated[int | None, typer.Option(help="Maximum calls per sequence.", min=1)] = None,
    max_time: Annotated[float | None, typer.Option(
        "--max-time", help="Stop starting new sequences after this many seconds.",
        min=0.001)] = None,
    shrink_time: Annotated[float | None, typer.Option(
        "--shrink-time", help="Spend at most this many seconds shrinking a failure "
        "(default: run.shrink_time, else 30).", min=0.001)] = None,
    keep_going: Annotated[bool, typer.Option(
        "--keep-going", help="After a failure, search on for other distinct failures "
        "(until --sequences or --max-time is spent) and report them all.")] = False,
    swarm: Annotated[bool | None, typer.Option(
        "--swarm/--no-swarm", help="Swarm testing: each sequence uses a random subset of the "
        "actions (default: run.swarm, else on).", show_default=False)] = None,
    mode: Annotated[Mode | None, typer.Option(
        "--mode", help="positive: valid requests only (default: run.mode, else positive); "
        "negative: requests that violate the OpenAPI schemas, after boundary values; "
        "all: both.", case_sensitive=False)] = None,
    concurrency: Annotated[int | None, typer.Option(
        "--concurrency", help="Look for races: after a sequential prefix, send N branches "
        "of steps concurrently, and check that one sequential order explains the answers "
        "(default: run.concurrency, else off).", min=2, max=16)] = None,
    workers: Annotated[int, typer.Option(
        "--workers", help="Run the sequences in this many processes, each with targets of "
        "its own (see specs/run.md).", min=1)] = 1,
    shard: Annotated[str | None, typer.Option(
        "--shard", help="Run only part i of n of the run's sequences, e.g. 2/4 (for a CI "
        "matrix; no sequence is in two parts; merge the reports with mbtspec merge-reports). "
        "With --workers N, the part runs in N processes.")] = None,
    junit_xml: Annotated[Path | None, typer.Option(
        "--junit-xml", help="Write a JUnit XML report here.")] = None,
    report_json: Annotated[Path | None, typer.Option(
        "--report-json", help="Write the whole result as JSON here.")] = None,
    html: Annotated[Path | None, typer.Option(
        "--html", help="Write a self-contained HTML report here.")] = None,
    no_database: Annotated[bool, typer.Option(
        "--no-database", help="Neither read nor save failures (.mbtspec/).")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="Plain text output.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print the verdict only.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v",
                                          help="Print each call as it happens.")] = False,
) -> None:
    """Run the spec's actions as random sequences against model and candidate, compare every
    response, and shrink any difference to its shortest sequence."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from mbtspec._check import check as run_check
    from mbtspec.parallel import parse_shard
    from mbtspec.report.data import Redactor
    from mbtspec.report.terminal import (
        render_failures,
        render_step_line,
        render_summary,
        render_warnings,
        verdict_line,
    )

    out, err = _consoles(no_color)
    live = out.is_terminal and not no_color and not quiet and not verbose
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(),
        TextColumn("{task.completed}/{task.total} sequences · {task.fields[calls]} calls · "
                   "{task.fields[failures]} failing"),
        TimeElapsedColumn(), console=out, transient=True, disable=not live,
    )
    task = None
    last = 0.0
    redact = Redactor(())

    def on_plan(plan: Plan) -> None:
        nonlocal task, redact
        redact = Redactor(plan.secrets)
        _secrets.update(plan.secrets)
        task = progress.add_task("checking", total=plan.run.sequences, calls=0, failures=0)

    def on_progress(update: RunProgress | WorkersProgress) -> None:
        nonlocal last
        now = time.monotonic()
        if task is None or now - last < 0.1:
            return
        last = now
        progress.update(task, completed=update.sequences, calls=update.calls,
                        failures=update.failures, description=_doing(update))

    def on_step(step: Step) -> None:
        out.print(render_step_line(step, redact), markup=False, highlight=False,
                  soft_wrap=True)

    _hypothesis_home(no_database)
    failures = None if no_database else Path(".mbtspec") / "failures"
    try:
        part = parse_shard(shard) if shard is not None else None
        if workers > 1:
            from mbtspec.parallel._workers import run_workers

            with progress:
                outcome = run_workers(
                    spec, workers, sequences=sequences, steps=steps, seed=seed,
                    max_time=max_time, shrink_time=shrink_time, keep_going=keep_going or None,
                    swarm=swarm, mode=mode.value if mode is not None else None,
                    concurrency=concurrency,
                    database=None if no_database else Path(".mbtspec/hypothesis"),
                    failures=failures, on_plan=on_plan, on_progress=on_progress, shard=part)
        else:
            with progress:
                outcome = run_check(
                    spec, sequences=sequences, steps=steps, seed=seed, max_time=max_time,
                    shrink_time=shrink_time, keep_going=keep_going or None, swarm=swarm,
                    mode=mode.value if mode is not None else None, concurrency=concurrency,
                    database=None if no_database else Path(".mbtspec/hypothesis"),
                    failures=failures, on_plan=on_plan, on_progress=on_progress,
                    on_step=on_step if verbose else None, shard=part,
                )
    except (MbtspecError, KeyboardInterrupt) as error:
        _exit_for(err, error, spec, "run", redact)
    plan, result = outcome.plan, outcome.result
    command = list(outcome.command)
    verdict = verdict_line(result, plan)
    if outcome.replay_error:
        err.print(f"error: {outcome.replay_error}", style="red", soft_wrap=True, markup=False)
    if not quiet:
        for path, what in outcome.saved:
            err.print(f"saved failure {path}: {what}", soft_wrap=True, markup=False)
        render_warnings(err, plan, result, redact)
        render_failures(out, result, plan, command, redact, outcome.replay_files,
                        outcome.commands)
        render_summary(out, result, plan)
    written = _write_reports(plan, result, redact, command, verdict, outcome.replay_files,
                             outcome.commands, junit_xml=junit_xml, report_json=report_json,
                             html=html, err=err)
    out.print(verdict, style="bold red" if result.failure else "bold green", markup=False,
              soft_wrap=True)
    if result.failure is not None:
        raise typer.Exit(EXIT_FAILURE)
    raise typer.Exit(EXIT_OK if written else EXIT_INVALID)  # a report CI expects is missing


def _doing(update: RunProgress | WorkersProgress) -> str:
    """What the live progress line says the run does: checking, or shrinking a failure (and,
    with --workers, which workers shrink one)."""
    from mbtspec.parallel._workers import WorkersProgress

    if not isinstance(update, WorkersProgress):
        return "shrinking" if update.failures else "checking"
    if not update.shrinking:
        return "checking"
    many = len(update.shrinking) > 1
    return f"shrinking (worker{'s' if many else ''} {', '.join(map(str, update.shrinking))})"


def _exit_for(err: Console, error: BaseException, spec: Path, what: str,
              redact: Redactor | None = None) -> NoReturn:
    """Say what went wrong, and exit with its code: 2 invalid spec or usage, 3 a target (or a
    worker of --workers that died), 4 an internal error in a worker, 130 interrupted."""
    from mbtspec.report.terminal import render_error

    if isinstance(error, WorkerError) and error.details and debugging():
        err.print((redact or (lambda text: text))(error.details), markup=False,
                  highlight=False, soft_wrap=True, end="")
    render_error(err, error, spec, what, redact)
    if isinstance(error, WorkerError) and error.internal:
        raise typer.Exit(EXIT_INTERNAL) from None
    if isinstance(error, (TargetError, WorkerError)):
        raise typer.Exit(EXIT_TARGET) from None
    if isinstance(error, KeyboardInterrupt):
        raise typer.Exit(EXIT_INTERRUPTED) from None
    raise typer.Exit(EXIT_INVALID) from None


def _write_reports(plan: Plan, result: RunResult, redact: Redactor, command: list[str],
                   verdict: str, replay_files: Sequence[Path],
                   commands: Sequence[Sequence[str]], *, junit_xml: Path | None,
                   report_json: Path | None, html: Path | None, err: Console) -> bool:
    """Write the requested reports; False if one could not be written (said on stderr)."""
    import json

    from mbtspec.report.data import printable, run_data
    from mbtspec.report.html import render_html
    from mbtspec.report.junit import render_junit

    writers: list[tuple[Path | None, Callable[[], str]]] = [
        (junit_xml, lambda: render_junit(plan, result, redact=redact, command=command,
                                         replay_files=replay_files, commands=commands)),
        # (printable: lone surrogates and raw control characters become JSON escapes)
        (report_json, lambda: printable(json.dumps(run_data(
            plan, result, redact=redact, command=command, replay_files=replay_files,
            verdict=verdict, commands=commands), indent=2, ensure_ascii=False,
            default=str)) + "\n"),
        (html, lambda: render_html(plan, result, redact=redact, command=command,
                                   verdict=verdict, replay_files=replay_files,
                                   commands=commands)),
    ]
    written = True
    for path, render in writers:
        if path is None:
            continue
        text = redact(render())  # once more, over the whole file: nothing may slip through
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as error:
            err.print(f"error: cannot write {path}: {_why_not_written(path, error)}",
                      style="red", markup=False, soft_wrap=True)
            written = False
    return written


def _why_not_written(path: Path, error: OSError) -> str:
    """The reason a file could not be written, in words: which part of its path is in the
    way when that is the reason."""
    if path.is_dir():
        return "it is a folder; give a file name"
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"{parent} is a file, not a folder"
            break
    return error.strerror or str(error)


@app.command()
def replay(
    file: Annotated[Path, typer.Argument(help="A replay file (.mbtspec/failures/*.yaml).")],
    curl: Annotated[bool, typer.Option("--curl", help="Print a curl script instead.")] = False,
    times: Annotated[int | None, typer.Option(
        "--times", min=1, help="Replay this many times, counting how often the failure "
        "shows (default: 5 for a flaky failure, else 1).")] = None,
    show_secrets: Annotated[bool, typer.Option(
        "--show-secrets", help="With --curl: put secret header values in the script.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="Plain text output.")] = False,
) -> None:
    """Send a failure's calls again, after the spec's reset, and say whether it still shows:
    exit 0 if it is gone, 1 if it still shows, 2 if it cannot be replayed any more."""
    from mbtspec._check import FLAKY_REPLAYS
    from mbtspec.compare import make_judge
    from mbtspec.compiler import compile_plan, secret_values
    from mbtspec.executor.replay import replay_requests
    from mbtspec.report.data import Redactor
    from mbtspec.report.replay_file import read_replay_file
    from mbtspec.report.terminal import render_findings, render_sequence
    from mbtspec.spec import load_spec
    from mbtspec.spec.model import MODES

    out, err = _consoles(no_color)
    redact = Redactor(())
    try:
        record = read_replay_file(file)
        spec = load_spec(record.spec)
        redact = Redactor(secret_values(spec, os.environ))
        _secrets.update(redact.secrets)
        if curl:
            from mbtspec.report.curl import render_curl

            secrets = _target_secrets(spec) if show_secrets else None
            script = render_curl(record, {t.name: t for t in spec.targets}, secrets)
            # (a file saved by an older mbtspec may hold a secret in a form it missed)
            typer.echo(script if show_secrets else redact(script), nl=False)
            raise typer.Exit(EXIT_OK)
        if record.spec_sha256 and record.spec_sha256 != spec.sha256:
            err.print(f"note: {record.spec} changed since this failure was saved; replaying "
                      "its recorded calls (ids and tokens as they were then) with the spec as "
                      "it is now", soft_wrap=True, markup=False)
        saved_mode = record.data.get("mode")
        plan = compile_plan(spec, mode=saved_mode if saved_mode in MODES else None)
        runs = times if times is not None else FLAKY_REPLAYS if record.flaky else 1
        outcome = replay_requests(plan, record.steps, judge=make_judge(plan), times=runs,
                                  until_seen=runs == 1,
                                  rederive=record.fits(plan))
    except (MbtspecError, KeyboardInterrupt) as error:
        _exit_for(err, error, record.spec if "record" in locals() else file, "replayed",
                  redact)
    redact = Redactor(plan.secrets | set(redact.secrets))
    if outcome.status == "unfit":
        err.print(f"cannot replay {file}: {outcome.reason}", style="red", soft_wrap=True,
                  markup=False)
        raise typer.Exit(EXIT_INVALID)
    render_sequence(out, outcome.steps, plan.targets, redact)
    if outcome.status == "reproduced":
        last = outcome.steps[-1]
        render_findings(out, last, redact)
        seen = last.findings[0].kind
        what = record.kind if seen == record.kind else f"{record.kind} (now: a {seen})"
        if outcome.runs == 1:
            shown = f"after {len(outcome.steps)} call(s)"
        elif outcome.seen == outcome.runs:
            shown = f"in all {outcome.runs} replays"
        else:
            shown = f"in {outcome.seen} of {outcome.runs} replays: it is still flaky"
        out.print(f"✗ the {what} still shows {shown}", style="bold red", soft_wrap=True)
        raise typer.Exit(EXIT_FAILURE)
    if record.flaky:  # one that hides now and then: not seeing it proves little
        out.print(f"? the flaky {record.kind} was not seen in {outcome.runs} replay(s); it may "
                  "still be there: replay with --times 20 to be surer", style="bold yellow",
                  soft_wrap=True)
    elif outcome.runs > 1:
        out.print(f"✓ the {record.kind} is gone: not seen in {outcome.runs} replays",
                  style="bold green")
    else:
        out.print(f"✓ the {record.kind} is gone: all {len(outcome.steps)} calls answered alike",
                  style="bold green")
    raise typer.Exit(EXIT_OK)


def _target_secrets(spec: Spec) -> dict[str, dict[str, str]]:
    """Each target's configured headers, with ${env.NAME} read from the environment now."""
    from mbtspec.executor.targets import interpolate

    out: dict[str, dict[str, str]] = {}
    for target in spec.targets:
        values = {}
        for name, template in target.headers:
            try:
                values[name] = interpolate(template, {})
            except KeyError:
                continue
        out[target.name] = values
    return out


class LintFormat(StrEnum):
    text = "text"
    json = "json"
    github = "github"


@app.command()
def lint(
    files: Annotated[list[Path], typer.Argument(help="Spec files to check.")],
    output_format: Annotated[LintFormat, typer.Option(
        "--format", help="text (compiler style), json (a list of problems) or github "
        "(workflow annotations).")] = LintFormat.text,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on warnings too.")] = False,
) -> None:
    """Report every problem of each spec file, without running anything (no user code, no
    network). Exit 0 without errors (warnings allowed unless --strict), 1 with errors."""
    import json

    from mbtspec.report.problems import render_github, render_text
    from mbtspec.spec import lint_spec

    problems = []
    unusable = 0
    for file in files:
        try:
            problems.extend(lint_spec(file))
        except UsageError as error:  # say so, and go on with the other files
            typer.echo(f"error: {error}", err=True)
            unusable += 1
    problems.sort()
    if output_format is LintFormat.json:
        typer.echo(json.dumps([p.as_dict() for p in problems], indent=2, ensure_ascii=False))
    elif output_format is LintFormat.github:
        for line in render_github(problems):
            typer.echo(line)
    else:
        for line in render_text(problems):
            typer.echo(line)
    errors = sum(p.severity == "error" for p in problems)
    failing = errors or (strict and problems)
    if unusable:
        raise typer.Exit(EXIT_INVALID)
    raise typer.Exit(EXIT_FAILURE if failing else EXIT_OK)


@app.command("merge-reports")
def merge_reports(
    reports: Annotated[list[Path], typer.Argument(help="The JSON reports of the shards.")],
    report_json: Annotated[Path | None, typer.Option(
        "--report-json", help="Write the merged report here (default: print it).")] = None,
    junit_xml: Annotated[Path | None, typer.Option(
        "--junit-xml", help="Write a JUnit XML report of the merged run here.")] = None,
) -> None:
    """Merge the JSON reports of a run's shards (--shard i/n) into one report; exit 1 if
    any shard found a failure."""
    import json

    from mbtspec.parallel._merge import merge_reports as merge
    from mbtspec.report.junit import render_report_junit

    out, err = _consoles(True)
    try:
        parsed = []
        for path in reports:
            try:
                parsed.append((path, json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError) as error:
                raise UsageError(f"{path}: cannot read it as JSON: "
                                 f"{getattr(error, 'strerror', None) or error}") from None
        merged = merge(parsed)
    except UsageError as error:
        err.print(f"error: {error}", style="red", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_INVALID) from None
    text = json.dumps(merged, indent=2, ensure_ascii=False) + "\n"
    for target, content in ((report_json, text),
                            (junit_xml, render_report_junit(merged) if junit_xml else "")):
        if target is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
    if report_json is None:
        out.print(text, markup=False, highlight=False, soft_wrap=True, end="")
    else:
        out.print(merged["verdict"], markup=False, soft_wrap=True)
    raise typer.Exit(EXIT_FAILURE if merged["failures"] else EXIT_OK)


@app.command()
def schema() -> None:
    """Print the JSON Schema of spec files (for editors: yaml-language-server, IDEs)."""
    import json

    from mbtspec.spec import spec_schema

    typer.echo(json.dumps(spec_schema(), indent=2))


@app.command()
def init(
    openapi: Annotated[Path, typer.Argument(help="The OpenAPI 3.0/3.1 document (YAML/JSON).")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the spec here (default: print it).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Scaffold a spec from an OpenAPI document: one action per operation, values from its
    schemas, stored ids wired to the operations that take them."""
    from mbtspec.scaffold import scaffold_spec

    if output is not None and output.exists() and not force:
        typer.echo(f"error: {output} exists; choose another name or add --force", err=True)
        raise typer.Exit(EXIT_INVALID)
    try:
        text = scaffold_spec(openapi, output)
    except UsageError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        typer.echo(f"error: cannot write {output}: {_why_not_written(output, error)}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    typer.echo(f"wrote {output}; next: mbtspec lint {output}", err=True)


def _hypothesis_home(no_database: bool) -> None:
    """Keep Hypothesis' own files (e.g. its character tables) out of the user's folder."""
    import atexit
    import shutil
    import tempfile

    from hypothesis.configuration import set_hypothesis_home_dir

    if no_database:
        from mbtspec.executor._process import tidy

        home = tempfile.mkdtemp(prefix="mbtspec-home-")
        atexit.register(shutil.rmtree, home, ignore_errors=True)
        tidy(Path(home))  # removed even if mbtspec is killed (SIGKILL): atexit does not run
        set_hypothesis_home_dir(home)
    else:
        set_hypothesis_home_dir(Path(".mbtspec"))


def _interrupted(signum: int, frame: object) -> None:
    """Ctrl-C or SIGTERM outside a run (a run takes them over, and stops its targets): exit
    130 now. Not KeyboardInterrupt: Click would turn it into "Aborted!" and exit code 1."""
    _ENDING.append(EXIT_INTERRUPTED)
    SIGNALS_BEFORE_RUN.append(signum)
    raise SystemExit(EXIT_INTERRUPTED)


def main() -> None:
    """Entry point of the ``mbtspec`` command."""
    _secrets.clear()
    SIGNALS_BEFORE_RUN.clear()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupted)
    atexit.register(_end)  # (registered first, so it runs last)
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interrupted outside a command
        _ENDING.append(EXIT_INTERRUPTED)
        sys.exit(EXIT_INTERRUPTED)
    except SystemExit as done:
        _ENDING.append(done.code if isinstance(done.code, int) else
                       EXIT_OK if done.code is None else EXIT_FAILURE)
        for signum in (signal.SIGINT, signal.SIGTERM):  # from now on, only noted
            signal.signal(signum, lambda number, frame: _ENDING.append(EXIT_INTERRUPTED))
        raise
    except Exception as error:  # anything else is a bug in mbtspec: say so, in one line
        code = _internal_error(error)
        _ENDING.append(code)
        sys.exit(code)


_ENDING: list[int] = []  # the exit code; then 130 for each signal that came at the end


def _end() -> None:
    """The last exit function: end the process now, with 130 if a signal came at the end.

    Python's own shutdown puts the default signal handlers back before it tears its modules
    down, so that Ctrl-C in those last tens of milliseconds would kill the process by the
    signal (status -2, or -15 for SIGTERM), not exit with 130."""
    if not _ENDING:
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(_ENDING[-1])


def _internal_error(error: Exception) -> int:
    """Print an internal error (redacted), with its traceback when debugging; its exit code."""
    import traceback

    from mbtspec.report.redact import Redactor

    redact = Redactor(_secrets)
    if debugging():
        typer.echo(redact("".join(traceback.format_exception(error))), err=True, nl=False)
    typer.echo(redact(internal_error_message(error)), err=True)
    return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    main()
