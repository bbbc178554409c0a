"""What both implementations must accept and answer alike: the input rules of the contract
(openapi.yaml). Storage, ordering and search are each implementation's own."""

from __future__ import annotations

import re

from examples.employees._asgi import (
    INVALID,
    Request,
    Response,
    is_unicode_text,
    json_response,
    parse_json,
)

_EMPLOYEE_NO = re.compile(r"[A-Za-z]+-[0-9]+")
MAX_LEN = 40


def invalid(field: str) -> Response:
    return json_response(422, {"error": "invalid", "field": field})


def valid_employee_no(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_LEN and bool(_EMPLOYEE_NO.fullmatch(value))


def valid_name(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= MAX_LEN and is_unicode_text(value)


def new_employee(request: Request) -> tuple[str, str] | Response:
    """The employeeNo and name of a create request, or the 422 answer, checked in the
    contract's order: the body, then employeeNo, then name."""
    body = parse_json(request.body)
    if body is INVALID or not isinstance(body, dict):
        return invalid("body")
    employee_no, name = body.get("employeeNo"), body.get("name")
    if not valid_employee_no(employee_no):
        return invalid("employeeNo")
    if not valid_name(name):
        return invalid("name")
    return employee_no, name
