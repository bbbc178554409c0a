"""Invalid values for one place of a request, drawn by Schemathesis' negative generation.

Schemathesis draws whole test cases for an operation of an OpenAPI document; its public
entry point (``schemathesis.openapi.from_dict`` and ``APIOperation.as_strategy`` with
``GenerationMode.NEGATIVE``) has no call for one value. So each place gets a document of its
own: one operation whose JSON request body has the place's schema, and the drawn cases' bodies
are the place's invalid values. (The functions that draw one value from a schema fragment,
``schemathesis.specs.openapi.negative.negative_schema``, are internal and their signature
changes between releases.) Schemathesis decides how a value violates its schema (a wrong type,
a number past a bound, a string too long, a value outside an ``enum`` ...); ``Site.change``
then checks it as the server would read it and says why it is invalid, and values it could
read as valid are left out (``"5"`` for an integer query parameter, a string for a string
parameter). Random bytes that are not JSON, which Schemathesis sometimes sends as a body, are
left out too: they cannot stand in for one value of a request.

Schemathesis is imported here only, when a plan asks for invalid inputs: ``mbtspec lint``
and positive runs never load it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from mbtspec.compiler._boundaries import PER_ACTION, boundary_changes
from mbtspec.compiler._inputs import MISSING, InputChange, Site
from mbtspec.spec import model as m

_VERSIONS = {"openapi-3.0": "3.0.3", "openapi-3.1": "3.1.0"}


class NegativeUnavailable(Exception):
    """Schemathesis cannot draw invalid values for a schema; the message says why."""


def invalid_changes(site: Site) -> st.SearchStrategy[InputChange]:
    """Changes that give ``site`` one invalid value each, drawn by Schemathesis.

    Shrinks as Schemathesis' strategies do: towards the simplest violation of the first
    kind it tries. Raises ``NegativeUnavailable`` when Schemathesis cannot use the schema."""
    values = _invalid_bodies(site.schema, site.dialect)
    return values.map(site.change).filter(lambda change: change is not None)  # type: ignore[return-value]


def _invalid_bodies(schema: Any, dialect: str) -> st.SearchStrategy[Any]:
    import schemathesis
    from schemathesis import GenerationMode

    document = {
        "openapi": _VERSIONS.get(dialect, "3.0.3"),
        "info": {"title": "one value of mbtspec", "version": "1"},
        "paths": {"/value": {"post": {
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": copy.deepcopy(schema)}}},
            "responses": {"default": {"description": "any answer"}},
        }}},
    }
    try:
        # An explicit configuration: the default one would read schemathesis.toml files
        # from the current folder and its parents.
        loaded = schemathesis.openapi.from_dict(document, config=schemathesis.Config())
        cases = loaded["/value"]["POST"].as_strategy(GenerationMode.NEGATIVE)
        cases.validate()
    except Exception as err:  # the library raises several kinds
        message = str(err).strip().splitlines()
        raise NegativeUnavailable(message[0] if message else type(err).__name__) from None
    return cases.map(_body).filter(lambda body: body is not _NOT_JSON)


_NOT_JSON: Any = object()


def _body(case: Any) -> Any:
    body = case.body
    return _NOT_JSON if isinstance(body, bytes | bytearray) else body


@dataclass(frozen=True)
class Inputs:
    """What an action's requests may get beside valid values (``mode`` negative or all).

    ``choice`` is drawn once per step: None (a valid request) or one ``InputChange``; it
    shrinks towards None. ``boundaries`` are tried once each before the random search."""

    mode: m.Mode
    sites: tuple[Site, ...]
    changes: st.SearchStrategy[InputChange]
    choice: st.SearchStrategy[InputChange | None]
    boundaries: tuple[InputChange, ...]


#: In ``all`` mode, one step in this many of an action that has places to change is invalid.
ALL_MODE_SHARE = 4


def compile_inputs(sites: list[Site], mode: m.Mode, stores: bool, what: str,
                   notes: list[str]) -> Inputs | None:
    """The ``Inputs`` of an action whose changeable places are ``sites`` (None when nothing
    can be changed). ``stores``: the action stores values, so in negative mode half of its
    steps stay valid (later actions pick what it stores). Places Schemathesis cannot draw
    for are noted in ``notes`` (``what`` names the action) and get boundary values only."""
    entries: list[st.SearchStrategy[InputChange]] = []  # one per place
    boundaries: list[InputChange] = []
    for site in sites:
        whole_object = site.name is None and _has_properties(site)
        found = boundary_changes(site)
        if whole_object:  # its properties are places of their own
            found = [c for c in found if c.missing or c.reason.startswith("not of type")]
        if site.required and site.location != "path" and not any(c.missing for c in found):
            found.append(InputChange("invalid", site.location, site.name, MISSING,
                                     "missing (required)"))
        boundaries += found
        options: list[st.SearchStrategy[InputChange]] = []
        fixed = [c for c in found if c.kind == "invalid"]
        if fixed:
            options.append(st.sampled_from(fixed))
        if not whole_object and not site.keep_value and can_be_invalid(site):
            try:
                options.append(invalid_changes(site))
            except NegativeUnavailable as err:
                notes.append(f"{what}: no invalid values can be drawn for {site.place} "
                             f"({err}); only its boundary values are sent")
        if options:  # (the fixed values first: they are what the place shrinks towards)
            entries.append(st.one_of(*options))
    if not entries and not boundaries:
        return None
    changes = (st.integers(0, len(entries) - 1).flatmap(lambda i: entries[i]) if entries
               else st.nothing())
    invalid: st.SearchStrategy[InputChange | None] = changes
    if not entries:
        choice: st.SearchStrategy[InputChange | None] = st.none()
    elif mode == "negative" and not stores:
        choice = invalid
    elif mode == "negative":
        choice = st.booleans().flatmap(lambda on: invalid if on else st.none())
    else:
        choice = st.integers(0, ALL_MODE_SHARE - 1).flatmap(
            lambda k: invalid if k == ALL_MODE_SHARE - 1 else st.none())
    return Inputs(mode, tuple(sites), changes, choice, tuple(boundaries[:PER_ACTION]))


def can_be_invalid(site: Site) -> bool:
    """Does some value violate the place's schema as the server reads it? Text can always be
    read as a string, so a parameter typed ``string`` needs a length, pattern or list of
    values; ``format`` alone is not checked (JSON Schema does not assert it)."""
    schema = site.json_schema
    if not isinstance(schema, dict):
        return schema is False
    if "enum" in schema or "const" in schema:
        return True
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or ())
    if not kinds:
        return False
    if not site.as_text:
        return True
    strings = ("minLength", "maxLength", "pattern")
    return any(k != "string" for k in kinds) or any(
        key in schema and schema[key] not in (0, None) for key in strings)


def _has_properties(site: Site) -> bool:
    return isinstance(site.json_schema, dict) and isinstance(
        site.json_schema.get("properties"), dict)
