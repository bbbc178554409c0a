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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mbtspec.spec import model as m
from mbtspec.spec._regex import pattern_problem, widths
from mbtspec.spec._schemas import schema_problem
from mbtspec.spec._yaml import JsonPath, Mark, Positions

GENERATOR_KEYWORDS = (
    "one_of", "integer", "number", "boolean", "string", "format", "list", "object", "schema",
    "pick", "const", "bytes", "base64", "file",
)
_EXTRA_KEYS = {
    "pick": {"or", "remove"},
    "list": {"min_size", "max_size", "unique"},
    "object": {"optional"},
}
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

    def __init__(self, positions: Positions, generator_names: frozenset[str] = frozenset()) -> None:
        self.positions = positions
        self.generator_names = generator_names
        self.issues: list[ValueIssue] = []

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
        return generated

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
        local = tuple((k, self.parse(v, (*base, k))) for k, v in data.items() if k != "format")
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
        return m.Pick(arg, self.mark(path), fallback, bool(data.get("remove", False)), path)


def distinct_values(value: m.Value, cap: int = 10**6) -> int:
    """How many distinct values ``value`` can draw, at most (``cap`` when more, or unknown:
    references and picks are not followed)."""
    if isinstance(value, m.Literal_):
        return 1
    if isinstance(value, m.BooleanGen):
        return 2
    if isinstance(value, m.IntegerGen) and value.min is not None and value.max is not None:
        return int(min(max(int(value.max) - int(value.min) + 1, 0), cap))
    if isinstance(value, m.NumberGen) and value.min is not None and value.min == value.max:
        return 1
    if isinstance(value, m.OneOf):
        literals = {repr(o.value) for o in value.options if isinstance(o, m.Literal_)}
        others = sum(distinct_values(o, cap) for o in value.options
                     if not isinstance(o, m.Literal_))
        return min(len(literals) + others, cap)
    if isinstance(value, m.StringGen) and value.alphabet and value.max_size is not None \
            and not value.pattern:
        letters = len(set(value.alphabet))
        strings = sum(letters ** size for size in range(value.min_size,
                                                        min(value.max_size, 40) + 1))
        return int(min(strings, cap))
    if isinstance(value, m.ListValue | m.ObjectValue):
        parts = value.items if isinstance(value, m.ListValue) else tuple(
            v for _, v in value.fields)
        product = 1
        for part in parts:
            product = min(product * distinct_values(part, cap), cap)
        if isinstance(value, m.ObjectValue):
            product = min(product * 2 ** len(value.optional), cap)
        return int(product)
    return cap


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


def iter_needed_picks(value: m.Value, generators: Mapping[str, m.Value] | None = None,
                      hidden: frozenset[str] = frozenset(),
                      _seen: frozenset[str] = frozenset()) -> Iterator[m.Pick]:
    """Picks without a fallback that every draw of ``value`` makes (so their variable must
    hold something): not those inside a pick's ``or`` or one option of a ``one_of``. With
    ``generators``, also those of the generators it refers to (``${name}``, not the names in
    ``hidden``: ``let`` values, which are counted where they are written)."""
    def inner(item: m.Value, seen: frozenset[str] = _seen) -> Iterator[m.Pick]:
        return iter_needed_picks(item, generators, hidden, seen)

    if isinstance(value, m.Pick):
        if value.or_ is None:
            yield value
    elif isinstance(value, m.Ref | m.Template) and generators:
        refs = [value] if isinstance(value, m.Ref) else [
            p for p in value.parts if isinstance(p, m.Ref)]
        for ref in refs:
            if (not ref.env and ref.name in generators and ref.name not in hidden
                    and ref.name not in _seen):
                yield from inner(generators[ref.name], _seen | {ref.name})
    elif isinstance(value, m.ListValue):
        for item in value.items:
            yield from inner(item)
    elif isinstance(value, m.ObjectValue):
        for key, item in value.fields:
            if key not in value.optional:
                yield from inner(item)
    elif isinstance(value, m.FormatGen):
        local = {name for name, _ in value.local}
        for _, item in value.local:
            yield from inner(item)
        yield from iter_needed_picks(value.template, generators, hidden | local, _seen)
    elif isinstance(value, m.ListGen) and value.min_size > 0:
        yield from inner(value.element)
    elif isinstance(value, m.FileValue):
        for item in file_parts(value):
            yield from inner(item)


def iter_refs(value: m.Value) -> Iterator[m.Ref | m.Pick]:
    """Every ``${name}`` reference and ``pick`` in a value tree (not inside ``format`` locals'
    own scope resolution: the caller decides what names are visible)."""
    if isinstance(value, m.Ref | m.Pick):
        yield value
        if isinstance(value, m.Pick) and value.or_ is not None:
            yield from iter_refs(value.or_)
    elif isinstance(value, m.Template):
        for part in value.parts:
            if isinstance(part, m.Ref):
                yield part
    elif isinstance(value, m.ListValue | m.OneOf):
        for item in value.items if isinstance(value, m.ListValue) else value.options:
            yield from iter_refs(item)
    elif isinstance(value, m.ObjectValue):
        for _, item in value.fields:
            yield from iter_refs(item)
    elif isinstance(value, m.ListGen):
        yield from iter_refs(value.element)
    elif isinstance(value, m.FileValue):
        for item in file_parts(value):
            yield from iter_refs(item)
    elif isinstance(value, m.FormatGen):
        local = {name for name, _ in value.local}
        for part in value.template.parts:
            if isinstance(part, m.Ref) and (part.env or part.name not in local):
                yield part
        for _, item in value.local:
            yield from iter_refs(item)


def file_parts(value: m.FileValue) -> tuple[m.Value, ...]:
    """The values a ``file`` is made of: its content, and its name and media type when set."""
    return tuple(v for v in (value.content, value.filename, value.content_type) if v is not None)
