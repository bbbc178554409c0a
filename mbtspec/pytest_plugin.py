"""The pytest plugin: each spec file is a test, run like ``mbtspec check`` (a thin shell).

pytest collects files named like the ``mbtspec_files`` ini patterns (default
``*.mbtspec.yaml`` and ``mbtspec.yaml``, or ``.yml``), and any spec file named on its command
line. Each
becomes one test item, ``<file>::check`` (with ``--mbtspec-shards N``, N items
``<file>::check[shard-i-of-N]``, the parts of its run, which pytest-xdist spreads over its
workers as it spreads spec files), that passes when ``check`` finds no difference and no
broken invariant; its failure shows the same report as the command line (minimal sequence,
both responses, differences, the reproduce and replay commands), for every distinct failure
with keep-going (``run.keep_going`` or ``--mbtspec-keep-going``). An invalid spec fails with its
problems at file:line:column; a target that cannot start fails with its log tail; a bug in
mbtspec fails with one line that says so (its traceback with ``MBTSPEC_DEBUG=1``), never as
pytest's INTERNALERROR.

Installed with mbtspec, through the ``pytest11`` entry point; ``-p no:mbtspec`` turns it off.
"""

from __future__ import annotations

import io
import shlex
from collections.abc import Callable, Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from rich.console import Console

    from mbtspec._check import CheckResult
    from mbtspec.compiler import Plan

#: The names the pre-commit hook lints too.
DEFAULT_PATTERNS = ["*.mbtspec.yaml", "*.mbtspec.yml", "mbtspec.yaml", "mbtspec.yml"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mbtspec", "mbtspec (spec files as tests)")
    group.addoption("--mbtspec-seed", type=int, metavar="N",
                    help="random seed (default: the spec's run.seed, else random and printed)")
    group.addoption("--mbtspec-sequences", type=int, metavar="N", help="sequences to run")
    group.addoption("--mbtspec-steps", type=int, metavar="N",
                    help="maximum calls per sequence")
    group.addoption("--mbtspec-max-time", type=float, metavar="SECONDS",
                    help="stop starting new sequences after this many seconds")
    group.addoption("--mbtspec-keep-going", action="store_true",
                    help="after a failure, search on for other distinct failures and report "
                         "them all (as run.keep_going)")
    group.addoption("--mbtspec-no-database", action="store_true",
                    help="neither read nor save failures (.mbtspec/)")
    group.addoption("--mbtspec-shards", type=int, metavar="N",
                    help="split each spec file into N test items, each a part of its run's "
                         "sequences (as mbtspec check --shard i/N): pytest-xdist spreads them")
    parser.addini("mbtspec_files", type="args", default=DEFAULT_PATTERNS,
                  help="glob patterns of the spec files to collect as tests")


def pytest_configure(config: pytest.Config) -> None:
    for name in ("sequences", "steps", "max_time"):
        value = config.getoption(f"mbtspec_{name}")
        if value is not None and value <= 0:
            raise pytest.UsageError(f"--mbtspec-{name.replace('_', '-')} must be more than 0, "
                                    f"not {value}")
    seed = config.getoption("mbtspec_seed")
    if seed is not None and seed < 0:
        raise pytest.UsageError(f"--mbtspec-seed must be 0 or more, not {seed}")
    shards = config.getoption("mbtspec_shards")
    if shards is not None and shards < 1:
        raise pytest.UsageError(f"--mbtspec-shards must be 1 or more, not {shards}")


def _run_seed(config: pytest.Config) -> int:
    """The seed of a sharded run without one (no --mbtspec-seed, no run.seed): the same in
    every pytest-xdist worker (from the test run's id, which they share), else one per
    session; all shards of a spec file must be parts of the same run."""
    import hashlib
    import random

    workerinput = getattr(config, "workerinput", None)
    if workerinput and workerinput.get("testrunuid"):
        digest = hashlib.sha256(str(workerinput["testrunuid"]).encode()).digest()
        return int.from_bytes(digest[:4], "big")
    if not hasattr(config, "_mbtspec_seed"):
        config._mbtspec_seed = random.randrange(2**32)  # type: ignore[attr-defined]
    seed: int = config._mbtspec_seed  # type: ignore[attr-defined]
    return seed


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> SpecFile | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    patterns = parent.config.getini("mbtspec_files")
    if any(fnmatch(file_path.name, pattern) for pattern in patterns) or (
            parent.session.isinitpath(file_path) and _is_spec(file_path)):
        spec_file: SpecFile = SpecFile.from_parent(parent, path=file_path)
        return spec_file
    return None


def _is_spec(path: Path) -> bool:
    """Does a YAML file named on the command line look like a spec (``version`` and
    ``actions`` at its top level)? Other YAML files are left to other plugins."""
    from mbtspec.spec._files import MAX_SPEC_BYTES, FileReadError, read_text

    try:  # never a device or a FIFO named on the command line: they would never end
        text = read_text(path, MAX_SPEC_BYTES)
    except FileReadError:
        return False
    lines = text.splitlines()
    return any(line.startswith("version:") for line in lines) and any(
        line.startswith("actions:") for line in lines)


class SpecFile(pytest.File):
    """A spec file: one test, ``check``; with ``--mbtspec-shards N``, N tests
    ``check[shard-i-of-N]``, each a part of the run (pytest-xdist may run them at once)."""

    def collect(self) -> Iterator[SpecItem]:
        shards = self.config.getoption("mbtspec_shards") or 1
        if shards == 1:
            yield SpecItem.from_parent(self, name="check")
            return
        for index in range(1, shards + 1):
            item = SpecItem.from_parent(self, name=f"check[shard-{index}-of-{shards}]")
            item.shard = (index, shards)
            yield item


class CheckFailed(Exception):
    """``check`` found a difference, a broken invariant or a failed expectation (carries the
    outcome)."""

    def __init__(self, outcome: CheckResult) -> None:
        super().__init__("a difference, a broken invariant or a failed expectation was found")
        self.outcome = outcome


class SpecItem(pytest.Item):
    """Runs ``check`` on the spec file (or one part of its run), with pytest's options."""

    shard: tuple[int, int] | None = None

    def runtest(self) -> None:
        from mbtspec._check import check
        from mbtspec.parallel import Shard

        options = self.config.option
        no_database = bool(options.mbtspec_no_database)
        seed = options.mbtspec_seed
        if self.shard is not None and seed is None:
            from mbtspec.spec import load_spec

            seed = load_spec(self.path).run.seed
            seed = _run_seed(self.config) if seed is None else seed
        outcome = check(
            self.path, sequences=options.mbtspec_sequences, steps=options.mbtspec_steps,
            seed=seed, max_time=options.mbtspec_max_time,
            shard=Shard(*self.shard) if self.shard is not None else None,
            keep_going=True if options.mbtspec_keep_going else None,
            database=None if no_database else Path(".mbtspec/hypothesis"),
            failures=None if no_database else Path(".mbtspec") / "failures",
            on_plan=self._know_secrets,
        )
        result = outcome.result
        self.add_report_section("call", "mbtspec", _render(outcome, failure=False))
        if result.failure is not None:
            raise CheckFailed(outcome)

    secrets: frozenset[str] = frozenset()  # of the spec, once compiled: errors are redacted

    def _know_secrets(self, plan: Plan) -> None:
        self.secrets = plan.secrets

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str | Any:
        from mbtspec.errors import MbtspecError, debugging, internal_error_message
        from mbtspec.report.redact import Redactor
        from mbtspec.report.terminal import render_error

        error = excinfo.value
        redact = Redactor(self.secrets)
        try:
            if isinstance(error, CheckFailed):
                options = self.config.option
                again = [f"pytest {shlex.quote(self.nodeid)}",
                         f"--mbtspec-seed {error.outcome.result.seed}"]
                again += [f"--mbtspec-{name} {getattr(options, f'mbtspec_{name}')}"
                          for name in ("sequences", "steps")
                          if getattr(options, f"mbtspec_{name}") is not None]
                again += ["--mbtspec-keep-going"] if options.mbtspec_keep_going else []
                again += ([f"--mbtspec-shards {self.shard[1]}"] if self.shard is not None
                          else [])
                return (_render(error.outcome, failure=True)
                        + f"In pytest: {' '.join(again)}\n")
            if isinstance(error, MbtspecError):
                return _text(lambda console: render_error(console, error, self.path, "run",
                                                          redact))
        except Exception as failed:  # a bug while rendering: still a failure, said so
            error = failed
        if isinstance(error, KeyboardInterrupt | pytest.fail.Exception):
            return super().repr_failure(excinfo)
        line = redact(internal_error_message(error))
        if debugging():
            return redact(str(super().repr_failure(excinfo))) + "\n" + line
        return line

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"mbtspec check {self.path.name}"


def _render(outcome: CheckResult, *, failure: bool) -> str:
    """The command line's report as plain text: the failure, or the run's summary."""
    from mbtspec.report.data import Redactor
    from mbtspec.report.terminal import (
        render_failures,
        render_summary,
        render_warnings,
        verdict_line,
    )

    plan, result = outcome.plan, outcome.result
    redact = Redactor(plan.secrets)

    def write(console: Console) -> None:
        if outcome.replay_error:
            console.print(f"error: {outcome.replay_error}", markup=False, soft_wrap=True)
        if failure and result.failure is not None:
            render_failures(console, result, plan, list(outcome.command), redact,
                            outcome.replay_files)
        else:
            render_warnings(console, plan, result, redact)
            render_summary(console, result, plan)
        console.print(verdict_line(result, plan), soft_wrap=True, markup=False)

    return _text(write)


def _text(write: Callable[[Console], None]) -> str:
    """What ``write`` prints, as plain text."""
    from rich.console import Console

    buffer = io.StringIO()
    write(Console(file=buffer, width=120, color_system=None, highlight=False,
                  soft_wrap=False))
    return buffer.getvalue()
