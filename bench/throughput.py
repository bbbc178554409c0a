"""Calls per second through `mbtspec check`, against a plain httpx loop sending the same requests.

Two set-ups, each measured in this one process, one after the other:
  (a) model and candidate as in-process ASGI apps (tests.apps.variants: model / minted);
  (b) model and candidate as two uvicorn servers on 127.0.0.1 (started here, stopped at the end).

For each, mbtspec runs the orders spec; every request it sends (resets included) is recorded.
Then two plain loops replay exactly those requests against the same targets:
  - "plain sequential": one httpx client per target, each request sent to model then candidate;
  - "plain concurrent": the two requests of a step sent together (asyncio.gather), as mbtspec does.
A "call" is one request to one target. Ratio = mbtspec calls/s / plain calls/s (higher is better).

Run from the repository root:  python bench/throughput.py [--sequences N] [--steps N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mbtspec import check  # noqa: E402
from mbtspec.executor import _runtime  # noqa: E402
from tests.e2e.conftest import orders_spec  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(first_id: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.apps.orders:env_app", "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        cwd=REPO, env={**os.environ, "ORDERS_FIRST_ID": str(first_id)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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


def clients_for(kind: str, urls: dict[str, str]) -> dict[str, httpx.AsyncClient]:
    if kind == "app":
        from tests.apps import variants

        apps = {"model": variants.model, "candidate": variants.minted}
        return {name: httpx.AsyncClient(transport=httpx.ASGITransport(app=apps[name]),
                                        base_url="http://app") for name in apps}
    return {name: httpx.AsyncClient(base_url=url) for name, url in urls.items()}


def plain_loop(recorder: Recorder, kind: str, urls: dict[str, str], concurrent: bool) -> float:
    async def go() -> float:
        clients = clients_for(kind, urls)
        try:
            started = time.perf_counter()
            for batch in recorder.batches:
                sends = [clients[name].request(method, url, headers=headers, content=content)
                         for name, method, url, headers, content in batch]
                if concurrent:
                    await asyncio.gather(*sends)
                else:
                    for send in sends:
                        await send
            return recorder.calls / (time.perf_counter() - started)
        finally:
            for client in clients.values():
                await client.aclose()

    return asyncio.run(go())


def measure(label: str, kind: str, spec_text: str, urls: dict[str, str], sequences: int,
            steps: int) -> None:
    ours, recorder = run_mbtspec(spec_text, sequences, steps)
    sequential = plain_loop(recorder, kind, urls, concurrent=False)
    concurrent = plain_loop(recorder, kind, urls, concurrent=True)
    print(f"({label}) {recorder.calls} calls")
    print(f"    mbtspec check           {ours:8.0f} calls/s")
    print(f"    plain httpx sequential  {sequential:8.0f} calls/s   ratio {ours / sequential:.2f}")
    print(f"    plain httpx concurrent  {concurrent:8.0f} calls/s   ratio {ours / concurrent:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=100)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    os.chdir(REPO)

    in_process = orders_spec("  model: {app: tests.apps.variants:model}\n"
                             "  candidate: {app: tests.apps.variants:minted}\n")
    measure("a: two in-process apps", "app", in_process, {}, args.sequences, args.steps)

    model, model_url = start_server(1)
    candidate, candidate_url = start_server(1001)
    try:
        servers = orders_spec(f'  model: {{base_url: "{model_url}"}}\n'
                              f'  candidate: {{base_url: "{candidate_url}"}}\n')
        measure("b: two uvicorn servers", "url", servers,
                {"model": model_url, "candidate": candidate_url}, args.sequences, args.steps)
    finally:
        for process in (model, candidate):
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
