"""The mutant benchmark's service and its table agree: every defect's known minimal sequence,
played by hand, shows the defect at its last call and nowhere before; the correct candidate
answers like the model; the noise defect differs only in what the spec tells mbtspec to ignore."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import yaml

from bench.mutants import service
from bench.mutants.defects import BY_NAME, DEFECTS, RACES
from bench.mutants.runner import SPEC

Call = tuple[str, str, Any]  # method, path, JSON body (None: no body)

MEMBER: Call = ("POST", "/members", {"name": "Ann"})
LOAN: Call = ("POST", "/loans", {"memberId": 1, "bookId": 1})


def book(copies: int = 1, title: str = "a") -> Call:
    return ("POST", "/books", {"title": title, "copies": copies})


# One concrete sequence per defect, call for call the known minimal sequence of defects.py.
WITNESSES: dict[str, list[Call]] = {
    "unknown_book_500": [("GET", "/books/7", None)],
    "trailing_space_500": [book(title="a ")],
    "copies_max_rejected": [book(copies=5)],
    "title_max_rejected": [book(title="a" * 40)],
    "loan_limit_off_by_one": [MEMBER, book(copies=4), LOAN, LOAN, LOAN, LOAN],
    "borrow_keeps_stock": [MEMBER, book(), LOAN, ("GET", "/books/1", None)],
    "delete_lent_book": [MEMBER, book(), LOAN, ("DELETE", "/books/1", None)],
    "soft_delete": [book(), ("DELETE", "/books/1", None), ("GET", "/books/1", None)],
    "full_answers_200": [MEMBER, book(copies=1), LOAN, LOAN],
    "copies_lost_update": [MEMBER, book(copies=2), LOAN, ("PATCH", "/books/1", {"copies": 2})],
    "return_keeps_loan": [MEMBER, book(), LOAN, ("DELETE", "/loans/1", None),
                          ("DELETE", "/loans/1", None)],
    "id_reused": [book(), ("DELETE", "/books/1", None), book(), ("GET", "/books/1", None)],
    "tenth_book": [book()] * 10,
    "tenth_loan": [MEMBER] * 4 + [book(copies=5)] * 2 + [
        ("POST", "/loans", {"memberId": member, "bookId": 1 if n < 5 else 2})
        for n, member in enumerate([1, 1, 1, 2, 2, 2, 3, 3, 3, 4])],
    "page_skips_one": [book(), book(), ("GET", "/books?offset=1", None)],
    "long_name_accepted": [("POST", "/members", {"name": "a" * 21})],
    "zero_copies_accepted": [book(copies=0)],
}
NOISE: list[Call] = [MEMBER, book(copies=2), book(), LOAN,
                     ("POST", "/loans", {"memberId": 1, "bookId": 2}),
                     ("GET", "/members/1/loans", None), ("GET", "/books", None)]


def play(app: Any, calls: list[Call]) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://library") as client:
            assert (await client.post("/__reset")).status_code == 204
            return [await client.request(method, path, json=body)
                    for method, path, body in calls]

    return asyncio.run(run())


def seen(response: httpx.Response, call: Call) -> tuple[int, Any]:
    """What the spec compares: status and body without timestamps, ids of creates (the spec
    stores them per target), and lists of loans in no order."""
    body = response.json() if response.content else None

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "createdAt"}
        if isinstance(value, list):
            return sorted((strip(v) for v in value), key=repr)
        return value

    if call[0] == "POST" and isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != "id"}
    return response.status_code, strip(body)


def test_the_table_names_the_service_defects_and_the_spec_actions() -> None:
    assert {d.name for d in DEFECTS} | {r.name for r in RACES} == set(service.DEFECTS)
    assert tuple(r.name for r in RACES) == service.RACES
    assert service.__doc__ is not None
    actions = set(yaml.safe_load(SPEC.read_text())["actions"])
    for defect in DEFECTS:
        assert defect.name in service.__doc__
        assert hasattr(service, f"defect_{defect.name}")
        assert {name for name, _ in defect.minimal} <= actions, defect.name
        assert defect.last <= actions and defect.minimal[-1][0] in defect.last, defect.name
    assert set(WITNESSES) == {d.name for d in DEFECTS if not d.noise}
    with pytest.raises(ValueError, match="unknown defect 'nope'"):
        service.make_app("nope")


@pytest.mark.parametrize("name", list(WITNESSES))
def test_known_minimal_sequence_shows_the_defect_at_its_last_call(name: str) -> None:
    calls = WITNESSES[name]
    assert len(calls) == BY_NAME[name].length
    model = [seen(r, c) for r, c in zip(play(service.make_app(), calls), calls, strict=True)]
    correct = [seen(r, c) for r, c in zip(play(service.correct, calls), calls, strict=True)]
    mutant = [seen(r, c) for r, c in
              zip(play(service.make_app(name), calls), calls, strict=True)]
    assert correct == model
    assert mutant[:-1] == model[:-1]
    assert mutant[-1] != model[-1]


def test_noise_differs_only_where_the_spec_does_not_look() -> None:
    model = play(service.make_app(), NOISE)
    noise = play(service.make_app("noise"), NOISE)
    assert [seen(r, c) for r, c in zip(model, NOISE, strict=True)] == \
        [seen(r, c) for r, c in zip(noise, NOISE, strict=True)]
    # ...but the differences are there: a timestamp format, a list order, a header
    assert model[1].json()["createdAt"].endswith("+00:00")
    assert noise[1].json()["createdAt"].endswith("Z")
    assert [loan["id"] for loan in model[5].json()] == [1, 2]
    assert [loan["id"] for loan in noise[5].json()] == [2, 1]
    assert "x-served-by" not in model[0].headers and noise[0].headers["x-served-by"]


@pytest.mark.parametrize("name", service.FOUR.split(","))
def test_four_defects_at_once_each_still_show_at_their_last_call(name: str) -> None:
    calls = WITNESSES[name]
    model = [seen(r, c) for r, c in zip(play(service.make_app(), calls), calls, strict=True)]
    four = [seen(r, c) for r, c in zip(play(service.four, calls), calls, strict=True)]
    assert four[:-1] == model[:-1]
    assert four[-1] != model[-1]


# The races: a prefix played in order, then two calls in flight at once, then a read back.
CARD: Call = ("POST", "/cards", {"memberId": 1})
RACE_WITNESSES: dict[str, tuple[list[Call], list[Call], list[Call]]] = {
    "stock_lost_update": ([MEMBER, book(copies=2)], [LOAN, LOAN], [("GET", "/books", None)]),
    "card_issued_twice": ([MEMBER], [CARD, CARD], []),
    "last_copy_twice": ([MEMBER, book(copies=1)], [LOAN, LOAN], [("GET", "/books", None)]),
}


def play_together(app: Any, prefix: list[Call], together: list[Call], then: list[Call]
                  ) -> tuple[list[tuple[int, Any]], list[tuple[int, Any]]]:
    """``prefix`` in order, ``together`` all at once (asyncio tasks: the app's awaits
    interleave them), then ``then``: what the concurrent calls and the read back saw."""
    async def run() -> tuple[list[httpx.Response], list[httpx.Response]]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://library") as client:
            assert (await client.post("/__reset")).status_code == 204
            for method, path, body in prefix:
                await client.request(method, path, json=body)
            concurrent = await asyncio.gather(*(client.request(m, p, json=b)
                                                for m, p, b in together))
            return list(concurrent), [await client.request(m, p, json=b) for m, p, b in then]

    concurrent, after = asyncio.run(run())
    return ([seen(r, c) for r, c in zip(concurrent, together, strict=True)],
            [seen(r, c) for r, c in zip(after, then, strict=True)])


@pytest.mark.parametrize("name", list(RACE_WITNESSES))
def test_a_race_shows_only_when_the_calls_are_in_flight_together(name: str) -> None:
    prefix, together, then = RACE_WITNESSES[name]
    assert name in {r.name for r in RACES}
    in_order = prefix + together + then
    # one after another, the defect answers as the model does: no sequential run sees it
    assert [seen(r, c) for r, c in zip(play(service.make_app(name), in_order), in_order,
                                       strict=True)] == \
        [seen(r, c) for r, c in zip(play(service.make_app(), in_order), in_order, strict=True)]
    # together, the correct service still answers as some order would (here: either order of
    # two identical calls gives the same answers), the defect does not
    model = play(service.make_app(), in_order)
    expected = ([seen(r, c) for r, c in zip(model[len(prefix):len(prefix) + 2], together,
                                            strict=True)],
                [seen(r, c) for r, c in zip(model[len(prefix) + 2:], then, strict=True)])
    correct = play_together(service.make_app(), prefix, together, then)
    assert (sorted(correct[0], key=repr), correct[1]) == \
        (sorted(expected[0], key=repr), expected[1])
    racy = play_together(service.make_app(name), prefix, together, then)
    assert (sorted(racy[0], key=repr), racy[1]) != (sorted(expected[0], key=repr), expected[1])
