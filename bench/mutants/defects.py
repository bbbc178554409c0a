"""The seeded defects of the lending library, each with its class and a known minimal sequence.

A known minimal sequence is a list of ``(action, key values)`` pairs, the actions named as in
``spec.yaml``; no shorter sequence of the spec's actions shows the defect (argued per defect in
``note``). ``last`` is every action that can end a minimal failing sequence: a shrunk result
whose last action is not among them found the defect by another way than the one written down.
``noise`` is the one defect that must never be reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Call = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Defect:
    name: str
    kind: str  # the class: one-call error, boundary, state, ..., noise
    minimal: tuple[Call, ...]  # a known minimal sequence
    last: frozenset[str]  # actions that can end a minimal sequence
    note: str = ""  # why it is minimal, or why positive generation cannot find it

    @property
    def length(self) -> int:
        return len(self.minimal)

    @property
    def noise(self) -> bool:
        return self.kind == "noise"


def _defect(name: str, kind: str, minimal: list[Call], last: set[str] | None = None,
            note: str = "") -> Defect:
    return Defect(name, kind, tuple(minimal), frozenset(last or {minimal[-1][0]}), note)


_MEMBER: Call = ("add_member", {})
_BOOK: Call = ("add_book", {})
_BORROW: Call = ("borrow", {})
# The calls that read a book's available copies (set_copies and delete_book count the loans).
_READERS = {"get_book", "list_books", "borrow"}

DEFECTS: tuple[Defect, ...] = (
    _defect("unknown_book_500", "one-call error", [("get_book", {"id": "unknown"})],
            note="500 instead of 404"),
    _defect("trailing_space_500", "one-call error",
            [("add_book", {"title": "ends with ' '"})]),
    _defect("copies_max_rejected", "boundary", [("add_book", {"copies": 5})],
            note="the documented maximum is refused (< instead of <=)"),
    _defect("title_max_rejected", "boundary", [("add_book", {"title": "40 characters"})],
            note="needs a title of exactly the maximum length"),
    _defect("loan_limit_off_by_one", "boundary",
            [_MEMBER, ("add_book", {"copies": ">=4"}), _BORROW, _BORROW, _BORROW, _BORROW],
            note="the 4th loan of one member is granted; four borrows need a member and "
                 "four copies (one book of 4 or 5 copies)"),
    _defect("borrow_keeps_stock", "state (2-4 calls)",
            [_MEMBER, _BOOK, _BORROW, ("get_book", {})], last=_READERS,
            note="seen by a call that reads the available copies after a loan (a second "
                 "borrow of a 1-copy book too)"),
    _defect("delete_lent_book", "state (2-4 calls)",
            [_MEMBER, _BOOK, _BORROW, ("delete_book", {})]),
    _defect("soft_delete", "state (2-4 calls)", [_BOOK, ("delete_book", {}), ("get_book", {})],
            last={"get_book", "list_books", "delete_book", "set_copies"}),
    _defect("full_answers_200", "wrong status class",
            [_MEMBER, ("add_book", {"copies": 1}), _BORROW, _BORROW],
            note="409 becomes 200 with the error body"),
    _defect("copies_lost_update", "lost update",
            [_MEMBER, _BOOK, _BORROW, ("set_copies", {})],
            note="setting the copies forgets the lent one"),
    _defect("return_keeps_loan", "state (5 calls)",
            [_MEMBER, _BOOK, _BORROW, ("return_loan", {}), ("return_loan", {})],
            last={"return_loan", "member_loans", "delete_book", "set_copies"},
            note="the returned loan stays: a second return, the member's loans, a delete or "
                 "new copies show it"),
    _defect("id_reused", "id reuse",
            [_BOOK, ("delete_book", {}), _BOOK, ("get_book", {"id": "the first book's"})],
            last={"get_book", "delete_book", "set_copies"},
            note="the deleted id is minted again; shown by a call on the first id"),
    _defect("tenth_book", "10+ calls", [_BOOK] * 9 + [("add_book", {"id": 10})],
            note="the 10th book has one copy fewer available"),
    _defect("tenth_loan", "10+ calls",
            [_MEMBER] * 4 + [("add_book", {"copies": 5})] * 2 + [_BORROW] * 10,
            note="the 10th loan ever made is refused; a member holds 3 loans and a book has "
                 "at most 5 copies, so 10 loans need 4 members and 2 books (or returns)"),
    _defect("page_skips_one", "pagination", [_BOOK, _BOOK, ("list_books", {"offset": 1})],
            note="an offset above 0 skips one more book"),
    _defect("long_name_accepted", "invalid accepted",
            [("add_member", {"name": "21..24 characters"})],
            note="reachable: the spec's name generator goes 4 characters past the limit"),
    _defect("zero_copies_accepted", "invalid accepted", [("add_book", {"copies": 0})],
            note="needs inputs outside the schema (negative mode): the spec draws 1..5"),
    _defect("noise", "noise", [_BOOK],
            note="timestamp format, unordered list order, an extra header: never reported"),
)

BY_NAME = {defect.name: defect for defect in DEFECTS}


@dataclass(frozen=True)
class Race:
    """A defect only concurrent calls show (``races.yaml``, ``run.concurrency``): after the
    sequential ``prefix``, the calls of ``branches`` in flight at once, then ``then``."""

    name: str
    kind: str
    prefix: tuple[Call, ...]
    branches: tuple[tuple[Call, ...], ...]
    then: tuple[Call, ...] = ()
    note: str = ""


RACES: tuple[Race, ...] = (
    Race("stock_lost_update", "race: lost update", (_MEMBER, ("add_book", {"copies": ">=2"})),
         ((_BORROW,), (_BORROW,)), (("list_books", {}),),
         note="each borrow reads the available copies, awaits, and writes back what it read "
              "minus one: two loans, one copy fewer (seen when the copies are read back)"),
    Race("card_issued_twice", "race: check-then-act", (_MEMBER,),
         ((("issue_card", {}),), (("issue_card", {}),)),
         note="both check that the member has no card before either creates one: two 201"),
    Race("last_copy_twice", "race: check-then-act", (_MEMBER, ("add_book", {"copies": 1})),
         ((_BORROW,), (_BORROW,)),
         note="both see the last copy available before either takes it: two 201, -1 "
              "available (needs a book down to its last copy, 1 in 5 books drawn)"),
)

RACES_BY_NAME = {race.name: race for race in RACES}
