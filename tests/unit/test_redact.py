"""Redaction: a secret in any encoding becomes ***, and nothing else changes."""

from __future__ import annotations

import base64
import html
import json
import re
import shlex
import time
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mbtspec.report.data import body_lines, printable, shown_json
from mbtspec.report.redact import WIDEST, Redactor, _char, _group

SECRETS = ["ab\"cd'ef\\gh+ij/kl=mn<op&qr st", "wö\"rd'\\ +/=<&€ 😀x", "tok-0123456789abcdef",
           "\"'\\+/=<& é", "a\nb\rc\td\x00e\x7f"]


def forms(secret: str) -> list[str]:
    json_utf8 = json.dumps(secret, ensure_ascii=False)
    return [
        secret, quote(secret, safe=""), quote(secret), quote_plus(secret),
        quote(secret, safe="").lower(), json.dumps(secret)[1:-1], json_utf8[1:-1],
        json.dumps(json_utf8)[1:-1], html.escape(secret), html.escape(json_utf8),
        xml_escape(secret), quoteattr(secret), shlex.quote(secret), repr(secret),
        ascii(secret), yaml.safe_dump(secret, allow_unicode=True), yaml.safe_dump(secret),
        yaml.safe_dump(secret, default_style="'"), yaml.safe_dump(secret, default_style='"'),
        base64.b64encode(secret.encode()).decode(),
        base64.urlsafe_b64encode(secret.encode()).decode(),
        *(base64.b64encode(f"{user}:{secret}".encode()).decode() for user in ("u", "us", "usr")),
    ]


@pytest.mark.parametrize("secret", SECRETS)
def test_every_encoding_of_a_secret_is_redacted(secret: str) -> None:
    redact = Redactor([secret])
    for form in forms(secret):
        shown = redact(f"before {form} after")
        assert "***" in shown, form
        for part in (secret, *re.findall(r"[A-Za-z0-9]{4,}", secret)):
            assert part not in shown, (form, shown)


def test_the_password_of_a_basic_credential_is_a_secret_too() -> None:
    credential = base64.b64encode(b"alice:pa55word").decode()
    redact = Redactor([credential])
    assert redact(f"Basic {credential}; user alice:pa55word; pa55word") == (
        "Basic ***; user ***; ***")


def test_text_without_a_secret_is_unchanged_and_short_values_are_not_secrets() -> None:
    redact = Redactor(["s3cr3t-token", "abc"])
    text = 'abc {"x": "s3cr3t-toke", "y": "%20+&amp;\\n"} \x00 é'
    assert redact(text) == text
    assert Redactor([]).data({"a": ("b",)}) == {"a": ("b",)}


def test_data_keeps_values_without_a_secret_as_they_are() -> None:
    redact = Redactor(["s3cr3t-token"])
    body = {"items": [{"id": n, "name": f"item {n}"} for n in range(100)]}
    assert redact.data(body) is body
    leaked = {"items": [{"id": 1, "s3cr3t-token": ["Bearer s3cr3t-token"]}]}
    assert redact.data(leaked) == {"items": [{"id": 1, "***": ["Bearer ***"]}]}


def test_one_character_takes_at_most_widest_characters_in_any_form() -> None:
    import re._parser as parser  # (the engine's own measure of a pattern)

    for code in [*range(0x250), 0x20AC, 0x1F600, 0x2028, 0xFFFF]:
        assert parser.parse(_group(_char(chr(code)))).getwidth()[1] <= WIDEST


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=4, max_size=12),
       st.text(max_size=30), st.integers(1, 60), st.integers(0, 3))
def test_a_cut_shows_what_redacting_everything_shows(secret: str, before: str, limit: int,
                                                     times: int) -> None:
    """Values are cut after redaction, far enough past the cut that a secret across it is
    seen whole: the cut text is the start of the whole text, redacted."""
    redact = Redactor([secret])
    value = {"k": before + secret * times + "!" * 50, "more": list(range(200))}
    whole = printable(redact(json.dumps(value, ensure_ascii=False, separators=(",", ":"))))
    shown = shown_json(value, limit, redact)
    assert shown == (whole if len(whole) <= limit else whole[: limit - 1] + "…")


def test_body_lines_are_bounded_and_lazy() -> None:
    redact = Redactor(["s3cr3t-token"])
    body = [{"id": n, "token": "s3cr3t-token"} for n in range(1_000_000)]
    started = time.perf_counter()
    lines, more = body_lines(body, redact, lines=40, width=30)
    assert time.perf_counter() - started < 1  # (all 5 million lines would take seconds)
    assert len(lines) == 40 and more
    assert lines[3] == ('    "token": "***"', ("body", 0, "token"))
    deep: object = 1
    for _ in range(5000):  # deeper than Python's recursion limit
        deep = [deep]
    lines, more = body_lines(deep, redact, lines=10_001, width=20_000)
    assert len(lines) == 10_001 and not more and lines[5000][0].strip() == "1"
    assert body_lines("x" * 100, redact, lines=5, width=10) == ([("xxxxxxxxx…", ("body",))],
                                                                 False)


def test_redacting_50_mb_of_text_takes_seconds_not_minutes() -> None:
    redact = Redactor(SECRETS)
    text = json.dumps([{"id": n, "name": f"item {n}", "u": "%20+&amp;\\n\"'<"}
                       for n in range(100_000)])  # 6 MB
    started = time.perf_counter()
    assert redact(text) == text
    assert time.perf_counter() - started < 5  # about 0.5 s
