"""The MODEL implementation of the employees API: a plain in-memory dict.

This is the reference the SQLite candidate (:mod:`examples.employees.sqlite`)
is compared against. It is written to be obviously correct rather than fast.

Contract (shared with the candidate; ``openapi.yaml`` documents it):

* An employee is ``{"employeeNo", "name", "department", "createdAt"}``, all
  strings; ``department`` is the part of ``employeeNo`` before the first ``-``.
* ``POST /api/employees`` with ``{"employeeNo": str, "name": str}`` (extra
  members are ignored). Checked in this order, each failing with 422:
  the body is a JSON object (``"field": "body"``); ``employeeNo`` is a string
  of at most 40 characters matching ``^[A-Za-z]+-[0-9]+$`` (``"employeeNo"``);
  ``name`` is a string of 1..40 characters (``"name"``). A "character" is a
  Python ``str`` element; a lone surrogate (``"\\ud800"`` in JSON) is not a
  Unicode character and makes the name invalid. Then 409
  ``{"error": "already_exists"}`` or 201 with the new employee.
* ``GET /api/employees/{employeeNo}``: 200 with the employee, else 404.
* ``PUT /api/employees/{employeeNo}?name=NEW``: the ``name`` query parameter
  is validated first (422 ``"field": "name"`` when missing or invalid), then
  existence (404); 200 with the renamed employee, ``createdAt`` unchanged.
* ``GET /api/employees[?department=D][&name=N]``: 200 with a JSON array.
  ``department`` is an exact, case-sensitive match (an empty value matches
  nothing); ``name`` keeps employees whose name contains ``N`` as a
  CASE-SENSITIVE substring (``%`` and ``_`` are ordinary characters; an empty
  value matches everything). The order of the array is unspecified.
* ``POST /__reset`` (test hook, not in the OpenAPI document): 204, no data.
* Unknown path: 404 ``{"error": "not_found"}``; known path with another
  method: 405 ``{"error": "method_not_allowed"}``.

Model specifics: employees live in a module-level dict, so listing returns
them in insertion order, the name filter is Python's ``needle in name`` and
``createdAt`` is ``datetime.now(timezone.utc).isoformat()``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from examples.employees._asgi import (
    NOT_FOUND,
    Request,
    Response,
    Router,
    asgi_app,
    empty_response,
    json_or_404,
    json_response,
)
from examples.employees._contract import invalid, new_employee, valid_name

_employees: dict[str, dict[str, str]] = {}
router = Router()


@router.route("/api/employees", "POST")
def create_employee(request: Request) -> Response:
    checked = new_employee(request)
    if isinstance(checked, Response):
        return checked
    employee_no, name = checked
    if employee_no in _employees:
        return json_response(409, {"error": "already_exists"})
    employee = {
        "employeeNo": employee_no,
        "name": name,
        "department": employee_no.split("-", 1)[0],
        "createdAt": datetime.now(UTC).isoformat(),
    }
    _employees[employee_no] = employee
    return json_response(201, employee)


@router.route("/api/employees/{employeeNo}", "GET")
def get_employee(request: Request) -> Response:
    return json_or_404(_employees.get(request.params["employeeNo"]))


@router.route("/api/employees/{employeeNo}", "PUT")
def rename_employee(request: Request) -> Response:
    name = request.query.get("name")
    if not valid_name(name):
        return invalid("name")
    employee = _employees.get(request.params["employeeNo"])
    if employee is None:
        return json_response(404, NOT_FOUND)
    employee["name"] = name
    return json_response(200, employee)


@router.route("/api/employees", "GET")
def list_employees(request: Request) -> Response:
    department = request.query.get("department")
    needle = request.query.get("name")
    found = [
        employee
        for employee in _employees.values()
        if (department is None or employee["department"] == department)
        and (needle is None or needle in employee["name"])
    ]
    return json_response(200, found)


@router.route("/__reset", "POST")
def reset(request: Request) -> Response:
    _employees.clear()
    return empty_response(204)


app = asgi_app(router)
