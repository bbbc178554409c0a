"""Values -> things that draw: Hypothesis strategies where a value is pure, functions where it
reads the run's state (``pick``) or the step's ``let`` values.

A compiled ``Node`` draws through a ``Draws`` object, so the same node serves a Hypothesis run
(draws recorded as they happen) and a replay (draws fed back in order). A subtree that reads no
state is one Hypothesis strategy, drawn once: that is what lets Hypothesis shrink it well.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from mbtspec.compiler._payloads import FilePart, b64
from mbtspec.compiler.state import PerTarget, State
from mbtspec.spec import model as m
from mbtspec.spec._schemas import generation_schema, schema_problem
from mbtspec.spec._walks import distinct_values


class CompileError(Exception):
    """A value cannot be turned into a generator (bad schema, missing environment variable)."""

    def __init__(self, message: str, mark: m.Mark | None = None,
                 at: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark
        self.at = at  # JSON path of the value, when known


class Draws(Protocol):
    def draw(self, strategy: st.SearchStrategy[Any]) -> Any: ...


def _choose(ctx: DrawContext, variable: str, strategy: st.SearchStrategy[Any]) -> Any:
    """Draw the position (an int) or positions (a list) of stored entries of ``variable``.

    Draws that know the state (``choose``) record which entries were picked rather than where
    they stood, so that a replay that leaves steps out picks the same entries."""
    choose = getattr(ctx.draws, "choose", None)
    if choose is not None:
        return choose(ctx.state, variable, strategy)
    return ctx.draw(strategy)


def _replays_fallback(ctx: DrawContext, variable: str) -> bool:
    """Does a replay stand where the recorded step drew the pick's ``or:`` (its variable was
    empty then)? Then the fallback is drawn again, as recorded, even when the variable holds
    entries now: a literal fallback is sent as written, not read as a position."""
    recorded = getattr(ctx.draws, "recorded_fallback", None)
    return recorded is not None and bool(recorded(variable))


class Unsatisfiable(Exception):
    """The step cannot be drawn now (a pick from an empty variable with no 'or', a unique
    generator whose values are used up)."""


#: Draws of a ``unique`` generator before it gives up on finding an unused value at a step
#: (more for a small set of values, see ``DrawContext.draw_unique``).
UNIQUE_TRIES = 10


@dataclass
class DrawContext:
    draws: Draws
    state: State
    targets: tuple[str, ...]
    scope: dict[str, Any] = field(default_factory=dict)
    #: Entries picked with ``remove``: (variable, position, when to remove it), applied by
    #: the executor once the step's answers are known.
    removals: list[tuple[str, int, m.Removal]] = field(default_factory=list)
    #: Values of ``unique`` generators drawn by this step, per scope: added to the state's
    #: ``used`` once the step is sent (``commit_unique``), not when it cannot be drawn.
    fresh: dict[str, set[str]] = field(default_factory=dict)

    def draw(self, strategy: st.SearchStrategy[Any]) -> Any:
        return self.draws.draw(strategy)

    def draw_unique(self, node: Node, scope: str, limit: int) -> Any:
        """A value of ``node`` not sent before in this sequence under ``scope`` (nor drawn
        before in this step); ``Unsatisfiable`` when ``limit`` values are used up, or when a
        few draws all repeat. A replay gives back its recorded value, or fails when that one
        is taken by now."""
        taken = self.state.used.get(scope, set()) | self.fresh.get(scope, set())
        if len(taken) >= limit:
            raise Unsatisfiable(f"every value of '{scope}' is used in this sequence")
        # few values left of a small set need more tries (3 per value of the set: a value
        # left alone among 20 is then found 95% of the time)
        tries = min(max(UNIQUE_TRIES, 3 * limit), 100)
        fresh = getattr(self.draws, "draw_unique", None)
        if node.strategy is not None and fresh is not None:
            # one recorded value, however many draws it took: replays stay aligned
            try:
                value = fresh(node.strategy, lambda v: _freeze(v) not in taken, tries)
            except Unsatisfiable:
                raise Unsatisfiable(f"no unused value of '{scope}' found") from None
        else:
            for _ in range(tries):
                value = node.draw(self)
                if _freeze(value) not in taken:
                    break
            else:
                raise Unsatisfiable(f"no unused value of '{scope}' found")
        self.fresh.setdefault(scope, set()).add(_freeze(value))
        return value

    def commit_unique(self) -> None:
        """The step was sent: its unique values count as used for the rest of the sequence."""
        for scope, values in self.fresh.items():
            self.state.used.setdefault(scope, set()).update(values)


class Node:
    """A compiled value. ``strategy`` is set when the value reads no state."""

    strategy: st.SearchStrategy[Any] | None = None

    def draw(self, ctx: DrawContext) -> Any:
        assert self.strategy is not None
        return ctx.draw(self.strategy)


class Pure(Node):
    def __init__(self, strategy: st.SearchStrategy[Any]) -> None:
        self.strategy = strategy


class Dynamic(Node):
    def __init__(self, function: Callable[[DrawContext], Any]) -> None:
        self.function = function

    def draw(self, ctx: DrawContext) -> Any:
        return self.function(ctx)


def text_of(value: Any) -> str:
    """How a value reads inside a template or a URL."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, bytes):
        return b64(value)
    if isinstance(value, FilePart):
        return value.content if isinstance(value.content, str) else b64(value.content)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=json_default)


def json_default(value: Any) -> Any:
    """How JSON writes what is not JSON: bytes as base64 text, a file part as its content."""
    if isinstance(value, bytes | FilePart):
        return text_of(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def lift(function: Callable[..., Any], values: list[Any], targets: tuple[str, ...]) -> Any:
    """Apply ``function`` to values, once per target if any value is per target."""
    if not any(isinstance(v, PerTarget) for v in values):
        return function(*values)
    return PerTarget.of({
        t: function(*[v.get(t) if isinstance(v, PerTarget) else v for v in values])
        for t in targets
    })


@dataclass
class Compiler:
    """Compiles values; ``generators`` are compiled on first use and shared."""

    generators: Mapping[str, m.Value]
    dialect: str = "json-schema"
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    secrets: set[str] = field(default_factory=set)
    errors: list[CompileError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _compiled: dict[str, Node] = field(default_factory=dict)

    def generator(self, name: str) -> Node:
        if name not in self._compiled:
            self._compiled[name] = self.compile(self.generators[name], frozenset())
        return self._compiled[name]

    def compile(self, value: m.Value, lets: frozenset[str]) -> Node:
        method = getattr(self, f"_{type(value).__name__.strip('_').lower()}")
        try:
            node: Node = method(value, lets)
            if node.strategy is not None:
                node.strategy.validate()  # Hypothesis checks lazily: surface it while compiling
        except InvalidArgument as err:  # what lint missed must still not be a traceback
            raise CompileError(f"no value can be drawn: {_first_line(err)}") from None
        return node

    # -- one method per value type ---------------------------------------------------------

    def _literal(self, value: m.Literal_, lets: frozenset[str]) -> Node:
        return Pure(st.just(value.value))

    def _ref(self, value: m.Ref, lets: frozenset[str]) -> Node:
        if value.env:
            if value.name not in self.environ and value.default is not None:
                return Pure(st.just(value.default))
            if value.name not in self.environ:
                # collected, not raised: every missing variable is reported in one go
                self.errors.append(CompileError(
                    f"environment variable {value.name} is not set (used as ${{env."
                    f"{value.name}}}); export it, or write ${{env.{value.name}:-default}}",
                    value.mark, value.at))
                return Pure(st.just(""))
            secret = self.environ[value.name]
            if len(secret) >= 4:  # shorter values would blank out unrelated text
                self.secrets.add(secret)
            return Pure(st.just(secret))
        if value.name in lets:
            name = value.name
            return Dynamic(lambda ctx: ctx.scope[name])
        return self.generator(value.name)

    def _template(self, value: m.Template, lets: frozenset[str]) -> Node:
        parts = [p if isinstance(p, str) else self.compile(p, lets) for p in value.parts]
        return self._join(parts)

    def _join(self, parts: list[str | Node]) -> Node:
        def render(*drawn: Any) -> str:
            return "".join(text_of(d) for d in drawn)

        nodes = [Pure(st.just(p)) if isinstance(p, str) else p for p in parts]
        if all(n.strategy is not None for n in nodes):
            return Pure(st.tuples(*[n.strategy for n in nodes]).map(
                lambda drawn: render(*drawn)))
        return Dynamic(lambda ctx: lift(render, [n.draw(ctx) for n in nodes], ctx.targets))

    def _listvalue(self, value: m.ListValue, lets: frozenset[str]) -> Node:
        nodes = [self.compile(v, lets) for v in value.items]
        if all(n.strategy is not None for n in nodes):
            return Pure(st.tuples(*[n.strategy for n in nodes]).map(list))
        return Dynamic(lambda ctx: [n.draw(ctx) for n in nodes])

    def _objectvalue(self, value: m.ObjectValue, lets: frozenset[str]) -> Node:
        required = {k: self.compile(v, lets) for k, v in value.fields if k not in value.optional}
        optional = {k: self.compile(v, lets) for k, v in value.fields if k in value.optional}
        order = [k for k, _ in value.fields]
        everything = {**required, **optional}
        if all(n.strategy is not None for n in everything.values()):
            strategy = st.fixed_dictionaries(
                {k: n.strategy for k, n in required.items()},  # type: ignore[misc]
                optional={k: n.strategy for k, n in optional.items()},  # type: ignore[misc]
            ).map(lambda d: {k: d[k] for k in order if k in d})
            return Pure(strategy)

        def draw(ctx: DrawContext) -> dict[str, Any]:
            out = {}
            for key in order:
                if key in optional and not ctx.draw(st.booleans()):
                    continue
                out[key] = everything[key].draw(ctx)
            return out

        return Dynamic(draw)

    def _oneof(self, value: m.OneOf, lets: frozenset[str]) -> Node:
        nodes = [self.compile(v, lets) for v in value.options]
        if all(n.strategy is not None for n in nodes):
            if all(isinstance(o, m.Literal_) for o in value.options):
                return Pure(st.sampled_from([o.value for o in value.options]))  # type: ignore[union-attr]
            return Pure(st.one_of(*_strategies(nodes)))
        return Dynamic(lambda ctx: nodes[ctx.draw(st.integers(0, len(nodes) - 1))].draw(ctx))

    def _integergen(self, value: m.IntegerGen, lets: frozenset[str]) -> Node:
        return Pure(st.integers(value.min, value.max))

    def _numbergen(self, value: m.NumberGen, lets: frozenset[str]) -> Node:
        return Pure(st.floats(_inward(value.min, math.inf), _inward(value.max, -math.inf),
                              allow_nan=value.allow_nan, allow_infinity=value.allow_infinity))

    def _booleangen(self, value: m.BooleanGen, lets: frozenset[str]) -> Node:
        return Pure(st.booleans())

    def _stringgen(self, value: m.StringGen, lets: frozenset[str]) -> Node:
        if value.pattern is not None:
            strategy: st.SearchStrategy[str] = st.from_regex(value.pattern, fullmatch=True)
            if value.min_size or value.max_size is not None:
                lo, hi = value.min_size, value.max_size if value.max_size is not None else math.inf
                strategy = strategy.filter(lambda s: lo <= len(s) <= hi)
            return Pure(strategy)
        # characters() (not sampled_from) lets Hypothesis draw the whole string in one choice
        alphabet = (st.characters(categories=(), include_characters=value.alphabet)
                    if value.alphabet
                    else st.characters(codec="utf-8", exclude_categories=["Cs"]))
        return Pure(st.text(alphabet, min_size=value.min_size, max_size=value.max_size))

    def _formatgen(self, value: m.FormatGen, lets: frozenset[str]) -> Node:
        local = {name: self.compile(v, lets) for name, v in value.local}
        parts: list[str | tuple[str, Node]] = []
        for part in value.template.parts:
            if isinstance(part, str):
                parts.append(part)
            elif not part.env and part.name in local:
                parts.append((part.name, local[part.name]))
            else:
                parts.append(("", self.compile(part, lets)))

        def draw(ctx: DrawContext) -> Any:
            drawn_locals: dict[str, Any] = {}
            pieces: list[Any] = []
            for part in parts:
                if isinstance(part, str):
                    pieces.append(part)
                    continue
                name, node = part
                if name:
                    if name not in drawn_locals:  # a local reads the same in one template
                        drawn_locals[name] = node.draw(ctx)
                    pieces.append(drawn_locals[name])
                else:
                    pieces.append(node.draw(ctx))
            return lift(lambda *p: "".join(text_of(x) for x in p), pieces, ctx.targets)

        nodes = [p[1] for p in parts if not isinstance(p, str)]
        if all(n.strategy is not None for n in nodes):
            # One tuple: each local once, then each other reference, rendered by a map.
            names = list(local)
            others = [p[1] for p in parts if not isinstance(p, str) and not p[0]]
            strategy = st.tuples(
                st.tuples(*[local[n].strategy for n in names]),
                st.tuples(*[n.strategy for n in others]),
            )

            def render(drawn: tuple[tuple[Any, ...], tuple[Any, ...]]) -> str:
                values = dict(zip(names, drawn[0], strict=True))
                rest = iter(drawn[1])
                return "".join(
                    p if isinstance(p, str) else text_of(values[p[0]] if p[0] else next(rest))
                    for p in parts)

            return Pure(strategy.map(render))
        return Dynamic(draw)

    def _listgen(self, value: m.ListGen, lets: frozenset[str]) -> Node:
        element = self.compile(value.element, lets)
        if element.strategy is not None:
            kwargs: dict[str, Any] = {"min_size": value.min_size, "max_size": value.max_size}
            if value.unique:
                kwargs["unique_by"] = _freeze
            return Pure(st.lists(element.strategy, **kwargs))

        if value.unique and isinstance(value.element, m.Pick) and value.element.or_ is None:
            return self._unique_picks(value)

        def draw(ctx: DrawContext) -> list[Any]:
            size = ctx.draw(st.integers(value.min_size,
                                        value.max_size if value.max_size is not None
                                        else value.min_size + 5))
            out: list[Any] = []
            seen: set[str] = set()
            for _ in range(size * (10 if value.unique else 1)):
                if len(out) == size:
                    break
                item = element.draw(ctx)
                key = _freeze(item)
                if value.unique and key in seen:
                    continue  # a repeat: draw again (a few tries per element)
                seen.add(key)
                out.append(item)
            if len(out) < value.min_size:
                raise Unsatisfiable(f"no {value.min_size} distinct values")
            return out

        return Dynamic(draw)

    def _unique_picks(self, value: m.ListGen) -> Node:
        """Distinct stored entries: distinct indexes, which Hypothesis draws natively."""
        pick = value.element
        assert isinstance(pick, m.Pick)

        def draw(ctx: DrawContext) -> list[Any]:
            bag = ctx.state.bag(pick.variable)
            if len(bag) < value.min_size:
                raise Unsatisfiable(pick.variable)
            top = len(bag) if value.max_size is None else min(len(bag), value.max_size)
            indexes = _choose(ctx, pick.variable, st.lists(
                st.integers(0, len(bag) - 1), min_size=value.min_size, max_size=top,
                unique=True)) if bag else []
            if pick.remove is not None:
                ctx.removals.extend((pick.variable, i, pick.remove) for i in indexes)
            return [bag[i] for i in indexes]

        return Dynamic(draw)

    def _bytesgen(self, value: m.BytesGen, lets: frozenset[str]) -> Node:
        """Bytes of any value; shrinks towards fewer bytes, then towards zero bytes."""
        return Pure(st.binary(min_size=value.min_size, max_size=value.max_size))

    def _filevalue(self, value: m.FileValue, lets: frozenset[str]) -> Node:
        parts = [self.compile(v, lets) if v is not None else None
                 for v in (value.content, value.filename, value.content_type)]
        nodes = [n if n is not None else Pure(st.none()) for n in parts]

        def make(content: Any, filename: Any, content_type: Any) -> FilePart:
            if not isinstance(content, bytes | str):
                content = text_of(content)
            return FilePart(content, None if filename is None else text_of(filename),
                            None if content_type is None else text_of(content_type))

        if all(n.strategy is not None for n in nodes):
            return Pure(st.tuples(*_strategies(nodes)).map(lambda drawn: make(*drawn)))
        return Dynamic(lambda ctx: lift(make, [n.draw(ctx) for n in nodes], ctx.targets))

    def _unique(self, value: m.Unique, lets: frozenset[str]) -> Node:
        inner = self.compile(value.value, lets)
        scope, limit = value.scope, distinct_values(value.value)
        return Dynamic(lambda ctx: ctx.draw_unique(inner, scope, limit))

    def _schemagen(self, value: m.SchemaGen, lets: frozenset[str]) -> Node:
        return Pure(schema_strategy(value.schema, value.dialect))

    def _pick(self, value: m.Pick, lets: frozenset[str]) -> Node:
        fallback = self.compile(value.or_, lets) if value.or_ is not None else None
        variable, remove = value.variable, value.remove

        def draw(ctx: DrawContext) -> Any:
            bag = ctx.state.bag(variable)
            if not bag or (fallback is not None and _replays_fallback(ctx, variable)):
                if fallback is None:
                    raise Unsatisfiable(variable)
                return fallback.draw(ctx)
            index = _choose(ctx, variable, st.integers(0, len(bag) - 1))
            if remove is not None:
                ctx.removals.append((variable, index, remove))
            return bag[index]

        return Dynamic(draw)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _inward(bound: float | None, towards: float) -> float | None:
    """A bound as a float, rounded into the range when the integer written has no exact
    float (10**300): Hypothesis takes float bounds only."""
    if bound is None or isinstance(bound, float):
        return bound
    near = float(bound)
    return near if near == bound or (near > bound) == (towards > 0) else math.nextafter(
        near, towards)


def _strategies(nodes: list[Node]) -> list[st.SearchStrategy[Any]]:
    """The strategies of nodes known to be pure."""
    out = [n.strategy for n in nodes]
    assert all(s is not None for s in out)
    return out  # type: ignore[return-value]


def _freeze(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


def schema_strategy(schema: Any, dialect: str) -> st.SearchStrategy[Any]:
    """Values of a (OpenAPI or JSON) schema, through hypothesis-jsonschema."""
    from hypothesis_jsonschema import from_schema

    # What lint reports (an invalid schema, a $ref to nothing, provable contradictions): the
    # library would fail on these only when drawing, with a traceback.
    why = schema_problem(schema, dialect)
    if why is not None:
        raise CompileError(f"no value can be drawn from this schema: {why}")
    converted = generation_schema(schema, dialect)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            strategy = from_schema(converted)
            strategy.validate()  # the library is lazy: surface its errors now
            empty = strategy.is_empty
    except (InvalidArgument, Exception) as err:  # the library raises several kinds
        raise CompileError(f"cannot draw values from this schema: {err}") from None
    if empty:
        raise CompileError("no value satisfies this schema (contradictory constraints, "
                           "e.g. minimum above maximum)")
    return strategy
