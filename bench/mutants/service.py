"""A small lending library over HTTP with seeded defects: the subject of mbtspec's mutant bench.

``make_app()`` is the correct service (the model); ``make_app("<defect>")`` is the same code with
ONE defect switched on (a candidate). Every app keeps its own state, so a model and a candidate
built here never share anything. Importable targets (the current directory must be the
repository root): ``bench.mutants.service:model``, ``bench.mutants.service:correct`` (a second,
defect-free app), ``bench.mutants.service:defect_<name>`` for each defect and
``bench.mutants.service:four`` (four defects at once, ``FOUR``); for a real server,
``uvicorn --factory bench.mutants.service:from_env`` reads the defect(s) from ``$MUTANT``.

The contract (``openapi.yaml`` documents it):

* ``POST /books {title, copies}``: title 1..40 characters, copies 1..5 (422 ``{"error":
  "invalid", "field": ...}`` otherwise, checked in that order); 201 ``{id, title, copies,
  available, createdAt}``. Ids of books, members and loans are minted 1, 2, 3 ... per kind and
  never reused.
* ``GET /books/{id}`` 200 or 404; ``DELETE /books/{id}`` 204, 404, or 409 ``book_lent`` while a
  copy is lent; ``PATCH /books/{id} {copies}`` sets the number of copies: 422, 404, 409
  ``copies_lent`` when fewer than the lent copies, else 200 with ``available = copies - lent``.
* ``GET /books?offset=O&limit=L`` (O >= 0, L in 1..10, default 0 and 10, else 422): 200
  ``{items, total}``, the books in id order.
* ``POST /members {name}`` (1..20 characters): 201 ``{id, name}``. ``GET /members/{id}/loans``:
  200 with the member's loans (order unspecified), or 404.
* ``POST /loans {memberId, bookId}`` (integers, else 422): 404 unknown member or book, 409
  ``loan_limit`` when the member holds 3 loans, 409 ``no_copy_available``; else 201 ``{id,
  memberId, bookId, createdAt}`` and one copy fewer available. ``DELETE /loans/{id}``: 204
  (the copy is back), or 404.
* ``POST /cards {memberId}``: 422, 404 unknown member, 409 ``card_exists`` when the member has
  a card already; else 201 ``{id, memberId}``. One card per member. (Only ``races.yaml``
  calls it; ``openapi.yaml`` documents what ``spec.yaml`` tests, and leaves it out.)
* ``POST /__reset``: 204, everything forgotten, ids start again at 1.

``borrow`` and ``issue_card`` await something before they look at the state (a fraud check, a
card printer: ``pause``, ``$MUTANT_PAUSE`` seconds, default 0, one turn of the event loop), so
that two calls in flight at once interleave there; the correct service then checks and writes
with no ``await`` in between. The race defects await between the check (or the read) and the
write instead: only concurrent calls (``run.concurrency``) can show them.

The seeded defects, each with its class and a known minimal sequence (``defects.py`` holds the
same table in machine-readable form):

==========================  ===================  ==============================================
defect                      class                minimal sequence
==========================  ===================  ==============================================
unknown_book_500            one-call error       get_book(unknown id) -> 500, not 404
trailing_space_500          one-call error       add_book(title ending in a space) -> 500
copies_max_rejected         boundary             add_book(copies=5) -> 422, not 201
title_max_rejected          boundary             add_book(40-character title) -> 422, not 201
loan_limit_off_by_one       boundary             add_member, add_book(copies>=4), borrow x4:
                                                 the 4th loan is granted
borrow_keeps_stock          state (2-4 calls)    add_member, add_book, borrow, get_book:
                                                 available not decremented
delete_lent_book            state (2-4 calls)    add_member, add_book, borrow, delete_book:
                                                 204, not 409
soft_delete                 state (2-4 calls)    add_book, delete_book, get_book: still 200
full_answers_200            status class         add_member, add_book(copies=1), borrow,
                                                 borrow: 200 with an error body, not 409
copies_lost_update          lost update          add_member, add_book, borrow, set_copies:
                                                 the lent copy is forgotten
return_keeps_loan           state (5 calls)      add_member, add_book, borrow, return_loan,
                                                 return_loan: 204 again, not 404
id_reused                   id reuse             add_book, delete_book, add_book,
                                                 get_book(the first id): 200, not 404
tenth_book                  10+ calls            add_book x10: the 10th has one copy fewer
tenth_loan                  10+ calls (16)       add_member x4, add_book(copies=5) x2, borrow
                                                 x10: the 10th loan ever made is refused (409
                                                 loan_limit: a register of nine lines); ten
                                                 loans need 16 calls (3 per member, 5 copies
                                                 per book; a return costs a call as well)
page_skips_one              pagination           add_book, add_book, list_books(offset=1):
                                                 a page after the first skips one book
long_name_accepted          invalid accepted     add_member(21-character name) -> 201, not 422
zero_copies_accepted        invalid accepted     add_book(copies=0) -> 201, not 422
                                                 (needs inputs outside the schema)
stock_lost_update           race: lost update    after the prefix add_member, add_book
                                                 (copies>=2): borrow || borrow, then
                                                 list_books: one copy fewer available, not
                                                 two (each borrow wrote back what it read
                                                 before its await)
card_issued_twice           race: check-then-act after the prefix add_member: issue_card ||
                                                 issue_card for the same member: both 201,
                                                 not one 201 and one 409 card_exists
last_copy_twice             race: check-then-act after the prefix add_member, add_book
                                                 (copies=1): borrow || borrow: both 201 (the
                                                 last copy lent twice), not 201 and 409
noise                       noise only           never a difference: createdAt written
                                                 "...Z" (not "+00:00"), a member's loans listed
                                                 newest first, an extra x-served-by header
==========================  ===================  ==============================================
"""

from __future__ import annotations

import asyncio
import inspect
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    parse_query,
)
from examples.employees._asgi import _read_body as read_body

DEFECTS = (
    "unknown_book_500", "trailing_space_500", "copies_max_rejected", "title_max_rejected",
    "loan_limit_off_by_one", "borrow_keeps_stock", "delete_lent_book", "soft_delete",
    "full_answers_200", "copies_lost_update", "return_keeps_loan", "id_reused", "tenth_book",
    "tenth_loan", "page_skips_one", "long_name_accepted", "zero_copies_accepted",
    "stock_lost_update", "card_issued_twice", "last_copy_twice", "noise",
)
#: The defects only concurrent calls show (``races.yaml``).
RACES = ("stock_lost_update", "card_issued_twice", "last_copy_twice")
MAX_TITLE, MAX_NAME, MAX_COPIES, LOAN_LIMIT, MAX_PAGE = 40, 20, 5, 3, 10


@dataclass
class Library:
    """The state of one app: books, members and loans by id, and the next id of each kind."""

    books: dict[int, dict[str, Any]] = field(default_factory=dict)
    members: dict[int, dict[str, Any]] = field(default_factory=dict)
    loans: dict[int, dict[str, Any]] = field(default_factory=dict)
    cards: dict[int, dict[str, Any]] = field(default_factory=dict)  # by member id
    next_id: dict[str, int] = field(default_factory=lambda: {"book": 1, "member": 1, "loan": 1,
                                                             "card": 1})
    free_book_ids: list[int] = field(default_factory=list)  # only the id_reused defect uses it

    def clear(self) -> None:
        self.__dict__.update(Library().__dict__)

    def mint(self, kind: str) -> int:
        minted = self.next_id[kind]
        self.next_id[kind] += 1
        return minted

    def lent(self, book_id: int) -> int:
        return sum(1 for loan in self.loans.values() if loan["bookId"] == book_id)


def invalid(name: str) -> Response:
    return json_response(422, {"error": "invalid", "field": name})


def conflict(error: str) -> Response:
    return json_response(409, {"error": error})


def whole_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def path_id(request: Request) -> int:
    """The ``{id}`` of the path; 0 (never minted) when it is not a plain decimal number."""
    text = request.params["id"]
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else 0


def make_app(defect: str | None = None) -> ASGIApp:
    """The library service; ``defect`` switches one seeded defect on (None or "": correct).

    Several comma-separated names switch several on at once (for a run that should report
    each of them); the defects of ``FOUR`` touch disjoint code.
    """
    on = frozenset(name for name in (defect or "").split(",") if name)
    if on - set(DEFECTS):
        raise ValueError(f"unknown defect {defect!r}; known: {', '.join(DEFECTS)}")
    lib = Library()
    router = Router()

    def stamp() -> str:
        now = datetime.now(UTC)
        if "noise" in on:
            return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
        return now.isoformat(timespec="milliseconds")

    @router.route("/books", "POST")
    def add_book(request: Request) -> Response:
        body = parse_json(request.body)
        if not isinstance(body, dict):
            return invalid("body")
        title, copies = body.get("title"), body.get("copies")
        longest = MAX_TITLE - 1 if "title_max_rejected" in on else MAX_TITLE
        if not isinstance(title, str) or not 1 <= len(title) <= longest:
            return invalid("title")
        fewest = 0 if "zero_copies_accepted" in on else 1
        most = MAX_COPIES - 1 if "copies_max_rejected" in on else MAX_COPIES
        if not whole_number(copies) or not fewest <= copies <= most:
            return invalid("copies")
        if "trailing_space_500" in on and title.endswith(" "):
            raise RuntimeError("slug of a title that ends in a space")
        book_id = lib.free_book_ids.pop() if lib.free_book_ids else lib.mint("book")
        available = copies - 1 if "tenth_book" in on and book_id == 10 else copies
        book = {"id": book_id, "title": title, "copies": copies, "available": available,
                "createdAt": stamp()}
        lib.books[book_id] = book
        return json_response(201, book)

    @router.route("/books/{id}", "GET")
    def get_book(request: Request) -> Response:
        book = lib.books.get(path_id(request))
        if book is None:
            if "unknown_book_500" in on:
                raise KeyError(request.params["id"])
            return json_response(404, NOT_FOUND)
        return json_response(200, book)

    @router.route("/books/{id}", "PATCH")
    def set_copies(request: Request) -> Response:
        body = parse_json(request.body)
        copies = body.get("copies") if isinstance(body, dict) else INVALID
        if not whole_number(copies) or not 1 <= copies <= MAX_COPIES:
            return invalid("copies")
        book = lib.books.get(path_id(request))
        if book is None:
            return json_response(404, NOT_FOUND)
        lent = 0 if "copies_lost_update" in on else lib.lent(book["id"])
        if copies < lent:
            return conflict("copies_lent")
        book["copies"], book["available"] = copies, copies - lent
        return json_response(200, book)

    @router.route("/books/{id}", "DELETE")
    def delete_book(request: Request) -> Response:
        book = lib.books.get(path_id(request))
        if book is None:
            return json_response(404, NOT_FOUND)
        if "delete_lent_book" not in on and lib.lent(book["id"]) > 0:
            return conflict("book_lent")
        if "soft_delete" in on:
            return empty_response(204)  # said done, did nothing
        del lib.books[book["id"]]
        if "id_reused" in on:
            lib.free_book_ids.append(book["id"])
        return empty_response(204)

    @router.route("/books", "GET")
    def list_books(request: Request) -> Response:
        offset, limit = request.query.get("offset", "0"), request.query.get("limit", "10")
        if not (offset.isascii() and offset.isdigit()):
            return invalid("offset")
        if not (limit.isascii() and limit.isdigit() and 1 <= int(limit) <= MAX_PAGE):
            return invalid("limit")
        shelf = [book for _, book in sorted(lib.books.items())]
        start = int(offset) + (1 if "page_skips_one" in on and int(offset) > 0 else 0)
        return json_response(200, {"items": shelf[start:start + int(limit)],
                                   "total": len(shelf)})

    @router.route("/members", "POST")
    def add_member(request: Request) -> Response:
        body = parse_json(request.body)
        if not isinstance(body, dict):
            return invalid("body")
        name = body.get("name")
        longest = MAX_NAME + 10 if "long_name_accepted" in on else MAX_NAME
        if not isinstance(name, str) or not 1 <= len(name) <= longest:
            return invalid("name")
        member = {"id": lib.mint("member"), "name": name}
        lib.members[member["id"]] = member
        return json_response(201, member)

    @router.route("/members/{id}/loans", "GET")
    def member_loans(request: Request) -> Response:
        member_id = path_id(request)
        if member_id not in lib.members:
            return json_response(404, NOT_FOUND)
        held = [loan for loan in lib.loans.values() if loan["memberId"] == member_id]
        return json_response(200, held[::-1] if "noise" in on else held)

    @router.route("/loans", "POST")
    async def borrow(request: Request) -> Response:
        body = parse_json(request.body)
        if not isinstance(body, dict):
            return invalid("body")
        member_id, book_id = body.get("memberId"), body.get("bookId")
        if not whole_number(member_id):
            return invalid("memberId")
        if not whole_number(book_id):
            return invalid("bookId")
        racy = "stock_lost_update" in on or "last_copy_twice" in on
        if not racy:
            await pause()  # (then checks and writes with no await in between)
        book = lib.books.get(book_id)
        if member_id not in lib.members or book is None:
            return json_response(404, NOT_FOUND)
        held = sum(1 for loan in lib.loans.values() if loan["memberId"] == member_id)
        if held >= (LOAN_LIMIT + 1 if "loan_limit_off_by_one" in on else LOAN_LIMIT):
            return conflict("loan_limit")
        if "tenth_loan" in on and lib.next_id["loan"] == 10 and book["available"] > 0:
            return conflict("loan_limit")
        if book["available"] <= 0:
            if "full_answers_200" in on:
                return json_response(200, {"error": "no_copy_available"})
            return conflict("no_copy_available")
        read = book["available"]
        if racy:
            await pause()  # the defects: between the check (and the read) and the write
        loan = {"id": lib.mint("loan"), "memberId": member_id, "bookId": book_id,
                "createdAt": stamp()}
        lib.loans[loan["id"]] = loan
        if "stock_lost_update" in on:
            book["available"] = read - 1  # writes back what it read before its await
        elif "borrow_keeps_stock" not in on:
            book["available"] -= 1
        return json_response(201, loan)

    @router.route("/cards", "POST")
    async def issue_card(request: Request) -> Response:
        body = parse_json(request.body)
        member_id = body.get("memberId") if isinstance(body, dict) else INVALID
        if not whole_number(member_id):
            return invalid("memberId")
        if member_id not in lib.members:
            return json_response(404, NOT_FOUND)
        if "card_issued_twice" not in on:
            await pause()
        if member_id in lib.cards:
            return conflict("card_exists")
        if "card_issued_twice" in on:
            await pause()  # the defect: checked, then awaits, then creates
        card = {"id": lib.mint("card"), "memberId": member_id}
        lib.cards[member_id] = card
        return json_response(201, card)

    @router.route("/loans/{id}", "DELETE")
    def return_loan(request: Request) -> Response:
        loan = lib.loans.get(path_id(request))
        if loan is None:
            return json_response(404, NOT_FOUND)
        book = lib.books.get(loan["bookId"])
        if book is not None:
            book["available"] += 1
        if "return_keeps_loan" not in on:  # the defect keeps the record: returned again later
            del lib.loans[loan["id"]]
        return empty_response(204)

    @router.route("/__reset", "POST")
    def reset(request: Request) -> Response:
        lib.clear()
        return empty_response(204)

    app = serve(router)
    if "noise" not in on:
        return app

    async def with_extra_header(scope: Any, receive: Any, send: Any) -> None:
        async def tagged(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"],
                                                  (b"x-served-by", b"candidate")]}
            await send(message)

        await app(scope, receive, tagged)

    return with_extra_header


PAUSE = float(os.environ.get("MUTANT_PAUSE") or 0)


async def pause() -> None:
    """What a handler awaits (another service, a disk): ``PAUSE`` seconds, at least one turn
    of the event loop, where another call in flight can run."""
    await asyncio.sleep(PAUSE)


def serve(router: Router) -> ASGIApp:
    """``asgi_app``, for handlers that may be ``async``: a coroutine a handler returns is
    awaited."""
    plain = asgi_app(router)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await plain(scope, receive, send)
            return
        request = Request(method=scope["method"].upper(), path=scope.get("path", "/") or "/",
                          query=parse_query(scope.get("query_string", b"")),
                          body=await read_body(receive))
        response = router.dispatch(request)
        if inspect.isawaitable(response):
            response = await response
        headers = [*response.headers, (b"content-length", str(len(response.body)).encode())]
        await send({"type": "http.response.start", "status": response.status,
                    "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    return app


def from_env() -> ASGIApp:
    """The app for ``uvicorn --factory``: the defect(s) named by ``$MUTANT`` ("" or unset: none)."""
    return make_app(os.environ.get("MUTANT") or None)


FOUR = "unknown_book_500,copies_max_rejected,soft_delete,page_skips_one"

model = make_app()
correct = make_app()
for _name in DEFECTS:
    globals()[f"defect_{_name}"] = make_app(_name)
four = make_app(FOUR)  # one defect of four classes, for a run that should report all four
