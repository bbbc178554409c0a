"""The one expression language of spec files: CEL (Common Expression Language).

Used by ``when``, ``store``, ``check`` and ``expect``. Expressions are compiled once, when the
spec is loaded, and evaluated per step. We use the Rust-backed ``common-expression-language``
package: it is the fastest maintained CEL for Python (~1-15 µs per evaluation of a compiled
program here, against hundreds for the pure-Python one), it reports parse errors with line and
column, and it can list the variables and functions an expression names, which the linter needs.
CEL cannot reach Python objects, files or the network: expressions see plain data only.
"""

from __future__ import annotations

import functools
import re
import sys
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

from mbtspec.spec._yaml import Mark  # noqa: E402

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


class ExpressionEvaluationError(Exception):
    """A CEL expression failed at run time (missing field, wrong type, ...)."""


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

    def evaluate(self, variables: Mapping[str, Any],
                 functions: Mapping[str, Callable[..., Any]] | None = None) -> Any:
        """Evaluate with the given variables (and mbtspec's functions).

        Only what the expression names is handed to CEL: converting values is most of the
        cost of an evaluation. Raises ``ExpressionEvaluationError`` with a readable reason.
        """
        return self.run(prepare_context([self], variables, functions))

    def run(self, context: Any) -> Any:
        """Evaluate in a context from ``prepare_context`` (shared by several expressions)."""
        try:
            return self.program.execute(context)
        except KeyError as err:
            raise ExpressionEvaluationError(f"no field {err.args[0]!r}") from None
        except Exception as err:  # CEL runtime errors come back as several builtin types
            if "KeyboardInterrupt" in str(err):  # Ctrl-C inside a function CEL called
                raise KeyboardInterrupt from None
            raise ExpressionEvaluationError(_clean(str(err))) from None


def prepare_context(expressions: Iterable[Expression], variables: Mapping[str, Any],
                    functions: Mapping[str, Callable[..., Any]] | None = None) -> Any:
    """One CEL context holding what any of ``expressions`` needs, and nothing more: of a
    mapping that the expressions only read fields of, only those fields (handing a value to
    CEL converts all of it, which is most of the cost of an evaluation)."""
    context = cel.Context()
    expressions = tuple(expressions)
    for name, fields in _fields_wanted(expressions):
        if name in variables:
            value = variables[name]
            if fields is not None and isinstance(value, dict):
                value = {key: value[key] for key in fields if key in value}
            context.add_variable(name, value)
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


def compile_expression(source: str, mark: Mark) -> Expression:
    """Compile ``source``; raises ``ExpressionSyntaxError`` with its position when invalid."""
    try:
        program = cel.compile(source)
    except Exception as err:  # the package reports parse errors as ValueError
        text = str(err)
        found = _POSITION.search(text)
        if found:
            line, column, reason = int(found[1]), int(found[2]), found[3]
            raise ExpressionSyntaxError(_clean(reason), line, column) from None
        raise ExpressionSyntaxError(_clean(text), 1, 1) from None
    bound = {name for match in _BOUND.finditer(source) for name in match.groups() if name}
    variables = frozenset(program.variables()) - bound - _TYPE_NAMES - _NAMESPACES
    functions = frozenset(
        f for f in program.functions() if not f.startswith(("_", "@", "!"))
    )
    library = tuple(
        (full, function) for full, function in stdlib.STDLIB_FUNCTIONS.items()
        if full.rsplit(".", 1)[-1] in functions
    )
    fields = tuple((name, _fields_read(source, name)) for name in sorted(variables))
    return Expression(source, mark, program, variables, functions, library, fields)


def _fields_read(source: str, name: str) -> frozenset[str] | None:
    """The fields of variable ``name`` that ``source`` reads, or None if it may use more.

    Errs on the side of more: any use other than ``name.field`` (a bare ``name``, ``name[...]``,
    ``name.?field``, a method call ``name.f(...)``, a mention inside a string) means all of it.
    """
    fields: set[str] = set()
    for found in re.finditer(r"(?<![\w.$`])" + re.escape(name) + r"(?![\w`])"
                             r"(?:\s*\.\s*([A-Za-z_]\w*)(\s*\()?)?", source):
        if found.group(1) is None or found.group(2) is not None:
            return None
        fields.add(found.group(1))
    return frozenset(fields)


def unknown_functions(expression: Expression, *, response_functions: bool = True) -> list[str]:
    """Functions the expression calls that do not exist (where it stands)."""
    known = KNOWN_FUNCTIONS if response_functions else KNOWN_FUNCTIONS - MBTSPEC_FUNCTIONS
    return sorted(f for f in expression.functions if f not in known)


def _clean(text: str) -> str:
    text = text.strip().splitlines()[0] if text.strip() else "invalid expression"
    text = text.replace("Syntax error: ", "")
    text = re.sub(r"mismatched input '<EOF>'.*", "the expression ends too early", text)
    text = re.sub(r"(mismatched|extraneous) input ('[^']*').*", r"unexpected \2", text)
    text = re.sub(r"token recognition error at: '(\S*)\s*'", r"unexpected '\1'", text)
    text = re.sub(r"missing ('[^']*') at '<EOF>'", r"missing \1 at the end of the expression", text)
    return re.sub(r"no viable alternative at input ('[^']*')", r"cannot read \1", text)
