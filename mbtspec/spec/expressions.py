"""The one expression language of spec files: CEL (Common Expression Language).

Used by ``when``, ``store``, ``check`` and ``expect``. Expressions are compiled once, when the
spec is loaded, and evaluated per step. We use the Rust-backed ``common-expression-language``
package: it is the fastest maintained CEL for Python (~1-15 µs per evaluation of a compiled
program here, against hundreds for the pure-Python one), it reports parse errors with line and
column, and it can list the variables and functions an expression names, which the linter needs.
CEL cannot reach Python objects, files or the network: expressions see plain data only.

The engine has no evaluation budget and cannot be interrupted (it holds Python's lock), so
every evaluation is bounded here instead (see ``_cel`` for the parser behind it):

- when loading, an expression longer than ``MAX_LENGTH``, nested deeper than
  ``_cel.MAX_NESTING``, or that would run more than ``MAX_ITERATIONS`` comprehension
  iterations or make a value larger than ``MAX_VALUE_SIZE`` whatever the data, is refused
  (``ExpressionLimitError``);
- when running, each comprehension calls back at each iteration: past ``MAX_ITERATIONS``
  iterations, ``MAX_SECONDS`` or ``MAX_MEMORY_GROWTH`` of new peak memory, the evaluation
  stops with ``ExpressionBudgetError``; the library's functions (``replace``,
  ``lists.range`` ...) refuse to make values larger than ``MAX_VALUE_SIZE``.
"""

from __future__ import annotations

import functools
import logging
import operator
import re
import resource
import sys
import threading
import time
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# The package imports its own command-line tool (and with it a terminal UI library) when
# imported: ~130 ms that `mbtspec lint`, run on every commit, should not pay. A placeholder
# for that submodule keeps it out; the evaluator and the standard library are unaffected.
sys.modules.setdefault("cel.cli", types.ModuleType("cel.cli"))

import cel  # noqa: E402
from cel import stdlib  # noqa: E402

from mbtspec.spec import _cel  # noqa: E402
from mbtspec.spec._yaml import Mark  # noqa: E402

# The engine logs each failure of a Python function it calls (ours stop over-budget
# evaluations on purpose); mbtspec reports errors itself, so its log would only be noise.
logging.getLogger("cel").addHandler(logging.NullHandler())
logging.getLogger("cel").propagate = False

#: Longest expression read (the engine crashes on some expressions of ~40,000 characters).
MAX_LENGTH = 10_000
#: Comprehension iterations one evaluation may run (about a second in the engine).
MAX_ITERATIONS = 1_000_000
#: Largest value (characters of a string, elements of a list) one evaluation may make.
MAX_VALUE_SIZE = 1_000_000
#: Safety nets of one evaluation, checked every ``_CHECK_EVERY`` iterations.
MAX_SECONDS = 10.0
MAX_MEMORY_GROWTH = 1024 * 1024 * 1024  # bytes of new peak memory
_CHECK_EVERY = 1024
_TICK = "__mbtspec_tick"
_local = threading.local()

#: Functions of CEL itself (incl. macros and type conversions).
CEL_FUNCTIONS = frozenset({
    "size", "has", "all", "exists", "exists_one", "map", "filter", "int", "uint", "double",
    "string", "bytes", "bool", "timestamp", "duration", "dyn", "type", "matches", "contains",
    "startsWith", "endsWith", "getFullYear", "getMonth", "getDayOfYear", "getDayOfMonth",
    "getDate", "getDayOfWeek", "getHours", "getMinutes", "getSeconds", "getMilliseconds",
    "max", "min", "optional", "or", "orValue", "hasValue", "value",
})
#: Functions that mbtspec adds; the executor binds their implementations per step.
MBTSPEC_FUNCTIONS = frozenset({"conforms_to_openapi", "openapi_problems", "header"})
_NAMESPACES = frozenset({"math", "sets", "base64", "strings", "lists"})
#: Names as the parser reports them: ``math.abs(x)`` calls ``abs`` on the namespace ``math``.
KNOWN_FUNCTIONS = (CEL_FUNCTIONS | MBTSPEC_FUNCTIONS | frozenset(stdlib.STDLIB_FUNCTIONS)
                   | frozenset(name.rsplit(".", 1)[-1] for name in stdlib.STDLIB_FUNCTIONS))
#: Functions called with their namespace (``math.abs``), and those called without one.
NAMESPACED_FUNCTIONS = frozenset(n for n in stdlib.STDLIB_FUNCTIONS if "." in n)
BARE_FUNCTIONS = (CEL_FUNCTIONS | MBTSPEC_FUNCTIONS
                  | frozenset(n for n in stdlib.STDLIB_FUNCTIONS if "." not in n))
_TYPE_NAMES = frozenset({
    "int", "uint", "double", "string", "bytes", "bool", "list", "map", "null_type", "type",
    "dyn", "null", "true", "false",
})
_BOUND = re.compile(
    r"\.\s*(?:all|exists|exists_one|existsOne|map|filter|transformList|transformMap)"
    r"\(\s*([A-Za-z_]\w*)\s*,(?:\s*([A-Za-z_]\w*)\s*,)?"
)
_POSITION = re.compile(r"<input>:(\d+):(\d+):\s*(.*?)(?:\n|$)")


class ExpressionSyntaxError(ValueError):
    """A CEL expression that does not parse; ``line``/``column`` are within the expression."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


class ExpressionLimitError(ExpressionSyntaxError):
    """An expression beyond mbtspec's limits (length, nesting, what it would cost)."""


class ExpressionEvaluationError(Exception):
    """A CEL expression failed at run time (missing field, wrong type, ...)."""


class ExpressionBudgetError(ExpressionEvaluationError):
    """An evaluation went over its budget and was stopped; the message names the expression
    and where it is written."""


@dataclass(frozen=True)
class Expression:
    """A compiled CEL expression and where it was written."""

    source: str
    mark: Mark
    program: Any = field(compare=False, repr=False)
    variables: frozenset[str] = frozenset()
    functions: frozenset[str] = frozenset()
    library: tuple[tuple[str, Callable[..., Any]], ...] = field(default=(), compare=False,
                                                                repr=False)
    #: For each variable, the only fields of it the expression reads (``candidate.status``
    #: reads ``status``), or None when it may read anything (``f(candidate)``).
    fields: tuple[tuple[str, frozenset[str] | None], ...] = field(default=(), compare=False,
                                                                 repr=False)
    #: Functions as called: ``size``, ``math.abs`` (None when the text could not be read).
    calls: frozenset[str] | None = None
    #: Comprehensions call mbtspec back at each iteration: the run is counted.
    guarded: bool = False
    #: The forms most checks, stores and ``when``\ s take, worked out in Python (``quick``):
    #: a field compared with a whole number (``candidate.status < 500``), one of mbtspec's
    #: functions of a variable (``conforms_to_openapi(candidate)``), a field path
    #: (``response.body.id``), a size compared with a whole number (``size(known) > 0``).
    shortcut: tuple[str, ...] | None = field(default=None, compare=False, repr=False)

    def quick(self, variables: Mapping[str, Any],
              functions: Mapping[str, Callable[..., Any]] | None) -> Any:
        """The value, without CEL, where the data makes the shortcut certain to give what
        CEL gives (a field that is a whole number, a function mbtspec supplies); ``SLOW``
        otherwise, and the caller runs the expression. Half the cost of checking a step's
        invariants is handing values to CEL."""
        shortcut = self.shortcut
        if shortcut is None:
            return SLOW
        kind = shortcut[0]
        if kind == "call":
            function = functions.get(shortcut[1]) if functions else None
            value = variables.get(shortcut[2], SLOW)
            if function is None or value is SLOW:
                return SLOW
            try:
                return function(value)
            except Exception:  # (CEL says what went wrong, as for any other expression)
                return SLOW
        if kind == "size":
            value = variables.get(shortcut[1])
            if not isinstance(value, list | dict) and not (
                    isinstance(value, str) and value.isascii()):  # (CEL counts UTF-8 bytes)
                return SLOW
            return _COMPARE[shortcut[2]](len(value), int(shortcut[3]))
        value = variables.get(shortcut[1], SLOW)
        for name in shortcut[2:] if kind == "path" else shortcut[2:3]:
            value = value.get(name, SLOW) if isinstance(value, dict) else SLOW
        if kind == "path":  # (a value CEL hands back as it is; not a list or map: a copy)
            plain = value is None or type(value) in (str, bool, float) or (
                type(value) is int and -2**63 <= value < 2**63)
            return value if plain else SLOW
        if type(value) is not int or not -2**63 <= value < 2**63:
            return SLOW  # (not bool, float, or past CEL's int: CEL's rules differ there)
        return _COMPARE[shortcut[3]](value, int(shortcut[4]))

    def evaluate(self, variables: Mapping[str, Any],
                 functions: Mapping[str, Callable[..., Any]] | None = None) -> Any:
        """Evaluate with the given variables (and mbtspec's functions).

        Only what the expression names is handed to CEL: converting values is most of the
        cost of an evaluation. Raises ``ExpressionEvaluationError`` with a readable reason.
        """
        value = self.quick(variables, functions)
        if value is SLOW:
            value = self.run(prepare_context([self], variables, functions))
        return value

    def run(self, context: Any) -> Any:
        """Evaluate in a context from ``prepare_context`` (shared by several expressions).

        Raises ``ExpressionBudgetError`` when the evaluation went over its budget, even if
        the expression went on to a result (``x || true`` absorbs an error)."""
        if not (self.guarded or self.library):  # nothing in it can run long: no budget
            return self._execute(context, None)
        if self.guarded and isinstance(context, Mapping):  # plain variables: add the counter
            context = {**context, _TICK: _tick}
        budget = _Budget()
        _local.budget = budget
        try:
            result = self._execute(context, budget)
        finally:
            _local.budget = None
        if budget.exceeded:
            raise self._over(budget)
        return result

    def _execute(self, context: Any, budget: _Budget | None) -> Any:
        try:
            return self.program.execute(context)
        except KeyError as err:
            if budget is not None and budget.exceeded:
                raise self._over(budget) from None
            raise ExpressionEvaluationError(f"no field {err.args[0]!r}") from None
        except Exception as err:  # CEL runtime errors come back as several builtin types
            if "KeyboardInterrupt" in str(err):  # Ctrl-C inside a function CEL called
                raise KeyboardInterrupt from None
            if budget is not None and budget.exceeded:
                raise self._over(budget) from None
            raise ExpressionEvaluationError(_clean(str(err))) from None

    def _over(self, budget: _Budget) -> ExpressionBudgetError:
        shown = _cel.span_text(self.source, (0, len(self.source)), 80)
        return ExpressionBudgetError(
            f"the expression '{shown}' (line {self.mark.line}, column {self.mark.column} of "
            f"the spec) was stopped: {budget.exceeded}; make it do less work on this data "
            "(fewer nested comprehensions, smaller values)")


class _Budget:
    """What one evaluation may still spend; ``exceeded`` says why it was stopped."""

    __slots__ = ("deadline", "exceeded", "left", "memory")

    def __init__(self) -> None:
        self.left = MAX_ITERATIONS
        self.deadline = 0.0
        self.memory = 0
        self.exceeded = ""

    def stop(self, why: str) -> ExpressionBudgetError:
        self.exceeded = self.exceeded or why
        return ExpressionBudgetError(why)

    def check(self) -> None:
        """Time and memory, every ``_CHECK_EVERY`` iterations (the first sets the marks)."""
        now = time.monotonic()
        peak = _peak_memory()
        if not self.deadline:
            self.deadline, self.memory = now + MAX_SECONDS, peak
            return
        if now > self.deadline:
            raise self.stop(f"it ran for more than {MAX_SECONDS:g} s")
        if peak - self.memory > MAX_MEMORY_GROWTH:
            raise self.stop(f"it used more than {MAX_MEMORY_GROWTH // 2**20:,} MiB of memory")


def _peak_memory() -> int:
    """Peak memory of this process, in bytes (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _tick() -> bool:
    """Called by a guarded expression at each comprehension iteration."""
    budget: _Budget | None = getattr(_local, "budget", None)
    if budget is None:
        return True
    left = budget.left = budget.left - 1
    if left % _CHECK_EVERY == 0:
        if budget.exceeded:
            raise ExpressionBudgetError(budget.exceeded)
        if left < 0:
            raise budget.stop(f"it ran more than {MAX_ITERATIONS:,} comprehension iterations")
        budget.check()
    return True


def _bounded(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` of CEL's library, refusing to make a value larger than
    ``MAX_VALUE_SIZE`` (computed before it is made, for those that grow it)."""

    def call(*args: Any) -> Any:
        before = _predicted_size(name, args)
        if before > MAX_VALUE_SIZE:
            raise _too_large(name, before)
        result = function(*args)
        if isinstance(result, str | bytes | list | dict) and len(result) > MAX_VALUE_SIZE:
            raise _too_large(name, len(result))
        return result

    return call


def _predicted_size(name: str, args: tuple[Any, ...]) -> int:
    if name == "replace" and len(args) >= 3 and all(isinstance(a, str) for a in args[:3]):
        subject, old, new = args[:3]
        count = subject.count(old) if old else len(subject) + 1
        if len(args) > 3 and isinstance(args[3], int) and args[3] >= 0:
            count = min(count, args[3])
        return len(subject) + count * (len(new) - len(old))
    if name == "lists.range" and args and isinstance(args[0], int):
        return args[0]
    if name == "join" and args and isinstance(args[0], list):
        separator = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
        return sum(len(str(a)) for a in args[0]) + len(separator) * len(args[0])
    return 0


def _too_large(name: str, size: int) -> ExpressionBudgetError:
    why = (f"{name}() would make a value of {size:,} characters or elements, more than the "
           f"{MAX_VALUE_SIZE:,} allowed")
    budget: _Budget | None = getattr(_local, "budget", None)
    return budget.stop(why) if budget is not None else ExpressionBudgetError(why)


def prepare_context(expressions: Iterable[Expression], variables: Mapping[str, Any],
                    functions: Mapping[str, Callable[..., Any]] | None = None) -> Any:
    """One CEL context holding what any of ``expressions`` needs, and nothing more: of a
    mapping that the expressions only read fields of, only those fields (handing a value to
    CEL converts all of it, which is most of the cost of an evaluation). A mapping handed
    whole to a response function (``conforms_to_openapi(candidate)``) goes as a handle that
    the function turns back into it (``held``): a body of 1,000 elements costs 11 ms to
    convert, and the function would convert it back."""
    context = cel.Context()
    expressions = tuple(expressions)
    for name, fields in _fields_wanted(expressions):
        if name in variables:
            value = variables[name]
            if fields is not None and isinstance(value, dict):
                trimmed = {key: value[key] for key in fields if key in value}
                if HANDLE in fields:  # (handed whole to Python: a handle, not a copy)
                    trimmed[HANDLE] = _hold(value)
                value = trimmed
            context.add_variable(name, value)
    if any(expression.guarded for expression in expressions):
        context.add_function(_TICK, _tick)
    for expression in expressions:
        for name, function in expression.library:
            context.add_function(name, function)
        for name in expression.functions:
            if functions and name in functions:
                context.add_function(name, functions[name])
    return context


@functools.lru_cache(maxsize=1024)
def _fields_wanted(expressions: tuple[Expression, ...]
                   ) -> tuple[tuple[str, frozenset[str] | None], ...]:
    """For each variable, the fields any of ``expressions`` reads (None: all of it); the
    same few sets of expressions are evaluated every step, so this is worked out once."""
    wanted: dict[str, frozenset[str] | None] = {}
    for expression in expressions:
        for name, read in expression.fields:
            if name in wanted:
                known = wanted[name]
                wanted[name] = None if known is None or read is None else known | read
            else:
                wanted[name] = read
    return tuple(wanted.items())


#: The result of ``Expression.quick`` when the expression must go to CEL.
SLOW: Any = object()
_COMPARE: dict[str, Callable[[int, int], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne}
_NAME = r"([A-Za-z_][A-Za-z0-9_]*)"
_FIELD_VS_NUMBER = re.compile(
    rf"\s*{_NAME}\.{_NAME}\s*(<=|>=|==|!=|<|>)\s*(0|-?[1-9][0-9]{{0,17}})\s*")
_CALL_OF_NAME = re.compile(rf"\s*{_NAME}\(\s*{_NAME}\s*\)\s*")
_PATH = re.compile(rf"\s*{_NAME}((?:\.[A-Za-z_][A-Za-z0-9_]*)+)\s*")
_SIZE_VS_NUMBER = re.compile(
    rf"\s*size\(\s*{_NAME}\s*\)\s*(<=|>=|==|!=|<|>)\s*(0|-?[1-9][0-9]{{0,17}})\s*")
#: Names CEL reads as something else than a variable.
_NOT_VARIABLES = frozenset({"true", "false", "null", "in", "as", "break", "const", "continue",
                            "else", "for", "function", "if", "import", "let", "loop", "package",
                            "namespace", "return", "var", "void", "while"})


def _shortcut(source: str, functions: frozenset[str], library: tuple[Any, ...]
              ) -> tuple[str, ...] | None:
    """What ``Expression.quick`` may work out itself for ``source``, if anything."""
    if library:
        return None
    found = _FIELD_VS_NUMBER.fullmatch(source)
    if found and not functions - {"_<_", "_<=_", "_>_", "_>=_", "_==_", "_!=_"}:
        shortcut: tuple[str, ...] = ("compare", *found.groups())
    elif (found := _CALL_OF_NAME.fullmatch(source)) and found[1] in (
            "conforms_to_openapi", "openapi_problems"):
        shortcut = ("call", *found.groups())
    elif (found := _PATH.fullmatch(source)) and not functions:
        shortcut = ("path", found[1], *found[2].split(".")[1:])
    elif (found := _SIZE_VS_NUMBER.fullmatch(source)) and functions <= {"size"}:
        shortcut = ("size", *found.groups())
    else:
        return None
    names = {shortcut[1]} if shortcut[0] != "call" else {shortcut[2]}
    return None if names & _NOT_VARIABLES else shortcut


def compile_expression(source: str, mark: Mark) -> Expression:
    """Compile ``source``; raises ``ExpressionSyntaxError`` with its position when invalid,
    ``ExpressionLimitError`` when it is beyond mbtspec's limits."""
    if len(source) > MAX_LENGTH:
        raise ExpressionLimitError(
            f"the expression is {len(source):,} characters long, more than the "
            f"{MAX_LENGTH:,} mbtspec reads; split it into several checks", 1, 1)
    tree: _cel.Node | None = None
    try:
        tree = _cel.parse(source)
    except _cel.CelParseError as err:
        if "nests more than" in err.message:
            raise ExpressionLimitError(f"{err.message}; split it into simpler parts", 1,
                                       err.column) from None
    program = _compile(source)
    bound = {name for match in _BOUND.finditer(source) for name in match.groups() if name}
    variables = frozenset(program.variables()) - bound - _TYPE_NAMES - _NAMESPACES
    functions = frozenset(
        f for f in program.functions() if not f.startswith(("_", "@", "!"))
    )
    library = tuple(
        (full, _bounded(full, function)) for full, function in stdlib.STDLIB_FUNCTIONS.items()
        if full.rsplit(".", 1)[-1] in functions
    )
    fields = tuple((name, _fields_read(source, name)) for name in sorted(variables))
    if tree is None:  # read by the engine, not by our parser: run it as it is
        return Expression(source, mark, program, variables, functions, library, fields)
    _check_cost(source, tree)
    bodies = _cel.macro_bodies(tree)
    if bodies:
        program = _compile(_instrument(source, bodies))
    return Expression(source, mark, program, variables, functions, library, fields,
                      _calls(tree), bool(bodies),
                      None if bodies else _shortcut(source, functions, library))


def _compile(source: str) -> Any:
    try:
        return cel.compile(source)
    except Exception as err:  # the package reports parse errors as ValueError
        text = str(err)
        found = _POSITION.search(text)
        if found:
            line, column, reason = int(found[1]), int(found[2]), found[3]
            raise ExpressionSyntaxError(_clean(reason), line, column) from None
        raise ExpressionSyntaxError(_clean(text), 1, 1) from None
    except BaseException as err:  # a panic of the engine (a BaseException): still an answer
        if isinstance(err, KeyboardInterrupt | SystemExit):
            raise
        raise ExpressionSyntaxError(f"the expression cannot be read ({_clean(str(err))})",
                                    1, 1) from None


def _check_cost(source: str, tree: _cel.Node) -> None:
    """Refuse what would go over the budget whatever the data (data of size 1)."""
    cost = _cel.estimate(tree, MAX_ITERATIONS, MAX_VALUE_SIZE)
    iterations, size = cost.iterations.at(1), cost.size.at(1)
    if iterations <= MAX_ITERATIONS and size <= MAX_VALUE_SIZE:
        return
    part = _cel.span_text(source, cost.where)
    line = source.count("\n", 0, cost.where[0]) + 1
    column = cost.where[0] - (source.rfind("\n", 0, cost.where[0]) + 1) + 1
    if cost.over == "iterations" or (not cost.over and iterations > MAX_ITERATIONS):
        what = (f"runs {_cel.describe(iterations)} comprehension iterations, more than the "
                f"{MAX_ITERATIONS:,} one evaluation may run (nested comprehensions multiply)")
    else:
        what = (f"makes a value of {_cel.describe(size)} characters or elements, more than the "
                f"{MAX_VALUE_SIZE:,} one evaluation may make")
    raise ExpressionLimitError(f"'{part}' {what}, whatever the data; make it do less work",
                               line, column)


def _instrument(source: str, bodies: list[tuple[str, int, int]]) -> str:
    """``source`` with each comprehension body calling ``_tick`` first: ``B`` becomes
    ``__mbtspec_tick() ? (B) : false`` (``null`` for a map's transform), which is ``B``."""
    edits: list[tuple[int, str]] = []
    for macro, start, end in bodies:
        edits.append((start, f"{_TICK}() ? ("))
        edits.append((end, ") : null" if macro == "map" else ") : false"))
    out = source
    for position, text in sorted(edits, key=lambda e: e[0], reverse=True):
        out = out[:position] + text + out[position:]
    return out


def _calls(tree: _cel.Node) -> frozenset[str]:
    """Functions as called: ``math.abs`` for a call on a namespace, else the bare name."""
    calls: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if node.kind == "call":
            target = node.target
            if target is not None and target.kind == "ident" and target.name in _NAMESPACES:
                calls.add(f"{target.name}.{node.name}")
            elif node.name not in _cel.MACROS and node.name != "has":
                calls.add(node.name)
        stack.extend(node.parts)
        if node.target is not None:
            stack.append(node.target)
    return frozenset(calls)


def _fields_read(source: str, name: str) -> frozenset[str] | None:
    """The fields of variable ``name`` that ``source`` reads, or None if it may use more.

    Errs on the side of more: any use other than ``name.field`` (a bare ``name``, ``name[...]``,
    ``name.?field``, a method call ``name.f(...)``, a mention inside a string) means all of it.
    A bare ``name`` as the first argument of ``conforms_to_openapi``, ``openapi_problems`` or
    ``header`` is read by Python, not by CEL: it adds ``HANDLE`` (see ``prepare_context``).
    """
    fields: set[str] = set()
    for found in re.finditer(r"(?<![\w.$`])" + re.escape(name) + r"(?![\w`])"
                             r"(?:\s*\.\s*([A-Za-z_]\w*)(\s*\()?)?", source):
        if found.group(1) is None and _HANDED.search(source, 0, found.start()) and \
                re.match(r"\s*[,)]", source[found.end():]):
            fields.add(HANDLE)
            continue
        if found.group(1) is None or found.group(2) is not None:
            return None
        fields.add(found.group(1))
    return frozenset(fields)


#: The functions (``conformance``) that take a whole response: a value handed to them alone is
#: not converted for CEL; a handle to it is (``held``).
_HANDED = re.compile(r"(?<![\w.])(?:conforms_to_openapi|openapi_problems|header)\s*\(\s*$")
#: The field of a trimmed value that holds the handle of the whole one.
HANDLE = "__mbtspec_value"
_HELD: dict[int, Any] = {}
_HOLD_AT_MOST = 256  # values held: contexts are used right after they are made
_handles = iter(range(1, 2**62))


def _hold(value: Any) -> int:
    handle = next(_handles)
    _HELD[handle] = value
    if len(_HELD) > _HOLD_AT_MOST:
        del _HELD[next(iter(_HELD))]  # (the oldest: dicts keep their order)
    return handle


def held(value: Any) -> Any:
    """The whole value a trimmed one stands for (``prepare_context``), else ``value``."""
    if isinstance(value, dict) and HANDLE in value:
        return _HELD.get(value[HANDLE], value)
    return value


def unknown_functions(expression: Expression, *, response_functions: bool = True) -> list[str]:
    """Functions the expression calls that do not exist (where it stands), as written.

    A function of a namespace exists only with it: ``math.abs(x)``, not ``abs(x)``."""
    bare = BARE_FUNCTIONS if response_functions else BARE_FUNCTIONS - MBTSPEC_FUNCTIONS
    if expression.calls is None:
        known = KNOWN_FUNCTIONS if response_functions else KNOWN_FUNCTIONS - MBTSPEC_FUNCTIONS
        return sorted(f for f in expression.functions if f not in known)
    return sorted(name for name in expression.calls
                  if name not in bare and name not in NAMESPACED_FUNCTIONS)


def _clean(text: str) -> str:
    text = text.strip().splitlines()[0] if text.strip() else "invalid expression"
    text = text.replace("Syntax error: ", "")
    text = re.sub(r"mismatched input '<EOF>'.*", "the expression ends too early", text)
    text = re.sub(r"(mismatched|extraneous) input ('[^']*').*", r"unexpected \2", text)
    text = re.sub(r"token recognition error at: '(\S*)\s*'", r"unexpected '\1'", text)
    text = re.sub(r"missing ('[^']*') at '<EOF>'", r"missing \1 at the end of the expression", text)
    return re.sub(r"no viable alternative at input ('[^']*')", r"cannot read \1", text)
