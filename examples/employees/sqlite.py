"""The CANDIDATE implementation of the employees API, on standard-library sqlite3.

Same contract as the model (:mod:`examples.employees.memory`, ``openapi.yaml``);
run with ``python -m uvicorn examples.employees.sqlite:app --port 8000``. Read on
each request: ``EMPLOYEES_DB`` (database file; default: in a fresh
``tempfile.mkdtemp()`` directory, removed at shutdown) and
``EMPLOYEES_CASE_SENSITIVE_LIKE=1`` (``PRAGMA case_sensitive_like = ON`` on each
connection: the fix for the bug below).

Real SQLite behaviours involved:

* THE BUG. The ``?name=`` filter is ``name LIKE '%' || ? || '%' ESCAPE '\\'``
  (``\\``, ``%`` and ``_`` escaped in the needle). SQLite's LIKE folds ASCII
  case by default, so ``a`` also matches "Ada" and "ALAN" although the contract
  says the filter is case-sensitive. Nothing here fakes it: with the (deprecated
  but supported) pragma, LIKE is case-sensitive and both implementations agree.
* No ``ORDER BY``: a table scan yields rowid (insertion) order, but with
  ``?department=`` the index on ``(department, employee_no)`` is used and rows
  come sorted by ``employee_no`` ("ENG-10" before "ENG-2"): legitimate, as the
  contract leaves the order unspecified.
* ``createdAt`` is ``strftime('%Y-%m-%dT%H:%M:%fZ','now')`` (milliseconds, "Z").
* LIKE reads pattern and text as C strings, which end at U+0000; names and
  needles may contain NUL, so ``instr()`` (whole values, case-sensitive)
  decides when a NUL is involved (removing a spurious difference only).
* A pattern over SQLITE_MAX_LIKE_PATTERN_LENGTH raises "pattern too complex";
  a needle over 40 characters matches no name, so it is answered with ``[]``.
* A duplicate ``employeeNo`` violates the PRIMARY KEY: IntegrityError -> 409.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager

from examples.employees._asgi import (
    Request,
    Response,
    Router,
    asgi_app,
    empty_response,
    json_or_404,
    json_response,
)
from examples.employees._contract import (
    MAX_LEN,
    invalid,
    new_employee,
    valid_employee_no,
    valid_name,
)

_COLUMNS = "employee_no, name, department, created_at"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS employees (employee_no TEXT PRIMARY KEY, name TEXT NOT NULL,"
    " department TEXT NOT NULL, created_at TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS employees_by_department ON employees(department, employee_no)",
)
# The contract's name filter. LIKE stops at a NUL in the text; instr() sees whole values.
_NAME_MATCHES = (
    "(name LIKE '%' || ? || '%' ESCAPE '\\'"
    " OR (instr(name, char(0)) > 0 AND instr(name, ?) > 0))"
)
_default_dir: str | None = None
router = Router()


def _database_path() -> str:
    global _default_dir
    if os.environ.get("EMPLOYEES_DB"):
        return os.environ["EMPLOYEES_DB"]
    if _default_dir is None:
        _default_dir = tempfile.mkdtemp(prefix="employees-")
    return os.path.join(_default_dir, "employees.sqlite3")


@atexit.register  # uvicorn re-raises SIGTERM after shutdown, skipping atexit: also on lifespan
def _remove_default_dir() -> None:
    global _default_dir
    if _default_dir is not None:
        shutil.rmtree(_default_dir, ignore_errors=True)
        _default_dir = None


@contextmanager
def _connect() -> Iterator[sqlite3.Connection]:
    """One connection per request: commit on success, always close."""
    with closing(sqlite3.connect(_database_path(), check_same_thread=False)) as conn:
        # The database is a throwaway file of one test run: speed matters, durability not.
        conn.execute("PRAGMA synchronous = OFF")
        for statement in _SCHEMA:
            conn.execute(statement)
        if os.environ.get("EMPLOYEES_CASE_SENSITIVE_LIKE") == "1":
            conn.execute("PRAGMA case_sensitive_like = ON")
        with conn:
            yield conn


def _employee(row: tuple[str, ...]) -> dict[str, str]:
    return dict(zip(("employeeNo", "name", "department", "createdAt"), row, strict=True))


def _fetch(conn: sqlite3.Connection, employee_no: str) -> dict[str, str] | None:
    query = f"SELECT {_COLUMNS} FROM employees WHERE employee_no = ?"
    found = conn.execute(query, (employee_no,)).fetchone()
    return None if found is None else _employee(found)


@router.route("/api/employees", "POST")
def create_employee(request: Request) -> Response:
    checked = new_employee(request)
    if isinstance(checked, Response):
        return checked
    employee_no, name = checked
    department = employee_no.split("-", 1)[0]
    with _connect() as conn:
        try:
            conn.execute(
                "INSERT INTO employees (employee_no, name, department, created_at)"
                " VALUES (?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                (employee_no, name, department),
            )
        except sqlite3.IntegrityError:
            return json_response(409, {"error": "already_exists"})
        return json_response(201, _fetch(conn, employee_no))


@router.route("/api/employees/{employeeNo}", "GET")
def get_employee(request: Request) -> Response:
    employee_no = request.params["employeeNo"]
    if not valid_employee_no(employee_no):  # such a key can never have been stored
        return json_or_404(None)
    with _connect() as conn:
        return json_or_404(_fetch(conn, employee_no))


@router.route("/api/employees/{employeeNo}", "PUT")
def rename_employee(request: Request) -> Response:
    name = request.query.get("name")
    if not valid_name(name):
        return invalid("name")
    employee_no = request.params["employeeNo"]
    if not valid_employee_no(employee_no):
        return json_or_404(None)
    with _connect() as conn:
        conn.execute("UPDATE employees SET name = ? WHERE employee_no = ?", (name, employee_no))
        return json_or_404(_fetch(conn, employee_no))


@router.route("/api/employees", "GET")
def list_employees(request: Request) -> Response:
    department, needle = request.query.get("department"), request.query.get("name")
    if needle is not None and len(needle) > MAX_LEN:
        return json_response(200, [])  # no name is that long
    conditions: list[str] = []
    arguments: list[str] = []
    if department is not None:
        conditions.append("department = ?")
        arguments.append(department)
    if needle is not None and "\0" in needle:
        conditions.append("instr(name, ?) > 0")
        arguments.append(needle)
    elif needle is not None:
        conditions.append(_NAME_MATCHES)
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        arguments += [escaped, needle]
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    with _connect() as conn:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM employees{where}", arguments).fetchall()
    return json_response(200, [_employee(row) for row in rows])


@router.route("/__reset", "POST")
def reset(request: Request) -> Response:
    with _connect() as conn:
        conn.execute("DELETE FROM employees")
    return empty_response(204)


app = asgi_app(router, on_shutdown=_remove_default_dir)
