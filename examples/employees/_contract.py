"""What both implementations must accept and answer alike: the input rules of the contract
(openapi.yaml). Storage, ordering and search are each implementation's own."""

from __future__ import annotations

import re

from examples.employees._asgi import Response, is_unicode_text, json_response

_EMPLOYEE_NO = re.compile(r"[A-Za-z]+-[0-9]+")
MAX_LEN = 40


def invalid(field: str) -> Response:
    return json_response(422, {"error": "invalid", "field": field})


def valid_employee_no(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_LEN and bool(_EMPLOYEE_NO.fullmatch(value))


def valid_name(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= MAX_LEN and is_unicode_text(value)
