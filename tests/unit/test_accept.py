"""Accepted differences (``accept``): how entries are read, which differences they accept,
how they are counted, and how reports show them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from mbtspec.compare import make_judge, stale_entries, stale_warning
from mbtspec.compiler import NO_BODY, RequestDraft, State, compile_plan
from mbtspec.executor._http import build_request
from mbtspec.executor.records import Accepted, Finding, Response, RunResult, Stats, Step
from mbtspec.report.data import Redactor, run_data
from mbtspec.report.html import render_html
from mbtspec.report.junit import render_junit
from mbtspec.report.terminal import render_findings, render_summary, verdict_line
from mbtspec.spec import load_spec
from mbtspec.spec.model import ANY

REPO = Path(__file__).resolve().parents[2]
ORDERS_OPENAPI = REPO / "tests" / "apps" / "orders_openapi.yaml"
JSON = (("content-type", "application/json"),)

SPEC = f"""\
version: 1
openapi: {ORDERS_OPENAPI}
targets:
  model: {{app: "tests.apps.orders:app"}}
  candidate: {{app: "tests.apps.orders:app"}}
actions:
  create:
    request: createOrder
    body: {{item: pen, qty: 1}}
    accept:
      - {{place: body.status, model: open, candidate: OPEN, reason: capitals on create}}
  listing:
    request: listOrders
    compare: {{unordered: [body]}}
  close:
    request: POST /orders/{{id}}/close
    path: {{id: 1}}
accept:
  - place: status
    model: 422
    candidate: 201
    when: 'request.body.item.trim() == ""'
    reason: blank items are taken now
  - {{place: "body[*].status", action: listing, reason: capitals in lists}}
  - {{place: body.status, reason: any status word}}
  - {{place: headers.etag, action: [create, close], reason: never seen}}
"""


@pytest.fixture
def plan(tmp_path: Path) -> Any:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    return compile_plan(load_spec(path), environ={})


def ok(body: Any, status: int = 200) -> Response:
    return Response(status, JSON, body)


def order(id_: int, status: str = "open", qty: int = 1) -> dict[str, Any]:
    return {"id": id_, "item": "pen", "qty": qty, "status": status}


def step(plan: Any, action: str, model: Response, candidate: Response,
         body: Any = NO_BODY) -> Step:
    act = next(a for a in plan.actions if a.name == action)
    draft = RequestDraft(act.action.method, act.action.path, {}, [], {}, body,
                         act.media_type)
    requests = tuple((t, build_request(draft, t, f"http://{t}", {})) for t in plan.targets)
    return Step(1, action, (), requests, (("model", model), ("candidate", candidate)))


def judge(plan: Any, action: str, model: Response, candidate: Response,
          body: Any = NO_BODY) -> tuple[list[Finding], list[Accepted]]:
    act = next(a for a in plan.actions if a.name == action)
    out = make_judge(plan)(step(plan, action, model, candidate, body), act, State())
    return ([f for f in out if isinstance(f, Finding) and f.kind == "difference"],
            [a for a in out if isinstance(a, Accepted)])


def shown(accepted: list[Accepted]) -> list[tuple[str, list[str], int]]:
    return [(a.reason, [d.path for d in a.differences], a.count) for a in accepted]


# --------------------------------------------------------------------------- reading


def test_entries_are_read_with_where_they_are_written(plan: Any) -> None:
    spec = plan.spec
    assert [(e.reason, e.place.text, e.actions) for e in spec.every_accept] == [
        ("blank items are taken now", "status", ()),
        ("capitals in lists", "body[*].status", ("listing",)),
        ("any status word", "body.status", ()),
        ("never seen", "headers.etag", ("create", "close")),
        ("capitals on create", "body.status", ("create",)),
    ]
    first, *_ = spec.accept
    assert (first.model, first.candidate) == (422, 201)
    assert first.where.endswith("spec.yaml:19:5")
    assert spec.accept[1].model is ANY and spec.accept[1].when is None
    create = next(a for a in spec.actions if a.name == "create")
    assert [e.reason for e in spec.accepted_for(create)] == [
        "capitals on create", "blank items are taken now", "any status word", "never seen"]


# --------------------------------------------------------------------------- matching


def test_an_accepted_difference_is_not_a_failure(plan: Any) -> None:
    findings, accepted = judge(plan, "create", ok(order(1), 201), ok(order(1, "OPEN"), 201),
                               {"item": "pen", "qty": 1})
    assert findings == []
    assert shown(accepted) == [("capitals on create", ["body.status"], 1)]
    assert accepted[0].entry.endswith("spec.yaml:11:9")
    assert accepted[0].place == "body.status"


def test_the_other_differences_of_the_step_still_fail(plan: Any) -> None:
    findings, accepted = judge(plan, "create", ok(order(1), 201),
                               ok(order(1, "OPEN", qty=2), 201), {"item": "pen", "qty": 1})
    assert [[d.path for d in f.differences] for f in findings] == [["body.qty"]]
    assert shown(accepted) == [("capitals on create", ["body.status"], 1)]


def test_values_must_be_the_two_written(plan: Any) -> None:
    # 'capitals on create' wants open / OPEN; the next entry for body.status takes any
    _, accepted = judge(plan, "create", ok(order(1, "closed"), 201),
                        ok(order(1, "CLOSED"), 201), {"item": "pen", "qty": 1})
    assert shown(accepted) == [("any status word", ["body.status"], 1)]


def test_when_accepts_a_class_of_inputs_and_the_whole_response(plan: Any) -> None:
    refused, created = ok({"error": "invalid"}, 422), ok(order(7), 201)
    findings, accepted = judge(plan, "create", refused, created, {"item": "  ", "qty": 1})
    assert findings == []
    # the status is accepted, and with it the bodies (a 422 and a 201 do not have one body)
    assert shown(accepted) == [("blank items are taken now",
                                ["status", "body.error", "body.id", "body.item", "body.qty",
                                 "body.status"], 6)]
    # another item: the condition is false, the difference is a failure (only the broad
    # 'any status word' accepts what is at body.status)
    findings, accepted = judge(plan, "create", refused, created, {"item": "pen", "qty": 1})
    assert [d.path for d in findings[0].differences] == [
        "status", "body.error", "body.id", "body.item", "body.qty"]
    assert shown(accepted) == [("any status word", ["body.status"], 1)]
    # no body at all: the condition cannot be evaluated, so it does not hold
    findings, _ = judge(plan, "create", refused, created)
    assert findings


def test_entries_apply_to_their_actions_only(plan: Any) -> None:
    _, accepted = judge(plan, "close", ok(order(1, "closed")), ok(order(1, "CLOSED")))
    assert shown(accepted) == [("any status word", ["body.status"], 1)]
    findings, accepted = judge(plan, "listing", ok([order(1, "x")]), ok([order(1, "y")]))
    assert findings == [] and shown(accepted) == [
        ("capitals in lists", ["body[0].status"], 1)]


def test_elements_of_unordered_lists_pair_when_they_differ_only_where_accepted(
        plan: Any) -> None:
    model = ok([order(1), order(2), order(3)])
    candidate = ok([order(3, "OPEN"), order(1, "OPEN"), order(2, "OPEN", qty=5)])
    findings, accepted = judge(plan, "listing", model, candidate)
    assert shown(accepted) == [("capitals in lists", ["body[0].status", "body[2].status"], 2)]
    assert [(d.path, d.note[:30]) for d in findings[0].differences] == [
        ("body[1]", "the candidate's list has no el"),
        ("body[2]", "the model's list has no elemen")]


def test_accepted_differences_are_kept_up_to_the_limit_and_counted(
        plan: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import mbtspec.compare

    monkeypatch.setattr(mbtspec.compare, "KEPT_DIFFERENCES", 2)
    model = ok([order(n) for n in range(5)])
    candidate = ok([order(n, "OPEN") for n in range(5)])
    _, [accepted] = judge(plan, "listing", model, candidate)
    assert (len(accepted.differences), accepted.count) == (2, 5)


def test_an_entry_naming_the_whole_body_accepts_what_is_inside(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.replace('place: "body[*].status"', "place: body"))
    plan = compile_plan(load_spec(path), environ={})
    findings, accepted = judge(plan, "listing", ok([order(1)]), ok([{"other": True}]))
    assert findings == []
    # (the elements pair, since what differs is accepted: each place is reported)
    assert shown(accepted) == [("capitals in lists", ["body[0].id", "body[0].item",
                                                      "body[0].qty", "body[0].status",
                                                      "body[0].other"], 5)]


# --------------------------------------------------------------------------- counting


def test_stats_count_calls_and_differences_per_entry_and_action(plan: Any) -> None:
    stats = Stats()
    one = Accepted("r", "spec.yaml:3:5", "body.a", (), 4)
    for action in ("a", "a", "b"):
        stats.record_accepted(Step(1, action, (), (), (), accepted=(one,)))
    assert {(k, c.steps, c.differences) for k, c in stats.accepted.items()} == {
        (("spec.yaml:3:5", "a"), 2, 8), (("spec.yaml:3:5", "b"), 1, 4)}


def test_stale_entries_and_their_warnings(plan: Any) -> None:
    stats = Stats()
    _, accepted = judge(plan, "create", ok(order(1), 201), ok(order(1, "OPEN"), 201),
                        {"item": "pen", "qty": 1})
    stats.record(step(plan, "create", ok(order(1), 201), ok(order(1), 201)))
    stats.record_accepted(Step(1, "create", (), (), (), accepted=tuple(accepted)))
    stale = stale_entries(plan.spec, stats.accepted)
    assert [e.reason for e in stale] == [
        "blank items are taken now", "capitals in lists", "any status word", "never seen"]
    lists = stale_warning(plan.spec, stale[1], stats, stopped_early=False)
    assert lists.endswith("the accepted difference 'capitals in lists' at body[*].status was "
                          "never seen: action 'listing' never ran")
    assert "spec.yaml:24:5:" in lists
    blank = stale_warning(plan.spec, stale[0], stats, stopped_early=True)
    assert blank.endswith("no step showed the difference it accepts; if it is gone, remove "
                          "the entry (the run stopped early: it may show in a longer run)")
    etag = stale_warning(plan.spec, stale[3], stats, stopped_early=False)
    assert etag.endswith("the header is not compared (add 'etag' to compare.headers, top "
                         "level or in the action)")


# --------------------------------------------------------------------------- reports


def _result(plan: Any) -> RunResult:
    stats = Stats()
    for _ in range(3):
        stats.record(step(plan, "create", ok(order(1), 201), ok(order(1), 201)))
    _, accepted = judge(plan, "create", ok(order(1), 201), ok(order(1, "OPEN"), 201),
                        {"item": "pen", "qty": 1})
    for _ in range(2):
        stats.record_accepted(Step(1, "create", (), (), (), accepted=tuple(accepted)))
    where = plan.spec.accept[3].where
    return RunResult(1, 0.5, stats, None, stale=(where,), warnings=(f"{where}: stale",))


def test_json_report_lists_accepted_and_stale(plan: Any) -> None:
    data = run_data(plan, _result(plan), redact=Redactor(()))
    [row] = data["accepted"]
    assert {k: v for k, v in row.items() if k != "entry"} == {
        "reason": "capitals on create", "action": "create", "place": "body.status",
        "count": 2, "differences": 2,
        "example": {"path": "body.status", "model": "open", "candidate": "OPEN"}}
    assert [(s["reason"], s["actions"]) for s in data["stale"]] == [
        ("never seen", ["create", "close"])]
    json.dumps(data)


def test_terminal_summary_verdict_and_failing_step(plan: Any) -> None:
    console = Console(record=True, width=200, color_system=None)
    result = _result(plan)
    render_summary(console, result, plan)
    assert "accepted: 2 (capitals on create ×2)" in console.export_text()
    assert verdict_line(result, plan).startswith("✓ no difference (2 accepted) in ")
    findings, accepted = judge(plan, "create", ok(order(1), 201),
                               ok(order(1, "OPEN", qty=2), 201), {"item": "pen", "qty": 1})
    failing = Step(1, "create", (), (), (), findings=tuple(findings), accepted=tuple(accepted))
    console = Console(record=True, width=200, color_system=None)
    render_findings(console, failing, Redactor(()))
    text = console.export_text()
    assert "  body.qty: 1 ≠ 2\n  accepted (capitals on create, " in text
    assert 'spec.yaml:11:9):\n    body.status: "open" ≠ "OPEN"\n' in text


def test_junit_and_html_show_what_was_accepted(plan: Any) -> None:
    result = _result(plan)
    xml = render_junit(plan, result, redact=Redactor(()))
    assert '<property name="accepted" value="2 (capitals on create ×2)" />' in xml
    assert "<system-out>ran 3 times; accepted: capitals on create ×2</system-out>" in xml
    html = render_html(plan, result, redact=Redactor(()))
    assert '<h2 id="accepted">Accepted differences</h2>' in html
    assert "<td>capitals on create</td><td>create</td>" in html
    assert '<span class="note">never seen</span>' in html
