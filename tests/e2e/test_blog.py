"""End to end on the blog app (tests/apps/blog.py): authors, articles, comments. Deletes that
only an author may make, picks of two stored values, titles that must not collide."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import run_cli

BLOG = """\
version: 1
targets:
  model: {app: "tests.apps.blog:model"}
  candidate: {app: "tests.apps.blog:%s"}
reset:
  - {request: POST /__reset, status: 204}
generators:
  name: {string: {alphabet: lowercase, min_size: 1, max_size: 6}}
  title: {string: {alphabet: lowercase, min_size: 12, max_size: 12}}
actions:
  register:
    request: POST /users
    body: {name: "${name}"}
    store: {tokens: response.body.token}
  write:
    request: POST /articles
    query: {token: {pick: tokens}}
    body: {title: "${title}"}
    store: {slugs: response.body.slug}
  read:
    request: GET /articles/{slug}
    path: {slug: {pick: slugs}}
  delete:
    request: DELETE /articles/{slug}
    path: {slug: {pick: slugs, remove: %s}}
    query: {token: {pick: tokens}}
"""


def write(tmp_path: Path, candidate: str, remove: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(BLOG % (candidate, remove))
    return path


def _slug_steps(report: Path) -> list[tuple[str, str, int]]:
    """(action, model path, model status) of each step of the reported failure."""
    failure = json.loads(report.read_text())["failures"][0]
    return [(step["action"], step["requests"]["model"]["path"].split("?")[0],
             step["responses"]["model"]["status"]) for step in failure["steps"]]


def test_a_refused_delete_keeps_its_entry(tmp_path: Path) -> None:
    # forbidden_delete: the candidate answers 403 to a non-author's delete, as the model does,
    # but deletes the article all the same. remove: true keeps the slug after the 403, so a
    # later call on it shows the difference (200/204/403 against 404).
    report = tmp_path / "r.json"
    done = run_cli("check", str(write(tmp_path, "forbidden_delete", "true")), "--seed", "2",
                   "--sequences", "300", "--no-database", "--no-color", "--report-json",
                   str(report))
    assert done.code == 1, done.text
    steps = _slug_steps(report)
    refused = [i for i, (action, _, status) in enumerate(steps) if action == "delete"
               and status == 403]
    assert refused, steps
    # the last call uses the slug of a refused delete: it was still stored
    assert steps[-1][1] == steps[refused[0]][1] and steps[-1][0] in ("read", "delete"), steps


def test_remove_always_drops_the_entry_of_a_refused_delete(tmp_path: Path) -> None:
    # The former behaviour, still available: after the 403 the slug is gone from the state,
    # so no later call of the failure uses it (the bug shows only through a title collision).
    report = tmp_path / "r.json"
    done = run_cli("check", str(write(tmp_path, "forbidden_delete", "always")), "--seed", "2",
                   "--sequences", "150", "--no-database", "--no-color", "--report-json",
                   str(report))
    assert done.code == 1, done.text
    steps = _slug_steps(report)
    for i, (action, path, _) in enumerate(steps):
        if action == "delete":
            assert all(later[1] != path for later in steps[i + 1:]), steps


def test_the_correct_candidate_passes_with_removal_on_success(tmp_path: Path) -> None:
    done = run_cli("check", str(write(tmp_path, "candidate", "true")), "--seed", "1",
                   "--sequences", "30", "--no-database", "--no-color")
    assert done.code == 0, done.text


GHOSTS = """\
version: 1
targets:
  model: {app: "tests.apps.blog:model"}
  candidate: {app: "tests.apps.blog:candidate"}
reset:
  - {request: POST /__reset, status: 204}
generators:
  name: {string: {alphabet: lowercase, min_size: 1, max_size: 6}}
actions:
  register:
    request: POST /users
    body: {name: "${name}"}
    store: {tokens: response.body.token, ghosts: response.body.ghost}  # no 'ghost' field
  haunt:
    request: GET /articles/{slug}
    path: {slug: {pick: ghosts}}
  crowd:
    request: GET /articles/a1
    when: size(tokens) > 100
"""


def test_every_report_names_the_actions_that_never_ran_and_why(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(GHOSTS)
    files = {name: tmp_path / name for name in ("r.json", "r.html", "r.xml")}
    done = run_cli("check", str(spec), "--seed", "1", "--sequences", "10", "--steps", "5",
                   "--no-database", "--no-color", "--report-json", str(files["r.json"]),
                   "--html", str(files["r.html"]), "--junit-xml", str(files["r.xml"]))
    assert done.code == 0, done.text
    haunt = "nothing was stored in ghosts at every step (50)"
    crowd = "its 'when' was false at every step (50)"
    lines = done.out.splitlines()
    start = lines.index("never ran (2):")
    assert lines[start + 1:start + 3] == [f"  haunt: {haunt}", f"  crowd: {crowd}"]
    actions = json.loads(files["r.json"].read_text())["stats"]["actions"]
    assert actions["haunt"]["never_ran"] == haunt and actions["crowd"]["never_ran"] == crowd
    assert actions["haunt"]["nothing_stored"] == {"ghosts": 50}
    assert actions["register"]["never_ran"] is None and actions["register"]["runs"] == 50
    page = files["r.html"].read_text()
    assert "never ran, because" in page
    assert f"<td>haunt</td><td>{haunt}</td>" in page.replace("&#x27;", "'")
    xml = files["r.xml"].read_text()
    assert f'message="not run in this check: {crowd.replace(chr(39), "&apos;")}"' in xml \
        or f'message="not run in this check: {crowd}"' in xml


@pytest.mark.parametrize(("flag", "in_spec", "swarm"), [
    (None, "", True),  # on by default
    ("--no-swarm", "", False),
    (None, "run: {swarm: false}\n", False),
    ("--swarm", "run: {swarm: false}\n", True),  # the flag wins over the spec
])
def test_swarm_testing_is_set_by_flag_or_spec(tmp_path: Path, flag: str | None, in_spec: str,
                                              swarm: bool) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(BLOG % ("candidate", "true") + in_spec)
    report = tmp_path / "r.json"
    done = run_cli("check", str(spec), "--seed", "2", "--sequences", "40", "--steps", "10",
                   "--no-database", "--no-color", "--report-json", str(report),
                   *([flag] if flag else []))
    assert done.code == 0, done.text
    data = json.loads(report.read_text())
    stats = data["stats"]
    assert (stats["swarm"] is not None) == swarm, stats["swarm"]
    if swarm:  # half the swarms hold every action (4), the others fewer
        assert stats["swarm"]["sequences"] >= 40
        assert 2 < stats["swarm"]["mean_actions"] < 4
    left_out = sum(a["left_out_by_swarm"] for a in stats["actions"].values())
    assert (left_out > 0) == swarm
    # (the command that reproduces a failure carries the flag: see
    # tests/unit/test_action_choice.py::test_the_reproduce_command_carries_the_swarm_flag)
