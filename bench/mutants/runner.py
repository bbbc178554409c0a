"""Run ``mbtspec.check`` on the lending library with one seeded defect, and measure the result.

The candidate of ``spec.yaml`` is the correct service; ``spec_for`` writes a copy of the spec
whose candidate carries one defect, either in-process (``bench.mutants.service:defect_<name>``)
or as a real uvicorn server (``MUTANT=<name>``). The current directory must be the repository
root, so that the apps can be imported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from bench.mutants.defects import BY_NAME
from mbtspec import check
from mbtspec.executor import Progress

SPEC = Path(__file__).with_name("spec.yaml")
_CANDIDATE = '  candidate: {app: "bench.mutants.service:correct"}\n'
_OPENAPI = "openapi: openapi.yaml\n"
_SERVER = """\
  candidate:
    command: ["${python}", -m, uvicorn, --factory, "bench.mutants.service:from_env",
              --port, "${port}", --log-level, warning]
    env: {MUTANT: "%s"}
    ready: {path: /books, status: 200, timeout: 20}
"""


@dataclass(frozen=True)
class Run:
    """One check of one defect with one seed."""

    defect: str
    seed: int
    found: bool
    kind: str  # the failure's kind (difference, invariant, expect), "" when nothing was found
    find_time: float | None  # seconds until the first failing step
    total_time: float  # seconds until the check returned: found, shrunk and replayed
    length: int | None  # calls in the reported sequence
    last_action: str | None
    flaky: bool
    cut_short: bool  # shrinking stopped early
    sequences: int  # sequences the engine ran, shrinking included
    actions: tuple[str, ...] = ()  # the reported sequence, action by action

    @property
    def expected_end(self) -> bool:
        """The reported sequence ends with an action that can end the known minimal one."""
        return self.last_action in BY_NAME[self.defect].last


def spec_for(defect: str | None, folder: Path, *, server: bool = False) -> Path:
    """A copy of ``spec.yaml`` in ``folder`` whose candidate carries ``defect`` (None: none)."""
    text = SPEC.read_text(encoding="utf-8")
    if _CANDIDATE not in text or _OPENAPI not in text:
        raise RuntimeError(f"{SPEC}: the candidate or openapi line changed; update runner.py")
    if server:
        candidate = _SERVER % (defect or "")
    elif defect is not None:
        candidate = _CANDIDATE.replace(":correct", f":defect_{defect}")
    else:
        candidate = _CANDIDATE
    text = text.replace(_CANDIDATE, candidate).replace(
        _OPENAPI, f"openapi: {SPEC.with_name('openapi.yaml').as_posix()}\n")
    path = folder / f"mutant-{defect or 'none'}{'-server' if server else ''}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def run_one(defect: str, seed: int, folder: Path, *, max_time: float | None = None,
            sequences: int | None = None, steps: int | None = None,
            server: bool = False, swarm: bool | None = None, mode: str | None = None) -> Run:
    """Check the spec against the candidate carrying ``defect``, with ``seed``, no database
    (``swarm`` and ``mode``: None for the spec's settings)."""
    spec = spec_for(defect, folder, server=server)
    started = time.perf_counter()
    first: list[float] = []

    def on_progress(update: Progress) -> None:
        if update.failures and not first:
            first.append(time.perf_counter() - started)

    outcome = check(spec, seed=seed, sequences=sequences, steps=steps, max_time=max_time,
                    swarm=swarm, mode=mode, database=None, on_progress=on_progress)
    total = time.perf_counter() - started
    failure = outcome.result.failure
    if failure is None:
        return Run(defect, seed, False, "", None, total, None, None, False, False,
                   outcome.result.stats.sequences)
    return Run(defect, seed, True, failure.kind, first[0] if first else None, total,
               len(failure.steps), failure.steps[-1].action if failure.steps else None,
               failure.flaky, failure.cut_short, outcome.result.stats.sequences,
               tuple(step.action for step in failure.steps))
