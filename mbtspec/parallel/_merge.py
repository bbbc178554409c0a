"""``mbtspec merge-reports``: the JSON reports of a run's shards (``--shard i/n`` in a CI
matrix) as one report, and a JUnit file of it (written by ``report.junit``, as ``check``
writes its own).

The reports must be of the same spec (same hash) and the same seed: parts of one run.
Counts are summed; failures are listed in the order of the reports, one per signature (the
action, the kind and the place: a failure two shards found is listed once, the second
counted as a variant); the verdict says what the whole run found.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mbtspec.errors import UsageError
from mbtspec.executor.records import ActionStats


def merge_reports(reports: Sequence[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    """One report of ``reports`` ((file, parsed JSON) of each shard); ``UsageError`` when
    they are not parts of one run."""
    if not reports:
        raise UsageError("merge-reports: give the JSON reports of the shards to merge")
    first_path, first = reports[0]
    for path, report in reports:
        if not isinstance(report, dict) or "mbtspec_report" not in report:
            raise UsageError(f"{path}: not an mbtspec JSON report (write one with "
                             "mbtspec check --report-json)")
        for field in ("spec_sha256", "seed"):
            if report.get(field) != first.get(field):
                raise UsageError(
                    f"{path}: its {field.replace('_', ' ')} is {report.get(field)!r}, not "
                    f"{first.get(field)!r} as in {first_path}: only the shards of one run "
                    "(same spec, same --seed) can be merged")
    merged = dict(first)
    merged["elapsed_s"] = round(max(r.get("elapsed_s", 0) for _, r in reports), 3)
    merged["stats"] = _merge_stats([r["stats"] for _, r in reports])
    merged["warnings"] = _unique(w for _, r in reports for w in r.get("warnings", []))
    merged["stale"] = [s for s in first.get("stale", [])
                       if all(s in r.get("stale", []) for _, r in reports)]
    merged["accepted"] = _merge_accepted([r.get("accepted", []) for _, r in reports])
    merged["stopped"] = next((r["stopped"] for _, r in reports if r.get("stopped")),
                             first.get("stopped"))
    failures: list[dict[str, Any]] = []
    seen: dict[tuple[Any, ...], int] = {}
    for _, report in reports:
        for failure in report.get("failures", []):
            key = (failure.get("action"), failure.get("kind"), failure.get("place"))
            if key in seen:
                kept = failures[seen[key]]
                kept["variants"] = kept.get("variants", 0) + 1 + failure.get("variants", 0)
                continue
            seen[key] = len(failures)
            failures.append(dict(failure))
    merged["failures"] = failures
    merged["failure"] = failures[0] if failures else None
    # (several failures, of several shards, are laid out as keep-going lays them out: a
    # JUnit test case each)
    merged["keep_going"] = (any(r.get("keep_going") for _, r in reports)
                            or len(failures) > 1)
    worst = [r.get("outcome") for _, r in reports]
    merged["outcome"] = next((o for o in worst if o not in ("passed", None)), first["outcome"])
    stats = merged["stats"]
    merged["verdict"] = (
        f"{'✗' if failures else '✓'} {len(reports)} shards merged: "
        f"{len(failures)} distinct failure{'s' if len(failures) != 1 else ''} in "
        f"{stats['sequences']} sequences / {stats['steps']} calls (seed {first.get('seed')})")
    return merged


def _unique(items: Any) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _merge_accepted(parts: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for part in parts:
        for entry in part:
            key = (entry.get("entry"), entry.get("action"))
            if key not in out:
                out[key] = dict(entry)
                continue
            for count in ("steps", "differences"):
                if isinstance(entry.get(count), int):
                    out[key][count] = out[key].get(count, 0) + entry[count]
    return list(out.values())


def _merge_stats(parts: list[dict[str, Any]]) -> dict[str, Any]:
    total = dict(parts[0])
    for key in ("sequences", "sequences_while_shrinking", "boundary_cases", "steps",
                "requests", "parallel_parts", "interleavings_checked"):
        if key in total:
            total[key] = sum(p.get(key, 0) for p in parts)
    for key in ("reset_ms", "interleaving_check_s"):  # (summed as one process sums them)
        if key in total:
            total[key] = round(sum(p.get(key, 0.0) for p in parts), 3)
    for key in ("other_parts_sequences", "other_parts_requests"):
        if any(key in p for p in parts):
            total[key] = sum(p.get(key, 0) for p in parts)
    lengths = [p["sequence_lengths"] for p in parts if p.get("sequence_lengths")]
    if lengths:
        weights = [max(p.get("sequences", 1), 1) for p in parts if p.get("sequence_lengths")]
        total["sequence_lengths"] = {
            "min": min(x["min"] for x in lengths), "max": max(x["max"] for x in lengths),
            "mean": round(sum(x["mean"] * w for x, w in zip(lengths, weights, strict=True))
                          / sum(weights), 2)}
    actions: dict[str, Any] = {}
    for part in parts:
        for name, action in part.get("actions", {}).items():
            into = actions.setdefault(name, {"runs": 0, "invalid": 0, "statuses": {}})
            into["runs"] += action.get("runs", 0)
            into["invalid"] += action.get("invalid", 0)
            for target, counts in action.get("statuses", {}).items():
                kept = into["statuses"].setdefault(target, {})
                for status, n in counts.items():
                    kept[status] = kept.get(status, 0) + n
            _merge_action_counts(into, action)
    for action in actions.values():
        _why_never_ran(action)
    total["actions"] = actions
    swarms = [p["swarm"] for p in parts if p.get("swarm")]
    if swarms:
        sequences = sum(x["sequences"] for x in swarms)
        total["swarm"] = {"sequences": sequences, "mean_actions": round(
            sum(x["mean_actions"] * x["sequences"] for x in swarms) / sequences, 2)}
    time_ms: dict[str, float] = {}
    for part in parts:
        for target, ms in part.get("time_ms", {}).items():
            time_ms[target] = round(time_ms.get(target, 0.0) + ms, 3)
    total["time_ms"] = time_ms
    calls = {t: sum(sum(c.get(t, {}).values()) for c in
                    (a["statuses"] for a in actions.values())) for t in time_ms}
    total["mean_latency_ms"] = {t: round(ms / calls[t], 3) if calls[t] else 0.0
                                for t, ms in time_ms.items()}
    if "operations" in total:
        covered = _unique(op for p in parts for op in p["operations"].get("covered", []))
        total["operations"] = {
            "covered": covered,
            "never_exercised": [op for op in parts[0]["operations"].get("never_exercised", [])
                                if op not in covered]}
    if "documented_statuses_never_seen" in total:
        total["documented_statuses_never_seen"] = {
            op: [s for s in statuses if all(s in p.get("documented_statuses_never_seen", {})
                                            .get(op, []) for p in parts)]
            for op, statuses in parts[0]["documented_statuses_never_seen"].items()}
        total["documented_statuses_never_seen"] = {
            op: s for op, s in total["documented_statuses_never_seen"].items() if s}
    return total


def _merge_action_counts(into: dict[str, Any], action: dict[str, Any]) -> None:
    """Add one shard's why-never-ran counts of an action to ``into``."""
    for key in ("could_run", "when_false", "left_out_by_swarm"):
        into[key] = into.get(key, 0) + action.get(key, 0)
    into["expected_runs"] = round(into.get("expected_runs", 0.0)
                                  + action.get("expected_runs", 0.0), 1)
    for key in ("nothing_stored", "skipped"):
        kept = into.setdefault(key, {})
        for what, n in action.get(key, {}).items():
            kept[what] = kept.get(what, 0) + n
    if action.get("never_ran") is not None:
        into["drawn"] = True  # (a shard drew steps: the reason is worked out again below)


def _why_never_ran(action: dict[str, Any]) -> None:
    """The merged action's ``never_ran``, from the merged counts (as one run gives it)."""
    drawn = action.pop("drawn", False)
    counts = ActionStats(
        runs=action["runs"], could_run=action.get("could_run", 0),
        expected_runs=action.get("expected_runs", 0.0),
        when_false=action.get("when_false", 0),
        nothing_stored=Counter(action.get("nothing_stored", {})),
        left_out=action.get("left_out_by_swarm", 0), skipped=Counter(action.get("skipped", {})))
    action["never_ran"] = (counts.why_never_ran() or None) if drawn else None
    action["nothing_stored"] = dict(sorted(action.get("nothing_stored", {}).items()))
    action["skipped"] = dict(sorted(action.get("skipped", {}).items()))
