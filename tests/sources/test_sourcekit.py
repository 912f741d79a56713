"""The shared helpers: base URLs, the rate limiter, HTTP error translation."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from monitor.model import Snapshot, Status
from monitor.plugin import SourceError
from monitor.sourcekit import (
    HttpReply,
    ParseCache,
    PayloadError,
    RateLimiter,
    as_list,
    as_object,
    as_text,
    decode_json,
    fetch_json,
    fingerprint,
    http_error,
    retry_after,
    validate_base_url,
)

from .conftest import NOW, new_app


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://api.17track.net", "https://api.17track.net"),
        ("https://api.17track.net/", "https://api.17track.net"),
        ("  http://127.0.0.1:8080 ", "http://127.0.0.1:8080"),
        ("HTTPS://Example.COM", "https://example.com"),
    ],
)
def test_good_base_urls(given: str, expected: str) -> None:
    assert validate_base_url(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        "api.17track.net",
        "ftp://example.com",
        "https://",
        "https://example.com/api",
        "https://example.com?x=1",
        "https://example.com#top",
        "https://user:secret@example.com",
        "https://example.com:99999",
        "",
    ],
)
def test_bad_base_urls(given: str) -> None:
    with pytest.raises(ValueError, match="scheme://host"):
        validate_base_url(given)


class FakeTime:
    """A monotonic clock that only `sleep` moves, and a record of the sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_rate_limiter_spaces_calls_evenly() -> None:
    time = FakeTime()
    limiter = RateLimiter(3, time.monotonic, time.sleep)
    for _ in range(4):
        await limiter.wait()
    assert time.sleeps == pytest.approx([1 / 3] * 3)
    assert time.now == pytest.approx(101.0)


async def test_rate_limiter_does_not_wait_after_a_pause() -> None:
    time = FakeTime()
    limiter = RateLimiter(3, time.monotonic, time.sleep)
    await limiter.wait()
    time.now += 5  # time passed doing something else
    await limiter.wait()
    assert time.sleeps == []


def test_rate_limiter_needs_a_positive_rate() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(0, FakeTime().monotonic)


def reply(status: int = 200, body: bytes = b"", **headers: str) -> HttpReply:
    return HttpReply(status, {k.replace("_", "-"): v for k, v in headers.items()}, body)


def test_retry_after_forms() -> None:
    assert retry_after(reply(429, Retry_After="30")) == 30
    dated = reply(
        503, Retry_After="Fri, 01 Mar 2024 12:02:00 GMT", Date="Fri, 01 Mar 2024 12:00:00 GMT"
    )
    assert retry_after(dated) == 120
    assert retry_after(reply(503, Retry_After="Fri, 01 Mar 2024 12:02:00 GMT")) is None
    assert retry_after(reply(429, Retry_After="soon")) is None
    assert retry_after(reply(429)) is None


async def test_fetch_json_reads_headers_case_insensitively(
    serve: Any, http: aiohttp.ClientSession
) -> None:
    async def busy(request: web.Request) -> web.Response:
        return web.Response(status=429, headers={"retry-after": "3"})

    async def fine(request: web.Request) -> web.Response:
        return web.json_response({"query": dict(request.query)})

    app = new_app()
    app.router.add_get("/busy", busy)
    app.router.add_get("/fine", fine)
    base = await serve(app)
    with pytest.raises(SourceError, match="too many requests") as caught:
        await fetch_json(http, "GET", f"{base}/busy", service="X", time_limit=timedelta(seconds=5))
    assert caught.value.retry_after == 3
    answer = await fetch_json(
        http, "GET", f"{base}/fine", service="X", time_limit=timedelta(seconds=5),
        params={"mailNos": "A1,B2"},
    )  # fmt: skip
    assert answer == {"query": {"mailNos": "A1,B2"}}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, "refused the credentials"),
        (403, "refused the credentials"),
        (429, "too many requests"),
        (500, "server error"),
        (404, "answered HTTP 404"),
    ],
)
def test_http_error_reasons(status: int, expected: str) -> None:
    error = http_error(reply(status), "Carrier", detail="why")
    assert expected in error.reason
    assert error.reason.endswith(": why")


def test_decode_json() -> None:
    assert decode_json(reply(body=b'{"a": 1}'), "Carrier") == {"a": 1}
    with pytest.raises(SourceError, match="HTML page"):
        decode_json(reply(body=b"  <html><body>captcha</body></html>"), "Carrier")
    with pytest.raises(SourceError, match="HTML page"):
        decode_json(reply(body=b"{}", Content_Type="text/html; charset=utf-8"), "Carrier")
    with pytest.raises(SourceError, match="invalid JSON"):
        decode_json(reply(body=b"\xff\xfe{"), "Carrier")


def test_payload_accessors() -> None:
    assert as_object({"a": 1}, "x") == {"a": 1}
    assert as_list(None, "x") == []
    assert as_text("  padded ") == "padded"
    assert as_text(12) == "12"
    assert as_text(True) == ""
    assert as_text(None) == ""
    with pytest.raises(PayloadError, match="x should be an object, got list"):
        as_object([], "x")
    with pytest.raises(PayloadError, match="x should be a list, got dict"):
        as_list({}, "x")


def test_parse_cache_parses_an_answer_once_and_marks_the_snapshot() -> None:
    parsed: list[str] = []

    def parser(number: str, raw: Any, fetched_at: datetime) -> Snapshot:
        parsed.append(raw)
        return Snapshot(number, "carrier", Status(raw), fetched_at)

    cache = ParseCache()
    first = cache.parse("N1", "in_transit", NOW, parser, "mark-1")
    later = NOW + timedelta(hours=1)
    again = cache.parse("N1", "in_transit", later, parser, "mark-1")
    assert parsed == ["in_transit"]
    assert first == Snapshot("N1", "carrier", Status.IN_TRANSIT, NOW, fingerprint="mark-1")
    assert again == replace(first, fetched_at=later)
    moved = cache.parse("N1", "delivered", later, parser)  # no mark: the answer's fingerprint
    assert (moved.status, moved.fingerprint) == (Status.DELIVERED, fingerprint("delivered"))
    assert parsed == ["in_transit", "delivered"]


def test_parse_cache_takes_a_snapshot_the_parser_marked_itself() -> None:
    def parser(number: str, raw: Any, fetched_at: datetime) -> Snapshot:
        return Snapshot(number, "carrier", Status.IN_TRANSIT, fetched_at, fingerprint=raw)

    assert ParseCache().parse("N1", "mark-1", NOW, parser, "mark-1").fingerprint == "mark-1"
    assert ParseCache().parse("N1", "other", NOW, parser, "mark-1").fingerprint == "mark-1"
