"""Known differences end to end, on the orders API: a candidate with three changes the spec
accepts (a seeded one, a class of inputs by condition, one in every response), an entry that
never matches, and a real difference that is still reported next to an accepted one."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator

from mbtspec import check
from mbtspec.executor.records import Step
from mbtspec.report.data import Redactor, run_data
from tests.e2e.conftest import ORDERS_OPENAPI, REPO, run_cli

REPORT_SCHEMA = Draft202012Validator(json.loads(
    (REPO / "schemas" / "report.schema.json").read_text()))

SPEC = f"""\
version: 1
openapi: {ORDERS_OPENAPI}
targets:
  model: {{app: "tests.apps.variants:model"}}
  candidate: {{app: "tests.apps.variants:%s"}}
reset:
  - request: POST /__reset
generators:
  item: {{one_of: [apple, pear, an item with a much longer name]}}
  qty: {{integer: {{min: 1, max: 100}}}}
actions:
  create:
    request: POST /orders
    body: {{item: "${{item}}", qty: "${{qty}}"}}
    store: {{orders: response.body.id}}
  get:
    request: GET /orders/{{id}}
    path: {{id: {{pick: orders}}}}
  close:
    request: POST /orders/{{id}}/close
    path: {{id: {{pick: orders}}}}
    accept:
      - {{place: status, model: 409, candidate: 200, reason: closing twice is allowed now}}
  list:
    request: GET /orders
    compare: {{unordered: [body]}}
accept:
  - place: status
    model: 422
    candidate: 400
    when: 'size(request.body.item) > 20'
    reason: long items are refused with 400 now
  - {{place: body.**.status, reason: statuses in capitals}}
  - {{place: body.item, action: [create, get], reason: items are trimmed now}}
invariants:
  - {{name: no server errors, check: candidate.status < 500}}
"""


def write(tmp_path: Path, candidate: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC % candidate)
    return path


def test_known_differences_are_accepted_counted_and_reported(tmp_path: Path) -> None:
    spec = write(tmp_path, "known_changes")
    done = run_cli("check", str(spec), "--seed", "1", "--sequences", "60", "--no-database",
                   "--report-json", str(tmp_path / "report.json"))
    assert done.code == 0, done.text
    report = json.loads((tmp_path / "report.json").read_text())
    assert [e.message for e in REPORT_SCHEMA.iter_errors(report)] == []
    assert report["outcome"] == "pass"
    calls = {(row["reason"], row["action"]): row["count"] for row in report["accepted"]}
    statuses = report["stats"]["actions"]
    # the seeded difference: every second close of an order, counted call by call
    assert calls["closing twice is allowed now", "close"] == statuses["close"]["statuses"][
        "model"]["409"] > 10
    # the class of inputs: each long item (422 on the model, 400 on the candidate)
    assert calls["long items are refused with 400 now", "create"] == statuses["create"][
        "statuses"]["candidate"]["400"] > 10
    # in every response that holds an order, lists (unordered) included
    assert {action for reason, action in calls if reason == "statuses in capitals"} == {
        "create", "get", "close", "list"}
    assert calls["statuses in capitals", "create"] == statuses["create"]["statuses"][
        "candidate"]["201"]
    # the entry that never matched: a warning naming its place in the file
    assert [row["reason"] for row in report["stale"]] == ["items are trimmed now"]
    warning = f"{spec}:34:5: the accepted difference 'items are trimmed now' at body.item " \
              "was never seen: no step showed the difference it accepts; if it is gone, " \
              "remove the entry"
    assert warning in report["warnings"]
    assert f"warning: {warning}" in done.err
    total = sum(calls.values())
    assert f"accepted: {total:,} (statuses in capitals ×" in done.out
    assert f"✓ no difference ({total:,} accepted) in " in done.out


def test_a_real_difference_is_reported_next_to_an_accepted_one(tmp_path: Path) -> None:
    spec = write(tmp_path, "known_changes_qty")
    seen: list[Step] = []
    outcome = check(spec, sequences=300, seed=3, database=None, on_step=seen.append)
    result, failure = outcome.result, outcome.result.failure
    assert failure is not None and failure.kind == "difference"
    last = failure.steps[-1]
    assert [s.action for s in failure.steps] == ["create"]
    assert [d.path for d in last.findings[0].differences] == ["body.qty"]
    assert [(a.reason, [(d.path, d.model, d.candidate) for d in a.differences])
            for a in last.accepted] == [
        ("statuses in capitals", [("body.status", "open", "OPEN")])]
    report = json.loads(json.dumps(run_data(outcome.plan, result, redact=Redactor(())),
                                   default=str))
    assert [e.message for e in REPORT_SCHEMA.iter_errors(report)] == []
    assert report["failure"]["steps"][-1]["accepted"][0]["differences"] == [
        {"path": "body.status", "model": "open", "candidate": "OPEN"}]
    # counted in the search only, not in the replays that shrank the failure
    def capitals(steps: list[Step]) -> int:
        return sum(1 for s in steps if s.action == "create"
                   and any(a.reason == "statuses in capitals" for a in s.accepted))

    search = seen[:next(i for i, s in enumerate(seen) if s.findings) + 1]
    entry = next(e for e in result.stats.accepted.values()
                 if e.reason == "statuses in capitals" and e.action == "create")
    assert entry.steps == capitals(search) < capitals(seen)
