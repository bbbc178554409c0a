"""The employees API on a SQL database: ONE application, two database drivers.

The same code runs on PostgreSQL (through psycopg) and on MariaDB (through PyMySQL): the
driver is chosen by the scheme of ``EMPLOYEES_DATABASE``:

* ``postgresql://USER@HOST:PORT/DATABASE``
* ``mysql://USER@HOST:PORT/DATABASE`` (the database is created if it does not exist, with
  the character set utf8mb4 and the collation ``EMPLOYEES_COLLATION``, by default
  ``utf8mb4_general_ci``: what MariaDB gives a utf8mb4 database when none is named)

Run it with ``python -m uvicorn --app-dir examples/employees-sql app:app --port 8000`` from
the repository root (the contract's code is shared with ``examples/employees``). Every query
is plain, portable SQL; the two builds differ only in what the databases do with it.

THE DIFFERENCE. The ``?name=`` filter is ``name LIKE '%' || needle || '%'``. On PostgreSQL,
LIKE compares characters exactly, so ``?name=a`` does not find "Ada". On MariaDB, LIKE
compares under the column's collation, and the ``_ci`` collations ignore case: ``a`` finds
"Ada" and "ALAN". The contract (``examples/employees/openapi.yaml``) says the filter is
case-sensitive, so the MariaDB build is wrong, and nothing here fakes it. With
``EMPLOYEES_COLLATION=utf8mb4_bin`` (compare code points) both builds agree.

Other differences of the two databases the API does not reach, and why: MariaDB's ``=``
ignores trailing spaces (PAD SPACE collations: ``'a ' = 'a'``), but an ``employeeNo`` never
holds a space; NULLs sort first in MariaDB and last in PostgreSQL, but no column is NULL and
the order of the list is unspecified (it has no ORDER BY, and the spec compares it unordered).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

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
from examples.employees._contract import (
    MAX_LEN,
    invalid,
    new_employee,
    valid_employee_no,
    valid_name,
)

_COLUMNS = "employee_no, name, department, created_at"
_TABLE = ("CREATE TABLE IF NOT EXISTS employees (employee_no VARCHAR(40) PRIMARY KEY,"
          " name VARCHAR(40) NOT NULL, department VARCHAR(40) NOT NULL,"
          " created_at VARCHAR(40) NOT NULL)")
router = Router()


class Database:
    """One connection (requests are handled one at a time), in autocommit mode; ``run``
    takes portable SQL with ``%s`` placeholders (both drivers use that style)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.kind = parts.scheme
        user, host, port = unquote(parts.username or ""), parts.hostname, parts.port
        database = parts.path.lstrip("/")
        if self.kind == "postgresql":
            import psycopg

            self.connection: Any = psycopg.connect(url, autocommit=True)
            self.duplicate: type[Exception] = psycopg.errors.UniqueViolation
        elif self.kind == "mysql":
            import pymysql

            self.connection = pymysql.connect(host=host, port=port or 3306, user=user,
                                              password=unquote(parts.password or ""),
                                              autocommit=True, charset="utf8mb4")
            collation = os.environ.get("EMPLOYEES_COLLATION") or "utf8mb4_general_ci"
            self.run(f"CREATE DATABASE IF NOT EXISTS {database} CHARACTER SET utf8mb4 "
                     f"COLLATE {collation}")
            self.connection.select_db(database)
            self.duplicate = pymysql.err.IntegrityError
        else:
            raise SystemExit(f"EMPLOYEES_DATABASE: unknown scheme {self.kind!r} (postgresql, "
                             "mysql)")
        self.run(_TABLE)

    def run(self, sql: str, arguments: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql, arguments)
            return list(cursor.fetchall()) if cursor.description else []
        finally:
            cursor.close()


_database: Database | None = None


def _db() -> Database:
    global _database
    if _database is None:
        _database = Database(os.environ["EMPLOYEES_DATABASE"])
    return _database


def _employee(row: tuple[Any, ...]) -> dict[str, str]:
    return dict(zip(("employeeNo", "name", "department", "createdAt"), row, strict=True))


def _fetch(employee_no: str) -> dict[str, str] | None:
    rows = _db().run(f"SELECT {_COLUMNS} FROM employees WHERE employee_no = %s", (employee_no,))
    return _employee(rows[0]) if rows else None


@router.route("/api/employees", "POST")
def create_employee(request: Request) -> Response:
    checked = new_employee(request)
    if isinstance(checked, Response):
        return checked
    employee_no, name = checked
    department = employee_no.split("-", 1)[0]
    created = datetime.now(UTC).isoformat()
    try:
        _db().run("INSERT INTO employees (employee_no, name, department, created_at)"
                  " VALUES (%s, %s, %s, %s)", (employee_no, name, department, created))
    except _db().duplicate:
        return json_response(409, {"error": "already_exists"})
    return json_response(201, _fetch(employee_no))


@router.route("/api/employees/{employeeNo}", "GET")
def get_employee(request: Request) -> Response:
    employee_no = request.params["employeeNo"]
    return json_or_404(_fetch(employee_no) if valid_employee_no(employee_no) else None)


@router.route("/api/employees/{employeeNo}", "PUT")
def rename_employee(request: Request) -> Response:
    name = request.query.get("name")
    if not valid_name(name):
        return invalid("name")
    employee_no = request.params["employeeNo"]
    if not valid_employee_no(employee_no) or _fetch(employee_no) is None:
        return json_response(404, NOT_FOUND)
    _db().run("UPDATE employees SET name = %s WHERE employee_no = %s", (name, employee_no))
    return json_or_404(_fetch(employee_no))


@router.route("/api/employees", "GET")
def list_employees(request: Request) -> Response:
    department, needle = request.query.get("department"), request.query.get("name")
    if needle is not None and len(needle) > MAX_LEN:
        return json_response(200, [])  # no name is that long
    conditions: list[str] = []
    arguments: list[str] = []
    if department is not None:
        conditions.append("department = %s")
        arguments.append(department)
    if needle is not None:  # '!' escapes: a backslash means different things in the two
        conditions.append("name LIKE %s ESCAPE '!'")
        escaped = needle.replace("!", "!!").replace("%", "!%").replace("_", "!_")
        arguments.append(f"%{escaped}%")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = _db().run(f"SELECT {_COLUMNS} FROM employees{where}", tuple(arguments))
    return json_response(200, [_employee(row) for row in rows])


@router.route("/__reset", "POST")
def reset(request: Request) -> Response:
    _db().run("DELETE FROM employees")
    return empty_response(204)


app = asgi_app(router)
