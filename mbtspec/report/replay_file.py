"""Replay files: a failure's minimal sequence as concrete calls, in readable YAML.

Written by ``mbtspec check`` on a failure (``.mbtspec/failures/<spec>-<hash>.yaml``), read by
``mbtspec replay`` and by later checks of the same spec. For each step: the action, the exact
request each target received (per-target values resolved, secrets as ``***``), both responses,
and what was found. A response body longer than ``SAVED_BODY`` characters of JSON is saved as
the start of its JSON text, with a ``body_note``: the file must stay readable, and replaying
only needs the requests, which are saved whole.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mbtspec.compiler import NO_BODY, InputChange, Plan
from mbtspec.compiler._payloads import from_data
from mbtspec.errors import UsageError
from mbtspec.executor.records import Failure, Step
from mbtspec.executor.replay import RecordedRequest, RecordedStep
from mbtspec.report._draws import draws_data, draws_from_data
from mbtspec.report.data import SAVED_BODY, Redactor, step_data

FORMAT = 1
FOLDER = Path(".mbtspec") / "failures"


@dataclass(frozen=True)
class ReplayRecord:
    """A replay file, read back."""

    path: Path
    spec: Path
    spec_sha256: str
    seed: int | None
    kind: str
    steps: tuple[RecordedStep, ...]
    data: dict[str, Any]
    flaky: bool = False  # it did not show every time it ran when it was saved

    def fits(self, plan: Plan) -> bool:
        """Were the draws saved for this spec, as ``plan`` compiles it? (Then a replay draws
        the steps again from them; else it resends the recorded requests.)"""
        return self.spec_sha256 == plan.spec.sha256 and self.data.get(
            "mode", "positive") == plan.run.mode


def replay_path(plan: Plan, failure: Failure, folder: Path = FOLDER,
                redact: Redactor | None = None) -> Path:
    """``<folder>/<spec name>-<short hash of the calls>.yaml``: one file per distinct failure.
    (The hash is of the redacted calls: a short secret could be found again from a hash.)"""
    redact = redact or Redactor(())
    calls = json.dumps([[s.action, [redact(r.path) for _, r in s.requests]]
                        for s in failure.steps])
    digest = hashlib.sha256(f"{plan.spec.sha256}{calls}".encode()).hexdigest()[:10]
    return folder / f"{plan.spec.path.stem}-{digest}.yaml"


def write_replay_file(plan: Plan, failure: Failure, *, seed: int, command: list[str],
                      redact: Redactor, folder: Path = FOLDER) -> Path:
    path = replay_path(plan, failure, folder, redact)
    data = {
        "mbtspec_replay": FORMAT,
        "spec": str(plan.spec.path),
        "spec_absolute": str(plan.spec.path.resolve()),
        "spec_sha256": plan.spec.sha256,
        "seed": seed,
        "kind": failure.kind,
        "flaky": failure.flaky,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "reproduce": shlex.join(command),
        "targets": list(plan.targets),
        "mode": plan.run.mode,  # (the draws fit a plan compiled for this mode)
        "steps": [_saved_step(step, redact) for step in failure.steps],
    }
    header = (
        "# mbtspec replay file: the shortest sequence of calls that shows a failure.\n"
        f"# Run the calls again:      mbtspec replay {path}\n"
        f"# As a curl script:         mbtspec replay {path} --curl\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True,
                                            width=100), encoding="utf-8")
    return path


def _saved_step(step: Step, redact: Redactor) -> dict[str, Any]:
    """A step as the file keeps it: what was sent and answered, and (when they can be
    written) its draws, from which a replay draws the step again (see ``_draws``)."""
    data = step_data(step, redact, body_limit=SAVED_BODY)
    draws = draws_data(step.draws, redact) if step.draws else None
    if draws is not None:
        data["origin"] = step.origin
        data["draws"] = draws
    return data


def read_replay_file(path: Path) -> ReplayRecord:
    """Read a replay file; ``UsageError`` saying what is wrong with an unusable one."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such replay file") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise UsageError(f"{path}: cannot read it as a replay file ({err})") from None
    if not isinstance(data, dict) or data.get("mbtspec_replay") != FORMAT:
        raise UsageError(f"{path}: not an mbtspec replay file (no 'mbtspec_replay: {FORMAT}')")
    try:
        steps = tuple(_step(s) for s in data["steps"])
        if not steps:
            raise UsageError(f"{path}: the replay file has no steps")
        spec = Path(data["spec"])
        if not spec.exists() and Path(data.get("spec_absolute", "")).exists():
            spec = Path(data["spec_absolute"])
        return ReplayRecord(path, spec, str(data.get("spec_sha256", "")), data.get("seed"),
                            str(data.get("kind", "difference")), steps, data,
                            data.get("flaky") is True)
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        raise UsageError(f"{path}: a replay file needs 'spec' and 'steps' with 'action' and "
                         f"'requests' for each step (missing {err})") from None


def _step(data: dict[str, Any]) -> RecordedStep:
    requests = {}
    for target, request in data["requests"].items():
        requests[target] = RecordedRequest(
            method=str(request["method"]),
            path=str(request["path"]),
            headers=tuple((str(k), str(v)) for k, v in (request.get("headers") or {}).items()),
            body=(from_data(request["body"]) if request.get("body_format") == "values"
                  else request.get("body", NO_BODY)),
            media_type=request.get("media_type"),
        )
    return RecordedStep(str(data["action"]), requests, InputChange.from_data(data.get("input")),
                        draws_from_data(data.get("draws")), int(data.get("origin") or 0))


def saved_failures(plan: Plan, folder: Path = FOLDER) -> list[Path]:
    """Replay files written for this spec (same file), newest first."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob(f"{plan.spec.path.stem}-*.yaml"):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue  # not one of ours
        if isinstance(data, dict) and str(data.get("spec_absolute")) == str(
                plan.spec.path.resolve()):
            found.append(path)
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)
