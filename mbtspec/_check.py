"""The whole pipeline for one spec: load -> compile -> run (with the compare stage as judge)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mbtspec.compare import make_judge
from mbtspec.compiler import Plan, compile_plan
from mbtspec.executor import Progress, RunResult, run_plan
from mbtspec.spec import load_spec


@dataclass(frozen=True)
class CheckResult:
    plan: Plan
    result: RunResult


def check(
    spec_path: str | Path,
    *,
    sequences: int | None = None,
    steps: int | None = None,
    seed: int | None = None,
    max_time: float | None = None,
    database: Path | None = Path(".mbtspec/hypothesis"),
    on_plan: Callable[[Plan], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> CheckResult:
    """Load, compile and run the spec at ``spec_path``.

    Raises ``SpecError`` (invalid spec), ``UsageError`` or ``TargetError``.
    """
    spec = load_spec(spec_path)
    plan = compile_plan(spec, sequences=sequences, steps=steps, seed=seed, max_time=max_time)
    if on_plan is not None:
        on_plan(plan)
    result = run_plan(plan, judge=make_judge(plan), on_progress=on_progress, database=database)
    return CheckResult(plan, result)
