"""What a CEL expression can cost, read from its text: a small parser of CEL's syntax.

The CEL engine has no evaluation budget: it runs an expression to its end, holding Python's
lock, and cannot be interrupted. ``[1,...,10].map(a, [1,...,10].map(b, ...))`` nested six deep
iterates a million times; ``["ab"].map(a, [a + a].map(b, ...))`` doubles a string per level.
Two things bound it, both worked out here from an expression that the engine has parsed:

- ``estimate``: how many comprehension iterations and how large a value an expression can
  make, as polynomials in ``n``, the size of the data it reads. What it costs with data of
  size 1 is what it costs whatever the data: over the budget, the loader refuses it.
- ``macro_bodies``: where the body of each comprehension (``all``, ``exists``,
  ``exists_one``, ``map``, ``filter``) stands, so that the expression can be run with a call
  to mbtspec at every iteration, which counts them and stops the evaluation past the budget.

The parser follows CEL's grammar (as the ``cel`` package parses it: no optional syntax) and
refuses nesting deeper than ``MAX_NESTING`` instead of recursing without bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: How deep an expression may nest (brackets, calls, operators of different kinds).
MAX_NESTING = 100
MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_TOKEN = re.compile(r"""
    (?P<space>\s+|//[^\n]*)
  | (?P<string>[rRbB]{0,2}(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"
                          |'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))
  | (?P<number>0[xX][0-9a-fA-F]+[uU]?|(?:\d*\.\d+|\d+)(?:[eE][+-]?\d+)?[uU]?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>&&|\|\||==|!=|<=|>=|[-+*/%!<>?:.,()\[\]{}])
""", re.VERBOSE | re.DOTALL)
_BINARY = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3, "in": 3,
           "+": 4, "-": 4, "*": 5, "/": 5, "%": 5}
_GROWING = frozenset({"+"})  # on strings and lists: the result holds both sides


class CelParseError(ValueError):
    """The text is not CEL this parser reads (or nests too deeply); ``column`` is 1-based."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


@dataclass
class Node:
    kind: str  # literal, ident, select, index, call, list, map, unary, binary, cond, struct
    start: int
    end: int
    name: str = ""  # identifier, field, function or operator
    parts: list[Node] = field(default_factory=list)
    size: int = 1  # of a literal: characters of a string, else 1
    value: float = 0.0  # of a number literal
    target: Node | None = None  # the receiver of a method call (``x.f()``)
    at: int = -1  # where the method's name stands, for a method call


@dataclass(frozen=True)
class Poly:
    """A polynomial in ``n`` with non-negative coefficients, by degree; capped, so that an
    exploding estimate stays a number."""

    terms: tuple[float, ...] = (0.0,)

    CAP = 1e30

    @staticmethod
    def of(value: float) -> Poly:
        return Poly((min(float(value), Poly.CAP),))

    def __add__(self, other: Poly) -> Poly:
        size = max(len(self.terms), len(other.terms))
        a = self.terms + (0.0,) * (size - len(self.terms))
        b = other.terms + (0.0,) * (size - len(other.terms))
        return Poly(tuple(min(x + y, self.CAP) for x, y in zip(a, b, strict=True)))

    def __mul__(self, other: Poly) -> Poly:
        out = [0.0] * min(len(self.terms) + len(other.terms) - 1, 8)  # degree 7 is plenty
        for i, x in enumerate(self.terms):
            for j, y in enumerate(other.terms):
                k = min(i + j, len(out) - 1)
                out[k] = min(out[k] + x * y, self.CAP)
        return Poly(tuple(out))

    def max(self, other: Poly) -> Poly:
        size = max(len(self.terms), len(other.terms))
        a = self.terms + (0.0,) * (size - len(self.terms))
        b = other.terms + (0.0,) * (size - len(other.terms))
        return Poly(tuple(max(x, y) for x, y in zip(a, b, strict=True)))

    def at(self, n: float) -> float:
        return min(sum(c * n**d for d, c in enumerate(self.terms)), self.CAP)


DATA = Poly((0.0, 1.0))  # a value read from the data: size n
ONE = Poly.of(1)


@dataclass(frozen=True)
class Estimate:
    iterations: Poly  # comprehension iterations
    size: Poly  # the largest value made (characters of a string, elements of a list)
    where: tuple[int, int]  # the span of the innermost part over a limit, else the whole
    over: str = ""  # which limit that part goes over first: "iterations" or "size"


def parse(source: str) -> Node:
    """The syntax tree of ``source``; raises ``CelParseError``."""
    return _Parser(source).parse()


def estimate(tree: Node, max_iterations: float = Poly.CAP,
             max_size: float = Poly.CAP) -> Estimate:
    """What evaluating ``tree`` can cost (see the module docstring); ``where`` is the span of
    the innermost part that alone goes over a limit with data of size 1, else the whole."""
    return _Estimator(max_iterations, max_size).walk(tree, {})


def macro_bodies(tree: Node) -> list[tuple[str, int, int]]:
    """(macro, start, end) of the part of each comprehension evaluated per iteration: the
    predicate, or for ``map`` the transform (the filter of a three-argument ``map``)."""
    found: list[tuple[str, int, int]] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if node.kind == "call" and node.target is not None and node.name in MACROS and len(
                node.parts) in (2, 3):
            body = node.parts[1]
            found.append((node.name, body.start, body.end))
        stack.extend(node.parts)
        if node.target is not None:
            stack.append(node.target)
    return found


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens: list[tuple[str, str, int, int]] = []
        position = 0
        for found in _TOKEN.finditer(source):
            if found.start() != position:
                raise CelParseError(f"unexpected {source[position]!r}", position + 1)
            position = found.end()
            kind = found.lastgroup or ""
            if kind != "space":
                self.tokens.append((kind, found.group(), found.start(), found.end()))
        if position != len(source):
            raise CelParseError(f"unexpected {source[position]!r}", position + 1)
        self.index = 0
        self.depth = 0

    def peek(self, offset: int = 0) -> tuple[str, str, int, int]:
        i = self.index + offset
        if i < len(self.tokens):
            return self.tokens[i]
        return ("end", "", len(self.source), len(self.source))

    def take(self, text: str | None = None) -> tuple[str, str, int, int]:
        token = self.peek()
        if text is not None and token[1] != text:
            raise CelParseError(f"expected {text!r}", token[2] + 1)
        if token[0] == "end":
            raise CelParseError("the expression ends too early", token[2] + 1)
        self.index += 1
        return token

    def parse(self) -> Node:
        node = self.expression()
        if self.peek()[0] != "end":
            raise CelParseError(f"unexpected {self.peek()[1]!r}", self.peek()[2] + 1)
        return node

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise CelParseError(f"the expression nests more than {MAX_NESTING} levels deep",
                                self.peek()[2] + 1)

    def expression(self) -> Node:
        self.nest()
        condition = self.binary(1)
        if self.peek()[1] == "?":
            self.take("?")
            then = self.binary(1)
            self.take(":")
            other = self.expression()
            condition = Node("cond", condition.start, other.end, parts=[condition, then, other])
        self.depth -= 1
        return condition

    def binary(self, level: int) -> Node:
        left = self.unary()
        while True:
            kind, text, _, _ = self.peek()
            strength = _BINARY.get(text) if kind in ("op", "name") else None
            if strength is None or strength < level:
                return left
            self.take()
            self.nest()
            right = self.binary(strength + 1)
            self.depth -= 1
            if left.kind == "binary" and left.name == text:  # a chain: one node, not a tower
                left.parts.append(right)
                left.end = right.end
            else:
                left = Node("binary", left.start, right.end, text, [left, right])

    def unary(self) -> Node:
        kind, text, start, _ = self.peek()
        if text in ("!", "-") and kind == "op":
            self.take()
            self.nest()
            operand = self.unary()
            self.depth -= 1
            return Node("unary", start, operand.end, text, [operand])
        return self.member()

    def member(self) -> Node:
        node = self.primary()
        while True:
            text = self.peek()[1]
            if text == ".":
                self.take()
                _, name, at, end = self.take()
                if self.peek()[1] == "(":
                    args, end = self.arguments()
                    node = Node("call", node.start, end, name, args, target=node, at=at)
                else:
                    node = Node("select", node.start, end, name, [node])
            elif text == "[":
                self.take()
                index = self.expression()
                end = self.take("]")[3]
                node = Node("index", node.start, end, "", [node, index])
            elif text == "{" and node.kind in ("ident", "select"):
                entries, end = self.entries("}")
                node = Node("struct", node.start, end, "", [node, *entries])
            else:
                return node

    def arguments(self) -> tuple[list[Node], int]:
        self.take("(")
        self.nest()
        args: list[Node] = []
        while self.peek()[1] != ")":
            args.append(self.expression())
            if self.peek()[1] != ",":
                break
            self.take(",")
        end = self.take(")")[3]
        self.depth -= 1
        return args, end

    def entries(self, close: str) -> tuple[list[Node], int]:
        """Entries of ``[...]`` (values) or ``{...}`` (key, value pairs, flattened)."""
        self.take("{" if close == "}" else "[")
        self.nest()
        items: list[Node] = []
        if self.peek()[1] == ",":  # the engine reads [,] and {,} as empty
            self.take(",")
        while self.peek()[1] != close:
            items.append(self.expression())
            if close == "}":
                self.take(":")
                items.append(self.expression())
            if self.peek()[1] != ",":
                break
            self.take(",")
        end = self.take(close)[3]
        self.depth -= 1
        return items, end

    def primary(self) -> Node:
        kind, text, start, end = self.peek()
        if kind == "string":
            self.take()
            quotes = 3 if text.lstrip("rRbB")[:3] in ("'''", '"""') else 1
            length = len(text.lstrip("rRbB")) - 2 * quotes
            return Node("literal", start, end, size=max(1, length))
        if kind == "number":
            self.take()
            return Node("literal", start, end, value=_number(text))
        if kind == "name":
            self.take()
            if self.peek()[1] == "(":
                args, end = self.arguments()
                return Node("call", start, end, text, args)
            return Node("ident", start, end, text)
        if text == ".":  # a leading dot: a name (or function) from the root scope
            self.take()
            _, name, _, end = self.take()
            if self.peek()[1] == "(":
                args, end = self.arguments()
                return Node("call", start, end, name, args)
            return Node("ident", start, end, name)
        if text == "(":
            self.take()
            inner = self.expression()
            self.take(")")
            return inner
        if text == "[":
            items, end = self.entries("]")
            return Node("list", start, end, parts=items)
        if text == "{":
            items, end = self.entries("}")
            return Node("map", start, end, parts=items)
        if kind == "end":
            raise CelParseError("the expression ends too early", start + 1)
        raise CelParseError(f"unexpected {text!r}", start + 1)


class _Estimator:
    """Upper bounds, for each part of an expression, of the comprehension iterations it runs,
    the size of its value (characters of a string, elements of a list or map, all levels
    counted) and, for a list or map, how many elements it has. A variable bound by a
    comprehension is as large as the whole range it walks."""

    def __init__(self, max_iterations: float, max_size: float) -> None:
        self.limits = (max_iterations, max_size)
        self.peak = Poly()
        self.over: tuple[int, int] | None = None
        self.over_kind = ""

    def walk(self, node: Node, bound: dict[str, Poly]) -> Estimate:
        iterations, _, _ = self.cost(node, bound)
        return Estimate(iterations, self.peak, self.over or (node.start, node.end),
                        self.over_kind)

    def cost(self, node: Node, bound: dict[str, Poly]) -> tuple[Poly, Poly, Poly]:
        """(iterations, size, count) of ``node``."""
        iterations, size, count = self._cost(node, bound)
        if size.at(1) > self.peak.at(1):
            self.peak = size
        if self.over is None and (iterations.at(1) > self.limits[0]
                                  or size.at(1) > self.limits[1]):
            # children first: the innermost such part (of a method call, from its name on)
            self.over = (node.at if node.at >= 0 else node.start, node.end)
            self.over_kind = "iterations" if iterations.at(1) > self.limits[0] else "size"
        return iterations, size, count

    def _cost(self, node: Node, bound: dict[str, Poly]) -> tuple[Poly, Poly, Poly]:
        kind = node.kind
        if kind == "literal":
            return Poly(), Poly.of(node.size), Poly.of(node.size)
        if kind == "ident":
            size = bound.get(node.name, DATA)
            return Poly(), size, size
        if kind == "call" and node.target is not None and node.name in MACROS and len(
                node.parts) in (2, 3) and node.parts[0].kind == "ident":
            return self.comprehension(node, bound)
        costs = [self.cost(part, bound) for part in node.parts]
        if node.target is not None:
            costs.insert(0, self.cost(node.target, bound))
        iterations = Poly()
        for spent, _, _ in costs:
            iterations = iterations + spent
        sizes = [size for _, size, _ in costs]
        if kind in ("list", "map", "struct"):
            total = Poly.of(len(sizes))
            for size in sizes:
                total = total + size
            return iterations, total, Poly.of(len(sizes) // (2 if kind == "map" else 1))
        if kind in ("select", "index"):
            return iterations, sizes[0], sizes[0]
        if kind == "binary" and node.name in _GROWING:
            total = Poly()
            for size in sizes:
                total = total + size
            return iterations, total, total
        if kind == "cond":
            return iterations, sizes[1].max(sizes[2]), costs[1][2].max(costs[2][2])
        if kind == "call":
            size = self.call_size(node, sizes)
            return iterations, size, size
        return iterations, ONE, ONE  # comparisons, logic, arithmetic on numbers, unary

    def comprehension(self, node: Node, bound: dict[str, Poly]) -> tuple[Poly, Poly, Poly]:
        assert node.target is not None
        range_iterations, range_size, range_count = self.cost(node.target, bound)
        inner = {**bound, node.parts[0].name: range_size}  # an element: at most the range
        body_iterations, body_size = Poly(), Poly()
        for part in node.parts[1:]:
            spent, size, _ = self.cost(part, inner)
            body_iterations = body_iterations + spent
            body_size = body_size.max(size)
        iterations = range_iterations + range_count * (ONE + body_iterations)
        if node.name == "map":
            return iterations, range_count * (ONE + body_size), range_count
        if node.name == "filter":
            return iterations, range_size, range_count
        return iterations, ONE, ONE

    @staticmethod
    def call_size(node: Node, sizes: list[Poly]) -> Poly:
        """What a function can return: at most what it is given, except ``replace`` (each
        character may become the replacement) and ``lists.range(k)`` (k elements). ``sizes``
        starts with the receiver's, for a method call."""
        args = node.parts
        if node.name == "range" and len(args) == 1:
            return Poly.of(args[0].value) if args[0].kind == "literal" else DATA
        if node.name == "replace" and len(sizes) >= 3:
            subject, new = sizes[0], sizes[2]
            return subject * new + subject
        total = Poly.of(1)
        for size in sizes:
            total = total + size
        return total


def _number(text: str) -> float:
    digits = text.rstrip("uU")
    try:
        return float(int(digits, 16) if digits[:2] in ("0x", "0X") else float(digits))
    except (ValueError, OverflowError):
        return Poly.CAP


def span_text(source: str, where: tuple[int, int], limit: int = 60) -> str:
    """The text of ``source`` at ``where``, shortened for a message."""
    text = " ".join(source[where[0]:where[1]].split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(value: float) -> str:
    """A large count as a person reads it."""
    if value >= Poly.CAP:
        return "more than 10^30"
    if value >= 1e6:
        exponent = len(str(int(value))) - 1
        return f"about 10^{exponent}"
    return f"{int(value):,}"
