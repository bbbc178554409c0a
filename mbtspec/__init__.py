"""mbtspec: model-based, differential testing of HTTP APIs from a YAML spec over OpenAPI.

The pipeline, one package per stage: ``load_spec`` -> ``compile_plan`` -> ``run_plan`` (with
``make_judge`` comparing each step) -> ``mbtspec.report``. ``check`` runs all of it.
"""

from mbtspec._check import CheckResult, check
from mbtspec.compare import make_judge
from mbtspec.compiler import Plan, compile_plan
from mbtspec.errors import MbtspecError, SpecError, TargetError, UsageError
from mbtspec.executor import Failure, RunResult, run_plan
from mbtspec.spec import Problem, Spec, load_spec

__all__ = [
    "CheckResult",
    "Failure",
    "MbtspecError",
    "Plan",
    "Problem",
    "RunResult",
    "Spec",
    "SpecError",
    "TargetError",
    "UsageError",
    "check",
    "compile_plan",
    "load_spec",
    "make_judge",
    "run_plan",
]
__version__ = "0.1.0"
