"""One self-contained HTML page: summary, minimal sequence, the failing step's two responses
side by side with the differing places highlighted, and the statistics (tables and a bar chart).
With several failures (keep-going), a table of contents first and a section per failure.
No script, no network, no external file: it opens anywhere, also from a CI artifact.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape as _escape
from pathlib import Path
from typing import Any

from mbtspec.compiler import Plan
from mbtspec.executor.records import RunResult
from mbtspec.report.data import (
    SHOWN_DIFFERENCES,
    Redactor,
    body_lines,
    clip,
    printable,
    run_data,
    shown_json,
)
from mbtspec.spec.problems import format_path

#: Lines of a response body on the page, and characters of each line.
SHOWN_LINES, LINE_WIDTH = 2000, 2000

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1d2330;background:#fff}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #dde}
.verdict{padding:.6rem 1rem;border-radius:6px;font-weight:600}
.pass{background:#e6f6ea;color:#135c2a}.fail{background:#fde8e8;color:#8a1c1c}
.flaky{background:#fff4d6;color:#6b4f00}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #dde;padding:.25rem .6rem;
text-align:left;vertical-align:top}th{background:#f4f5fa}
code,pre{font:12px/1.4 ui-monospace,Menlo,Consolas,monospace}
.side{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
.side pre{margin:0;padding:.5rem;background:#f8f9fc;border:1px solid #dde;overflow-x:auto}
.line{display:block;white-space:pre}.diff{background:#ffd9d9}.note{color:#666}
.bar{fill:#4a6fd1}.label{font-size:12px;fill:#1d2330}
"""


def escape(text: str) -> str:
    """Text for the page: printable (no control characters, which HTML forbids) and
    escaped."""
    return _escape(printable(text))


def _response_block(response: dict[str, Any], differing: set[str], redact: Redactor) -> str:
    rows = [(f"status {response.get('status')}", "status")]
    if response.get("error"):
        rows.append((f"no answer: {response['error']}", "status"))
    lines, more = body_lines(response.get("body"), redact, lines=SHOWN_LINES, width=LINE_WIDTH)
    rows += [(text, format_path(path)) for text, path in lines]
    if more:
        rows.append((f"… (only the first {SHOWN_LINES:,} lines are shown)", ""))
    out = []
    for text, path in rows:
        hit = bool(path) and any(path == d or path.startswith((d + ".", d + "["))
                                 for d in differing)
        css = "line diff" if hit else "line"
        out.append(f'<span class="{css}">{escape(text) or " "}</span>')
    return "<pre>" + "".join(out) + "</pre>"


def _chart(actions: dict[str, Any]) -> str:
    if not actions:
        return ""
    top = max((a["runs"] for a in actions.values()), default=0) or 1
    height = 22 * len(actions) + 10
    bars = []
    for i, (name, info) in enumerate(actions.items()):
        width = 380 * info["runs"] / top
        y = 5 + 22 * i
        bars.append(f'<text class="label" x="0" y="{y + 14}">{escape(name)}</text>'
                    f'<rect class="bar" x="150" y="{y}" width="{width:.1f}" height="16"/>'
                    f'<text class="label" x="{155 + width:.1f}" y="{y + 14}">{info["runs"]}'
                    "</text>")
    return (f'<svg role="img" aria-label="runs per action" width="600" height="{height}">'
            + "".join(bars) + "</svg>")


def _shown(value: Any, limit: int = 2000) -> str:
    """A value of the (already redacted) data, as JSON cut to ``limit`` characters."""
    return escape(value if value == "<absent>" else shown_json(value, limit, _NO_SECRETS))


_NO_SECRETS = Redactor(())


def _table(head: list[str], rows: list[list[str]]) -> str:
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{header}</tr>{body}</table>"


_KIND_WORDS = {"difference": "difference", "invariant": "broken invariant",
               "expect": "failed expectation"}


def _kind(failure: dict[str, Any]) -> str:
    kind = str(failure["kind"])
    return ("flaky " if failure["flaky"] else "") + _KIND_WORDS.get(kind, kind)


def _contents(failures: list[dict[str, Any]]) -> str:
    """The table of contents: one row per failure, linked to its section."""
    rows = []
    for number, failure in enumerate(failures, start=1):
        marks = ("shrinking stopped early" if failure["cut_short"]
                 else "saved, replayed as saved" if failure["saved"]
                 else "checked 1-minimal" if failure["minimal"] else "not checked 1-minimal")
        rows.append([f'<a href="#failure-{number}">{number}</a>', escape(_kind(failure)),
                     f'<a href="#failure-{number}">{escape(failure["action"])}</a>',
                     f"<code>{escape(clip(failure['place'], 2000)) or '-'}</code>",
                     f"{failure['calls']} <span class='note'>({marks})</span>",
                     str(failure["variants"]),
                     f"<code>{escape(failure['replay_file'] or '-')}</code>"])
    return (f'<h2 id="failures">{len(failures)} distinct failures</h2>'
            + _table(["#", "kind", "action", "place", "calls", "seen again", "replay file"],
                     rows))


def _failure_section(failure: dict[str, Any], number: int, total: int,
                     redact: Redactor) -> str:
    """One failure: its minimal sequence, the findings of its last step, the last step's
    responses side by side, and the commands that reproduce it. With several failures, under
    a numbered heading, its own headings one level down."""
    h, sub = ("h3", "h4") if total > 1 else ("h2", "h3")
    parts = [f'<section id="failure-{number}">']
    if total > 1:
        where = f": {failure['action']}, {clip(failure['place'], 200)}" if failure["place"] \
            else f": {failure['action']}"
        parts.append(f"<h2>Failure {number} of {total}{escape(where)}</h2>")
    parts.append(f'<p class="note">{escape(_kind(failure))} after {failure["calls"]} call'
                 f'{"s" if failure["calls"] != 1 else ""}'
                 + ("; leaving out any one step loses it (checked)" if failure["minimal"]
                    else "")
                 + (f"; seen again {failure['variants']} time"
                    f"{'s' if failure['variants'] != 1 else ''} in this run"
                    if failure["variants"] else "") + "</p>")
    if failure["note"]:
        parts.append(f'<p class="note">note: {escape(failure["note"])}</p>')
    if failure.get("race"):
        parts.append(_race_section(failure["race"], h))
        parts.append(f"<{h}>The prefix, then the parallel steps in the closest order</{h}>")
    else:
        parts.append(f"<{h}>Minimal sequence</{h}>")
    rows = []
    for step in failure["steps"]:
        requests = "<br>".join(
            f"<code>{escape(r['method'])} {escape(clip(r['path'], 2000))}"
            f"{' ' + _shown(r['body']) if 'body' in r else ''}"
            f"</code> <span class='note'>({escape(t)})</span>" + _headers(r)
            for t, r in step["requests"].items())
        if "input" in step:  # sent on purpose: say what and where
            requests += (f"<br><span class='note'>{escape(step['input']['kind'])}: "
                         f"{escape(step['input']['text'])}</span>")
        statuses = ", ".join(f"{t}: {step['responses'][t]['status']}"
                             for t in step["requests"])
        rows.append([str(step["step"]), escape(step["action"]), requests, escape(statuses)])
    parts.append(_table(["#", "action", "request", "status"], rows))
    last = failure["steps"][-1]
    differing = set()
    parts.append(f"<{h}>The failing step</{h}><ul>")
    for finding in last.get("findings", []):
        parts.append(f"<li><b>{escape(finding['title'])}</b><ul>")
        for detail in finding["details"]:
            parts.append(f"<li>{escape(detail)}</li>")
        for difference in finding["differences"][:SHOWN_DIFFERENCES]:
            differing.add(difference["path"])
            parts.append(
                f"<li><code>{escape(difference['path'])}</code>: "
                f"{_shown(difference['model'])} &ne; {_shown(difference['candidate'])}</li>")
        more = (max(len(finding["differences"]) - SHOWN_DIFFERENCES, 0)
                + finding.get("differences_omitted", 0))
        if more:
            parts.append(f'<li class="note">… and {more:,} more difference'
                         f'{"s" if more != 1 else ""} (the JSON report lists the first '
                         f'{len(finding["differences"]):,})</li>')
        parts.append("</ul></li>")
    for accepted in last.get("accepted", []):
        parts.append(f"<li>accepted ({escape(accepted['reason'])}, "
                     f"{escape(accepted['entry'])})<ul>")
        parts += [f"<li><code>{escape(d['path'])}</code>: {_shown(d['model'])} &ne; "
                  f"{_shown(d['candidate'])}</li>"
                  for d in accepted["differences"][:SHOWN_DIFFERENCES]]
        parts.append("</ul></li>")
    # (the first failure's responses keep the id they had before keep-going: links work)
    parts.append(f'</ul><div class="side" id="{"diff" if number == 1 else f"diff-{number}"}">')
    for target, response in last["responses"].items():
        request = last["requests"][target]
        parts.append(f"<div><{sub}>{escape(target)}: <code>{escape(request['method'])} "
                     f"{escape(request['path'])}</code></{sub}>"
                     f"{_response_block(response, differing, redact)}</div>")
    parts.append("</div>")
    if failure["reproduce"]:
        parts.append(f"<p>Reproduce: <code>{escape(' '.join(failure['reproduce']))}</code></p>")
    if failure["replay_file"]:
        parts.append(f"<p>Replay: <code>mbtspec replay {escape(failure['replay_file'])}</code>"
                     "</p>")
    parts.append("</section>")
    return "\n".join(parts)


def _accepted_section(data: dict[str, Any]) -> list[str]:
    """Known differences (``accept``): what each entry accepted, and those never seen."""
    if not data["accepted"] and not data["stale"]:
        return []
    rows = [[escape(c["reason"]), escape(c["action"]), f"<code>{escape(c['place'])}</code>",
             str(c["count"]), str(c["differences"]),
             (f"<code>{escape(c['example']['path'])}</code>: {_shown(c['example']['model'])} "
              f"&ne; {_shown(c['example']['candidate'])}") if "example" in c else "",
             escape(c["entry"])] for c in data["accepted"]]
    rows += [[escape(e["reason"]), escape(", ".join(e["actions"]) or "any"),
              f"<code>{escape(e['place'])}</code>", "0", "0",
              '<span class="note">never seen</span>', escape(e["entry"])]
             for e in data["stale"]]
    return ['<h2 id="accepted">Accepted differences</h2>',
            _table(["reason", "action", "place", "calls", "differences", "first seen",
                    "entry"], rows)]


def _race_section(race: dict[str, Any], h: str) -> str:
    """The parallel part of a race: one column per branch (what the candidate answered),
    the then steps, and how the check went."""
    def cell(step: dict[str, Any], name: str) -> str:
        request = step["requests"]["candidate"]
        body = f" {_shown(request['body'])}" if "body" in request else ""
        return (f"<b>{escape(name)}</b> {escape(step['action'])}<br><code>"
                f"{escape(request['method'])} {escape(clip(request['path'], 2000))}{body}"
                f"</code><br>&rarr; {escape(str(step['responses']['candidate']['status']))}")

    branches = race["branches"]
    rows = [[cell(b[row], f"{number + 1}.{row + 1}") if row < len(b) else ""
             for number, b in enumerate(branches)]
            for row in range(max(len(b) for b in branches))]
    parts = [f"<{h}>Parallel part</{h}>",
             f'<p class="note">After step {race["prefix"]}, sent to the candidate '
             "concurrently, one column per branch.</p>",
             _table([f"branch {n + 1}" for n in range(len(branches))], rows)]
    if race["then"]:
        parts.append("<p>Then, on the candidate: " + "; ".join(
            f"{escape(s['action'])} &rarr; {escape(str(s['responses']['candidate']['status']))}"
            for s in race["then"]) + "</p>")
    closest = " &rarr; ".join(escape(s) for s in race["closest"])
    if race["orders_tried"]:
        parts.append(f"<p>{race['orders_tried']} of {race['orders']} orders run on the model; "
                     f"none explains the answers. Closest: {closest} ({race['matched']} "
                     "matched).</p>")
    if race["runs"] > 1:
        parts.append(f'<p class="note">Shown on run {race["tries"]} of up to {race["runs"]} '
                     "of this sequence.</p>")
    return "\n".join(parts)


def _headers(request: dict[str, Any]) -> str:
    """The headers a request carried (already redacted), except ``content-type``."""
    shown = [f"{k}: {v}" for k, v in (request.get("headers") or {}).items()
             if str(k).lower() != "content-type"]
    if not shown:
        return ""
    return ("<br><span class='note'>" + escape(clip("  ".join(shown), 2000)) + "</span>")


def render_html(plan: Plan, result: RunResult, *, redact: Redactor,
                command: list[str] | None = None, verdict: str = "",
                replay_files: Sequence[Path | str] = (),
                commands: Sequence[Sequence[str]] = ()) -> str:
    data = run_data(plan, result, redact=redact, command=command, body_limit=None,
                    replay_files=replay_files, commands=commands)
    stats = data["stats"]
    failure = data["failure"]
    failures = data["failures"]
    css = "pass" if failure is None else "flaky" if failure["flaky"] else "fail"
    parts = [f"<h1>mbtspec: {escape(data['spec'])}</h1>",
             f'<p class="verdict {css}" id="verdict">{escape(verdict or data["outcome"])}</p>',
             _table(["seed", "sequences", "calls", "targets", "time"],
                    [[str(data["seed"]), str(stats["sequences"]), str(stats["steps"]),
                      escape(", ".join(data["targets"])), f"{data['elapsed_s']:.1f} s"]])]
    for warning in data["warnings"]:
        parts.append(f'<p class="note">warning: {escape(warning)}</p>')
    if len(failures) > 1:
        parts.append(_contents(failures))
    for number, item in enumerate(failures, start=1):
        parts.append(_failure_section(item, number, len(failures), redact))
    parts += _accepted_section(data)
    parts.append("<h2>Statistics</h2>")
    parts.append(_chart(stats["actions"]))
    rows = []
    for name, info in stats["actions"].items():
        rows.append([escape(name), str(info["runs"])] + [
            escape(", ".join(f"{code}×{n}" for code, n in info["statuses"].get(t, {}).items())
                   or "-") for t in data["targets"]])
    parts.append(_table(["action", "runs", *[f"{t} statuses" for t in data["targets"]]], rows))
    idle = [[escape(name), escape(info["never_ran"])] for name, info in stats["actions"].items()
            if info["never_ran"]]
    if idle:
        parts.append(_table(["action", "never ran, because"], idle))
    lengths = stats["sequence_lengths"]
    parts.append(_table(
        ["", *data["targets"]],
        [["mean latency", *[f"{stats['mean_latency_ms'][t]:.2f} ms" for t in data["targets"]]],
         ["total time", *[f"{stats['time_ms'][t] / 1000:.2f} s" for t in data["targets"]]]]))
    parts.append(f"<p>Sequence length: min {lengths['min']}, mean {lengths['mean']}, "
                 f"max {lengths['max']}.</p>")
    operations = stats["operations"]
    parts.append(_table(["operations covered", "never exercised"], [[
        escape(", ".join(operations["covered"]) or "-"),
        escape(", ".join(operations["never_exercised"]) or "-")]]))
    never = stats["documented_statuses_never_seen"]
    if never:
        parts.append(_table(["operation", "documented statuses never seen"],
                            [[escape(op), escape(", ".join(codes))]
                             for op, codes in never.items()]))
    return printable("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width\">"
                     f"<title>mbtspec: {escape(data['spec'])}</title><style>{_STYLE}</style>"
                     "</head><body>" + "\n".join(parts) + "</body></html>\n")
