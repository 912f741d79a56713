"""The built-in mail readers against the project's own corpus (tests/mail/corpus, synthetic
mails written for these tests), table-driven: each mail with what must be extracted from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.mail.message import html_to_text, parse_mail
from monitor.mail.reader import load_readers

CORPUS = Path(__file__).parent / "corpus"
EXPECTED: dict[str, dict[str, object]] = json.loads((CORPUS / "expected.json").read_text())


def test_every_corpus_mail_has_an_expectation_and_back() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_mail_extracts_what_it_says(name: str) -> None:
    mail = parse_mail((CORPUS / name).read_bytes())
    reader = next(r for r in load_readers() if r.reads(mail))
    found = [f.summary() for f in reader.read(mail)]
    assert {"reader": reader.name, "found": found} == EXPECTED[name]


def test_traps_extract_nothing() -> None:
    traps = [name for name in EXPECTED if name.startswith("trap-")]
    assert len(traps) >= 4 and all(EXPECTED[name]["found"] == [] for name in traps)


def test_the_corpus_covers_html_plain_quoted_printable_and_base64() -> None:
    raw = b"".join(p.read_bytes() for p in CORPUS.glob("*.eml"))
    for marker in (
        b"Content-Transfer-Encoding: base64",
        b"Content-Transfer-Encoding: quoted-printable",
        b"Content-Type: text/html",
        b"Content-Type: text/plain",
        b"multipart/alternative",
    ):
        assert marker in raw, marker


def test_html_blocks_become_lines_and_scripts_vanish() -> None:
    text, links = html_to_text(
        "<style>p{}</style><p>TRACKING NUMBER :</p><p><b>RB123456785CN</b></p>"
        '<script>var x = "RA987654326CN";</script><a href="https://a.example/?orderId=1&amp;b">x</a>'
    )
    assert text.splitlines() == ["TRACKING NUMBER :", "RB123456785CN", "x"]
    assert links == ["https://a.example/?orderId=1&b"]


def test_a_mail_without_message_id_is_named_by_its_bytes() -> None:
    raw = b"From: a@b.example\r\nSubject: hi\r\n\r\nTracking number: RB123456785CN\r\n"
    first, again = parse_mail(raw), parse_mail(raw)
    assert first.message_id == again.message_id and first.message_id.endswith(".invalid>")
    assert parse_mail(raw + b"x").message_id != first.message_id


@pytest.mark.parametrize(
    "written",
    [
        "RA 5551 2345 3CN",
        "RA-5551-2345-3CN",
        "RA 555 123 453 CN 7",
        "8008 1234 5678 93",
        "RA555123453CN",
    ],
)
def test_the_generic_reader_takes_numbers_written_with_spaces(written: str) -> None:
    raw = f"From: s@shop.example\r\nSubject: x\r\n\r\nTracking number: {written}\r\n".encode()
    (finding,) = next(r for r in load_readers() if r.name == "generic").read(parse_mail(raw))
    assert finding.tracks[0].number in ("RA555123453CN", "80081234567893")


def test_spaced_numbers_with_a_wrong_check_digit_stay_out() -> None:
    raw = b"From: s@shop.example\r\nSubject: x\r\n\r\nTracking number: RA 5551 2345 4CN\r\n"
    assert next(r for r in load_readers() if r.name == "generic").read(parse_mail(raw)) == []
