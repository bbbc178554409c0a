"""The example employees apps and the orders test fixture honour their contracts.

pytest-asyncio is not available: every async exchange runs inside ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from examples.employees import memory
from examples.employees import sqlite as sqlite_app
from tests.apps import orders

REPO = Path(__file__).resolve().parents[2]
JSON = "application/json"
LIFESPAN_DONE = ["lifespan.startup.complete", "lifespan.shutdown.complete"]


# --------------------------------------------------------------------------- helpers


class Api:
    """A synchronous facade over httpx's ASGI transport (one event loop per call)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.request(method, url, **kwargs)

        return asyncio.run(go())

    def raw(
        self, method: str, path: str, query: bytes = b"", body: bytes | list[bytes] = b""
    ) -> tuple[int, dict[bytes, bytes], bytes]:
        """Bypass httpx to hand the app bytes no client library would produce."""
        chunks = body if isinstance(body, list) else [body]
        inbox = [
            {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
            for i, chunk in enumerate(chunks)
        ]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return inbox.pop(0) if inbox else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "root_path": "",
            "raw_path": path.encode("utf-8", "surrogatepass"), "query_string": query,
            "headers": [], "server": ("test", 80), "client": ("127.0.0.1", 5000),
        }  # fmt: skip
        asyncio.run(self.app(scope, receive, send))
        start, rest = sent[0], sent[1:]
        assert start["type"] == "http.response.start"
        return start["status"], dict(start["headers"]), b"".join(m["body"] for m in rest)


def lifespan_messages(app: Any) -> list[str]:
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    asyncio.run(app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
    return sent


def no_created_at(value: Any) -> Any:
    if isinstance(value, list):
        return sorted((no_created_at(v) for v in value), key=lambda e: json.dumps(e))
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k != "createdAt"}
    return value


def numbers(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [employee["employeeNo"] for employee in response.json()]


def assert_json(response: httpx.Response, status: int, body: Any = None) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == JSON
    value = response.json()
    assert response.content == json.dumps(value, separators=(",", ":")).encode()  # compact
    if body is not None:
        assert value == body
    return value


def invalid(field: str) -> dict[str, str]:
    return {"error": "invalid", "field": field}


# --------------------------------------------------------------------------- employees fixtures

IMPLEMENTATIONS = ["memory", "sqlite", "sqlite_case_sensitive"]


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "employees.db"
    monkeypatch.setenv("EMPLOYEES_DB", str(db))
    monkeypatch.delenv("EMPLOYEES_CASE_SENSITIVE_LIKE", raising=False)
    return db


def _make(kind: str, monkeypatch: pytest.MonkeyPatch) -> Api:
    if kind == "memory":
        api = Api(memory.app)
    else:
        if kind == "sqlite_case_sensitive":
            monkeypatch.setenv("EMPLOYEES_CASE_SENSITIVE_LIKE", "1")
        api = Api(sqlite_app.app)
    assert api("POST", "/__reset").status_code == 204
    return api


@pytest.fixture(params=IMPLEMENTATIONS)
def impl(request: pytest.FixtureRequest, sqlite_env: Path, monkeypatch: pytest.MonkeyPatch) -> Api:
    api = _make(request.param, monkeypatch)
    api.kind = request.param  # type: ignore[attr-defined]
    return api


@pytest.fixture
def model(sqlite_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    api = _make("memory", monkeypatch)
    yield api
    api("POST", "/__reset")


def create(api: Api, employee_no: str, name: str) -> httpx.Response:
    return api("POST", "/api/employees", json={"employeeNo": employee_no, "name": name})


# --------------------------------------------------------------------------- employees: contract


def test_create_and_get(impl: Api) -> None:
    created = assert_json(create(impl, "ENG-42", "Grace Hopper"), 201)
    assert list(created) == ["employeeNo", "name", "department", "createdAt"]
    assert created["employeeNo"] == "ENG-42" and created["name"] == "Grace Hopper"
    assert created["department"] == "ENG"
    assert datetime.fromisoformat(created["createdAt"]).utcoffset().total_seconds() == 0
    if impl.kind == "memory":  # type: ignore[attr-defined]
        assert created["createdAt"].endswith("+00:00")
    else:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", created["createdAt"])
    assert_json(impl("GET", "/api/employees/ENG-42"), 200, created)
    assert_json(impl("GET", "/api/employees/ENG%2D42"), 200, created)  # path is percent-decoded
    assert_json(impl("GET", "/api/employees/ENG-43"), 404, {"error": "not_found"})
    assert_json(impl("GET", "/api/employees/not a number"), 404, {"error": "not_found"})
    assert_json(create(impl, "ENG-42", "Someone Else"), 409, {"error": "already_exists"})
    assert_json(impl("GET", "/api/employees/ENG-42"), 200, created)


def test_create_accepts_edge_values(impl: Api) -> None:
    forty = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij-123"
    assert len(forty) == 40
    names = ["x", "😀" * 40, "a\x00b", "%_\\'\"", " ", "Zoë Ñ 名前"]
    for i, name in enumerate(names):
        employee = assert_json(create(impl, f"Dept-{i}", name), 201)
        assert employee["name"] == name
        assert_json(impl("GET", f"/api/employees/Dept-{i}"), 200, employee)
    assert assert_json(create(impl, forty, "n"), 201)["department"] == forty.split("-")[0]
    extra = {"employeeNo": "X-1", "name": "n", "unused": [1, {"a": None}]}
    assert assert_json(impl("POST", "/api/employees", json=extra), 201)["employeeNo"] == "X-1"


BODY_CASES = [
    (b"", "body"),
    (b"not json", "body"),
    (b"\xff\xfe\x00", "body"),
    (b"[1, 2]", "body"),
    (b'"text"', "body"),
    (b"null", "body"),
    (b"1e400", "body"),
    (b"[" * 100_000, "body"),
    (b"{", "body"),
    (b"{}", "employeeNo"),
    (b'{"name": ""}', "employeeNo"),  # employeeNo is checked before name
    (b'{"employeeNo": 42, "name": "n"}', "employeeNo"),
    (b'{"employeeNo": null, "name": "n"}', "employeeNo"),
    (b'{"employeeNo": "ENG42", "name": "n"}', "employeeNo"),
    (b'{"employeeNo": "ENG-", "name": "n"}', "employeeNo"),
    (b'{"employeeNo": "-42", "name": "n"}', "employeeNo"),
    (b'{"employeeNo": "ENG-4a", "name": "n"}', "employeeNo"),
    (b'{"employeeNo": "ENG-42\\n", "name": "n"}', "employeeNo"),
    (b'{"employeeNo": "ENG-1-2", "name": "n"}', "employeeNo"),
    (b'{"employeeNo": "\\u00c9NG-1", "name": "n"}', "employeeNo"),
    (b'{"employeeNo": "ENG-\\u0661", "name": "n"}', "employeeNo"),
    (('{"employeeNo": "%s-1", "name": "n"}' % ("A" * 39)).encode(), "employeeNo"),
    (b'{"employeeNo": "ENG-1"}', "name"),
    (b'{"employeeNo": "ENG-1", "name": ""}', "name"),
    (b'{"employeeNo": "ENG-1", "name": null}', "name"),
    (b'{"employeeNo": "ENG-1", "name": 7}', "name"),
    (b'{"employeeNo": "ENG-1", "name": ["n"]}', "name"),
    (('{"employeeNo": "ENG-1", "name": "%s"}' % ("n" * 41)).encode(), "name"),
    (b'{"employeeNo": "ENG-1", "name": "\\ud800"}', "name"),  # a lone surrogate
]


@pytest.mark.parametrize(("body", "field"), BODY_CASES)
def test_create_validation(impl: Api, body: bytes, field: str) -> None:
    assert_json(impl("POST", "/api/employees", content=body), 422, invalid(field))
    assert impl("GET", "/api/employees").json() == []


def test_validation_comes_before_existence(impl: Api) -> None:
    assert create(impl, "ENG-1", "n").status_code == 201
    assert_json(create(impl, "ENG-1", ""), 422, invalid("name"))
    assert_json(impl("PUT", "/api/employees/ENG-404"), 422, invalid("name"))


def test_rename(impl: Api) -> None:
    created = create(impl, "ENG-7", "Ada").json()
    renamed = assert_json(impl("PUT", "/api/employees/ENG-7", params={"name": "Ada L. 😀"}), 200)
    assert renamed == {**created, "name": "Ada L. 😀"}  # createdAt unchanged
    assert_json(impl("GET", "/api/employees/ENG-7"), 200, renamed)
    for params in [{}, {"name": ""}, {"name": "n" * 41}, {"other": "x"}]:
        assert_json(impl("PUT", "/api/employees/ENG-7", params=params), 422, invalid("name"))
    for missing in ["ENG-8", "nope"]:
        response = impl("PUT", f"/api/employees/{missing}", params={"name": "x"})
        assert_json(response, 404, {"error": "not_found"})
    forty = "é" * 40
    assert impl("PUT", "/api/employees/ENG-7", params={"name": forty}).json()["name"] == forty
    status, _, body = impl.raw("PUT", "/api/employees/ENG-7", b"name=a+b%20c&name=%FFz")
    assert status == 200 and json.loads(body)["name"] == "\ufffdz"  # last value wins


def test_list_filters(impl: Api) -> None:
    people = [
        ("ENG-2", "Ada"), ("ENG-10", "alan"), ("OPS-1", "bob"), ("eng-3", "Eve"),
        ("ENG-4", "100%_sure\\"), ("ENG-5", "nul\x00tail"), ("OPS-2", "Émile"),
    ]  # fmt: skip
    for employee_no, name in people:
        assert create(impl, employee_no, name).status_code == 201

    def listed(**params: str) -> list[str]:
        return sorted(numbers(impl("GET", "/api/employees", params=params)))

    assert listed() == sorted(no for no, _ in people)
    assert listed(department="ENG") == ["ENG-10", "ENG-2", "ENG-4", "ENG-5"]
    assert listed(department="eng") == ["eng-3"]
    assert listed(department="EN") == listed(department="") == []
    assert listed(name="l") == ["ENG-10", "ENG-5", "OPS-2"]
    assert listed(name="%") == listed(name="%_") == listed(name="\\") == ["ENG-4"]
    assert listed(name="_") == ["ENG-4"]
    assert listed(name="\x00") == listed(name="l\x00t") == listed(name="tail") == ["ENG-5"]
    assert listed(name="É") == ["OPS-2"] and listed(name="é") == []  # no Unicode folding
    assert listed(name="") == listed()
    assert listed(name="Ada", department="OPS") == []
    assert listed(name="b", department="OPS") == ["OPS-1"]
    assert listed(name="x" * 41) == []
    assert listed(unknown="ignored") == listed()
    status, _, body = impl.raw("GET", "/api/employees", b"name=" + b"a" * 100_000)
    assert (status, body) == (200, b"[]")
    hostile = [b"name=%FF%FE", b"name=\xff", b"department=%00&name=%", b"name&department", b"=&"]
    for query in hostile:
        status, headers, body = impl.raw("GET", "/api/employees", query)
        assert status == 200 and headers[b"content-type"] == JSON.encode()
        assert isinstance(json.loads(body), list)


def test_name_filter_case(impl: Api) -> None:
    people = [("ENG-1", "Ada"), ("ENG-2", "ALAN"), ("ENG-3", "grace"), ("X-1", "bob")]
    for employee_no, name in people:
        assert create(impl, employee_no, name).status_code == 201
    found = sorted(numbers(impl("GET", "/api/employees", params={"name": "a"})))
    if impl.kind == "sqlite":  # type: ignore[attr-defined]
        assert found == ["ENG-1", "ENG-2", "ENG-3"]  # SQLite's LIKE folds ASCII case: the bug
    else:
        assert found == ["ENG-1", "ENG-3"]


def test_list_order(impl: Api) -> None:
    for employee_no in ["ENG-2", "OPS-1", "ENG-10", "ENG-1"]:
        assert create(impl, employee_no, "same").status_code == 201
    assert numbers(impl("GET", "/api/employees")) == ["ENG-2", "OPS-1", "ENG-10", "ENG-1"]
    by_department = numbers(impl("GET", "/api/employees", params={"department": "ENG"}))
    both = numbers(impl("GET", "/api/employees", params={"department": "ENG", "name": "s"}))
    if impl.kind == "memory":  # type: ignore[attr-defined]
        assert by_department == both == ["ENG-2", "ENG-10", "ENG-1"]  # insertion order
    else:
        assert by_department == both == ["ENG-1", "ENG-10", "ENG-2"]  # the index's order


def test_reset(impl: Api) -> None:
    create(impl, "ENG-1", "n")
    response = impl("POST", "/__reset")
    assert response.status_code == 204 and response.content == b""
    assert "content-type" not in response.headers
    assert impl("GET", "/api/employees").json() == []
    assert impl("GET", "/api/employees/ENG-1").status_code == 404
    assert create(impl, "ENG-1", "again").status_code == 201


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 404), ("GET", "/api", 404), ("GET", "/api/employees/", 404),
        ("GET", "//api/employees", 404), ("GET", "/api/employees/ENG-1/x", 404),
        ("POST", "/reset", 404), ("DELETE", "/nowhere", 404),
        ("DELETE", "/api/employees", 405), ("PUT", "/api/employees", 405),
        ("POST", "/api/employees/ENG-1", 405), ("DELETE", "/api/employees/ENG-1", 405),
        ("PATCH", "/api/employees/ENG-1", 405), ("GET", "/__reset", 405),
        ("HEAD", "/api/employees", 405),
    ],
)  # fmt: skip
def test_routing(impl: Api, method: str, path: str, status: int) -> None:
    status_code, headers, body = impl.raw(method, path)
    assert status_code == status and headers[b"content-type"] == JSON.encode()
    expected = {"error": "not_found"} if status == 404 else {"error": "method_not_allowed"}
    assert json.loads(body) == expected


def test_hostile_transport_input(impl: Api) -> None:
    payload = b'{"employeeNo": "ENG-9", "name": "split body"}'
    status, _, body = impl.raw("POST", "/api/employees", body=[payload[:10], b"", payload[10:]])
    assert status == 201 and json.loads(body)["name"] == "split body"
    for path in ["/api/employees/\ud800", "/api/employees/ENG-9\x00", "/api/employees/%"]:
        assert impl.raw("GET", path)[0] == 404
        assert impl.raw("PUT", path, b"name=x")[0] == 404


def test_lifespan(impl: Api) -> None:
    assert lifespan_messages(impl.app) == LIFESPAN_DONE


# --------------------------------------------------------------------------- employees: differences


def _same(model: Api, candidate: Api, method: str, url: str, **kwargs: Any) -> None:
    expected, actual = model(method, url, **kwargs), candidate(method, url, **kwargs)
    where = f"{method} {url} {kwargs}"
    assert actual.status_code == expected.status_code, where
    assert actual.headers.get("content-type") == expected.headers.get("content-type"), where
    if method == "GET" and url == "/api/employees":
        assert no_created_at(actual.json()) == no_created_at(expected.json()), where
    elif expected.content and "createdAt" not in expected.text:
        assert actual.content == expected.content, where  # byte-for-byte
    elif expected.content:
        strip = re.compile(rb',"createdAt":"[^"]*"')
        assert strip.sub(b"", actual.content) == strip.sub(b"", expected.content), where


ALPHABET = "aAbBzZ%_\\\x00 é É😀-+&=?/#"


def _random_text(rng: random.Random, low: int, high: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(low, high)))


def test_fixed_candidate_matches_model(
    model: Api, sqlite_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    candidate = _make("sqlite_case_sensitive", monkeypatch)
    rng = random.Random(20240521)
    numbers_pool = ["ENG-1", "ENG-2", "ENG-10", "eng-1", "OPS-7", "Ops-7", "QA-03", "bad", "X-"]
    for _ in range(400):
        employee_no = rng.choice(numbers_pool)
        operation = rng.randrange(5)
        if operation == 0:
            name: Any = _random_text(rng, 0, 42) if rng.random() < 0.9 else rng.choice([None, 3])
            body = {"employeeNo": employee_no, "name": name}
            _same(model, candidate, "POST", "/api/employees", json=body)
        elif operation == 1:
            _same(model, candidate, "GET", f"/api/employees/{employee_no}")
        elif operation == 2:
            params = {"name": _random_text(rng, 0, 41)}
            _same(model, candidate, "PUT", f"/api/employees/{employee_no}", params=params)
        else:
            params = {}
            if rng.random() < 0.4:
                params["department"] = rng.choice(["ENG", "eng", "OPS", "Ops", "QA", "", "E"])
            if rng.random() < 0.7:
                params["name"] = _random_text(rng, 0, 3)
            _same(model, candidate, "GET", "/api/employees", params=params)


def test_default_candidate_differs_only_by_case(
    model: Api, sqlite_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    candidate = _make("sqlite", monkeypatch)
    for api in (model, candidate):
        for employee_no, name in [("ENG-1", "Ada"), ("ENG-2", "ALAN"), ("ENG-3", "bob")]:
            assert create(api, employee_no, name).status_code == 201
    _same(model, candidate, "GET", "/api/employees", params={"name": "b"})
    with pytest.raises(AssertionError):
        _same(model, candidate, "GET", "/api/employees", params={"name": "a"})
    monkeypatch.setenv("EMPLOYEES_CASE_SENSITIVE_LIKE", "1")  # the fix, on the next connection
    _same(model, candidate, "GET", "/api/employees", params={"name": "a"})


# --------------------------------------------------------------------------- employees: sqlite


def test_sqlite_schema_and_database_file(sqlite_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api = _make("sqlite", monkeypatch)
    assert create(api, "ENG-1", "n").status_code == 201
    with closing(sqlite3.connect(sqlite_env)) as conn:
        info = conn.execute("PRAGMA table_info(employees)").fetchall()
        columns = [(row[1], row[2], row[3], row[5]) for row in info]
        assert columns == [
            ("employee_no", "TEXT", 0, 1), ("name", "TEXT", 1, 0),
            ("department", "TEXT", 1, 0), ("created_at", "TEXT", 1, 0),
        ]  # fmt: skip
        indexed = {
            tuple(c[2] for c in conn.execute(f"PRAGMA index_info('{index[1]}')"))
            for index in conn.execute("PRAGMA index_list(employees)")
        }
        assert ("department", "employee_no") in indexed
        rows = conn.execute("SELECT employee_no, department FROM employees").fetchall()
        assert rows == [("ENG-1", "ENG")]


def test_sqlite_default_database_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EMPLOYEES_DB", raising=False)
    monkeypatch.setattr(sqlite_app, "_default_dir", None)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    path = Path(sqlite_app._database_path())
    assert path.parent.parent == tmp_path and path.parent.is_dir()
    assert sqlite_app._database_path() == str(path)  # created once, then reused


# --------------------------------------------------------------------------- orders


def test_orders_contract() -> None:
    api = Api(orders.make_app())
    first = assert_json(api("POST", "/orders", json={"item": "apple", "qty": 3}), 201)
    assert first == {"id": 1, "item": "apple", "qty": 3, "status": "open"}
    second = assert_json(api("POST", "/orders", json={"item": "b" * 20, "qty": 100}), 201)
    assert second["id"] == 2 and second["qty"] == 100
    assert_json(api("GET", "/orders/1"), 200, first)
    assert_json(api("GET", "/orders"), 200, [first, second])
    closed = assert_json(api("POST", "/orders/1/close"), 200, {**first, "status": "closed"})
    assert_json(api("POST", "/orders/1/close"), 409, {"error": "already_closed"})
    assert_json(api("GET", "/orders/1"), 200, closed)
    deleted = api("DELETE", "/orders/1")
    assert deleted.status_code == 204 and deleted.content == b""
    gone = [("GET", "/orders/1"), ("DELETE", "/orders/1"), ("POST", "/orders/1/close")]
    for method, path in gone:
        assert_json(api(method, path), 404, {"error": "not_found"})
    for path in ["/orders/x", "/orders/1.0", "/orders/%20", "/orders/" + "9" * 5000, "/orders/٢"]:
        assert_json(api("GET", path), 404, {"error": "not_found"})
    assert_json(api("GET", "/orders/002"), 200, second)
    assert_json(api("GET", "/orders"), 200, [second])
    assert_json(api("PUT", "/orders/2"), 405, {"error": "method_not_allowed"})
    assert_json(api("DELETE", "/orders"), 405, {"error": "method_not_allowed"})
    assert_json(api("GET", "/orders/2/close"), 405, {"error": "method_not_allowed"})
    assert_json(api("GET", "/orders/2/open"), 404, {"error": "not_found"})
    assert api("POST", "/__reset").status_code == 204
    assert_json(api("GET", "/orders"), 200, [])
    assert api("POST", "/orders", json={"item": "again", "qty": 1}).json()["id"] == 1
    assert lifespan_messages(api.app) == LIFESPAN_DONE


@pytest.mark.parametrize(
    "body",
    [
        b"", b"nope", b"[]", b"\xff", b"{}", b'{"item": "a"}', b'{"qty": 1}',
        b'{"item": "", "qty": 1}', b'{"item": "%s", "qty": 1}' % (b"x" * 21),
        b'{"item": 5, "qty": 1}', b'{"item": "a", "qty": 0}', b'{"item": "a", "qty": 101}',
        b'{"item": "a", "qty": 5.0}', b'{"item": "a", "qty": true}', b'{"item": "a", "qty": "5"}',
    ],
)  # fmt: skip
def test_orders_validation(body: bytes) -> None:
    api = Api(orders.make_app())
    assert_json(api("POST", "/orders", content=body), 422, {"error": "invalid"})
    assert api("GET", "/orders").json() == []


def test_orders_first_id_reverse_and_independent_state() -> None:
    model = Api(orders.make_app())
    candidate = Api(orders.make_app(first_id=1001, reverse_list=True))
    for api in (model, candidate):
        for item in ["a", "b", "c"]:
            api("POST", "/orders", json={"item": item, "qty": 1})
    assert [o["id"] for o in model("GET", "/orders").json()] == [1, 2, 3]
    assert [o["id"] for o in candidate("GET", "/orders").json()] == [1003, 1002, 1001]
    assert candidate("POST", "/__reset").status_code == 204
    assert candidate("POST", "/orders", json={"item": "z", "qty": 1}).json()["id"] == 1001
    assert len(model("GET", "/orders").json()) == 3
    assert Api(orders.app)("GET", "/orders").status_code == 200
    with pytest.raises(ValueError, match="unknown"):
        orders.make_app(bugs=frozenset({"no_such_bug"}))


def _delete_noop(api: Api) -> bool:
    oid = api("POST", "/orders", json={"item": "a", "qty": 1}).json()["id"]
    assert api("DELETE", f"/orders/{oid}").status_code == 204
    return api("GET", f"/orders/{oid}").status_code == 404


def _qty_off_by_one(api: Api) -> bool:
    ok = api("POST", "/orders", json={"item": "a", "qty": 99}).json()["qty"] == 99
    return ok and api("POST", "/orders", json={"item": "a", "qty": 100}).json()["qty"] == 100


def _close_twice(api: Api) -> bool:
    oid = api("POST", "/orders", json={"item": "a", "qty": 1}).json()["id"]
    assert api("POST", f"/orders/{oid}/close").status_code == 200
    return api("POST", f"/orders/{oid}/close").status_code == 409


def _list_limit(api: Api) -> bool:
    for _ in range(3):
        api("POST", "/orders", json={"item": "a", "qty": 1})
    return len(api("GET", "/orders").json()) == 3


SEEDED = {
    "delete_noop": _delete_noop,
    "qty_off_by_one": _qty_off_by_one,
    "close_twice": _close_twice,
    "list_limit": _list_limit,
}


@pytest.mark.parametrize("bug", sorted(SEEDED))
def test_seeded_bug_only_when_enabled(bug: str) -> None:
    behaves = SEEDED[bug]
    assert behaves(Api(orders.make_app()))
    others = frozenset(SEEDED) - {bug}
    assert behaves(Api(orders.make_app(bugs=others)))
    assert not behaves(Api(orders.make_app(bugs=frozenset({bug}))))


CRASH_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, httpx
    from tests.apps.orders import make_app

    async def main():
        app = make_app(bugs=frozenset(sys.argv[1:]))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            await c.post("/orders", json={"item": "a", "qty": 1})
            print((await c.post("/orders/1/close")).status_code)

    asyncio.run(main())
    """
)


@pytest.mark.parametrize(
    ("bugs", "returncode", "output"), [([], 0, "200"), (["crash_on_close"], 3, "")]
)
def test_crash_on_close(bugs: list[str], returncode: int, output: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, *bugs],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (done.returncode, done.stdout.strip()) == (returncode, output), done.stderr


def test_env_app_reads_environment() -> None:
    script = textwrap.dedent(
        """
        import asyncio, httpx
        from tests.apps.orders import env_app

        async def main():
            transport = httpx.ASGITransport(app=env_app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                for qty in (100, 1, 1):
                    await c.post("/orders", json={"item": "a", "qty": qty})
                print([(o["id"], o["qty"]) for o in (await c.get("/orders")).json()])

        asyncio.run(main())
        """
    )
    env = {
        "ORDERS_FIRST_ID": "500",
        "ORDERS_BUGS": "qty_off_by_one, list_limit",
        "ORDERS_REVERSE": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60,
        env={**os.environ, **env},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[(502, 1), (501, 1)]"
