"""The validated spec: frozen dataclasses, one per element of the spec file format.

Everything here is data: no I/O, no Hypothesis, no HTTP. Each element keeps the ``Mark`` of
where it was written so that later stages can point back into the file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mbtspec.spec._openapi import OpenApiDocument as OpenApiDocument
from mbtspec.spec._openapi import Operation as Operation
from mbtspec.spec._yaml import Mark as Mark
from mbtspec.spec.expressions import Expression
from mbtspec.spec.sizes import DEFAULT_MAX_RESPONSE_SIZE

# --------------------------------------------------------------------------------------------
# Values: what an action sends and what a generator produces. Parsed from YAML into this small
# tree; the compiler turns it into Hypothesis strategies.


@dataclass(frozen=True)
class Literal_:
    """A constant: a number, boolean, null, or a string without ``${...}``."""

    value: Any


@dataclass(frozen=True)
class Ref:
    """``${name}``: a value from the generator (or ``let``) called ``name``; ``${env.NAME}``
    when ``env`` is set: an environment variable, read once when the run starts."""

    name: str
    mark: Mark
    env: bool = False
    at: tuple[str | int, ...] = ()  # JSON path of the string it stands in
    column: int = 0  # 1-based column of "${" within that string
    default: str | None = None  # ${env.NAME:-default}


@dataclass(frozen=True)
class Template:
    """A string with ``${...}`` parts: the text of each part is pasted in."""

    parts: tuple[str | Ref, ...]


@dataclass(frozen=True)
class ListValue:
    """A fixed list: one value per element."""

    items: tuple[Value, ...]


@dataclass(frozen=True)
class ObjectValue:
    """A fixed object: one value per key; ``optional`` keys are sometimes left out."""

    fields: tuple[tuple[str, Value], ...]
    optional: frozenset[str] = frozenset()


@dataclass(frozen=True)
class OneOf:
    """One of several values, chosen at random; shrinks towards the first."""

    options: tuple[Value, ...]


@dataclass(frozen=True)
class IntegerGen:
    min: int | None = None
    max: int | None = None


@dataclass(frozen=True)
class NumberGen:
    min: float | None = None
    max: float | None = None
    allow_nan: bool = False
    allow_infinity: bool = False


@dataclass(frozen=True)
class BooleanGen:
    pass


@dataclass(frozen=True)
class StringGen:
    min_size: int = 0
    max_size: int | None = None
    alphabet: str | None = None
    pattern: str | None = None


@dataclass(frozen=True)
class FormatGen:
    """``format: "${a}-${b}"`` with local generators ``a``/``b`` beside it."""

    template: Template
    local: tuple[tuple[str, Value], ...]


@dataclass(frozen=True)
class ListGen:
    element: Value
    min_size: int = 0
    max_size: int | None = None
    unique: bool = False


@dataclass(frozen=True)
class BytesGen:
    """Raw bytes (any of the 256 values), ``min_size`` to ``max_size`` long."""

    min_size: int = 0
    max_size: int | None = None


@dataclass(frozen=True)
class FileValue:
    """A file part of a ``multipart/form-data`` body: its content, file name and media type."""

    content: Value
    filename: Value | None = None
    content_type: Value | None = None
    at: tuple[str | int, ...] = ()  # JSON path of the 'file' key's value


@dataclass(frozen=True)
class SchemaGen:
    """Values drawn from a JSON Schema (inline, or a parameter's schema from OpenAPI)."""

    schema: Any
    dialect: Literal["openapi-3.0", "openapi-3.1", "json-schema"] = "json-schema"


@dataclass(frozen=True)
class Removal:
    """When a picked entry leaves its variable, after its step (``pick: v, remove: ...``).

    ``on`` is ``success`` (``remove: true``: every target answered with a 2xx status, so that a
    refused delete keeps a live entry), ``always`` (``remove: always``: whatever the answers),
    or ``when`` (``remove: {when: ...}``: the expression is true for every target).
    """

    on: Literal["success", "always", "when"] = "success"
    when: Expression | None = None


@dataclass(frozen=True)
class Pick:
    """A value stored by an earlier step (one per target); ``or_`` when nothing is stored."""

    variable: str
    mark: Mark
    or_: Value | None = None
    remove: Removal | None = None
    at: tuple[str | int, ...] = ()


@dataclass(frozen=True)
class Unique:
    """``unique: true`` beside a generator: its values are never repeated within a sequence.

    ``scope`` names the values already sent: a named generator's are shared by every
    reference to it (``title`` for ``generators.title``); an inline one's are its own (its
    JSON path). ``at`` is where the ``unique`` key stands."""

    value: Value
    scope: str
    mark: Mark
    at: tuple[str | int, ...] = ()


Value = (
    Literal_ | Ref | Template | ListValue | ObjectValue | OneOf | IntegerGen | NumberGen
    | BooleanGen | StringGen | FormatGen | ListGen | SchemaGen | Pick | BytesGen | FileValue
    | Unique
)

# --------------------------------------------------------------------------------------------
# Targets


@dataclass(frozen=True)
class ReadyCheck:
    path: str = "/"
    status: int = 200
    timeout: float = 20.0
    method: str = "GET"


@dataclass(frozen=True)
class ServiceDef:
    """A process a command target depends on (a database): started before the target, in a
    folder of its own (``${dir}``), on a port of its own (``${port}``), stopped after it.

    Ready when ``ready_command`` exits with 0, or (without one) when ``${port}`` accepts a TCP
    connection. ``user``: the account its commands run as when mbtspec runs as root (database
    servers refuse to run as root); ignored otherwise."""

    name: str
    mark: Mark
    command: tuple[str, ...]
    setup: tuple[tuple[str, ...], ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    ready_command: tuple[str, ...] = ()
    ready_timeout: float = 30.0
    user: str | None = None


@dataclass(frozen=True)
class ComposeDef:
    """A service of a Docker Compose file, run with ``docker compose`` for the run."""

    file: str
    service: str
    port: int


@dataclass(frozen=True)
class TargetDef:
    """One implementation under test. Strings may hold ``${port}``, ``${tmp}``, ``${env.X}``."""

    name: str
    kind: Literal["app", "base_url", "command", "compose"]
    mark: Mark
    app: str | None = None
    base_url: str | None = None
    command: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    cwd: str | None = None
    ready: ReadyCheck | None = None
    headers: tuple[tuple[str, str], ...] = ()
    timeout: float = 10.0
    reset: tuple[ResetStep, ...] | None = None
    max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE  # bytes, after content decoding
    services: tuple[ServiceDef, ...] = ()
    compose: ComposeDef | None = None
    #: A base_url server that can take several sequences at once: --workers may share it
    parallel_sequences: bool = False


@dataclass(frozen=True)
class ResetStep:
    """``request: POST /path`` (optional body/headers, expected status), ``command: [...]``,
    or ``restart: [names] | all`` (stop command targets, run ``commands``, start them again).
    """

    mark: Mark
    method: str | None = None
    path: str | None = None
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    status: int | None = None
    command: tuple[str, ...] = ()
    restart: tuple[str, ...] | Literal["all"] | None = None
    commands: tuple[tuple[str, ...], ...] = ()  # run while restarted targets are stopped


# --------------------------------------------------------------------------------------------
# Comparison


@dataclass(frozen=True)
class PathPattern:
    """A place in a response: ``body.items[*].id``, ``headers.etag``, ``body.**.createdAt``.

    Segments are keys, indexes, ``*`` (any one key or index) and ``**`` (any depth).
    """

    text: str
    segments: tuple[str | int, ...]


@dataclass(frozen=True)
class Matcher:
    """A rule that lets two different values count as equal, at the places ``place`` matches
    and inside them: ``loose_types`` (``1`` and ``"1"``), ``tolerance`` (numbers within
    ``absolute`` or ``relative``), ``format`` / ``pattern`` (two strings that both match),
    ``present`` (any two values, as long as both sides have one)."""

    place: PathPattern
    kind: Literal["loose_types", "tolerance", "format", "pattern", "present"]
    absolute: float = 0.0
    relative: float = 0.0  # a fraction of the larger value: 1% is 0.01
    format: str = ""  # a name of ``compare.FORMATS``; for ``pattern``, the regular expression


@dataclass(frozen=True)
class CompareRules:
    status: Literal["exact", "class", "ignore"] = "exact"
    body: Literal["exact", "ignore"] = "exact"
    headers: tuple[str, ...] = ()
    ignore: tuple[PathPattern, ...] = ()
    unordered: tuple[PathPattern, ...] = ()
    matchers: tuple[Matcher, ...] = ()
    #: Rules that apply to a step only when its condition holds, in order, each over the last.
    cases: tuple[CompareCase, ...] = ()


@dataclass(frozen=True)
class CompareCase:
    """``compare.cases``: more rules for the steps where both statuses are one of
    ``statuses`` (``404``, ``4XX``) and ``when`` holds (either may be left out)."""

    mark: Mark
    statuses: tuple[str, ...] = ()
    when: Expression | None = None
    status: Literal["exact", "class", "ignore"] | None = None  # None: as it was
    body: Literal["exact", "ignore"] | None = None
    headers: tuple[str, ...] | None = None
    #: the paths and matchers added (only these fields of it are used)
    added: CompareRules = field(default_factory=lambda: CompareRules())

    def holds_for(self, model_status: int | None, candidate_status: int | None) -> bool:
        """Do both statuses match ``statuses`` (True when there are none)?"""
        if not self.statuses:
            return True
        return all(status is not None and any(
            str(status) == code or (code[1:] == "XX" and str(status)[0] == code[0])
            for code in self.statuses) for status in (model_status, candidate_status))


class _Any:
    def __repr__(self) -> str:
        return "<any>"

    def __reduce__(self) -> str:
        return "ANY"  # one object, also in another process


#: The value of an ``accept`` entry's ``model`` or ``candidate`` when it is not given.
ANY: Any = _Any()


def same_json(a: Any, b: Any) -> bool:
    """Are ``a`` and ``b`` the same JSON value? (``1`` is ``1.0``; ``true`` is not ``1``.)"""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return bool(a == b)
    return type(a) is type(b) and bool(a == b)


@dataclass(frozen=True)
class AcceptEntry:
    """A known difference (``accept:``): differences at ``place`` (or inside it) of the
    actions ``actions`` (empty: every action), with these values (``ANY`` when not given)
    and where ``when`` holds, are accepted for ``reason``: counted, never a failure."""

    reason: str
    place: PathPattern
    where: str  # file:line:column of the entry: names it in reports
    mark: Mark
    actions: tuple[str, ...] = ()
    model: Any = field(default=ANY, hash=False)
    candidate: Any = field(default=ANY, hash=False)
    when: Expression | None = None


# --------------------------------------------------------------------------------------------
# Actions, invariants, run settings


#: Which requests a run sends: valid ones only, invalid ones (plus boundary values), or both.
Mode = Literal["positive", "negative", "all"]
MODES: tuple[Mode, ...] = ("positive", "negative", "all")


@dataclass(frozen=True)
class Check:
    """A named CEL expression that must be true (invariants and per-action ``expect``)."""

    name: str
    check: Expression
    when: Expression | None = None

    @property
    def expressions(self) -> tuple[Expression, ...]:
        return (self.check,) if self.when is None else (self.when, self.check)


@dataclass(frozen=True)
class Override:
    """What one target gets instead in an action (its ``targets:`` key): path, query and
    header values merged over the action's (``null`` leaves one out), and its own body or
    request target when given."""

    target: str
    path_params: tuple[tuple[str, Value], ...] = ()
    query: tuple[tuple[str, Value], ...] = ()
    headers: tuple[tuple[str, Value], ...] = ()
    body: Value | None = None
    has_body: bool = False
    url: Value | None = None


@dataclass(frozen=True)
class Action:
    name: str
    mark: Mark
    method: str
    path: str
    operation: Operation | None
    path_params: tuple[tuple[str, Value], ...] = ()
    query: tuple[tuple[str, Value], ...] = ()
    headers: tuple[tuple[str, Value], ...] = ()
    body: Value | None = None
    let: tuple[tuple[str, Value], ...] = ()
    when: Expression | None = None
    store: tuple[tuple[str, Expression], ...] = ()
    weight: int = 1
    compare: CompareRules = field(default_factory=CompareRules)
    expect: tuple[Check, ...] = ()
    fill: Literal["all", "required", "none"] = "all"
    #: Overrides ``run.mode`` for this action (None: the run's mode).
    mode: Mode | None = None
    accept: tuple[AcceptEntry, ...] = ()  # its own entries (those of the top level apart)
    #: The media type of the body, as the action names it (None: from the document).
    content_type: str | None = None
    #: The whole request target (a stored URL or path), instead of ``path`` (None: the path).
    url: Value | None = None
    #: Per-target changes to the request (``targets:``).
    overrides: tuple[Override, ...] = ()

    @property
    def media_type(self) -> str | None:
        """The media type its body is sent as: ``content_type``, else the document's."""
        if self.content_type is not None:
            return self.content_type
        return self.operation.body_media_type if self.operation is not None else None

    @property
    def body_schema(self) -> Any:
        """The documented schema of its body, for the media type it is sent as."""
        if self.operation is None:
            return None
        if self.content_type is None:
            return self.operation.body_schema
        found = self.operation.media(self.content_type)
        return found[1] if found is not None else None


#: Most interleavings one parallel part may have: past it, checking one failing parallel part
#: against the model could replay the model tens of thousands of times.
MAX_INTERLEAVINGS = 10_000


def interleavings(branches: int, steps: int) -> int:
    """How many sequential orders ``branches`` branches of ``steps`` steps each have:
    (N*k)! / (k!)^N."""
    orders: int = math.factorial(branches * steps) // math.factorial(steps) ** branches
    return orders


def default_branch_steps(branches: int) -> int:
    """Steps per branch when the spec does not say: the most that keep a parallel part at a
    few dozen interleavings (2 branches: 3 steps, 20; 3: 2 steps, 90; 4 or more: 1, N!)."""
    return 3 if branches == 2 else 2 if branches == 3 else 1


@dataclass(frozen=True)
class Concurrency:
    """``run.concurrency``: each sequence is a sequential prefix, then ``branches`` branches of
    up to ``branch_steps`` steps sent concurrently, then the ``then`` actions in order."""

    branches: int = 2
    branch_steps: int | None = None  # None: ``default_branch_steps(branches)``
    prefix_steps: int = 5
    then: tuple[str, ...] = ()
    #: How often a shrunk candidate of a race is run before it counts as not showing it.
    tries: int = 5

    @property
    def steps(self) -> int:
        """Steps per branch, at most."""
        return self.branch_steps or default_branch_steps(self.branches)


@dataclass(frozen=True)
class RunSettings:
    sequences: int = 100
    steps: int = 20
    seed: int | None = None
    max_time: float | None = None
    shrink_time: float = 30.0
    keep_going: bool = False
    mode: Mode = "positive"
    concurrency: Concurrency | None = None  # None: every sequence is sequential
    swarm: bool = True  # swarm testing: each sequence uses a random subset of the actions


@dataclass(frozen=True)
class Spec:
    """A spec file, validated: what to run, against what, and what must hold."""

    path: Path
    sha256: str
    openapi: OpenApiDocument | None
    targets: tuple[TargetDef, ...]
    reset: tuple[ResetStep, ...]
    generators: tuple[tuple[str, Value], ...]
    actions: tuple[Action, ...]
    compare: CompareRules
    invariants: tuple[Check, ...]
    run: RunSettings
    variables: tuple[str, ...]  # names that some action stores
    accept: tuple[AcceptEntry, ...] = ()  # the top-level entries

    def accepted_for(self, action: Action) -> tuple[AcceptEntry, ...]:
        """The entries that apply to ``action``: its own first, then the top-level ones."""
        return action.accept + tuple(e for e in self.accept
                                     if not e.actions or action.name in e.actions)

    @property
    def every_accept(self) -> tuple[AcceptEntry, ...]:
        """Every entry of the file, in the order written (top level first)."""
        return self.accept + tuple(e for a in self.actions for e in a.accept)

    @property
    def model(self) -> TargetDef | None:
        return next((t for t in self.targets if t.name == "model"), None)

    @property
    def candidate(self) -> TargetDef:
        return next(t for t in self.targets if t.name == "candidate")
