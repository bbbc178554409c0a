"""A step's draws in a replay file: written as YAML, read back as they were drawn, secrets
left out (drawn again from their generator)."""

from __future__ import annotations

import math

import yaml
from hypothesis import strategies as st

from mbtspec.compiler import MISSING, InputChange
from mbtspec.compiler._payloads import FilePart
from mbtspec.compiler.state import Entry
from mbtspec.executor._draws import ReplayDraws
from mbtspec.executor.records import Redacted
from mbtspec.report._draws import draws_data, draws_from_data
from mbtspec.report.redact import Redactor


def test_every_kind_of_draw_reads_back_as_it_was_drawn() -> None:
    draws = (3, -2**70, 0.5, math.inf, "text", None, True, b"\x00\xff", [1, [2]],
             {"a": {"b": [None]}}, {"$ref": "x"}, (1, "a"), Entry("orders", 4, 1),
             [Entry("ids", 2), Entry("ids", 3, 2)], FilePart(b"\x01", "a.bin", "image/png"),
             InputChange("invalid", "body", "qty", MISSING, "missing (required)"),
             InputChange("boundary", "query", "limit", 10, "at maximum 10"))
    text = yaml.safe_dump(draws_data(draws, Redactor(())))
    assert draws_from_data(yaml.safe_load(text)) == draws


def test_a_draw_holding_a_secret_is_not_saved_and_is_drawn_again() -> None:
    data = draws_data(("Bearer s3cr3t-token", "plain"), Redactor(("s3cr3t-token",)))
    assert data == [{"$redacted": True}, "plain"]
    read = draws_from_data(data)
    assert read is not None and isinstance(read[0], Redacted)
    replay = ReplayDraws(read)
    assert replay.draw(st.just("Bearer s3cr3t-token")) == "Bearer s3cr3t-token"
    assert replay.draw(st.text()) == "plain"


def test_draws_that_cannot_be_written_are_left_out() -> None:
    assert draws_data((1, object()), Redactor(())) is None
    assert draws_from_data(None) is None
    assert draws_from_data([{"$pick": {"variable": "x"}}]) is None  # (damaged by hand)
