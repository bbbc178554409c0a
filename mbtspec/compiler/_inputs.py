"""Invalid and boundary inputs (``run.mode`` negative or all): the places of a request that can
be made invalid, one change of one place, and what it is called in the reports.

A **place** (``Site``) is a documented parameter or top-level body property that the action
sends, or the body as a whole. Places whose value the spec takes from a ``pick`` are left
alone: a stored id stays valid, so that the call reaches the validation under test. One
``InputChange`` replaces (or leaves out) the value of one place in an otherwise valid request,
so that a rejection points at one cause. Whether a value is invalid is decided here, by
checking it against the place's schema as the server would read it (a parameter travels as
text: ``"5"`` is a valid integer parameter); only values that fail are called invalid.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from mbtspec.spec._openapi import to_json_schema
from mbtspec.spec.conformance import readable_patterns

if TYPE_CHECKING:
    from mbtspec.compiler import RequestDraft

Location = Literal["path", "query", "header", "body"]


class _Missing:
    """The value of a place that is left out of the request."""

    def __repr__(self) -> str:
        return "MISSING"

    def __reduce__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class InputChange:
    """One place of a request given a deliberate value: ``invalid`` (violates its schema) or
    ``boundary`` (valid, at a limit of the schema: a minimum, a maxLength, an empty string).

    ``place`` names it as the reports do (``body.qty``, ``query.limit``, ``body``), ``reason``
    says what is special about it (``below minimum 1``), ``value`` is what was sent
    (``MISSING`` when the place was left out)."""

    kind: Literal["invalid", "boundary"]
    location: Location
    name: str | None  # the parameter or top-level property; None for the body as a whole
    value: Any
    reason: str
    place: str = ""

    def __post_init__(self) -> None:
        if not self.place:
            object.__setattr__(self, "place", place_name(self.location, self.name))

    @property
    def missing(self) -> bool:
        return self.value is MISSING

    def text(self, limit: int = 40) -> str:
        """``body.qty: below minimum 1 (sent 0)``."""
        sent = "" if self.missing else f" (sent {shown_value(self.value, limit)})"
        return f"{self.place}: {self.reason}{sent}"

    def apply(self, draft: RequestDraft) -> RequestDraft | None:
        """``draft`` with this change, or None when the request has nothing to change there
        (an optional body that was left out, a parameter to leave out that is not sent)."""
        if self.location == "body":
            if self.name is None:
                from mbtspec.compiler import NO_BODY

                return dataclasses.replace(draft, body=NO_BODY if self.missing else self.value)
            if not isinstance(draft.body, dict) or (self.missing and self.name not in draft.body):
                return None
            body = {k: v for k, v in draft.body.items() if k != self.name}
            if not self.missing:
                body[self.name] = self.value
            return dataclasses.replace(draft, body=body)
        if self.location == "path":
            if self.missing:
                return None
            return dataclasses.replace(draft, path_params={**draft.path_params,
                                                           str(self.name): self.value})
        if self.location == "query":
            query = [(k, v) for k, v in draft.query if k != self.name]
            if self.missing:
                return None if len(query) == len(draft.query) else dataclasses.replace(
                    draft, query=query)
            return dataclasses.replace(draft, query=[*query, (str(self.name), self.value)])
        lower = str(self.name).lower()
        headers = {k: v for k, v in draft.headers.items() if k.lower() != lower}
        if self.missing and len(headers) == len(draft.headers):
            return None
        if not self.missing:
            headers[str(self.name)] = self.value
        return dataclasses.replace(draft, headers=headers)

    def as_data(self) -> dict[str, Any]:
        """As the JSON report and the replay file save it."""
        data: dict[str, Any] = {"kind": self.kind, "place": self.place, "reason": self.reason}
        if self.missing:
            data["missing"] = True
        else:
            data["sent"] = self.value
        return data

    @classmethod
    def from_data(cls, data: Any) -> InputChange | None:
        """Read back from ``as_data`` (None when ``data`` is not such a record)."""
        if not isinstance(data, dict) or data.get("kind") not in ("invalid", "boundary"):
            return None
        place = str(data.get("place", "body"))
        head, _, rest = place.partition(".")
        location: Location = head if head in ("path", "query", "header") else "body"  # type: ignore[assignment]
        return cls(data["kind"], location, rest.split(".")[0] or None,
                   MISSING if data.get("missing") else data.get("sent"),
                   str(data.get("reason", "")), place)


def place_name(location: Location, name: str | None) -> str:
    return location if name is None else f"{location}.{name}"


def shown_value(value: Any, limit: int = 40) -> str:
    """A sent value on one line: compact JSON; a long string by its start and length."""
    if isinstance(value, str) and len(value) > 24:
        start = json.dumps(value[:12], ensure_ascii=False)[:-1]
        return f'{start}…" ({len(value)} characters)'
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Site:
    """A place of a request that a change can target, with its OpenAPI schema."""

    location: Location
    name: str | None
    schema: Any  # the OpenAPI schema (of the document's dialect)
    dialect: str
    required: bool = False
    keep_value: bool = False  # its value is picked: it may be left out, never changed

    @property
    def place(self) -> str:
        return place_name(self.location, self.name)

    @property
    def as_text(self) -> bool:
        """Sent as text (a parameter), not as JSON."""
        return self.location != "body"

    @cached_property
    def _validator(self) -> Any:
        from jsonschema import Draft7Validator, Draft202012Validator

        converted = readable_patterns(to_json_schema(self.schema, self.dialect))
        cls = Draft202012Validator if self.dialect == "openapi-3.1" else Draft7Validator
        return cls(converted)

    @cached_property
    def json_schema(self) -> Any:
        return to_json_schema(self.schema, self.dialect)

    @property
    def _array(self) -> bool:
        kinds = self.json_schema.get("type") if isinstance(self.json_schema, dict) else None
        return kinds == "array" or (isinstance(kinds, list) and "array" in kinds)

    def readings(self, value: Any) -> list[Any]:
        """How a server may read ``value``: itself in a JSON body; for a parameter, the text
        it travels as, and that text as a number, boolean or null."""
        if not self.as_text:
            return [value]
        if isinstance(value, list) and self.location == "query":
            return [[_typed(_text(v), self.json_schema) for v in value]]
        text = _text(value)
        out: list[Any] = [text]
        for read in (_integer, _number, _boolean):
            found = read(text)
            if found is not None:
                out.append(found)
        if text == "null":
            out.append(None)
        return out

    def verdict(self, value: Any) -> tuple[str, str] | None:
        """Why ``value`` is invalid at this place: (where inside it, or "", and the reason,
        e.g. ``below minimum 1``); None when the server could read it as valid."""
        if value is MISSING:
            return ("", "missing (required)") if self.required else None
        if self.location == "query" and (value is None or value == [] or (
                isinstance(value, list) and not self._array)):
            # left out of the request (null, no element), or sent as a repeated parameter,
            # which servers read in different ways
            return None
        readings = self.readings(value)
        try:
            if any(self._validator.is_valid(reading) for reading in readings):
                return None
            reading = _typed(_text(value), self.json_schema) if self.as_text and not \
                isinstance(value, list) else readings[0]
            error = _best(self._validator.iter_errors(reading))
        except Exception:  # a schema the validator cannot follow: never call it invalid
            return None
        if error is None:
            return None
        inside = "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                         for p in error.absolute_path)
        return inside, describe(error)

    def change(self, value: Any) -> InputChange | None:
        """``value`` at this place, as an invalid change (None when it is valid)."""
        verdict = self.verdict(value)
        if verdict is None:
            return None
        inside, why = verdict
        return InputChange("invalid", self.location, self.name, value, why,
                           self.place + inside)


def _text(value: Any) -> str:
    from mbtspec.compiler._values import text_of

    return text_of(value)


def _integer(text: str) -> int | None:
    stripped = text.strip()
    if stripped.lstrip("+-").isdigit() and stripped.isascii():
        return int(stripped)
    return None


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) and text.strip().lower() not in (
        "nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity") else None


def _boolean(text: str) -> bool | None:
    return {"true": True, "false": False}.get(text)


def _typed(text: str, schema: Any) -> Any:
    """``text`` read as the type its schema asks for, when it reads as one."""
    kinds = schema.get("type") if isinstance(schema, dict) else None
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or ())
    for kind, read in (("integer", _integer), ("number", _number), ("boolean", _boolean)):
        if kind in kinds:
            found = read(text)
            if found is not None:
                return found
    return text


def _best(errors: Any) -> Any:
    from jsonschema.exceptions import best_match

    return best_match(errors)


def _listed(values: Any) -> str:
    if not isinstance(values, list):
        return shown_value(values)
    shown = ", ".join(shown_value(v, 20) for v in values[:5])
    return f"[{shown}{', …' if len(values) > 5 else ''}]"


def describe(error: Any) -> str:
    """A jsonschema error in a few words: ``below minimum 1``, ``not of type integer``."""
    keyword, limit = error.validator, error.validator_value
    words = {
        "minimum": f"below minimum {limit}",
        "maximum": f"above maximum {limit}",
        "exclusiveMinimum": f"not above exclusiveMinimum {limit}",
        "exclusiveMaximum": f"not below exclusiveMaximum {limit}",
        "minLength": f"shorter than minLength {limit}",
        "maxLength": f"longer than maxLength {limit}",
        "minItems": f"fewer items than minItems {limit}",
        "maxItems": f"more items than maxItems {limit}",
        "minProperties": f"fewer properties than minProperties {limit}",
        "maxProperties": f"more properties than maxProperties {limit}",
        "multipleOf": f"not a multiple of {limit}",
        "pattern": f"does not match pattern {shown_value(limit)}",
        "enum": f"not one of {_listed(limit)}",
        "const": f"not {shown_value(limit)}",
        "uniqueItems": "has repeated items",
        "additionalProperties": "has a property the schema does not allow",
        "format": f"not a valid {limit}",
    }
    if keyword == "type":
        kinds = limit if isinstance(limit, list) else [limit]
        text = f"not of type {' or '.join(map(str, kinds))}"
    elif keyword == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        text = (f"missing required property '{missing}'" if missing
                else "missing a required property")
    else:
        text = words.get(keyword, str(error.message).split("\n")[0][:80])
    return text
