"""Orders apps configured for the test suite, importable as ``tests.apps.variants:<name>``."""

from __future__ import annotations

from tests.apps.orders import make_app

model = make_app()
#: The same behaviour, but it mints other ids and lists newest first.
minted = make_app(first_id=1001, reverse_list=True)
delete_noop = make_app(first_id=1001, bugs=frozenset({"delete_noop"}))
close_twice = make_app(first_id=1001, bugs=frozenset({"close_twice"}))
list_limit = make_app(first_id=1001, bugs=frozenset({"list_limit"}))
qty_off_by_one = make_app(first_id=1001, bugs=frozenset({"qty_off_by_one"}))
