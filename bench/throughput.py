"""Calls per second through `mbtspec check`, against a plain httpx loop sending the same requests.

Two set-ups, each measured in this one process, one after the other, both running the bundled
example (examples/employees/spec.yaml, its fix switched on so that every sequence runs to the
end): the in-memory model and the SQLite candidate
  (a) as in-process ASGI apps;
  (b) as two uvicorn servers on 127.0.0.1 (started here, stopped at the end).

mbtspec runs the spec; every request it sends (resets included) is recorded.
Then two plain loops replay exactly those requests against the same targets:
  - "plain loop": the loop one writes by hand: a synchronous httpx.Client per target, each
    request sent to model then candidate, both bodies read as JSON (the baseline of the issue);
  - "plain concurrent": the stricter one: the two requests of a step sent together with
    asyncio.gather on httpx.AsyncClient, as mbtspec does, bodies not even parsed.
A "call" is one request to one target. Ratio = mbtspec calls/s / plain calls/s (higher is
better), taken in each repeat (--repeats) against the baselines run right after it; the
median ratio is printed with the lowest and highest, and the median rates.

By default the run has the example's own settings (its `run:` section: what
`mbtspec check examples/employees/spec.yaml` does); --sequences and --steps change them.

Run from the repository root:  python bench/throughput.py [--sequences N] [--steps N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from mbtspec import check  # noqa: E402
from mbtspec.executor import _runtime  # noqa: E402
from mbtspec.executor._process import free_port  # noqa: E402

EXAMPLE = REPO / "examples" / "employees"
# (shared next to the checkout: ../shared, or ../../shared from a worktree)
CORPUS = next((p / "shared" / "openapi-corpus" for p in REPO.parents
               if (p / "shared" / "openapi-corpus").is_dir()), REPO / "openapi-corpus")
APPS = {"model": "examples.employees.memory:app", "candidate": "examples.employees.sqlite:app"}


def start_server(app: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        cwd=REPO, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    raise SystemExit("uvicorn did not start")


class Recorder:
    """Records each step's requests (and each reset) while mbtspec runs."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[str, str, str, list[tuple[str, str]], bytes | None]]] = []
        self._step = _runtime.Runtime.step
        self._reset = _runtime.Runtime.reset_targets

    def __enter__(self) -> Recorder:
        recorder = self

        def step(runtime: Any, plan: Any, draws: Any) -> Any:
            result = recorder._step(runtime, plan, draws)
            recorder.batches.append([
                (name, r.method, r.url, list(r.headers), r.content) for name, r in result.requests
            ])
            return result

        def reset(runtime: Any) -> None:
            recorder._reset(runtime)
            recorder.batches.append([
                (name, "POST", target.base_url + "/__reset", [], None)
                for name, target in runtime.targets.items()
            ])

        _runtime.Runtime.step = step  # type: ignore[method-assign]
        _runtime.Runtime.reset_targets = reset  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        _runtime.Runtime.step = self._step  # type: ignore[method-assign]
        _runtime.Runtime.reset_targets = self._reset  # type: ignore[method-assign]

    @property
    def calls(self) -> int:
        return sum(len(batch) for batch in self.batches)


def run_mbtspec(spec_text: str, sequences: int, steps: int) -> tuple[float, Recorder]:
    with tempfile.TemporaryDirectory() as folder:
        spec = Path(folder) / "spec.yaml"
        spec.write_text(spec_text)
        with Recorder() as recorder:
            started = time.perf_counter()
            outcome = check(spec, sequences=sequences, steps=steps, seed=1, database=None)
            elapsed = time.perf_counter() - started
    assert outcome.result.failure is None, "the benchmark spec must pass"
    return recorder.calls / elapsed, recorder


def example_spec(targets: dict[str, dict[str, str]]) -> str:
    """The example spec with other targets (and its OpenAPI path made absolute)."""
    data = yaml.safe_load((EXAMPLE / "spec.yaml").read_text())
    data["openapi"] = str(EXAMPLE / "openapi.yaml")
    data["targets"] = targets
    data.pop("run", None)
    return yaml.safe_dump(data, sort_keys=False)


def clients_for(kind: str, urls: dict[str, str]) -> dict[str, httpx.AsyncClient]:
    """For "app", ``urls`` maps target names to app references (module:attribute)."""
    if kind == "app":
        from mbtspec.executor.targets import load_app

        return {name: httpx.AsyncClient(transport=httpx.ASGITransport(app=load_app(name, ref)),
                                        base_url="http://app") for name, ref in urls.items()}
    return {name: httpx.AsyncClient(base_url=url) for name, url in urls.items()}


def plain_concurrent(recorder: Recorder, kind: str, urls: dict[str, str]) -> float:
    async def go() -> float:
        clients = clients_for(kind, urls)
        try:
            started = time.perf_counter()
            for batch in recorder.batches:
                await asyncio.gather(*(
                    clients[name].request(method, url, headers=headers, content=content)
                    for name, method, url, headers, content in batch))
            return recorder.calls / (time.perf_counter() - started)
        finally:
            for client in clients.values():
                await client.aclose()

    return asyncio.run(go())


def plain_loop(recorder: Recorder, kind: str, urls: dict[str, str]) -> float:
    if kind == "app":  # in-process apps are async: the plain loop is an async one
        async def go() -> float:
            clients = clients_for(kind, urls)
            started = time.perf_counter()
            for batch in recorder.batches:
                for name, method, url, headers, content in batch:
                    response = await clients[name].request(method, url, headers=headers,
                                                           content=content)
                    _ = response.json() if response.content else None
            elapsed = time.perf_counter() - started
            for client in clients.values():
                await client.aclose()
            return recorder.calls / elapsed

        return asyncio.run(go())
    sync = {name: httpx.Client(base_url=url) for name, url in urls.items()}
    try:
        started = time.perf_counter()
        for batch in recorder.batches:
            for name, method, url, headers, content in batch:
                response = sync[name].request(method, url, headers=headers, content=content)
                _ = response.json() if response.content else None
        return recorder.calls / (time.perf_counter() - started)
    finally:
        for client in sync.values():
            client.close()


def measure(label: str, kind: str, spec_text: str, urls: dict[str, str], sequences: int,
            steps: int, repeats: int, *, brief: bool = False) -> None:
    ours, plain, concurrent = [], [], []
    for _ in range(repeats):  # interleaved, so that drifts of the machine hit all three
        rate, recorder = run_mbtspec(spec_text, sequences, steps)
        ours.append(rate)
        plain.append(plain_loop(recorder, kind, urls))
        concurrent.append(plain_concurrent(recorder, kind, urls))
    if brief:  # one line: mbtspec and the plain loop
        ratios = [o / b for o, b in zip(ours, plain, strict=True)]
        print(f"    {label:<28} mbtspec {statistics.median(ours):6.0f} calls/s "
              f"({min(ours):.0f}-{max(ours):.0f}); plain loop {statistics.median(plain):6.0f}; "
              f"ratio {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})")
        return
    print(f"({label}) {recorder.calls} calls per run, median of {repeats} runs")
    print(f"    mbtspec check           {statistics.median(ours):8.0f} calls/s "
          f"(runs {min(ours):.0f}-{max(ours):.0f})")
    for name, baseline in (("plain httpx loop", plain), ("plain httpx concurrent", concurrent)):
        # Each run's ratio is taken against the baselines measured right after it, which
        # cancels the machine's slower and faster spells; then the median and the range.
        ratios = [o / b for o, b in zip(ours, baseline, strict=True)]
        print(f"    {name:<23} {statistics.median(baseline):8.0f} calls/s   ratio "
              f"{statistics.median(ratios):.2f} (runs {min(ratios):.2f}-{max(ratios):.2f})")


SIZES_SPEC = """
version: 1
openapi: {openapi}
targets: {{model: {{app: "bench.standin:items"}}, candidate: {{app: "bench.standin:items"}}}}
reset: [{{request: POST /__reset}}]
actions:
  list: {{request: GET /items, query: {{n: {n}}}}}
compare: {{status: exact, body: exact}}
invariants:
  - {{name: no server errors, check: candidate.status < 500}}
  - {{name: documented responses, check: conforms_to_openapi(candidate)}}
"""


def measure_sizes(sequences: int, steps: int, repeats: int) -> None:
    """(c): one action whose response is a list of 1, 100 or 1,000 objects, compared exactly
    and checked against its schema (with a pattern), on the stand-in app ``items``."""
    from standin import ITEMS_OPENAPI

    folder = Path(tempfile.mkdtemp())
    openapi = folder / "items.json"
    openapi.write_text(json.dumps(ITEMS_OPENAPI))
    apps = {"model": "bench.standin:items", "candidate": "bench.standin:items"}
    print(f"(c: response size) two in-process stand-in apps, median of {repeats} runs")
    for n in (1, 100, 1000):
        spec = SIZES_SPEC.format(openapi=openapi, n=n)
        measure(f"{n:>5} list elements", "app", spec, apps, max(sequences // 4, 5), steps,
                repeats, brief=True)


def measure_large(document: Path, sequences: int, steps: int, repeats: int) -> None:
    """(d): the spec ``mbtspec init`` writes for a large OpenAPI document (every operation an
    action, conformance checked), against the stand-in app ``openapi`` that answers each
    operation with a body built from its schema; operations whose built body does not
    conform are left out."""
    from standin import body_for

    from mbtspec.scaffold import scaffold_spec
    from mbtspec.spec._openapi import load_openapi
    from mbtspec.spec.conformance import conformance_problems

    if not document.is_file():
        print(f"(d: large OpenAPI document) skipped: {document} is not there")
        return
    os.environ["STANDIN_OPENAPI"] = str(document)
    doc = load_openapi(document)
    folder = Path(tempfile.mkdtemp())
    data = yaml.safe_load(scaffold_spec(document, folder / "spec.yaml"))
    data["openapi"] = str(document)
    apps = {"model": "bench.standin:openapi", "candidate": "bench.standin:openapi"}
    data["targets"] = {name: {"app": ref} for name, ref in apps.items()}
    data.pop("run", None)
    by_key = {op.key: op for op in doc.operations}
    kept = {}
    for name, action in data["actions"].items():
        op = by_key.get(action["request"])
        answered = op and next(((c, m) for c, m in op.responses if c.startswith("2")), None)
        if not op or not answered:
            continue
        code, media = answered
        schema = next((s for m, s in media if "json" in m), None)
        response = {"status": int(code) if code.isdigit() else 200,
                    "headers": {"content-type": "application/json"} if media else {},
                    "body": json.loads(json.dumps(body_for(schema), default=str))
                    if media else None}
        if not conformance_problems(op, doc.dialect, response):
            kept[name] = action
    while True:  # (and those that pick what only a left-out action stores)
        stored = {name for action in kept.values() for name in action.get("store", {})}
        left = {name: action for name, action in kept.items()
                if _picks(action) <= stored}
        if len(left) == len(kept):
            break
        kept = left
    data["actions"] = kept
    spec = yaml.safe_dump(data, sort_keys=False)
    print(f"(d: large OpenAPI document) {document.name}: {len(doc.operations)} operations, "
          f"{len(kept)} in the spec; two in-process stand-in apps, median of {repeats} runs")
    measure("every operation an action", "app", spec, apps, sequences, steps, repeats,
            brief=True)


def _picks(value: Any) -> set[str]:
    """The variables ``pick``\\ ed anywhere in an action."""
    if isinstance(value, dict):
        found = {value["pick"]} if isinstance(value.get("pick"), str) else set()
        return found.union(*(_picks(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_picks(v) for v in value))
    return set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    run = yaml.safe_load((EXAMPLE / "spec.yaml").read_text()).get("run", {})
    parser.add_argument("--sequences", type=int, default=run.get("sequences", 100))
    parser.add_argument("--steps", type=int, default=run.get("steps", 20))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=("apps", "servers", "sizes", "large"), default=None,
                        help="run one set-up only")
    parser.add_argument("--document", type=Path, default=CORPUS / "linode.com-4.97.2.yaml",
                        help="the large OpenAPI document of set-up (d)")
    args = parser.parse_args()
    print(f"{args.sequences} sequences of up to {args.steps} steps; {args.repeats} repeats")
    os.chdir(REPO)

    os.environ["EMPLOYEES_CASE_SENSITIVE_LIKE"] = "1"  # the fix: nothing to find
    os.environ["EMPLOYEES_DB"] = str(Path(tempfile.mkdtemp()) / "employees.db")
    if args.only in (None, "sizes"):
        measure_sizes(args.sequences, args.steps, args.repeats)
    if args.only in (None, "large"):
        measure_large(args.document, args.sequences, args.steps, args.repeats)
    if args.only in ("sizes", "large"):
        return
    in_process = example_spec({name: {"app": ref} for name, ref in APPS.items()})
    if args.only != "servers":
        measure("a: two in-process apps", "app", in_process, APPS, args.sequences, args.steps,
                args.repeats)
    if args.only == "apps":
        return

    model, model_url = start_server(APPS["model"])
    candidate, candidate_url = start_server(APPS["candidate"])
    try:
        servers = example_spec({"model": {"base_url": model_url},
                                "candidate": {"base_url": candidate_url}})
        measure("b: two uvicorn servers", "url", servers,
                {"model": model_url, "candidate": candidate_url}, args.sequences, args.steps,
                args.repeats)
    finally:
        for process in (model, candidate):
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
