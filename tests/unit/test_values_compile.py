"""The compiler's values: each generator draws only what it promises, filled parameters follow
the OpenAPI document, and actions draw whole requests.

Values are written as YAML, parsed by the spec's value grammar (``ValueParser``) and compiled by
``Compiler``, so these tests go through the same path as a spec file. Draws go through Hypothesis
(``st.data()`` or ``find``), exactly as the executor draws them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from textwrap import dedent
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from mbtspec.compiler import (
    DrawContext,
    PerTarget,
    State,
    Unsatisfiable,
    compile_plan,
)
from mbtspec.compiler._values import Compiler, Node, schema_strategy
from mbtspec.errors import SpecError
from mbtspec.spec import load_spec
from mbtspec.spec import model as m
from mbtspec.spec._openapi import to_json_schema
from mbtspec.spec._values import ALPHABETS, ValueParser
from mbtspec.spec._yaml import parse_yaml

REPO = Path(__file__).resolve().parents[2]
EMPLOYEES = REPO / "examples" / "employees"
TARGETS = ("model", "candidate")

SETTINGS = settings(database=None, max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
FIND = settings(database=None, max_examples=2000, deadline=None,
                suppress_health_check=list(HealthCheck))


# --------------------------------------------------------------------------- helpers


class DataDraws:
    """A ``Draws`` that draws through Hypothesis (``st.data()`` or a composite's ``draw``)."""

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any]) -> None:
        self.draw = draw


def parse_value(text: str) -> m.Value:
    parsed = parse_yaml(dedent(text), "v.yaml")
    assert parsed.problems == []
    parser = ValueParser(parsed.positions)
    value = parser.parse(parsed.data["v"], ("v",))
    assert parser.issues == []
    return value


def compile_value(text: str, generators: dict[str, str] | None = None,
                  environ: dict[str, str] | None = None,
                  lets: frozenset[str] = frozenset()) -> Node:
    gens = {name: parse_value(f"v: {src}") for name, src in (generators or {}).items()}
    compiler = Compiler(gens, environ=environ or {})
    return compiler.compile(parse_value(f"v: {text}"), lets)


def strategy_of(node: Node, state: State | None = None) -> st.SearchStrategy[Any]:
    """Every node (pure or not) as one strategy, drawing through a fresh DrawContext."""

    @st.composite
    def drawn(draw: Any) -> Any:
        return node.draw(DrawContext(DataDraws(draw), state or State(), TARGETS))

    return drawn()


def ctx_from(data: Any, state: State | None = None) -> DrawContext:
    return DrawContext(DataDraws(data.draw), state or State(), TARGETS)


def write_spec(folder: Path, text: str, openapi: str | None = None) -> Path:
    if openapi is not None:
        (folder / "openapi.yaml").write_text(dedent(openapi))
    path = folder / "spec.yaml"
    path.write_text(dedent(text))
    return path


def plan_of(folder: Path, text: str, openapi: str | None = None,
            environ: dict[str, str] | None = None, **kw: Any):
    return compile_plan(load_spec(write_spec(folder, text, openapi)),
                        environ=environ if environ is not None else {}, **kw)


def action_strategy(plan: Any, name: str, state: State | None = None):
    action = next(a for a in plan.actions if a.name == name)

    @st.composite
    def drafts(draw: Any) -> Any:
        return action.draw(DrawContext(DataDraws(draw), state or State(), plan.targets))

    return drafts()


HEAD = """\
version: 1
openapi: openapi.yaml
targets:
  model: {app: "tests.apps.orders:app"}
  candidate: {base_url: "http://127.0.0.1:1"}
"""


# --------------------------------------------------------------------------- numbers


@SETTINGS
@given(st.data(), st.integers(-1000, 1000), st.integers(0, 50))
def test_integer_bounds(data: Any, low: int, width: int) -> None:
    node = compile_value(f"{{integer: {{min: {low}, max: {low + width}}}}}")
    value = data.draw(node.strategy)
    assert type(value) is int
    assert low <= value <= low + width


def test_integer_bounds_are_reached() -> None:
    node = compile_value("{integer: {min: -3, max: 7}}")
    assert find(node.strategy, lambda x: x == 7, settings=FIND) == 7
    assert find(node.strategy, lambda x: x == -3, settings=FIND) == -3


@SETTINGS
@given(st.data())
def test_half_open_integer_bounds(data: Any) -> None:
    assert data.draw(compile_value("{integer: {min: 10}}").strategy) >= 10
    assert data.draw(compile_value("{integer: {max: -10}}").strategy) <= -10


@SETTINGS
@given(st.data())
def test_number_bounds_without_nan_or_infinity(data: Any) -> None:
    value = data.draw(compile_value("{number: {min: -1.5, max: 2}}").strategy)
    assert isinstance(value, float)
    assert -1.5 <= value <= 2
    free = data.draw(compile_value("{number: {}}").strategy)
    assert math.isfinite(free)


def test_number_allows_nan_and_infinity_when_asked() -> None:
    nan = compile_value("{number: {allow_nan: true}}")
    assert math.isnan(find(nan.strategy, math.isnan, settings=FIND))
    inf = compile_value("{number: {allow_infinity: true}}")
    assert math.isinf(find(inf.strategy, math.isinf, settings=FIND))


def test_nan_with_bounds_is_rejected_before_the_run(tmp_path: Path) -> None:
    text = HEAD.replace("openapi: openapi.yaml\n", "") + dedent("""\
        generators:
          ratio: {number: {min: 0, max: 1, allow_nan: true}}
        actions:
          a: {request: GET /x, query: {r: "${ratio}"}}
        """)
    path = write_spec(tmp_path, text)
    from mbtspec.spec import iter_problems

    if iter_problems(path):
        return  # reported by the loader: fine
    try:
        plan = compile_plan(load_spec(path), environ={})
    except SpecError:
        return  # reported when compiling: fine
    find(action_strategy(plan, "a"), lambda d: True, settings=FIND)  # drawing must not raise


def test_boolean_gives_both() -> None:
    node = compile_value("{boolean: {}}")
    assert find(node.strategy, lambda b: b is True, settings=FIND) is True
    assert find(node.strategy, lambda b: b is False, settings=FIND) is False


# --------------------------------------------------------------------------- strings


@SETTINGS
@given(st.data(), st.sampled_from(sorted(ALPHABETS)), st.integers(0, 4), st.integers(0, 6))
def test_string_sizes_and_named_alphabets(data: Any, alphabet: str, low: int,
                                          extra: int) -> None:
    node = compile_value(f"{{string: {{alphabet: {alphabet}, min_size: {low}, "
                         f"max_size: {low + extra}}}}}")
    value = data.draw(node.strategy)
    assert low <= len(value) <= low + extra
    assert set(value) <= set(ALPHABETS[alphabet])


@SETTINGS
@given(st.data())
def test_string_literal_alphabet(data: Any) -> None:
    value = data.draw(compile_value('{string: {alphabet: "xy-", min_size: 1}}').strategy)
    assert value and set(value) <= {"x", "y", "-"}


def test_named_alphabets_are_what_they_say() -> None:
    assert set(ALPHABETS["digits"]) == set("0123456789")
    assert ALPHABETS["ascii_letters"] == ALPHABETS["lowercase"] + ALPHABETS["uppercase"]
    assert all(c.isprintable() and c.isascii() for c in ALPHABETS["ascii"])


@SETTINGS
@given(st.data())
def test_free_strings_are_valid_utf8(data: Any) -> None:
    value = data.draw(compile_value("{string: {max_size: 20}}").strategy)
    assert len(value) <= 20
    value.encode("utf-8")  # no lone surrogates


@SETTINGS
@given(st.data())
def test_string_pattern_is_a_full_match(data: Any) -> None:
    value = data.draw(compile_value('{string: {pattern: "[A-Z]{2}-[0-9]{1,3}"}}').strategy)
    assert re.fullmatch(r"[A-Z]{2}-[0-9]{1,3}", value)


@SETTINGS
@given(st.data())
def test_string_pattern_with_sizes(data: Any) -> None:
    value = data.draw(compile_value(
        '{string: {pattern: "[a-c]+", min_size: 2, max_size: 4}}').strategy)
    assert re.fullmatch("[a-c]+", value) and 2 <= len(value) <= 4


def test_string_pattern_and_alphabet_together() -> None:
    parsed = parse_yaml('v: {string: {pattern: "[a-z]+", alphabet: "ab"}}', "v.yaml")
    parser = ValueParser(parsed.positions)
    value = parser.parse(parsed.data["v"], ("v",))
    if parser.issues:
        return  # reported as a problem: fine
    node = Compiler({}, environ={}).compile(value, frozenset())
    try:
        found = find(node.strategy, lambda s: not set(s) <= {"a", "b"}, settings=FIND)
    except NoSuchExample:
        return  # both applied: fine
    raise AssertionError(f"drew {found!r}, outside the alphabet 'ab'")


# --------------------------------------------------------------------------- one_of, const


def test_one_of_picks_only_listed_values_and_all_of_them() -> None:
    node = compile_value("{one_of: [red, 2, null, true]}")
    options = ["red", 2, None, True]
    for option in options:
        found = find(node.strategy, lambda v, o=option: v == o and type(v) is type(o),
                     settings=FIND)
        assert found == option


@SETTINGS
@given(st.data())
def test_one_of_never_gives_anything_else(data: Any) -> None:
    value = data.draw(compile_value("{one_of: [a, b, {integer: {min: 5, max: 6}}]}").strategy)
    assert value in ("a", "b", 5, 6)


@SETTINGS
@given(st.data())
def test_one_of_with_a_pick_reads_the_state(data: Any) -> None:
    node = compile_value("{one_of: [{pick: ids}, none]}")
    assert node.strategy is None  # reads state: not a plain strategy
    state = State()
    state.store("ids", 42)
    assert node.draw(ctx_from(data, state)) in (42, "none")


def test_const_keeps_generator_keywords_literally() -> None:
    node = compile_value("{const: {one_of: [1, 2], integer: x}}")
    assert find(node.strategy, lambda v: True) == {"one_of": [1, 2], "integer": "x"}


def test_literals_and_nested_structures() -> None:
    node = compile_value('{a: [1, "two", null, {b: true}], "$$": "$${x}"}')
    assert find(node.strategy, lambda v: True) == {
        "a": [1, "two", None, {"b": True}], "$$": "${x}"}


# --------------------------------------------------------------------------- templates, format


@SETTINGS
@given(st.data())
def test_template_renders_generated_parts_as_text(data: Any) -> None:
    node = compile_value('"${n}/${f}/${b}/${o}"', generators={
        "n": "{integer: {min: 1, max: 9}}",
        "f": "{const: null}",
        "b": "{one_of: [true]}",
        "o": "{const: {k: [1, 2]}}",
    })
    value = data.draw(node.strategy)
    number, null, boolean, obj = value.split("/", 3)
    assert 1 <= int(number) <= 9
    assert (null, boolean, obj) == ("null", "true", '{"k":[1,2]}')


@SETTINGS
@given(st.data())
def test_format_locals_are_drawn_once_per_template(data: Any) -> None:
    node = compile_value('{format: "${n}-${n}-${w}", n: {integer: {min: 0, max: 10000}}, '
                         'w: {string: {alphabet: lowercase, min_size: 1, max_size: 3}}}')
    first, second, word = data.draw(node.strategy).split("-")
    assert first == second
    assert 0 <= int(first) <= 10000
    assert re.fullmatch("[a-z]{1,3}", word)


def test_format_locals_differ_between_draws() -> None:
    node = compile_value('{format: "${n}", n: {integer: {min: 0, max: 10}}}')
    found = find(st.tuples(node.strategy, node.strategy), lambda p: p[0] != p[1],
                 settings=FIND)
    assert found[0] != found[1]


def test_a_global_generator_referenced_twice_is_drawn_twice() -> None:
    # unlike locals, ${dept} names a generator: each reference is its own draw
    node = compile_value('{format: "${dept}/${dept}"}', generators={"dept": "{one_of: [a, b]}"})
    assert find(node.strategy, lambda v: v.split("/")[0] != v.split("/")[1],
                settings=FIND) in ("a/b", "b/a")


@SETTINGS
@given(st.data())
def test_format_like_the_employees_example(data: Any) -> None:
    node = compile_value('{format: "${department}-${n}", n: {integer: {min: 1, max: 200}}}',
                         generators={"department": "{one_of: [Frontend, HR]}"})
    value = data.draw(node.strategy)
    department, number = value.split("-")
    assert department in ("Frontend", "HR") and 1 <= int(number) <= 200


@SETTINGS
@given(st.data())
def test_format_with_a_pick_is_rendered_per_target(data: Any) -> None:
    node = compile_value('{format: "order-${id}", id: {pick: ids}}')
    state = State()
    state.store("ids", PerTarget.of({"model": 5, "candidate": 1005}))
    value = node.draw(ctx_from(data, state))
    assert value == PerTarget((("model", "order-5"), ("candidate", "order-1005")))


@SETTINGS
@given(st.data())
def test_template_with_a_let_reads_the_scope(data: Any) -> None:
    node = compile_value('"x-${n}"', lets=frozenset({"n"}))
    ctx = ctx_from(data)
    ctx.scope["n"] = 7
    assert node.draw(ctx) == "x-7"


# --------------------------------------------------------------------------- lists, objects


@SETTINGS
@given(st.data(), st.integers(0, 3), st.integers(0, 3))
def test_list_sizes(data: Any, low: int, extra: int) -> None:
    node = compile_value(f"{{list: {{integer: {{}}}}, min_size: {low}, "
                         f"max_size: {low + extra}}}")
    value = data.draw(node.strategy)
    assert isinstance(value, list) and low <= len(value) <= low + extra
    assert all(type(x) is int for x in value)


@SETTINGS
@given(st.data())
def test_unique_list_has_no_duplicates(data: Any) -> None:
    node = compile_value("{list: {one_of: [1, 2, 3, 4]}, min_size: 2, max_size: 4, "
                         "unique: true}")
    value = data.draw(node.strategy)
    assert 2 <= len(value) <= 4 and len(set(value)) == len(value)


@SETTINGS
@given(st.data())
def test_unique_list_of_objects(data: Any) -> None:
    node = compile_value("{list: {k: {integer: {min: 0, max: 3}}}, min_size: 3, unique: true}")
    value = data.draw(node.strategy)
    keys = [json.dumps(v, sort_keys=True) for v in value]
    assert len(set(keys)) == len(keys) >= 3


def test_non_unique_list_can_repeat() -> None:
    node = compile_value("{list: {one_of: [1, 2]}, min_size: 3, max_size: 3}")
    assert len(set(find(node.strategy, lambda v: len(set(v)) == 1, settings=FIND))) == 1


@SETTINGS
@given(st.data())
def test_list_of_picks_reads_the_state(data: Any) -> None:
    node = compile_value("{list: {pick: ids}, min_size: 1, max_size: 3}")
    state = State()
    for i in (10, 20, 30):
        state.store("ids", i)
    value = node.draw(ctx_from(data, state))
    assert 1 <= len(value) <= 3 and set(value) <= {10, 20, 30}


def test_unique_list_of_picks_has_no_duplicates() -> None:
    node = compile_value("{list: {pick: ids}, min_size: 2, max_size: 2, unique: true}")
    state = State()
    for i in (10, 20, 30):
        state.store("ids", i)
    try:
        found = find(strategy_of(node, state), lambda v: len(set(v)) < len(v), settings=FIND)
    except NoSuchExample:
        return
    raise AssertionError(f"a unique list repeated a value: {found}")


def test_object_optional_keys_are_sometimes_absent_and_sometimes_present() -> None:
    node = compile_value("{object: {id: 1, note: {string: {}}, rank: 2}, optional: [note, rank]}")
    without = find(node.strategy, lambda d: "rank" not in d and "note" not in d, settings=FIND)
    assert without == {"id": 1}
    both = find(node.strategy, lambda d: "rank" in d and "note" in d, settings=FIND)
    assert list(both) == ["id", "note", "rank"]  # the order keys are written in


@SETTINGS
@given(st.data())
def test_object_required_keys_always_present(data: Any) -> None:
    value = data.draw(compile_value("{object: {a: 1, b: 2}, optional: [b]}").strategy)
    assert value["a"] == 1 and set(value) <= {"a", "b"}


def test_object_with_a_pick_and_an_optional_key() -> None:
    node = compile_value("{object: {id: {pick: ids}, x: 1}, optional: [x]}")
    state = State()
    state.store("ids", 3)
    strategy = strategy_of(node, state)
    assert find(strategy, lambda d: "x" not in d, settings=FIND) == {"id": 3}
    assert find(strategy, lambda d: "x" in d, settings=FIND) == {"id": 3, "x": 1}


# --------------------------------------------------------------------------- schema


ITEM_SCHEMA = {
    "type": "object",
    "required": ["name", "qty"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 5},
        "qty": {"type": "integer", "minimum": 1, "maximum": 100},
        "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 3},
        "ratio": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    },
}


@SETTINGS
@given(st.data())
def test_schema_generator_values_validate(data: Any) -> None:
    node = compile_value(f"{{schema: {json.dumps(ITEM_SCHEMA)}}}")
    value = data.draw(node.strategy)
    jsonschema.validate(value, ITEM_SCHEMA)
    # only documented properties are drawn (no noise in requests)
    assert set(value) <= set(ITEM_SCHEMA["properties"])


@SETTINGS
@given(st.data())
def test_openapi_30_schema_is_converted(data: Any) -> None:
    schema = {
        "type": "object", "required": ["id", "name"],
        "properties": {
            "id": {"type": "integer", "readOnly": True},
            "name": {"type": "string", "nullable": True, "maxLength": 3},
            "code": {"type": "integer", "format": "int32", "x-extra": 1},
        },
    }
    value = data.draw(schema_strategy(schema, "openapi-3.0"))
    assert "id" not in value  # readOnly: never in a request
    assert value["name"] is None or len(value["name"]) <= 3
    if "code" in value:
        assert -(2**31) <= value["code"] <= 2**31 - 1
    jsonschema.Draft4Validator(to_json_schema(schema, "openapi-3.0")).validate(value)


def test_nullable_gives_null_sometimes() -> None:
    strategy = schema_strategy({"type": "string", "nullable": True}, "openapi-3.0")
    assert find(strategy, lambda v: v is None, settings=FIND) is None


@SETTINGS
@given(st.data())
def test_int64_and_int32_bounds(data: Any) -> None:
    assert abs(data.draw(schema_strategy({"type": "integer", "format": "int32"},
                                         "openapi-3.1"))) <= 2**31
    assert abs(data.draw(schema_strategy({"type": "integer", "format": "int64"},
                                         "openapi-3.1"))) <= 2**63


def test_int32_bounds_are_reached_and_not_exceeded() -> None:
    strategy = schema_strategy({"type": "integer", "format": "int32"}, "openapi-3.0")
    assert find(strategy, lambda x: x >= 2**31 - 1, settings=FIND) == 2**31 - 1
    assert find(strategy, lambda x: x <= -(2**31), settings=FIND) == -(2**31)


def test_unsatisfiable_openapi_schema_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        plan_of(tmp_path, HEAD + "actions:\n  a: {request: GET /x}\n", openapi="""\
            openapi: 3.0.3
            info: {title: t, version: "1"}
            paths:
              /x:
                get:
                  parameters:
                    - {name: n, in: query, required: true,
                       schema: {type: integer, minimum: 5, maximum: 1}}
                  responses: {"200": {description: ok}}
            """)
    assert [p.code for p in caught.value.problems] == ["cannot-generate"]


# --------------------------------------------------------------------------- environment


ENV_SPEC = HEAD.replace("openapi: openapi.yaml\n", "") + """\
generators:
  token: "${env.API_TOKEN}"
actions:
  call:
    request: GET /x
    headers: {X-Token: "${token}", X-Other: "pre-${env.OTHER}"}
"""


def test_env_reads_the_environment_given_to_compile_plan(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, ENV_SPEC, environ={"API_TOKEN": "s3cret-token", "OTHER": "ab"})
    draft = find(action_strategy(plan, "call"), lambda d: True, settings=FIND)
    assert draft.headers == {"X-Token": "s3cret-token", "X-Other": "pre-ab"}
    # values long enough to be recognised are secrets (shown as *** in reports)
    assert plan.secrets == frozenset({"s3cret-token"})


def test_env_is_not_read_from_os_environ_when_environ_is_given(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", "from-os")
    monkeypatch.setenv("OTHER", "from-os")
    with pytest.raises(SpecError):
        plan_of(tmp_path, ENV_SPEC, environ={})
    # without environ=..., os.environ is used
    plan = compile_plan(load_spec(tmp_path / "spec.yaml"))
    assert find(action_strategy(plan, "call"), lambda d: True,
                settings=FIND).headers["X-Token"] == "from-os"


def test_missing_env_is_a_cannot_generate_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        plan_of(tmp_path, ENV_SPEC, environ={"OTHER": "x"})
    problems = caught.value.problems
    assert [p.code for p in problems] == ["cannot-generate"]
    assert "API_TOKEN" in problems[0].message and "export it" in problems[0].message
    # placed where ${env.API_TOKEN} is written (line 6, column 10)
    assert (problems[0].line, problems[0].column) == (6, 10)
    assert problems[0].file == str(tmp_path / "spec.yaml")


def test_every_missing_env_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        plan_of(tmp_path, ENV_SPEC, environ={})
    assert len(caught.value.problems) == 2


def test_missing_env_problem_path_matches_its_position(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        plan_of(tmp_path, ENV_SPEC, environ={"OTHER": "x"})
    assert caught.value.problems[0].json_path == "generators.token"


# --------------------------------------------------------------------------- pick


@SETTINGS
@given(st.data(), st.lists(st.integers(0, 10**6), min_size=1, max_size=5))
def test_pick_draws_an_entry_of_the_bag(data: Any, ids: list[int]) -> None:
    state = State()
    entries = [PerTarget.of({"model": i, "candidate": i + 1000}) for i in ids]
    for entry in entries:
        state.store("ids", entry)
    node = compile_value("{pick: ids}")
    ctx = ctx_from(data, state)
    value = node.draw(ctx)
    assert value in entries
    assert isinstance(value, PerTarget) and value.get("candidate") == value.get("model") + 1000
    assert ctx.removals == []  # not asked to remove
    assert state.bag("ids") == entries


def test_pick_reaches_every_entry() -> None:
    state = State()
    for name in ("a", "b", "c"):
        state.store("names", name)
    strategy = strategy_of(compile_value("{pick: names}"), state)
    for name in ("a", "b", "c"):
        assert find(strategy, lambda v, n=name: v == n, settings=FIND) == name


@SETTINGS
@given(st.data())
def test_pick_falls_back_to_or_when_empty(data: Any) -> None:
    node = compile_value("{pick: ids, or: {integer: {min: -5, max: -1}}}")
    assert -5 <= node.draw(ctx_from(data)) <= -1
    state = State()
    state.store("ids", 99)
    assert node.draw(ctx_from(data, state)) == 99  # not empty: no fallback


@SETTINGS
@given(st.data())
def test_pick_from_an_empty_bag_without_or_is_unsatisfiable(data: Any) -> None:
    node = compile_value("{pick: ids}")
    state = State()
    state.store("other", 1)
    with pytest.raises(Unsatisfiable):
        node.draw(ctx_from(data, state))


@SETTINGS
@given(st.data(), st.integers(1, 6))
def test_pick_remove_records_the_drawn_index(data: Any, size: int) -> None:
    state = State()
    for i in range(size):
        state.store("ids", f"id-{i}")
    node = compile_value("{pick: ids, remove: true}")
    ctx = ctx_from(data, state)
    value = node.draw(ctx)
    assert len(ctx.removals) == 1
    variable, index, removal = ctx.removals[0]
    assert variable == "ids" and state.bag("ids")[index] == value
    assert removal == m.Removal("success")  # remove: true -- when every target says 2xx
    # drawing does not remove by itself: the executor applies removals after the step
    assert len(state.bag("ids")) == size
    state.remove(variable, index)
    assert value not in state.bag("ids") and len(state.bag("ids")) == size - 1


def test_pick_remove_with_fallback_records_nothing() -> None:
    node = compile_value("{pick: ids, remove: true, or: 0}")
    ctx = DrawContext(DataDraws(lambda s: find(s, lambda v: True)), State(), TARGETS)
    assert node.draw(ctx) == 0
    assert ctx.removals == []


# --------------------------------------------------------------------------- fill from OpenAPI


def employees_plan(tmp_path: Path, actions: str) -> Any:
    text = dedent(f"""\
        version: 1
        openapi: {EMPLOYEES / 'openapi.yaml'}
        targets:
          model: {{app: "examples.employees.memory:app"}}
          candidate: {{base_url: "http://127.0.0.1:1"}}
        """) + dedent(actions)
    return compile_plan(load_spec(write_spec(tmp_path, text)), environ={})


def test_unset_path_parameter_is_drawn_from_its_schema(tmp_path: Path) -> None:
    plan = employees_plan(tmp_path, """\
        actions:
          get: {request: getEmployee}
        """)
    action = plan.actions[0]
    assert [p.name for p in action.path_params] == ["employeeNo"]

    @SETTINGS
    @given(action_strategy(plan, "get"))
    def check(draft: Any) -> None:
        assert (draft.method, draft.path) == ("GET", "/api/employees/{employeeNo}")
        assert re.search("^[A-Za-z]+-[0-9]+$", draft.path_params["employeeNo"])
        assert draft.query == [] and draft.headers == {}

    check()


def test_required_query_parameter_is_always_drawn(tmp_path: Path) -> None:
    plan = employees_plan(tmp_path, """\
        actions:
          rename:
            request: renameEmployee
            path: {employeeNo: E-1}
        """)

    @SETTINGS
    @given(action_strategy(plan, "rename"))
    def check(draft: Any) -> None:
        assert draft.path_params == {"employeeNo": "E-1"}
        names = [k for k, _ in draft.query]
        assert names == ["name"]
        assert 1 <= len(draft.query[0][1]) <= 40

    check()


def test_optional_query_parameters_are_sometimes_drawn(tmp_path: Path) -> None:
    plan = employees_plan(tmp_path, """\
        actions:
          all: {request: listEmployees}
          required_only: {request: listEmployees, fill: required}
          nothing: {request: listEmployees, fill: none}
          given: {request: listEmployees, query: {name: x}}
        """)
    drafts = action_strategy(plan, "all")
    assert find(drafts, lambda d: d.query == [], settings=FIND).query == []
    both = find(drafts, lambda d: len(d.query) == 2, settings=FIND)
    assert sorted(k for k, _ in both.query) == ["department", "name"]
    for name in ("required_only", "nothing"):
        assert next(a for a in plan.actions if a.name == name).query == ()
    given_plan = next(a for a in plan.actions if a.name == "given")
    # a parameter the action sets is not drawn a second time
    assert [p.name for p in given_plan.query] == ["name", "department"]
    assert [p.optional for p in given_plan.query] == [False, True]


def test_required_body_is_drawn_from_the_schema_when_not_given(tmp_path: Path) -> None:
    plan = employees_plan(tmp_path, """\
        actions:
          create: {request: createEmployee}
        """)
    schema = plan.actions[0].action.operation.body_schema
    validator = jsonschema.Draft4Validator(to_json_schema(schema, "openapi-3.0"))

    @SETTINGS
    @given(action_strategy(plan, "create"))
    def check(draft: Any) -> None:
        assert draft.media_type == "application/json"
        validator.validate(draft.body)

    check()


INLINE_OPENAPI = """\
openapi: 3.0.3
info: {title: inline, version: "1"}
paths:
  /things/{thingId}:
    put:
      operationId: putThing
      parameters:
        - {name: thingId, in: path, required: true, schema: {type: integer, format: int32}}
        - {name: limit, in: query, required: true, schema: {type: integer, format: int32}}
        - {name: X-Trace, in: header, required: true, schema: {type: string}}
        - {name: Accept, in: header, required: true, schema: {type: string}}
        - {name: Authorization, in: header, required: true, schema: {type: string}}
        - {name: session, in: cookie, required: true, schema: {type: string}}
      requestBody:
        content:
          application/json:
            schema:
              type: object
              required: [name, id]
              properties:
                id: {type: integer, readOnly: true}
                name: {type: string, maxLength: 3}
                note: {type: string, maxLength: 3}
                created: {type: string, readOnly: true}
      responses:
        "200": {description: ok}
"""


def test_read_only_body_properties_are_never_drawn(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, HEAD + dedent("""\
        actions:
          whole: {request: putThing}
          partial: {request: putThing, body: {name: abc}}
        """), openapi=INLINE_OPENAPI)

    @SETTINGS
    @given(action_strategy(plan, "whole"), action_strategy(plan, "partial"))
    def check(whole: Any, partial: Any) -> None:
        for body in (whole.body, partial.body):
            if isinstance(body, dict):
                assert "id" not in body and "created" not in body
        assert partial.body["name"] == "abc"
        assert set(partial.body) <= {"name", "note"}

    check()
    partial = action_strategy(plan, "partial")
    assert set(find(partial, lambda d: "note" in d.body, settings=FIND).body) == {
        "name", "note"}
    assert find(partial, lambda d: "note" not in d.body, settings=FIND).body == {"name": "abc"}


def test_optional_body_is_sometimes_left_out(tmp_path: Path) -> None:
    from mbtspec.compiler import NO_BODY

    plan = plan_of(tmp_path, HEAD + "actions:\n  whole: {request: putThing}\n",
                   openapi=INLINE_OPENAPI)
    drafts = action_strategy(plan, "whole")
    assert find(drafts, lambda d: d.body is NO_BODY, settings=FIND).body is NO_BODY
    assert isinstance(find(drafts, lambda d: d.body is not NO_BODY, settings=FIND).body, dict)


def test_int32_parameters_and_ignored_headers(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, HEAD + "actions:\n  whole: {request: putThing}\n",
                   openapi=INLINE_OPENAPI)
    action = plan.actions[0]
    assert [p.name for p in action.headers] == ["X-Trace"]  # not Accept/Authorization/cookie

    @SETTINGS
    @given(action_strategy(plan, "whole"))
    def check(draft: Any) -> None:
        assert -(2**31) <= draft.path_params["thingId"] <= 2**31 - 1
        assert [k for k, _ in draft.query] == ["limit"]
        assert -(2**31) <= draft.query[0][1] <= 2**31 - 1
        trace = draft.headers["X-Trace"]
        assert all(" " <= c <= "~" for c in trace)  # a header value must be visible ASCII

    check()
    drafts = action_strategy(plan, "whole")
    assert find(drafts, lambda d: d.query[0][1] >= 2**31 - 1,
                settings=FIND).query[0][1] == 2**31 - 1


def test_header_given_in_any_case_is_not_filled_again(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, HEAD + dedent("""\
        actions:
          whole: {request: putThing, headers: {x-trace: fixed}}
        """), openapi=INLINE_OPENAPI)
    assert [p.name for p in plan.actions[0].headers] == ["x-trace"]


# --------------------------------------------------------------------------- whole actions


def test_employees_actions_draw_requests() -> None:
    plan = compile_plan(load_spec(EMPLOYEES / "spec.yaml"), environ={})
    create = action_strategy(plan, "create")

    @SETTINGS
    @given(create)
    def check(draft: Any) -> None:
        assert (draft.method, draft.path) == ("POST", "/api/employees")
        assert set(draft.body) == {"employeeNo", "name"}
        department, number = draft.body["employeeNo"].split("-")
        assert department in ("Frontend", "Backend", "HR", "Creative", "DevOps")
        assert 1 <= int(number) <= 200
        assert re.fullmatch("[A-Za-z]{1,12}", draft.body["name"])

    check()


def test_action_needs_only_picks_without_fallback() -> None:
    plan = compile_plan(load_spec(EMPLOYEES / "spec.yaml"), environ={})
    needs = {a.name: a.needs for a in plan.actions}
    assert needs == {"create": frozenset(), "get_one": frozenset(), "rename": {"known"},
                     "by_department": frozenset(), "search": frozenset()}


@SETTINGS
@given(st.data())
def test_employees_pick_without_fallback(data: Any) -> None:
    plan = compile_plan(load_spec(EMPLOYEES / "spec.yaml"), environ={})
    rename = next(a for a in plan.actions if a.name == "rename")
    with pytest.raises(Unsatisfiable):
        rename.draw(ctx_from(data, State()))
    stored = State()
    stored.store("known", PerTarget.of({"model": "HR-1", "candidate": "HR-1"}))
    draft = rename.draw(ctx_from(data, stored))
    assert draft.path_params == {"employeeNo": "HR-1"}
    assert [k for k, _ in draft.query] == ["name"]
    stored.store("known", PerTarget.of({"model": "HR-2", "candidate": "HR-9"}))
    assert rename.draw(ctx_from(data, stored)).path_params["employeeNo"] in (
        "HR-1", PerTarget((("model", "HR-2"), ("candidate", "HR-9"))))


@SETTINGS
@given(st.data())
def test_employees_get_one_fallback_is_an_employee_number(data: Any) -> None:
    plan = compile_plan(load_spec(EMPLOYEES / "spec.yaml"), environ={})
    get_one = next(a for a in plan.actions if a.name == "get_one")
    draft = get_one.draw(ctx_from(data, State()))
    assert re.fullmatch("[A-Za-z]+-[0-9]+", draft.path_params["employeeNo"])


def test_let_values_are_drawn_once_per_step(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, HEAD.replace("openapi: openapi.yaml\n", "") + dedent("""\
        actions:
          a:
            request: POST /x/{id}
            let: {n: {integer: {min: 0, max: 1000000}}, label: "n=${n}"}
            path: {id: "${n}"}
            query: {n: "${n}", label: "${label}"}
            body: {n: "${n}", copy: "${label}"}
        """))
    strategy = action_strategy(plan, "a")

    @SETTINGS
    @given(strategy)
    def check(draft: Any) -> None:
        n = draft.path_params["id"]
        assert draft.query == [("n", n), ("label", f"n={n}")]
        assert draft.body == {"n": n, "copy": f"n={n}"}

    check()
    # ... and differ from one step to the next
    pair = find(st.tuples(strategy, strategy),
                lambda p: p[0].path_params != p[1].path_params, settings=FIND)
    assert pair[0].path_params != pair[1].path_params


def test_compile_plan_overrides_and_target_order(tmp_path: Path) -> None:
    text = dedent("""\
        version: 1
        targets:
          candidate: {base_url: "http://127.0.0.1:1"}
          model: {app: "tests.apps.orders:app"}
        actions:
          a: {request: GET /x}
        run: {sequences: 3, steps: 4, seed: 5, max_time: 6}
        """)
    spec = load_spec(write_spec(tmp_path, text))
    plan = compile_plan(spec, environ={})
    assert plan.targets == ("model", "candidate")  # the model first, whatever the file says
    assert (plan.run.sequences, plan.run.steps, plan.run.seed, plan.run.max_time) == (
        3, 4, 5, 6)
    plan = compile_plan(spec, sequences=30, steps=40, seed=0, max_time=0.5, environ={})
    assert (plan.run.sequences, plan.run.steps, plan.run.seed, plan.run.max_time) == (
        30, 40, 0, 0.5)
    assert spec.run.sequences == 3  # the spec itself is unchanged


def test_candidate_only_plan_has_one_target(tmp_path: Path) -> None:
    text = dedent("""\
        version: 1
        targets:
          candidate: {base_url: "http://127.0.0.1:1"}
        actions:
          a: {request: GET /x}
        """)
    assert compile_plan(load_spec(write_spec(tmp_path, text)), environ={}).targets == (
        "candidate",)


def test_nested_fallback_pick_is_not_a_need(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, HEAD.replace("openapi: openapi.yaml\n", "") + dedent("""\
        actions:
          make:
            request: POST /x
            store: {a: response.body.id, b: response.body.id}
          use:
            request: GET /x/{id}
            path: {id: {pick: a, or: {pick: b}}}
        """))
    use = next(x for x in plan.actions if x.name == "use")
    assert use.needs == frozenset()
