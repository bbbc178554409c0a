"""Command line. The only module that prints and picks exit codes.

Exit codes: 0 no difference (or no problem), 1 difference / invariant broken, 2 invalid spec or
usage, 3 a target could not be started or reached, 130 interrupted.
"""

from __future__ import annotations

import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mbtspec.errors import RunError, SpecError, TargetError, UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from mbtspec.compiler import Plan
    from mbtspec.executor import Progress as RunProgress

EXIT_OK, EXIT_FAILURE, EXIT_INVALID, EXIT_TARGET, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

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

    out = Console(no_color=no_color or None, highlight=False, soft_wrap=False)
    err = Console(stderr=True, no_color=no_color or None, highlight=False)
    return out, err


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
    no_database: Annotated[bool, typer.Option(
        "--no-database", help="Do not read or save failures in .mbtspec/.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="Plain text output.")] = False,
) -> None:
    """Run the spec's actions as random sequences against model and candidate, compare every
    response, and shrink any difference to its shortest sequence."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from mbtspec._check import check as run_check
    from mbtspec.report.terminal import (
        Redactor,
        render_failure,
        render_problems,
        render_summary,
        verdict_line,
    )

    out, err = _consoles(no_color)
    live = out.is_terminal and not no_color
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(),
        TextColumn("{task.completed}/{task.total} sequences · {task.fields[calls]} calls · "
                   "{task.fields[failures]} failing"),
        TimeElapsedColumn(), console=out, transient=True, disable=not live,
    )
    task = None
    last = 0.0

    def on_plan(plan: Plan) -> None:
        nonlocal task
        task = progress.add_task("checking", total=plan.run.sequences, calls=0, failures=0)

    def on_progress(update: RunProgress) -> None:
        nonlocal last
        now = time.monotonic()
        if task is None or now - last < 0.1:
            return
        last = now
        progress.update(task, completed=update.sequences, calls=update.calls,
                        failures=update.failures)

    _hypothesis_home(no_database)
    try:
        with progress:
            outcome = run_check(
                spec, sequences=sequences, steps=steps, seed=seed, max_time=max_time,
                database=None if no_database else Path(".mbtspec/hypothesis"),
                on_plan=on_plan, on_progress=on_progress,
            )
    except SpecError as error:
        render_problems(err, error.problems)
        err.print(f"{spec}: invalid spec ({len(error.problems)} problem"
                  f"{'s' if len(error.problems) != 1 else ''}); nothing was run")
        raise typer.Exit(EXIT_INVALID) from None
    except (UsageError, RunError) as error:
        err.print(f"error: {error}", style="red", soft_wrap=True)
        raise typer.Exit(EXIT_INVALID) from None
    except TargetError as error:
        err.print(f"error: {error}", style="red", soft_wrap=True)
        if error.log_tail:
            where = f" ({error.log_path})" if error.log_path else ""
            err.print(f"last lines of its output{where}:")
            for line in error.log_tail:
                err.print(f"  | {line}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_TARGET) from None
    except KeyboardInterrupt:
        err.print("interrupted; every target was stopped")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    plan, result = outcome.plan, outcome.result
    redact = Redactor(plan.secrets)
    for warning in (*plan.notes, *result.warnings):
        err.print(f"warning: {warning}", style="yellow", soft_wrap=True)
    if result.failure is not None:
        command = ["mbtspec", "check", str(spec), "--seed", str(result.seed)]
        if sequences is not None:
            command += ["--sequences", str(sequences)]
        if steps is not None:
            command += ["--steps", str(steps)]
        render_failure(out, result.failure, plan, result.seed, command, redact)
        out.print()
    render_summary(out, result, plan)
    out.print(verdict_line(result, plan), style="bold red" if result.failure else "bold green")
    raise typer.Exit(EXIT_FAILURE if result.failure is not None else EXIT_OK)


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
    for file in files:
        try:
            problems.extend(lint_spec(file))
        except UsageError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(EXIT_INVALID) from None
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
    raise typer.Exit(EXIT_FAILURE if failing else EXIT_OK)


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
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}; next: mbtspec lint {output}", err=True)


def _hypothesis_home(no_database: bool) -> None:
    """Keep Hypothesis' own files (e.g. its character tables) out of the user's folder."""
    import atexit
    import shutil
    import tempfile

    from hypothesis.configuration import set_hypothesis_home_dir

    if no_database:
        home = tempfile.mkdtemp(prefix="mbtspec-home-")
        atexit.register(shutil.rmtree, home, ignore_errors=True)
        set_hypothesis_home_dir(home)
    else:
        set_hypothesis_home_dir(Path(".mbtspec"))


def main() -> None:
    """Entry point of the ``mbtspec`` command."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interrupted outside a command
        sys.exit(EXIT_INTERRUPTED)


if __name__ == "__main__":  # pragma: no cover
    main()
