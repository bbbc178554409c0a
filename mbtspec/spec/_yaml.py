"""Parse a YAML document once, keeping where every node stands.

``parse_yaml`` returns plain Python data (dicts, lists, scalars) and a ``Positions`` index that
maps each JSON path (a tuple of keys and indexes) to the line and column of its value and of its
key. YAML's own quirks that hide mistakes are reported as problems instead of being followed
silently: duplicate keys (PyYAML keeps the last one), non-string keys, tabs in indentation.

Aliases are followed, so a few lines can stand for billions of values ("billion laughs"):
before anything is built, the size of the document with every alias expanded, and its depth,
are worked out on the parsed graph (linear in the text) and held to ``node_budget`` and
``MAX_DEPTH``; a document over them is one ``yaml-limit`` problem, never a hang.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from mbtspec.spec.problems import Problem, format_path

try:  # libyaml is much faster; fall back to the pure-Python parser where it is missing
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

JsonPath = tuple[str | int, ...]

#: How deep a document may nest, aliases followed. Far beyond any real spec (or JSON Schema
#: in one), and low enough that every later stage can walk the data recursively.
MAX_DEPTH = 100
#: How many values (scalars, lists, mappings, keys) a document may hold with its aliases
#: expanded, beyond one per character of its text (which no document without aliases exceeds).
NODE_BUDGET = 100_000


def node_budget(text: str) -> int:
    """The most values a document of ``text`` may expand to."""
    return NODE_BUDGET + len(text)


@dataclass(frozen=True)
class Mark:
    """A 1-based position in a file, plus how the scalar there was written."""

    line: int
    column: int
    style: str | None = None  # None (plain), "'", '"', "|", ">"
    end_line: int = 0
    indent: int = 0  # for block scalars: the indentation of their text


@dataclass
class Positions:
    """Where each value (and each mapping key) of a parsed document stands."""

    file: str
    values: dict[JsonPath, Mark] = field(default_factory=dict)
    keys: dict[JsonPath, Mark] = field(default_factory=dict)

    def of(self, path: JsonPath, *, key: bool = False) -> Mark:
        """The closest known position of ``path``: itself, else its nearest ancestor."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if key and probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), Mark(1, 1))

    def problem(
        self,
        path: JsonPath,
        code: str,
        message: str,
        *,
        key: bool = False,
        severity: str = "error",
        offset: tuple[int, int] | None = None,
    ) -> Problem:
        """A Problem located at ``path`` (its key when ``key``), optionally shifted by
        ``offset`` = (line, column) within a scalar, e.g. the position of a CEL error."""
        mark = self.of(path, key=key)
        line, column = mark.line, mark.column
        if offset is not None:
            line, column = _shift(mark, *offset)
        return Problem(
            self.file, line, column, format_path(path), code, message,
            severity,  # type: ignore[arg-type]
        )


def _shift(mark: Mark, line: int, column: int) -> tuple[int, int]:
    """Position of (line, column) inside a scalar's text, for single-line plain/quoted ones."""
    if mark.style in (None, "'", '"') and line == 1:
        return mark.line, mark.column + column - 1 + (1 if mark.style else 0)
    if mark.style in ("|", ">"):  # block scalars start on the next line, indented
        return mark.line + line, mark.indent + column
    return mark.line, mark.column


@dataclass
class ParsedYaml:
    data: Any
    positions: Positions
    problems: list[Problem]


class _Scalars(yaml.constructor.SafeConstructor):  # type: ignore[misc]
    """Turns scalar nodes into Python values with YAML 1.1 core-schema rules, as safe_load."""


def parse_yaml(text: str, file: str) -> ParsedYaml:
    """Parse ``text``; never raises for bad YAML: problems come back with positions."""
    positions = Positions(file)
    problems: list[Problem] = []
    lines = text.splitlines()
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as err:
        tabs = list(_tab_problems(lines, file))  # the usual cause: report it as such
        if tabs:
            return ParsedYaml(None, positions, tabs)
        problems.append(_syntax_problem(err, file, len(lines)))
        return ParsedYaml(None, positions, problems)
    except yaml.YAMLError as err:  # pragma: no cover - non-marked errors are rare
        problems.append(Problem(file, 1, 1, "", "yaml-syntax", _one_line(str(err))))
        return ParsedYaml(None, positions, problems)
    if node is None:
        return ParsedYaml(None, positions, problems)
    limit = check_limits(node, node_budget(text))
    if limit is not None:
        mark, message = limit
        problems.append(Problem(file, mark.line + 1, mark.column + 1, "", "yaml-limit",
                                _with_anchor(message, lines, mark)))
        return ParsedYaml(None, positions, problems)
    builder = _Builder(positions, problems, lines)
    data = builder.build(node, ())
    return ParsedYaml(data, positions, problems)


def check_limits(root: yaml.Node, budget: int, max_depth: int = MAX_DEPTH, *,
                 cycles: bool = True) -> tuple[yaml.Mark, str] | None:
    """Where and why the document of ``root`` is too large (aliases expanded) or too deep.

    Sizes and depths are computed once per node of the parsed graph, bottom-up and without
    recursion, so a bomb of nested aliases costs what its text costs. An alias that contains
    itself counts once here when ``cycles`` (the spec's builder reports it), and is the answer
    otherwise. The place returned is the deepest value that is over the limit on its own: for
    an alias bomb, the anchored value that expands.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    scalar = yaml.ScalarNode
    stack: list[yaml.Node] = [root] if not isinstance(root, scalar) else []
    while stack:
        node = stack[-1]
        key = id(node)
        if key in size:
            stack.pop()
        elif key not in on_path:  # first visit: its collections go on the stack above it
            on_path.add(key)
            for child in _children(node):
                if type(child) is scalar or id(child) in size:
                    continue
                if id(child) in on_path:
                    if not cycles:
                        return child.start_mark, ("this value contains itself through an "
                                                  "alias, so it never ends once read: remove "
                                                  "the alias")
                    continue  # counted once here; the builder reports it
                stack.append(child)
        else:  # second visit: every part is counted
            on_path.discard(key)
            total, deepest = 1, 0
            for child in _children(node):
                if type(child) is scalar:
                    total += 1
                    deepest = deepest or 1
                else:
                    total += size.get(id(child), 1)
                    deepest = max(deepest, depth.get(id(child), 1))
            size[key] = total
            depth[key] = deepest + 1
            stack.pop()
    if isinstance(root, scalar):
        return None
    if size[id(root)] <= budget and depth[id(root)] <= max_depth:
        return None
    node = root
    if depth[id(root)] > max_depth:
        level = 1
        while level < max_depth:  # follow the deepest branch down to the level past the limit
            node = max(_children(node), key=lambda c: depth.get(id(c), 0))
            level += 1
        return node.start_mark, (f"nested more than {max_depth} levels deep, far more than "
                                 "any spec or API description needs: flatten this value")
    while True:  # descend while one part alone is over the budget
        bigger = [c for c in _children(node) if size.get(id(c), 1) > budget]
        if not bigger:
            break
        node = bigger[0]
    return node.start_mark, (
        f"aliases expand this value to {size[id(node)]:,} values, more than the "
        f"{budget:,} a file of this size may hold; repeated nested aliases ('billion laughs') "
        "make a file huge once read: write the values out, or alias fewer times")


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _with_anchor(message: str, lines: list[str], mark: yaml.Mark) -> str:
    """Name the anchor written just before ``mark`` (``&name``), when there is one."""
    line = lines[mark.line] if mark.line < len(lines) else ""
    found = re.search(r"&([^\s\[\]{},]+)\s*$", line[:mark.column])
    if found is None:
        found = re.match(r"&([^\s\[\]{},]+)", line[mark.column:])
    return f"the value anchored as &{found[1]}: {message}" if found else message


def _syntax_problem(err: yaml.MarkedYAMLError, file: str, line_count: int) -> Problem:
    mark = err.problem_mark or err.context_mark
    reason = str(err.problem or err.context or "invalid YAML")
    if mark is not None and mark.line >= line_count and err.context_mark is not None:
        mark = err.context_mark  # "unexpected end of stream": point at what was left open
        if err.context and "quoted scalar" in err.context:
            reason = "this quoted text is never closed: add the closing quote"
        elif err.context:
            reason = f"{err.context.replace('while ', '')}: it is never closed"
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    if "never closed" in reason:
        return Problem(file, line, column, "", "yaml-syntax", reason)
    if "another document" in reason:
        reason = "a second YAML document starts here"
        hint = "a spec file holds one document: remove this '---' and what follows"
    else:
        hint = "fix the YAML syntax here (check indentation, quotes, colons)"
    return Problem(file, line, column, "", "yaml-syntax", f"{_one_line(reason)}; {hint}")


def _one_line(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else "invalid YAML"
    return first.split(' in "<unicode string>"')[0].strip()


def _tab_problems(lines: list[str], file: str) -> Iterator[Problem]:
    for number, line in enumerate(lines, start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            yield Problem(
                file, number, indent.index("\t") + 1, "", "yaml-tab",
                "tab character in indentation; YAML indents with spaces only: replace it "
                "with spaces",
            )


class _Builder:
    def __init__(self, positions: Positions, problems: list[Problem], lines: list[str]) -> None:
        self.positions = positions
        self.problems = problems
        self.lines = lines
        self.scalars = _Scalars()
        self.active: set[int] = set()

    def mark(self, node: yaml.Node) -> Mark:
        style = getattr(node, "style", None) or None
        indent = 0
        if style in ("|", ">"):  # block scalar text starts on the next line, indented
            following = self.lines[node.start_mark.line + 1: node.end_mark.line + 1]
            content = next((ln for ln in following if ln.strip()), "")
            indent = len(content) - len(content.lstrip(" "))
        return Mark(node.start_mark.line + 1, node.start_mark.column + 1,
                    style, node.end_mark.line + 1, indent)

    def build(self, node: yaml.Node, path: JsonPath) -> Any:
        self.positions.values[path] = self.mark(node)
        if isinstance(node, yaml.ScalarNode):
            try:
                value = self.scalars.construct_object(node)
            except Exception as err:  # e.g. an impossible date, bad base64 in !!binary
                self.problems.append(self.positions.problem(
                    path, "yaml-syntax", f"cannot read {node.value!r}: {_one_line(str(err))}; "
                    "quote it to use it as text"))
                return None
            if isinstance(value, datetime.date | bytes):
                return node.value  # YAML timestamps and binaries: keep the text as written
            return value
        if id(node) in self.active:  # an alias that contains itself
            self.problems.append(self.positions.problem(
                path, "yaml-syntax", "recursive alias; a spec cannot contain itself"))
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            assert isinstance(node, yaml.MappingNode)
            return self.build_mapping(node, path)
        finally:
            self.active.discard(id(node))

    def build_mapping(self, node: yaml.MappingNode, path: JsonPath) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        # YAML merge keys (<<: *anchor) first: explicit keys then override them, values and
        # positions alike.
        for key_node, value_node in node.value:
            if key_node.tag != "tag:yaml.org,2002:merge":
                continue
            sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [
                value_node]
            for item in sources:
                value = self.build(item, path)
                if isinstance(value, dict):
                    for k, v in value.items():
                        out.setdefault(k, v)
        explicit: set[Any] = set()
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            kmark = self.mark(key_node)
            try:
                key = self.scalars.construct_object(key_node) if isinstance(
                    key_node, yaml.ScalarNode) else None
            except Exception as err:  # an unknown tag (!foo) on a key
                self.problems.append(_at(self.positions.file, kmark, path, "yaml-syntax",
                                         f"cannot read this key: {_one_line(str(err))}"))
                continue
            if not isinstance(key, str):
                if isinstance(key_node, yaml.ScalarNode):
                    shown = key_node.value
                    message = (f"key {shown!r} is not a string; quote it (\"{shown}\") so it "
                               "reads as text")
                else:
                    shown = f"<line {kmark.line}>"
                    message = "a list or mapping cannot be a key; write a plain name"
                self.problems.append(_at(self.positions.file, kmark, path, "yaml-key-type",
                                         message))
                key = str(shown)
            if key in explicit:
                first = self.positions.keys[(*path, key)]
                self.problems.append(_at(
                    self.positions.file, kmark, (*path, key), "yaml-duplicate-key",
                    f"duplicate key '{key}' (first defined at line {first.line}); "
                    f"YAML would silently keep only the last one: remove or rename one",
                ))
                continue
            explicit.add(key)
            self.positions.keys[(*path, key)] = kmark
            out[key] = self.build(value_node, (*path, key))
        self.positions.values[path] = self.mark(node)
        return out


def _at(file: str, mark: Mark, path: JsonPath, code: str, message: str) -> Problem:
    return Problem(file, mark.line, mark.column, format_path(path), code, message)
