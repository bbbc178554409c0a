"""Hostile spec files through `lint` (in-process) and a sample through `check` (subprocesses).

Seeds are the valid and invalid specs of the repository: examples/*/spec.yaml, every
tests/cases/lint/*/spec.yaml and every YAML example of specs/*.md that is a whole spec. Each
generated file is a seed with 1 to 4 mutations, drawn with a seeded random generator:

- on the text: delete, duplicate, swap or re-indent lines, insert YAML punctuation, random
  bytes (some not UTF-8), a byte order mark, CRLF line ends, tabs, a truncated end, an alias
  bomb, 300 levels of brackets;
- on the data: delete, duplicate (under a new name) or swap keys and subtrees, replace a value
  with a hostile one: huge and negative numbers, NaN and infinities, empty and huge strings,
  odd Unicode (bidi controls, NUL, CR/LF, non-ASCII), wrong types, deep nesting, generator
  keywords with hostile options, hostile CEL expressions and regular expressions.

Every file goes through `lint_spec` in this process, under a 30 s alarm. Counted:
tracebacks (any exception but mbtspec's own errors), files over 10 s, the time per file, and
the process's peak memory. A file that lints without error is then compiled (`compile_plan`,
every environment variable set) and, for a sample, a few requests are drawn from each action:
lint must reject what compiling then rejects ("disagreements"). A sample of mutated runnable
specs (targets replaced by the in-process apps of tests/apps) runs through
`mbtspec check --sequences 2 --steps 5` in a subprocess with a timeout: counted by exit code,
with tracebacks (exit 4 or a "Traceback" on stderr) and timeouts.

Inputs of failures are saved under --out (default fuzz-failures/) with what happened.

Run from the repository root:
    python bench/fuzz_specs.py --count 2000 --check-sample 20    # a quick look (~1 minute)
    python bench/fuzz_specs.py                                   # 100,000 files, 200 checks
The full run is about 40 minutes of lint and 7 of checks in one process on the 2-core
development machine; two processes of 50,000 files each (--seed 8 and --seed 9, --count 50000
--check-sample 100) take about 25 minutes side by side. Measured that way: 100,000 files,
0 tracebacks, 0 runs over 10 s, 0 disagreements, median 1.2 ms per file, p99 ~140 ms, max 5.5 s,
peak RSS 63-77 MiB; 200 checks: 0 tracebacks, 0 timeouts, max 9 s.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from mbtspec.errors import MbtspecError  # noqa: E402
from mbtspec.spec import lint_spec  # noqa: E402

SLOW = 10.0
ALARM = 30


class Hang(Exception):
    """The alarm rang: one file took more than ``ALARM`` seconds."""


# --------------------------------------------------------------------------- seeds


def seeds(workdir: Path) -> list[str]:
    """Seed spec texts, with relative file references made absolute (files may move)."""
    texts: list[str] = []
    for path in sorted([*REPO.glob("examples/*/spec.yaml"),
                        *REPO.glob("tests/cases/lint/*/spec.yaml")]):
        texts.append(_absolute(path.read_text(encoding="utf-8", errors="replace"), path.parent))
    shared = workdir / "docs"
    shared.mkdir(exist_ok=True)
    for doc in sorted(REPO.glob("specs/*.md")):
        blocks = re.findall(r"```yaml\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
        for block in blocks:
            if block.startswith("openapi: 3") and not (shared / "openapi.yaml").exists():
                (shared / "openapi.yaml").write_text(block, encoding="utf-8")
        texts.extend(_absolute(b, shared) for b in blocks if b.startswith("version:"))
    return texts


def _absolute(text: str, folder: Path) -> str:
    def fix(found: re.Match[str]) -> str:
        ref = found.group(2).strip().strip("'\"")
        return f"{found.group(1)}{(folder / ref).resolve()}" if not ref.startswith("/") else \
            found.group(0)
    return re.sub(r"(?m)^(openapi:\s*)(.+)$", fix, text)


# --------------------------------------------------------------------------- hostile values


HUGE = [10**100, -(10**100), 2**63, -(2**63) - 1, 10**400, 1e308, -1, 0, -0.0]
ODD_TEXT = ["", " ", "\u202eevil", "a\x00b", "a\r\nX-Injected: 1", "caf\u00e9", "\t", "${",
            "${}", "$${x}", "${env.}", "${env.X:-}", "${1}", "x" * 10_000, "\U0001f600",
            "GET", "GET /", "FETCH /x", "/", "//", "{", "[", "&a", "*a", "!!binary AAA", "~",
            "null", ".nan", "\u00a0", "\ufeff", "a\u0301", "'", '"', "\\"]
CEL = ["response.status ==", "(((((", "1" + " + 1" * 2000, "(" * 150 + "1" + ")" * 150,
       "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10]"
       ".all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, [1,2,3,4,5,6,7,8,"
       "9,10].all(f, true))))))",
       '"a"' + '.replace("a", "aa")' * 25, "lists.range(100000000).size() > 0",
       "math.abs(-1) == 1", "abs(-1) == 1", "x.abs()", "size(response.body) > 0",
       "response.body.all(a, response.body.exists(b, a == b))", "has(response.body.id)",
       "response.body.map(x, x, x, x)", "f(", "a.b.c.d.e.f.g", "'\\'", "b'\\xff'",
       "timestamp('x')", "1/0 == 1", "0x" + "f" * 40, "9" * 400, "`a`", "a.?b",
       "[1, 2][?0]", "{?'a': 1}", "dyn(x)", "type(x) == list", "x in y"]
PATTERNS = ["[^\\s\\S]", "(" * 3000 + ")" * 3000, "(" * 60 + "a" + ")" * 60, "a{99999999999}",
            "\\p{L}", "[a-z]{3}", "(?!)", "(a|b)*c", "", "^$", "[", "x" * 5000, "(?P<a>x)(?P=b)"]


def hostile(rnd: random.Random, depth: int = 0) -> Any:
    kind = rnd.randrange(14)
    if kind == 0:
        return rnd.choice(HUGE)
    if kind == 1:
        return rnd.choice([math.nan, math.inf, -math.inf])
    if kind == 2:
        return rnd.choice(ODD_TEXT)
    if kind == 3:
        return rnd.choice(CEL)
    if kind == 4:
        return {"string": {"pattern": rnd.choice(PATTERNS),
                           **({"min_size": rnd.choice(HUGE)} if rnd.random() < .3 else {})}}
    if kind == 5:
        keyword = rnd.choice(["integer", "number", "string", "list", "one_of", "schema",
                              "format", "pick", "object", "const", "boolean"])
        options = rnd.choice([{}, None, [], "", {"min": rnd.choice(HUGE)},
                              {"max": math.nan}, {"min_size": rnd.choice(HUGE)},
                              {"min": 5, "max": 1}, {"type": "integer", "minimum": 5,
                                                     "maximum": 1}, {"$ref": "#/nope"},
                              {"$ref": "other.json#/x"}, {"pattern": rnd.choice(PATTERNS)},
                              {"enum": []}, {"alphabet": ""}, {"unknown": 1}])
        return {keyword: options}
    if kind == 6 and depth < 3:
        return [hostile(rnd, depth + 1) for _ in range(rnd.randrange(4))]
    if kind == 7 and depth < 3:
        return {rnd.choice(ODD_TEXT + ["a", "b", "when", "pick", "or"]): hostile(rnd, depth + 1)
                for _ in range(rnd.randrange(4))}
    if kind == 8:
        deep: Any = 1
        for _ in range(rnd.choice([50, 99, 150, 300])):
            deep = [deep]
        return deep
    if kind == 9:
        return rnd.choice([True, False, None, 1.5, "1", {}, []])
    if kind == 10:
        return {"schema": {"type": "object", "required": ["a"], "properties": {
            "a": {"type": "string", "pattern": rnd.choice(PATTERNS)}}}}
    if kind == 11:
        return rnd.choice(["GET /items/{id}", "POST /items", "GET /a/{x}/{x}",
                           "createItem", "GET " + "/x" * 500, "get /items"])
    if kind == 12:
        return {"X Bad": "a", "X-Ok": "caf\u00e9", "X-Split": "a\r\nb", "": "x"}
    return "".join(chr(rnd.randrange(1, 0x3000)) for _ in range(rnd.randrange(1, 20)))


# --------------------------------------------------------------------------- mutations


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from paths(value, (*prefix, i))


def get(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def mutate_data(rnd: random.Random, data: Any) -> Any:
    all_paths = [p for p in paths(data) if p]
    if not all_paths:
        return hostile(rnd)
    path = rnd.choice(all_paths)
    parent = get(data, path[:-1])
    key = path[-1]
    action = rnd.randrange(6)
    if action == 0:  # replace with a hostile value
        parent[key] = hostile(rnd)
    elif action == 1:  # delete
        del parent[key]
    elif action == 2 and isinstance(parent, dict):  # duplicate under a near name
        parent[f"{key}_"] = parent[key]
    elif action == 3:  # swap with another subtree
        other = rnd.choice(all_paths)
        other_parent = get(data, other[:-1])
        try:
            parent[key], other_parent[other[-1]] = other_parent[other[-1]], parent[key]
        except (KeyError, IndexError, TypeError):
            pass
    elif action == 4 and isinstance(parent, dict):  # a hostile key
        parent[rnd.choice(ODD_TEXT)] = hostile(rnd)
    else:  # wrap the value in a list or a mapping
        parent[key] = rnd.choice([[parent[key]], {"one_of": [parent[key]]}, {"x": parent[key]}])
    return data


BOMB = "".join(f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 10))


def mutate_text(rnd: random.Random, text: str) -> str | bytes:
    lines = text.splitlines()
    if not lines:
        return text
    action = rnd.randrange(13)
    i = rnd.randrange(len(lines))
    if action == 0:
        del lines[i]
    elif action == 1:
        lines.insert(i, lines[i])
    elif action == 2:
        j = rnd.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif action == 3:
        lines[i] = rnd.choice(["  ", " ", "\t", "    "]) + lines[i]
    elif action == 4:
        at = rnd.randrange(len(lines[i]) + 1)
        noise = "".join(rnd.choice(":{}[]$-,'\"#&*!|>? \\%@`") for _ in range(rnd.randrange(1, 4)))
        lines[i] = lines[i][:at] + noise + lines[i][at:]
    elif action == 5:
        raw = bytearray("\n".join(lines).encode())
        for _ in range(rnd.randrange(1, 5)):
            raw.insert(rnd.randrange(len(raw) + 1), rnd.randrange(256))
        return bytes(raw)
    elif action == 6:
        return "\ufeff" + text
    elif action == 7:
        return text.replace("\n", "\r\n")
    elif action == 8:
        return text[: rnd.randrange(len(text) + 1)]
    elif action == 9:
        return "x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + BOMB + text
    elif action == 10:
        lines.insert(i, "deep: " + "[" * 300 + "]" * 300)
    elif action == 11:
        lines[i] = lines[i].replace(" ", "\t", 1)
    else:
        lines.insert(i, "anchor: &x {a: 1}\nmerged: {<<: *x, b: 2}")
    return "\n".join(lines) + "\n"


BENIGN = [
    {"integer": {"min": -5, "max": 10**30}}, {"string": {"pattern": "[a-z]{1,3}"}},
    {"string": {"alphabet": "ab\u00e9", "max_size": 3}}, {"schema": {"type": "integer",
                                                                   "minimum": 1}},
    {"list": {"boolean": {}}, "max_size": 3}, {"one_of": [1, "a", None]},
    {"number": {"min": -math.inf}}, {"format": "x-${n}", "n": {"integer": {}}},
    {"schema": {"type": "object", "properties": {"a": {"type": "string", "pattern": "^x+$"}},
                "required": ["a"]}}, {"const": {"integer": 1}}, "${env.FUZZ_VALUE}", 7, "x",
    {"string": {"min_size": 1000}}, {"list": {"integer": {}}, "min_size": 100},
    {"number": {"min": 10**300 + 1}}, {"schema": {"type": "string", "format": "email"}},
    {"schema": {"enum": ["a", "b"], "type": "string"}}, {"pick": "nothing", "or": 3},
]
_VALUE_KEYS = frozenset({"query", "body", "headers", "path", "let", "generators"})


def benign(rnd: random.Random, text: str) -> str:
    """``text`` with one value of an action or a generator replaced by an unusual but valid
    one (what probes the compiler rather than the linter)."""
    data = _small_data(text)
    if not isinstance(data, dict):
        return text
    places = [p for p in paths(data) if len(p) >= 2 and any(k in _VALUE_KEYS for k in p[:-1]
                                                             if isinstance(k, str))]
    if not places:
        return text
    place = rnd.choice(places)
    get(data, place[:-1])[place[-1]] = rnd.choice(BENIGN)
    try:
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    except (yaml.YAMLError, RecursionError, ValueError):
        return text


def generate(rnd: random.Random, seed_texts: list[str],
             valid: list[str] | None = None) -> str | bytes:
    """A mutated seed; with ``valid`` seeds, a third of the files are benign variations of
    them."""
    if valid and rnd.random() < 0.35:
        return benign(rnd, rnd.choice(valid))
    text: str | bytes = rnd.choice(seed_texts)
    for _ in range(1 if rnd.random() < 0.6 else rnd.randrange(2, 5)):
        if isinstance(text, bytes):
            break
        if rnd.random() < 0.55:
            data = _small_data(text)
            if isinstance(data, dict):
                try:
                    data = mutate_data(rnd, data)
                except RecursionError:
                    continue
                try:
                    text = yaml.safe_dump(data, allow_unicode=rnd.random() < .5,
                                          sort_keys=False, width=rnd.choice([80, 10**6]))
                except (yaml.YAMLError, RecursionError, ValueError):
                    pass
                continue
        text = mutate_text(rnd, text)
    return text


def _small_data(text: str) -> Any:
    """The data of ``text``, unless it is invalid, or large or deep once its aliases are
    expanded (walking an alias bomb's data would be the bomb going off here)."""
    from mbtspec.spec._yaml import check_limits, node_budget

    try:
        node = yaml.compose(text, Loader=yaml.CSafeLoader)
        if node is None or check_limits(node, node_budget(text), cycles=False) is not None:
            return None
        return yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError, ValueError):
        return None


# --------------------------------------------------------------------------- one file


def check_agreement(path: Path, draw: bool) -> str:
    """'' when compiling agrees with a clean lint, else what went wrong."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from mbtspec.compiler import DrawContext, State, Unsatisfiable, compile_plan
    from mbtspec.spec import load_spec

    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        environ = {name: "fuzz-value" for name in re.findall(r"env\.([A-Za-z_]\w*)", text)}
        plan = compile_plan(load_spec(path), environ=environ)
    except MbtspecError as err:
        return f"lint passed, compiling rejected it: {err}"
    if not draw:
        return ""
    class Draws:
        def __init__(self, data: Any) -> None:
            self.data = data

        def draw(self, strategy: Any) -> Any:
            return self.data.draw(strategy)

    def attempt_for(action: Any) -> Any:
        @settings(max_examples=3, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))
        @given(st.data())
        def attempt(data: Any) -> None:
            try:
                action.draw(DrawContext(Draws(data), State(frozenset(plan.spec.variables)),
                                        plan.targets))
            except Unsatisfiable:
                pass

        return attempt

    for action in plan.actions:
        attempt_for(action)()
    return ""


# --------------------------------------------------------------------------- check sample


APP_TARGETS = {"model": {"app": "tests.apps.orders:app"},
               "candidate": {"app": "tests.apps.orders:app"}}


def runnable_seed() -> str:
    openapi = REPO / "tests" / "apps" / "orders_openapi.yaml"
    return f"""\
version: 1
openapi: {openapi}
targets:
  model: {{app: "tests.apps.orders:app"}}
  candidate: {{app: "tests.apps.orders:app"}}
reset:
  - request: POST /__reset
generators:
  item: {{one_of: [apple, pear, fig]}}
  qty: {{integer: {{min: 1, max: 100}}}}
actions:
  create:
    request: POST /orders
    body: {{item: "${{item}}", qty: "${{qty}}"}}
    store: {{orders: response.body.id}}
    expect: ["response.status == 201", "response.body.all(k, k != '')"]
  get:
    request: GET /orders/{{id}}
    path: {{id: {{pick: orders}}}}
    expect: ["response.status == 200"]
  list:
    request: GET /orders
    expect: ["size(response.body) >= 0"]
invariants:
  - candidate.status < 500
run: {{sequences: 2, steps: 5}}
"""


def run_check_sample(rnd: random.Random, count: int, workdir: Path, out: Path,
                     timeout: float) -> dict[str, Any]:
    base = runnable_seed()
    codes: Counter[str] = Counter()
    times: list[float] = []
    tracebacks = timeouts = 0
    for number in range(count):
        text = base
        for _ in range(rnd.randrange(0, 3)):
            mutated = generate(rnd, [text] if isinstance(text, str) else [base])
            text = mutated if isinstance(mutated, str) else base
        path = workdir / f"check-{number}.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        started = time.monotonic()
        try:
            done = subprocess.run(
                [sys.executable, "-m", "mbtspec.cli", "check", str(path), "--sequences", "2",
                 "--steps", "5", "--no-database"],
                cwd=REPO, capture_output=True, text=True, timeout=timeout,
                env={**os.environ, "PYTHONPATH": str(REPO)})
        except subprocess.TimeoutExpired:
            timeouts += 1
            _save(out, f"check-timeout-{number}", text, f"no answer in {timeout:g} s")
            continue
        times.append(time.monotonic() - started)
        codes[str(done.returncode)] += 1
        if done.returncode == 4 or "Traceback (most recent call last)" in done.stderr:
            tracebacks += 1
            _save(out, f"check-traceback-{number}", text, done.stderr)
    return {"files": count, "exit codes": dict(sorted(codes.items())),
            "tracebacks": tracebacks, "timeouts": timeouts,
            "max time (s)": round(max(times), 2) if times else 0,
            "median time (s)": round(statistics.median(times), 2) if times else 0}


# --------------------------------------------------------------------------- main


def _save(out: Path, name: str, text: str | bytes, what: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    (out / f"{name}.yaml").write_bytes(data)
    (out / f"{name}.txt").write_text(what, encoding="utf-8")


def _alarm(signum: int, frame: Any) -> None:
    raise Hang()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="files through lint")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--check-sample", type=int, default=200,
                        help="mutated runnable specs through `mbtspec check`")
    parser.add_argument("--draw-sample", type=int, default=2_000,
                        help="clean files whose actions are also drawn from")
    parser.add_argument("--check-timeout", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=Path("fuzz-failures"))
    args = parser.parse_args()

    rnd = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="mbtspec-fuzz-"))
    signal.signal(signal.SIGALRM, _alarm)
    seed_texts = seeds(workdir)
    valid = []
    for number, text in enumerate(seed_texts):
        (workdir / f"seed-{number}.yaml").write_text(text, encoding="utf-8")
        try:
            if not any(p.severity == "error" for p in lint_spec(workdir / f"seed-{number}.yaml")):
                valid.append(text)
        except MbtspecError:
            pass
    print(f"{len(seed_texts)} seed specs ({len(valid)} valid); {args.count:,} files through lint "
          f"(seed {args.seed})", flush=True)
    times: list[float] = []
    outcome: Counter[str] = Counter()
    shown = 0
    drawn = 0
    started_all = time.monotonic()
    path = workdir / "spec.yaml"
    for number in range(args.count):
        text = generate(rnd, seed_texts, valid)
        data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
        path.write_bytes(data)
        started = time.monotonic()
        signal.alarm(ALARM)
        try:
            problems = lint_spec(path)
            errors = any(p.severity == "error" for p in problems)
            outcome["with errors" if errors else "clean"] += 1
            if not errors:
                draw = drawn < args.draw_sample
                drawn += draw
                why = check_agreement(path, draw)
                if why:
                    outcome["disagreements"] += 1
                    _save(args.out, f"disagreement-{number}", text, why)
        except MbtspecError:
            outcome["usage errors"] += 1
        except Hang:
            outcome["hangs"] += 1
            _save(args.out, f"hang-{number}", text, f"more than {ALARM} s")
        except BaseException as err:
            if isinstance(err, KeyboardInterrupt):
                raise
            outcome["tracebacks"] += 1
            _save(args.out, f"traceback-{number}", text, traceback.format_exc())
            if shown < 3:
                shown += 1
                print(f"traceback on file {number}:\n{traceback.format_exc()}", flush=True)
        finally:
            signal.alarm(0)
        elapsed = time.monotonic() - started
        times.append(elapsed)
        if elapsed > SLOW:
            outcome["over 10 s"] += 1
            _save(args.out, f"slow-{number}", text, f"{elapsed:.1f} s")
        if (number + 1) % 5000 == 0:
            print(f"  {number + 1:,} files, {time.monotonic() - started_all:.0f} s, "
                  f"{dict(outcome)}", flush=True)
    lint_seconds = time.monotonic() - started_all
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    times.sort()
    report = {
        "files": args.count,
        "outcomes": dict(outcome),
        "tracebacks": outcome["tracebacks"],
        "runs over 10 s": outcome["over 10 s"] + outcome["hangs"],
        "lint-passed but compile-rejected": outcome["disagreements"],
        "time per file (ms)": {"median": round(statistics.median(times) * 1000, 1),
                               "p99": round(times[int(len(times) * .99) - 1] * 1000, 1),
                               "max": round(times[-1] * 1000, 1)},
        "total lint time (s)": round(lint_seconds, 1),
        "peak RSS (MiB)": round(peak, 1),
    }
    print(json.dumps(report, indent=2), flush=True)
    if args.check_sample:
        print(f"{args.check_sample} mutated runnable specs through mbtspec check ...",
              flush=True)
        sample = run_check_sample(rnd, args.check_sample, workdir, args.out,
                                  args.check_timeout)
        print(json.dumps({"check sample": sample}, indent=2), flush=True)
    shutil.rmtree(workdir, ignore_errors=True)
    if outcome["tracebacks"] or outcome["over 10 s"] or outcome["hangs"]:
        print(f"failures saved under {args.out}/", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
