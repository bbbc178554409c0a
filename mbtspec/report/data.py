"""A run as plain data: what the JSON report, the replay file and the HTML page are made of.

Secrets (values of ``${env.NAME}`` in headers) are redacted everywhere with ``***``.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

from mbtspec.compare import ABSENT
from mbtspec.compiler import NO_BODY, Plan
from mbtspec.executor.records import REDACTED, Failure, Request, Response, RunResult, Step

REPORT_VERSION = 1


class Redactor:
    """Replaces secret values wherever text is shown or saved."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = sorted((s for s in secrets if s), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def data(self, value: Any) -> Any:
        """``value`` with every string redacted (dict keys included)."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {self(str(k)): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value


def _plain(value: Any) -> Any:
    if value is ABSENT:
        return "<absent>"
    if value is NO_BODY:
        return None
    return value


def request_data(request: Request, redact: Redactor) -> dict[str, Any]:
    data: dict[str, Any] = {"method": request.method, "path": request.path,
                            "url": request.url, "headers": dict(request.headers)}
    if request.content is not None:
        data["body"] = request.body
        if request.media_type:
            data["media_type"] = request.media_type
    return dict(redact.data(data))


def response_data(response: Response, redact: Redactor) -> dict[str, Any]:
    data: dict[str, Any] = {"status": response.status, "headers": dict(response.headers),
                            "body": response.body, "elapsed_ms": response.elapsed_ms}
    if response.error:
        data["error"] = response.error
    return dict(redact.data(data))


def step_data(step: Step, redact: Redactor) -> dict[str, Any]:
    data: dict[str, Any] = {
        "step": step.index,
        "action": step.action,
        "requests": {name: request_data(r, redact) for name, r in step.requests},
        "responses": {name: response_data(r, redact) for name, r in step.responses},
    }
    if step.findings:
        data["findings"] = [
            {"kind": f.kind, "title": redact(f.title),
             "details": [redact(d) for d in f.details],
             "differences": [{"path": d.path, "model": redact.data(_plain(d.model)),
                              "candidate": redact.data(_plain(d.candidate)),
                              **({"note": d.note} if d.note else {})}
                             for d in f.differences],
             **({"target": f.target} if f.target else {})}
            for f in step.findings
        ]
    return data


def failure_data(failure: Failure, redact: Redactor) -> dict[str, Any]:
    return {
        "kind": failure.kind,
        "flaky": failure.flaky,
        "note": failure.note,
        "minimal": failure.minimal,
        "calls": len(failure.steps),
        "steps": [step_data(s, redact) for s in failure.steps],
    }


def documented_statuses_never_seen(plan: Plan, result: RunResult) -> dict[str, list[str]]:
    """Per operation the actions ran: documented status codes no target answered."""
    seen: dict[str, set[str]] = {}
    for action in plan.actions:
        op = action.action.operation
        stats = result.stats.actions.get(action.name)
        if op is None or stats is None:
            continue
        codes = seen.setdefault(op.key, set())
        for counts in stats.statuses.values():
            codes.update(counts)
    out: dict[str, list[str]] = {}
    for action in plan.actions:
        op = action.action.operation
        if op is None or op.key not in seen or op.key in out:
            continue
        documented = [code for code, _ in op.responses if code.isdigit()]
        missing = [code for code in documented if code not in seen[op.key]]
        if missing:
            out[op.key] = missing
    return out


def stats_data(plan: Plan, result: RunResult) -> dict[str, Any]:
    stats = result.stats
    lengths = stats.lengths or [0]
    covered = sorted({a.action.operation.key for a in plan.actions
                      if a.action.operation is not None and stats.actions.get(a.name)})
    return {
        "sequences": stats.sequences,
        "sequences_while_shrinking": stats.shrinking,
        "steps": stats.steps,
        "requests": stats.calls,
        "sequence_lengths": {"min": min(lengths), "max": max(lengths),
                             "mean": round(statistics.fmean(lengths), 2)},
        "actions": {
            a.name: {
                "runs": stats.actions[a.name].runs if a.name in stats.actions else 0,
                "statuses": {t: dict(sorted(c.items())) for t, c in
                             (stats.actions[a.name].statuses.items()
                              if a.name in stats.actions else ())},
            }
            for a in plan.actions
        },
        "time_ms": {t: round(stats.time_ms.get(t, 0.0), 3) for t in plan.targets},
        "mean_latency_ms": {t: round(stats.time_ms.get(t, 0.0) / max(stats.steps, 1), 3)
                            for t in plan.targets},
        "operations": {"covered": covered, "never_exercised": list(result.unreached)},
        "documented_statuses_never_seen": documented_statuses_never_seen(plan, result),
    }


def run_data(plan: Plan, result: RunResult, *, redact: Redactor,
             command: list[str] | None = None, replay_file: str | None = None,
             verdict: str | None = None) -> dict[str, Any]:
    """Everything the terminal shows, as data (the ``--report-json`` document)."""
    failure = result.failure
    outcome = "pass" if failure is None else "flaky" if failure.flaky else failure.kind
    data: dict[str, Any] = {
        "mbtspec_report": REPORT_VERSION,
        "spec": str(plan.spec.path),
        "spec_sha256": plan.spec.sha256,
        "seed": result.seed,
        "outcome": outcome,
        "elapsed_s": round(result.elapsed, 3),
        "stopped": result.stopped or None,
        "targets": list(plan.targets),
        "warnings": [redact(w) for w in (*plan.notes, *result.warnings)],
        "stats": stats_data(plan, result),
        "failure": None,
    }
    if verdict is not None:
        data["verdict"] = verdict
    if failure is not None:
        data["failure"] = {**failure_data(failure, redact),
                           "reproduce": command, "replay_file": replay_file}
    return data
