"""A small blog with authors, articles and comments: actions that need two or three stored
values, deletes that only an author may make, and titles that must not collide.

``make_app(first_id=..., bugs=...)`` returns a raw ASGI app with its own state. API (no OpenAPI
document; specs name requests as ``METHOD /path``):

* ``POST /users`` ``{"name": str}`` -> 201 ``{"token", "name"}`` (the token is ``t<n>``).
* ``POST /articles?token=T`` ``{"title": str}`` -> 201 ``{"slug", "title", "author"}``; 401
  without a known token; 409 ``{"error": "title_taken"}`` when an article has that title.
  Slugs are ``a<n>``.
* ``GET /articles/{slug}`` -> 200 article or 404.
* ``DELETE /articles/{slug}?token=T`` -> 204 (the author), 403 (anyone else), 404.
* ``POST /articles/{slug}/comments?token=T`` ``{"body": str}`` -> 201 ``{"id", "body",
  "author"}``; 404 when the article is missing. Comment ids are integers from ``first_id``.
* ``GET /articles/{slug}/comments/{id}`` -> 200 comment or 404.
* ``DELETE /articles/{slug}/comments/{id}?token=T`` -> 204 (its author), 403, 404.
* ``GET /comments/{id}`` -> 200 comment (any article) or 404; the id is echoed in the 404
  body (``{"error": "not_found", "id": "<as sent>"}``), so a test sees what was sent.
* ``POST /__reset`` -> 204.

Seeded bug (``bugs``): ``forbidden_delete`` -- deleting someone else's article answers 403
but deletes it all the same.
"""

from __future__ import annotations

import itertools
from typing import Any

from examples.employees._asgi import (
    INVALID,
    NOT_FOUND,
    ASGIApp,
    Request,
    Response,
    Router,
    asgi_app,
    empty_response,
    json_response,
    parse_json,
)

BUGS = frozenset({"forbidden_delete"})


def make_app(*, first_id: int = 1, bugs: frozenset[str] = frozenset()) -> ASGIApp:
    unknown = set(bugs) - BUGS
    if unknown:
        raise ValueError(f"unknown seeded bugs: {sorted(unknown)}")
    users: dict[str, str] = {}  # token -> name
    articles: dict[str, dict[str, Any]] = {}
    comments: dict[int, dict[str, Any]] = {}  # id -> comment (with its article's slug)
    counters = {"user": itertools.count(1), "article": itertools.count(1),
                "comment": itertools.count(first_id)}
    router = Router()

    def author(request: Request) -> str | None:
        token = request.query.get("token", "")
        return token if token in users else None

    def body_field(request: Request, name: str) -> str | None:
        body = parse_json(request.body)
        if body is INVALID or not isinstance(body, dict) or not isinstance(body.get(name), str):
            return None
        value: str = body[name]
        return value

    @router.route("/users", "POST")
    def register(request: Request) -> Response:
        name = body_field(request, "name")
        if name is None:
            return json_response(422, {"error": "invalid"})
        token = f"t{next(counters['user'])}"
        users[token] = name
        return json_response(201, {"token": token, "name": name})

    @router.route("/articles", "POST")
    def write(request: Request) -> Response:
        who = author(request)
        title = body_field(request, "title")
        if who is None:
            return json_response(401, {"error": "unauthorized"})
        if title is None:
            return json_response(422, {"error": "invalid"})
        if any(a["title"] == title for a in articles.values()):
            return json_response(409, {"error": "title_taken"})
        slug = f"a{next(counters['article'])}"
        articles[slug] = {"slug": slug, "title": title, "author": who}
        return json_response(201, articles[slug])

    @router.route("/articles/{slug}", "GET")
    def read(request: Request) -> Response:
        article = articles.get(request.params["slug"])
        return json_response(404, NOT_FOUND) if article is None else json_response(200, article)

    @router.route("/articles/{slug}", "DELETE")
    def delete(request: Request) -> Response:
        article = articles.get(request.params["slug"])
        if article is None:
            return json_response(404, NOT_FOUND)
        if article["author"] != author(request):
            if "forbidden_delete" in bugs:
                del articles[article["slug"]]
            return json_response(403, {"error": "forbidden"})
        del articles[article["slug"]]
        return empty_response(204)

    @router.route("/articles/{slug}/comments", "POST")
    def comment(request: Request) -> Response:
        who = author(request)
        text = body_field(request, "body")
        if who is None:
            return json_response(401, {"error": "unauthorized"})
        if request.params["slug"] not in articles:
            return json_response(404, NOT_FOUND)
        if text is None:
            return json_response(422, {"error": "invalid"})
        number = next(counters["comment"])
        comments[number] = {"id": number, "body": text, "author": who,
                            "article": request.params["slug"]}
        return json_response(201, {k: v for k, v in comments[number].items() if k != "article"})

    def find_comment(request: Request) -> dict[str, Any] | None:
        raw = request.params["id"]
        found = comments.get(int(raw)) if raw.isdigit() and len(raw) < 18 else None
        if found is None or found["article"] != request.params["slug"]:
            return None
        return found

    @router.route("/articles/{slug}/comments/{id}", "GET")
    def read_comment(request: Request) -> Response:
        found = find_comment(request)
        if found is None:
            return json_response(404, NOT_FOUND)
        return json_response(200, {k: v for k, v in found.items() if k != "article"})

    @router.route("/articles/{slug}/comments/{id}", "DELETE")
    def delete_comment(request: Request) -> Response:
        found = find_comment(request)
        if found is None:
            return json_response(404, NOT_FOUND)
        if found["author"] != author(request):
            return json_response(403, {"error": "forbidden"})
        del comments[found["id"]]
        return empty_response(204)

    @router.route("/comments/{id}", "GET")
    def any_comment(request: Request) -> Response:
        raw = request.params["id"]
        found = comments.get(int(raw)) if raw.isdigit() and len(raw) < 18 else None
        if found is None:
            return json_response(404, {**NOT_FOUND, "id": raw})
        return json_response(200, {k: v for k, v in found.items() if k != "article"})

    @router.route("/__reset", "POST")
    def reset(request: Request) -> Response:
        users.clear()
        articles.clear()
        comments.clear()
        counters.update(user=itertools.count(1), article=itertools.count(1),
                        comment=itertools.count(first_id))
        return empty_response(204)

    return asgi_app(router)


model = make_app()
candidate = make_app()
forbidden_delete = make_app(bugs=frozenset({"forbidden_delete"}))
