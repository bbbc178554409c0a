"""mbtspec: model-based, differential testing of HTTP APIs from a YAML spec over OpenAPI.

The pipeline, one package per stage: ``load_spec`` -> ``compile_plan`` -> ``run_plan`` (with
``make_judge`` comparing each step) -> ``mbtspec.report``. ``check`` runs all of it.

Names are imported on first use, so that ``mbtspec lint`` (stage 1 only) starts fast and never
loads Hypothesis, httpx or the executor.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mbtspec._check import CheckResult, check
    from mbtspec.compare import make_judge
    from mbtspec.compiler import Plan, compile_plan
    from mbtspec.errors import MbtspecError, SpecError, TargetError, UsageError
    from mbtspec.executor import Failure, RunResult, run_plan
    from mbtspec.spec import Problem, Spec, lint_spec, load_spec

_WHERE = {
    "CheckResult": "mbtspec._check",
    "Failure": "mbtspec.executor",
    "MbtspecError": "mbtspec.errors",
    "Plan": "mbtspec.compiler",
    "Problem": "mbtspec.spec",
    "RunResult": "mbtspec.executor",
    "Spec": "mbtspec.spec",
    "SpecError": "mbtspec.errors",
    "TargetError": "mbtspec.errors",
    "UsageError": "mbtspec.errors",
    "check": "mbtspec._check",
    "compile_plan": "mbtspec.compiler",
    "lint_spec": "mbtspec.spec",
    "load_spec": "mbtspec.spec",
    "make_judge": "mbtspec.compare",
    "run_plan": "mbtspec.executor",
}
__all__ = [
    "CheckResult", "Failure", "MbtspecError", "Plan", "Problem", "RunResult", "Spec",
    "SpecError", "TargetError", "UsageError", "check", "compile_plan", "lint_spec", "load_spec",
    "make_judge", "run_plan",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'mbtspec' has no attribute {name!r}")
