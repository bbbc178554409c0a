"""Walks over value trees (``spec.model`` values): the references and picks a value makes,
the picks every draw of it needs, its ``unique`` generators, and how many distinct values it
can draw. Shared by the loader's checks and the compiler."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from mbtspec.spec import model as m


def distinct_values(value: m.Value, cap: int = 10**6) -> int:
    """How many distinct values ``value`` can draw, at most (``cap`` when more, or unknown:
    references and picks are not followed)."""
    if isinstance(value, m.Unique):
        return distinct_values(value.value, cap)
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
    elif isinstance(value, m.Unique):
        yield from inner(value.value)
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
    elif isinstance(value, m.Unique):
        yield from iter_refs(value.value)
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


def iter_unique(value: m.Value) -> Iterator[m.Unique]:
    """Every ``unique`` generator written inside ``value`` (not through references)."""
    if isinstance(value, m.Unique):
        yield value
        yield from iter_unique(value.value)
    elif isinstance(value, m.Pick) and value.or_ is not None:
        yield from iter_unique(value.or_)
    elif isinstance(value, m.ListValue | m.OneOf):
        for item in value.items if isinstance(value, m.ListValue) else value.options:
            yield from iter_unique(item)
    elif isinstance(value, m.ObjectValue | m.FormatGen):
        for _, item in value.fields if isinstance(value, m.ObjectValue) else value.local:
            yield from iter_unique(item)
    elif isinstance(value, m.ListGen):
        yield from iter_unique(value.element)
    elif isinstance(value, m.FileValue):
        for item in file_parts(value):
            yield from iter_unique(item)


def file_parts(value: m.FileValue) -> tuple[m.Value, ...]:
    """The values a ``file`` is made of: its content, and its name and media type when set."""
    return tuple(v for v in (value.content, value.filename, value.content_type) if v is not None)
