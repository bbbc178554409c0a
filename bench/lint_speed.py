"""How long `mbtspec lint` takes on a 300-line spec over a 2,000-line OpenAPI document,
process start included, against `python -c pass` in the same run (median of 10 runs each).

The documents are generated here (a realistic CRUD API: 50 resources, shared schemas, path and
query parameters) into a temporary folder. The first lint of a new OpenAPI document also
validates it with openapi-spec-validator and caches the verdict; that first run is reported
separately, the median is over the next runs (what pre-commit sees on each commit).

Run from the repository root:  python bench/lint_speed.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESOURCES = 42


def openapi_document() -> str:
    lines = ["openapi: 3.0.3", "info: {title: Bench API, version: '1'}", "paths:"]
    for i in range(RESOURCES):
        r = f"res{i}"
        lines += [
            f"  /{r}:",
            "    get:",
            f"      operationId: list{i}",
            "      parameters:",
            "        - {name: limit, in: query, schema: {type: integer, minimum: 1}}",
            "        - {name: q, in: query, schema: {type: string}}",
            "      responses:",
            "        '200':",
            "          description: the list",
            "          content:",
            "            application/json:",
            f"              schema: {{type: array, items: {{$ref: '#/components/schemas/R{i}'}}}}",
            "    post:",
            f"      operationId: create{i}",
            "      requestBody:",
            "        required: true",
            "        content:",
            "          application/json:",
            f"            schema: {{$ref: '#/components/schemas/New{i}'}}",
            "      responses:",
            "        '201':",
            "          description: created",
            "          content:",
            "            application/json:",
            f"              schema: {{$ref: '#/components/schemas/R{i}'}}",
            "        '422': {description: invalid}",
            f"  /{r}/{{id}}:",
            "    parameters:",
            "      - {name: id, in: path, required: true, schema: {type: integer}}",
            "    get:",
            f"      operationId: get{i}",
            "      responses:",
            "        '200':",
            "          description: one",
            "          content:",
            "            application/json:",
            f"              schema: {{$ref: '#/components/schemas/R{i}'}}",
            "        '404': {description: not found}",
        ]
    lines += ["components:", "  schemas:"]
    for i in range(RESOURCES):
        lines += [
            f"    New{i}:",
            "      type: object",
            "      required: [name]",
            "      properties:",
            "        name: {type: string, minLength: 1, maxLength: 40}",
            "        size: {type: integer, minimum: 0}",
            f"    R{i}:",
            "      allOf:",
            f"        - $ref: '#/components/schemas/New{i}'",
            "        - {type: object, properties: {id: {type: integer}}}",
        ]
    return "\n".join(lines) + "\n"


def spec_document() -> str:
    lines = [
        "version: 1", "openapi: openapi.yaml", "targets:",
        "  model: {base_url: 'http://127.0.0.1:8001'}",
        "  candidate: {base_url: 'http://127.0.0.1:8002'}",
        "reset:", "  - request: POST /__reset", "generators:",
        "  name: {string: {alphabet: ascii_letters, min_size: 1, max_size: 12}}",
        "  size: {integer: {min: 0, max: 100}}", "actions:",
    ]
    for i in range(RESOURCES):
        lines += [
            f"  create{i}:", f"    request: POST /res{i}",
            "    body: {name: '${name}', size: '${size}'}",
            f"    store: {{ids{i}: response.body.id}}",
            f"  get{i}:", f"    request: GET /res{i}/{{id}}",
            f"    path: {{id: {{pick: ids{i}, or: {{integer: {{min: 1}}}}}}}}",
        ]
    lines += ["compare: {ignore: ['body[*].id']}", "invariants:",
              "  - {name: no server errors, check: candidate.status < 500}"]
    return "\n".join(lines) + "\n"


def timed(args: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, done


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="mbtspec-bench-"))
    (folder / "openapi.yaml").write_text(openapi_document())
    (folder / "spec.yaml").write_text(spec_document())
    doc_lines = len((folder / "openapi.yaml").read_text().splitlines())
    spec_lines = len((folder / "spec.yaml").read_text().splitlines())
    lint = [sys.executable, "-m", "mbtspec.cli", "lint", "spec.yaml"]
    first, done = timed(lint, folder)
    if done.returncode != 0:
        raise SystemExit(f"the bench spec does not lint clean:\n{done.stdout}{done.stderr}")
    lints = [timed(lint, folder)[0] for _ in range(10)]
    passes = [timed([sys.executable, "-c", "pass"], folder)[0] for _ in range(10)]
    median, baseline = statistics.median(lints), statistics.median(passes)
    print(f"spec {spec_lines} lines, OpenAPI document {doc_lines} lines")
    print(f"first lint (validates and caches the document): {first:.3f}s")
    print(f"mbtspec lint, median of 10: {median:.3f}s (target < 0.4s)")
    print(f"python -c pass, median of 10: {baseline:.3f}s; ratio {median / baseline:.1f}x")


if __name__ == "__main__":
    main()
