"""Parse the value grammar shared by ``generators`` and actions' ``path/query/headers/body/let``.

A value is a literal, a string with ``${name}`` references, a list or object of values, or a
mapping with exactly one generator keyword (``integer``, ``one_of``, ``pick`` ...). Problems are
yielded with the JSON path they stand at; the caller turns them into positioned ``Problem``\\ s.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mbtspec.spec import model as m
from mbtspec.spec._regex import pattern_problem, widths
from mbtspec.spec._schemas import schema_problem
from mbtspec.spec._walks import distinct_values, iter_refs
from mbtspec.spec._yaml import JsonPath, Mark, Positions
from mbtspec.spec.expressions import (
    Expression,
    ExpressionLimitError,
    ExpressionSyntaxError,
    compile_expression,
)
from mbtspec.spec.problems import format_path

#: Compiles the expression of ``remove: {when: ...}`` at a path, reporting its problems
#: (None when it has one): the spec builder's, which knows the stored variables.
ExpressionHook = Callable[[str, JsonPath], "Expression | None"]
#: What ``remove:`` takes, for messages.
REMOVE_FORMS = ("true (when every target answers with a 2xx status), always, false, or "
                "{when: <expression>}")

GENERATOR_KEYWORDS = (
    "one_of", "integer", "number", "boolean", "string", "format", "list", "object", "schema",
    "pick", "const", "bytes", "base64", "file",
)
_EXTRA_KEYS = {
    "pick": {"or", "remove"},
    "list": {"min_size", "max_size", "unique"},  # unique: the elements of one list
    "object": {"optional", "unique"},
    **{keyword: {"unique"} for keyword in (
        "one_of", "integer", "number", "boolean", "string", "format", "schema")},
}
#: Generators whose ``unique: true`` means: no value twice within a sequence (``m.Unique``).
UNIQUE_IN_SEQUENCE = frozenset(GENERATOR_KEYWORDS) - {"list", "pick", "const"}
_OPTIONS = {
    "integer": {"min", "max"},
    "number": {"min", "max", "allow_nan", "allow_infinity"},
    "boolean": set(),
    "string": {"min_size", "max_size", "alphabet", "pattern"},
    "bytes": {"min_size", "max_size"},
    "file": {"content", "filename", "content_type"},
}
#: The largest ``min_size`` of a ``bytes`` generator.
MAX_BYTES_MIN_SIZE = 1_000
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: The largest ``min_size`` of a ``string`` (characters) and of a ``list`` (elements): longer
#: values need more random choices than Hypothesis makes for a whole sequence of steps.
MAX_STRING_MIN_SIZE = 1_000
MAX_LIST_MIN_SIZE = 100
_REF = re.compile(r"\$\$\{|\$\{([^}]*)\}")
#: Named alphabets for ``string: {alphabet: ...}``; anything else is a literal set of characters.
ALPHABETS = {
    "ascii_letters": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "lowercase": "abcdefghijklmnopqrstuvwxyz",
    "uppercase": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "digits": "0123456789",
    "alphanumeric": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "ascii": "".join(chr(c) for c in range(32, 127)),
}


@dataclass(frozen=True)
class ValueIssue:
    path: JsonPath
    code: str
    message: str
    key: bool = False
    offset: tuple[int, int] | None = None


class ValueParser:
    """Turns YAML data into ``Value`` trees; collects ``ValueIssue``\\ s in ``issues``."""

    def __init__(self, positions: Positions, generator_names: frozenset[str] = frozenset(),
                 expression: ExpressionHook | None = None) -> None:
        self.positions = positions
        self.generator_names = generator_names
        self.issues: list[ValueIssue] = []
        self.expression = expression or self._expression
        #: The ``let`` names visible where values are being parsed (an action's, as it goes).
        self.lets: frozenset[str] = frozenset()

    def _expression(self, source: str, path: JsonPath) -> Expression | None:
        """Compile ``source`` without knowing the stored variables (no builder)."""
        try:
            return compile_expression(source, self.mark(path))
        except (ExpressionLimitError, ExpressionSyntaxError) as err:
            self.issue(path, "expression-syntax", f"cannot parse remove 'when' expression: "
                       f"{err.message}", offset=(err.line, err.column))
            return None

    def mark(self, path: JsonPath) -> Mark:
        return self.positions.of(path)

    def issue(self, path: JsonPath, code: str, message: str, **kw: Any) -> None:
        self.issues.append(ValueIssue(path, code, message, **kw))

    def parse(self, data: Any, path: JsonPath) -> m.Value:
        if isinstance(data, str):
            return self.parse_string(data, path)
        if isinstance(data, list):
            return m.ListValue(tuple(self.parse(v, (*path, i)) for i, v in enumerate(data)))
        if isinstance(data, dict):
            return self.parse_mapping(data, path)
        return m.Literal_(data)

    def parse_string(self, text: str, path: JsonPath) -> m.Value:
        template = self.template(text, path)
        parts = template.parts
        if not parts:
            return m.Literal_("")
        if len(parts) == 1 and isinstance(parts[0], str):
            return m.Literal_(parts[0])
        if len(parts) == 1 and isinstance(parts[0], m.Ref):
            return parts[0]
        return template

    def template(self, text: str, path: JsonPath) -> m.Template:
        parts: list[str | m.Ref] = []
        last = 0
        literal = ""
        for found in _REF.finditer(text):
            literal += text[last:found.start()]
            last = found.end()
            if found.group(0) == "$${":
                literal += "${"
                continue
            if literal:
                parts.append(literal)
                literal = ""
            inner = found.group(1).strip()
            column = found.start() + 1
            if inner.startswith("env."):
                env_name, has_default, default = inner[4:].partition(":-")
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", env_name):
                    self.issue(path, "invalid-reference",
                               f"'${{{inner}}}' is not a valid environment variable name",
                               offset=(1, column))
                parts.append(m.Ref(env_name, self.mark(path), True, path, column,
                                   default if has_default else None))
            elif NAME.fullmatch(inner):
                parts.append(m.Ref(inner, self.mark(path), False, path, column))
            else:
                self.issue(
                    path, "invalid-reference",
                    f"'${{{found.group(1)}}}' is not a name: write ${{generator_name}} (letters, "
                    "digits, _), or $${ for a literal '${'",
                    offset=(1, column),
                )
        literal += text[last:]
        if literal:
            parts.append(literal)
        return m.Template(tuple(parts))

    def parse_mapping(self, data: dict[str, Any], path: JsonPath) -> m.Value:
        keywords = [k for k in data if k in GENERATOR_KEYWORDS]
        if not keywords:
            return m.ObjectValue(tuple((k, self.parse(v, (*path, k))) for k, v in data.items()))
        if len(keywords) > 1:
            self.issue(
                (*path, keywords[1]), "ambiguous-generator",
                f"a value can use one generator, not {' and '.join(keywords)}; to send an "
                "object with these keys literally, wrap it in {const: ...}",
                key=True,
            )
            return m.Literal_(None)
        keyword = keywords[0]
        extra = set(data) - {keyword} - _EXTRA_KEYS.get(keyword, set())
        if keyword != "format":
            for key in sorted(extra):
                allowed = sorted(_EXTRA_KEYS.get(keyword, set()))
                hint = f" (allowed beside it: {', '.join(allowed)})" if allowed else ""
                self.issue((*path, key), "unknown-key",
                           f"'{key}' is not an option of the '{keyword}' generator{hint}",
                           key=True)
        method: Any = getattr(self, f"_gen_{keyword}")
        generated: m.Value = method(data, data[keyword], (*path, keyword), path)
        if keyword in UNIQUE_IN_SEQUENCE and "unique" in data:
            return self._unique(generated, data["unique"], path)
        return generated

    def _unique(self, value: m.Value, flag: Any, path: JsonPath) -> m.Value:
        """``value`` made unique within a sequence when ``flag`` is true."""
        if not isinstance(flag, bool):
            self.issue((*path, "unique"), "invalid-generator", "'unique' takes true or false")
            return value
        if not flag:
            return value
        reads = sorted({f"the 'let' value '{r.name}'" if isinstance(r, m.Ref)
                        else f"a pick of '{r.variable}'" for r in iter_refs(value)
                        if isinstance(r, m.Pick) or (not r.env and r.name in self.lets)})
        if reads:
            self.issue((*path, "unique"), "invalid-generator",
                       f"'unique' needs values drawn afresh, but this value uses "
                       f"{' and '.join(reads)}, which may repeat; drop 'unique' here", key=True)
            return value
        scope = path[1] if len(path) == 2 and path[0] == "generators" else format_path(path)
        return m.Unique(value, str(scope), self.mark((*path, "unique")), (*path, "unique"))

    # One method per generator keyword; ``arg`` is the keyword's value, ``path`` points at it.

    def _options(self, keyword: str, arg: Any, path: JsonPath) -> dict[str, Any]:
        if arg is None or arg is True:
            return {}
        if not isinstance(arg, dict):
            self.issue(path, "invalid-generator",
                       f"'{keyword}' takes a mapping of options "
                       f"({', '.join(sorted(_OPTIONS[keyword])) or 'none'}) or {{}}")
            return {}
        for key in arg:
            if key not in _OPTIONS[keyword]:
                self.issue((*path, key), "unknown-key",
                           f"'{key}' is not an option of '{keyword}' "
                           f"(options: {', '.join(sorted(_OPTIONS[keyword])) or 'none'})",
                           key=True)
        return arg

    def _gen_const(self, data: dict[str, Any], arg: Any, path: JsonPath, _: JsonPath) -> m.Value:
        return m.Literal_(arg)

    def _gen_one_of(self, data: dict[str, Any], arg: Any, path: JsonPath, _: JsonPath) -> m.Value:
        if not isinstance(arg, list) or not arg:
            self.issue(path, "invalid-generator", "'one_of' takes a non-empty list of values")
            return m.Literal_(None)
        return m.OneOf(tuple(self.parse(v, (*path, i)) for i, v in enumerate(arg)))

    def _gen_integer(self, data: dict[str, Any], arg: Any, path: JsonPath, _: JsonPath) -> m.Value:
        opts = self._options("integer", arg, path)
        lo, hi = opts.get("min"), opts.get("max")
        for name, bound in (("min", lo), ("max", hi)):
            if bound is not None and (not isinstance(bound, int) or isinstance(bound, bool)):
                self.issue((*path, name), "invalid-generator", f"'{name}' must be an integer")
                return m.IntegerGen()
        if lo is not None and hi is not None and lo > hi:
            self.issue(path, "invalid-generator", f"min ({lo}) is greater than max ({hi})")
        return m.IntegerGen(lo, hi)

    def _gen_number(self, data: dict[str, Any], arg: Any, path: JsonPath, _: JsonPath) -> m.Value:
        opts = self._options("number", arg, path)
        lo, hi = opts.get("min"), opts.get("max")
        for name, bound in (("min", lo), ("max", hi)):
            if bound is not None and (isinstance(bound, bool)
                                      or not isinstance(bound, int | float)):
                self.issue((*path, name), "invalid-generator", f"'{name}' must be a number")
                return m.NumberGen()
            why = _bad_bound(name, bound)
            if why:
                self.issue((*path, name), "invalid-generator", why)
                return m.NumberGen()
        if lo is not None and hi is not None and lo > hi:
            self.issue(path, "invalid-generator", f"min ({lo}) is greater than max ({hi})")
        if opts.get("allow_nan") and (lo is not None or hi is not None):
            self.issue((*path, "allow_nan"), "invalid-generator",
                       "NaN is outside any range: use allow_nan without min and max")
        if opts.get("allow_infinity") and lo is not None and hi is not None:
            self.issue((*path, "allow_infinity"), "invalid-generator",
                       "infinity is outside a range with both min and max: drop one bound")
        return m.NumberGen(
            lo, hi, bool(opts.get("allow_nan", False)), bool(opts.get("allow_infinity", False))
        )

    def _gen_boolean(self, data: dict[str, Any], arg: Any, path: JsonPath, _: JsonPath) -> m.Value:
        self._options("boolean", arg, path)
        return m.BooleanGen()

    def _gen_string(self, data: dict[str, Any], arg: Any, path: JsonPath, _: JsonPath) -> m.Value:
        opts = self._options("string", arg, path)
        min_size, max_size = self._sizes(opts, path, MAX_STRING_MIN_SIZE, "characters")
        alphabet = opts.get("alphabet")
        if alphabet is not None:
            if not isinstance(alphabet, str) or not alphabet:
                self.issue((*path, "alphabet"), "invalid-generator",
                           "'alphabet' must be a non-empty string of characters or one of "
                           + ", ".join(ALPHABETS))
                alphabet = None
            else:
                alphabet = ALPHABETS.get(alphabet, alphabet)
        pattern = opts.get("pattern")
        if pattern is not None and opts.get("alphabet") is not None:
            self.issue((*path, "alphabet"), "invalid-generator",
                       "'alphabet' and 'pattern' cannot be combined: put the allowed characters "
                       "in the pattern (e.g. [a-z]+)")
        if pattern is not None:
            pattern = self._pattern(str(pattern), (*path, "pattern"), min_size, max_size)
        return m.StringGen(min_size, max_size, alphabet, pattern)

    def _sizes(self, opts: dict[str, Any], path: JsonPath, cap: int,
               unit: str) -> tuple[int, int | None]:
        """``min_size`` and ``max_size`` of ``opts`` (at ``path``), checked."""
        min_size = opts.get("min_size", 0)
        max_size = opts.get("max_size")
        if not isinstance(min_size, int) or isinstance(min_size, bool) or min_size < 0:
            self.issue((*path, "min_size"), "invalid-generator",
                       "'min_size' must be a whole number >= 0")
            min_size = 0
        elif min_size > cap:
            self.issue((*path, "min_size"), "invalid-generator",
                       f"'min_size' is at most {cap:,} {unit}: larger values cannot be drawn in "
                       "reasonable time (and rarely find more bugs); use a smaller minimum")
            min_size = 0
        if max_size is not None and (not isinstance(max_size, int) or isinstance(max_size, bool)
                                     or max_size < min_size):
            self.issue((*path, "max_size"), "invalid-generator",
                       f"'max_size' must be a whole number >= min_size ({min_size})")
            max_size = None
        return min_size, max_size

    def _pattern(self, pattern: str, path: JsonPath, min_size: int,
                 max_size: int | None) -> str | None:
        """``pattern`` when strings of the given sizes can be drawn from it, else None."""
        why = pattern_problem(pattern)
        if why is not None:
            code = "cannot-generate" if why.startswith("matches no string") else "invalid-pattern"
            self.issue(path, code, f"'pattern' {why}")
            return None
        shortest, longest = widths(pattern)
        if max_size is not None and shortest > max_size or longest < min_size:
            self.issue(path, "cannot-generate",
                       f"'pattern' matches strings of {shortest} to {longest} characters, none "
                       f"of them within min_size ({min_size}) and max_size "
                       f"({'none' if max_size is None else max_size}); change the sizes or the "
                       "pattern")
            return None
        return pattern

    def _gen_format(self, data: dict[str, Any], arg: Any, path: JsonPath,
                    base: JsonPath) -> m.Value:
        if not isinstance(arg, str):
            self.issue(path, "invalid-generator", "'format' takes a template string such as "
                       "\"${department}-${n}\"")
            return m.Literal_(None)
        local = tuple((k, self.parse(v, (*base, k))) for k, v in data.items()
                      if k not in ("format", "unique"))
        for name, _value in local:
            if not NAME.fullmatch(name):
                self.issue((*base, name), "invalid-name",
                           f"'{name}' cannot be used as a name in ${{...}}: use letters, "
                           "digits and _", key=True)
        return m.FormatGen(self.template(arg, path), local)

    def _gen_list(self, data: dict[str, Any], arg: Any, path: JsonPath, base: JsonPath) -> m.Value:
        min_size, max_size = self._sizes(data, base, MAX_LIST_MIN_SIZE, "elements")
        element = self.parse(arg, path)
        if data.get("unique") and min_size > 0:
            distinct = distinct_values(element)
            if distinct < min_size:
                self.issue((*base, "min_size"), "cannot-generate",
                           f"a unique list of at least {min_size} elements cannot be drawn: "
                           f"its elements can take only {distinct} distinct value"
                           f"{'s' if distinct != 1 else ''}; lower min_size or widen the "
                           "element")
                min_size = 0
        return m.ListGen(element, min_size, max_size, bool(data.get("unique")))

    def _gen_object(self, data: dict[str, Any], arg: Any, path: JsonPath,
                    base: JsonPath) -> m.Value:
        if not isinstance(arg, dict):
            self.issue(path, "invalid-generator", "'object' takes a mapping of keys to values")
            return m.Literal_(None)
        optional = data.get("optional") or []
        if not isinstance(optional, list) or not all(isinstance(o, str) for o in optional):
            self.issue((*base, "optional"), "invalid-generator",
                       "'optional' takes a list of the object's keys")
            optional = []
        for name in optional:
            if name not in arg:
                self.issue((*base, "optional"), "invalid-generator",
                           f"optional key '{name}' is not a key of the object")
        fields = tuple((k, self.parse(v, (*path, k))) for k, v in arg.items())
        return m.ObjectValue(fields, frozenset(optional))

    def _gen_schema(self, data: dict[str, Any], arg: Any, path: JsonPath, _: JsonPath) -> m.Value:
        if not isinstance(arg, dict | bool):
            self.issue(path, "invalid-generator", "'schema' takes a JSON Schema (a mapping)")
            return m.Literal_(None)
        why = schema_problem(arg, "json-schema")
        if why is not None:
            self.issue(path, "cannot-generate", f"no value can be drawn from this schema: {why}")
            return m.Literal_(None)
        return m.SchemaGen(arg)

    def _gen_bytes(self, data: dict[str, Any], arg: Any, path: JsonPath, _: JsonPath) -> m.Value:
        opts = self._options("bytes", arg, path)
        min_size, max_size = self._sizes(opts, path, MAX_BYTES_MIN_SIZE, "bytes")
        return m.BytesGen(min_size, max_size)

    def _gen_base64(self, data: dict[str, Any], arg: Any, path: JsonPath, _: JsonPath) -> m.Value:
        if not isinstance(arg, str):
            self.issue(path, "invalid-generator", "'base64' takes the bytes written in base64 "
                       "text, e.g. {base64: aGVsbG8=}")
            return m.Literal_(b"")
        try:
            return m.Literal_(base64.b64decode("".join(arg.split()), validate=True))
        except (binascii.Error, ValueError):
            self.issue(path, "invalid-generator", "'base64' text is not valid base64: "
                       "write the bytes as standard base64 (A-Z a-z 0-9 + / and = padding)")
            return m.Literal_(b"")

    def _gen_file(self, data: dict[str, Any], arg: Any, path: JsonPath, _: JsonPath) -> m.Value:
        if not isinstance(arg, dict) or "content" not in arg:
            self.issue(path, "invalid-generator",
                       "'file' takes a mapping with 'content' (and optionally 'filename' and "
                       "'content_type'), e.g. {file: {content: {bytes: {max_size: 64}}, "
                       "filename: a.bin}}")
            return m.Literal_(None)
        self._options("file", arg, path)

        def part(key: str) -> m.Value | None:
            return self.parse(arg[key], (*path, key)) if key in arg else None

        content = part("content")
        assert content is not None
        return m.FileValue(content, part("filename"), part("content_type"), path)

    def _gen_pick(self, data: dict[str, Any], arg: Any, path: JsonPath, base: JsonPath) -> m.Value:
        if not isinstance(arg, str) or not NAME.fullmatch(arg):
            self.issue(path, "invalid-generator",
                       "'pick' takes the name of a variable that an action stores")
            return m.Literal_(None)
        fallback: m.Value | None = None
        if "or" in data:
            alternative = data["or"]
            if isinstance(alternative, str) and alternative in self.generator_names:
                # `or: employee_no` names a generator: read it as ${employee_no}
                fallback = m.Ref(alternative, self.mark((*base, "or")), False, (*base, "or"), 1)
            else:
                fallback = self.parse(alternative, (*base, "or"))
        removal = self._removal(data["remove"], (*base, "remove")) if "remove" in data else None
        return m.Pick(arg, self.mark(path), fallback, removal, path)

    def _removal(self, data: Any, path: JsonPath) -> m.Removal | None:
        """``remove: true | always | false | {when: ...}`` (see ``m.Removal``)."""
        if data is True:
            return m.Removal("success")
        if data == "always":
            return m.Removal("always")
        if isinstance(data, dict) and isinstance(data.get("when"), str) and len(data) == 1:
            when = self.expression(data["when"], (*path, "when"))
            return m.Removal("when", when) if when is not None else None
        if data is not False:
            self.issue(path, "invalid-value", f"remove takes {REMOVE_FORMS}")
        return None


def _bad_bound(name: str, bound: Any) -> str:
    """Why ``bound`` cannot be the ``min``/``max`` of a ``number`` generator, or ""."""
    if bound is None:
        return ""
    try:
        value = float(bound)
    except OverflowError:
        return (f"'{name}' (a number of {len(str(abs(bound)))} digits) is beyond the largest "
                "floating-point number (about 1.8e308); leave it out for no bound")
    if math.isnan(value):
        return f"'{name}' must be a number, not NaN (.nan); leave it out for no bound"
    if math.isinf(value) and (value > 0) == (name == "min"):
        return (f"'{name}' is {'' if value > 0 else '-'}infinity: no number is "
                f"{'above' if name == 'min' else 'below'} it; leave it out for no bound")
    return ""
