"""The cost of judging one step (comparing model and candidate, then the invariants), measured
on the steps of a real run of the bundled example.

The example (examples/employees/spec.yaml, both implementations in-process, its fix switched on
so that every sequence runs to the end) is run once and every step is recorded. Then the
compare stage alone (``iter_differences`` under each action's rules, every difference drawn)
and the whole judge (``make_judge``: compare, invariants, expect) are run over the recorded
steps, ``--repeats`` times each; the median time per step is printed with its range. Times are
CPU times of this process (``time.process_time``): on a busy machine, time spent waiting for
a core is not counted.

``--rules`` adds compare rules to the spec before it is run, to measure what they cost:
``none`` (the example as it is), ``matchers`` (a rule of each kind on the places of the
body, which every step must then follow) and ``accept`` (two accepted differences that never
match, followed for every difference).

``--steps FILE`` keeps the recorded steps in FILE (made by the first run that names it): the
same steps then serve to compare two versions of mbtspec (Hypothesis draws strings from the
constants of the loaded source, so a version with other modules draws other sequences).

Run from the repository root:  python bench/judge_cost.py [--repeats 7] [--rules none]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mbtspec import check  # noqa: E402
from mbtspec.compare import iter_differences, make_judge  # noqa: E402
from mbtspec.compiler import State  # noqa: E402
from mbtspec.executor.records import Step  # noqa: E402

EXAMPLE = REPO / "examples" / "employees"
RULES: dict[str, dict[str, Any]] = {
    "none": {},
    "matchers": {"compare": {"loose_types": ["body.**.employeeNo"],
                             "tolerance": {"body.**.salary": 0.01},
                             "format": {"body.**.createdAt": "date-time"},
                             "present": ["body.**.department"]}},
    "accept": {"accept": [{"place": "body.**.nickname", "reason": "never seen"},
                          {"place": "status", "model": 418, "candidate": 200,
                           "reason": "never seen either"}]},
}


def example_spec(rules: str) -> str:
    data = yaml.safe_load((EXAMPLE / "spec.yaml").read_text())
    data["openapi"] = str(EXAMPLE / "openapi.yaml")
    data["targets"] = {"model": {"app": "examples.employees.memory:app"},
                       "candidate": {"app": "examples.employees.sqlite:app"}}
    data.pop("run", None)
    for key, value in RULES[rules].items():
        if key == "compare":
            data["compare"] = {**data["compare"], **value}
        else:
            data[key] = value
    return yaml.safe_dump(data, sort_keys=False)


def record(rules: str, sequences: int) -> tuple[Any, list[Step]]:
    steps: list[Step] = []
    with tempfile.TemporaryDirectory() as folder:
        spec = Path(folder) / "spec.yaml"
        spec.write_text(example_spec(rules))
        outcome = check(spec, sequences=sequences, steps=30, seed=7, database=None,
                        on_step=steps.append)
    assert outcome.result.failure is None, "the benchmark spec must pass"
    return outcome.plan, steps


def per_step(seconds: float, steps: int) -> float:
    return seconds / steps * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--sequences", type=int, default=60)
    parser.add_argument("--rules", choices=sorted(RULES), default="none")
    parser.add_argument("--steps", type=Path, help="keep the recorded steps in this file")
    args = parser.parse_args()
    os.environ["EMPLOYEES_CASE_SENSITIVE_LIKE"] = "1"
    plan, steps = record(args.rules, 1 if args.steps and args.steps.exists()
                         else args.sequences)
    if args.steps is not None:
        if args.steps.exists():
            steps = pickle.loads(args.steps.read_bytes())  # (a file this script wrote)
        else:
            args.steps.write_bytes(pickle.dumps([dataclasses.replace(step, requests=tuple(
                (name, dataclasses.replace(r, body=None) if r.content is None else r)
                for name, r in step.requests)) for step in steps]))  # (no NO_BODY: local)
    actions = {a.name: a for a in plan.actions}
    judge = make_judge(plan)
    state = State(plan.spec.variables)
    compare_times, judge_times = [], []
    for _ in range(args.repeats):
        started = time.process_time()
        for step in steps:
            for _difference in iter_differences(step.response("model"),
                                                step.response("candidate"),
                                                actions[step.action].action.compare, set()):
                pass
        compare_times.append(per_step(time.process_time() - started, len(steps)))
        started = time.process_time()
        for step in steps:
            judge(step, actions[step.action], state)
        judge_times.append(per_step(time.process_time() - started, len(steps)))
    for name, times in (("compare", compare_times), ("judge", judge_times)):
        print(f"{name:8} {statistics.median(times):7.1f} µs/step  (range {min(times):.1f}-"
              f"{max(times):.1f}; {len(steps)} steps, {args.repeats} repeats, rules: "
              f"{args.rules})")


if __name__ == "__main__":
    main()
