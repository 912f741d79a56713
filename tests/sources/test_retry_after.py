"""A source that says "come back in an hour" (HTTP 429 + Retry-After) is not asked again sooner."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from parcel_monitor_plugins.seventeentrack import SeventeenTrackSettings, SeventeenTrackSource

from monitor.clock import SimulatedClock
from monitor.model import Order
from monitor.pipeline import Pipeline
from monitor.plugin import SourceContext
from monitor.rules.base import RuleSettings
from monitor.store import SourceCursors, Store
from monitor.tracking.poller import MAX_RETRY_AFTER_S
from tests.conftest import at

from .test_seventeentrack import KEY, Fake17Track

T0 = at("2026-03-01T10:00:00+03:00")
NUMBER = "RB102030405CN"


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"Retry-After": "3600"}, 3600.0),
        (
            {
                "Retry-After": "Sun, 01 Mar 2026 08:00:00 GMT",
                "Date": "Sun, 01 Mar 2026 07:30:00 GMT",
            },
            1800.0,
        ),
        ({"Retry-After": "99999999"}, MAX_RETRY_AFTER_S),
    ],
)
async def test_retry_after_sets_the_next_poll(
    serve: Callable[[web.Application], Awaitable[str]], headers: dict[str, str], wait: float
) -> None:
    fake = Fake17Track()
    base = await serve(fake.app())
    clock = SimulatedClock(T0)
    store = Store.open(":memory:")
    async with aiohttp.ClientSession() as session:
        settings = SeventeenTrackSettings(api_key=KEY, base_url=base, requests_per_second=1000)
        context = SourceContext(
            clock=clock, http=lambda: session, cursors=SourceCursors(store, "seventeentrack")
        )
        pipeline = Pipeline.build(
            store=store,
            clock=clock,
            rules=RuleSettings(),
            sources={"seventeentrack": (SeventeenTrackSource(settings, context), settings)},
        )
        pipeline.orders.add(Order(id="A", ordered_at=T0, tracks=(NUMBER,)))

        fake.override = web.json_response({"code": 429}, status=429, headers=headers)
        await pipeline.poller.poll_source("seventeentrack")
        health = pipeline.poller.health["seventeentrack"]
        assert not health.healthy and "too many requests" in health.last_error
        for _ in range(20):  # the backoff's random draw never goes below what was asked
            assert pipeline.poller.next_delay("seventeentrack") >= wait
        assert pipeline.poller.next_delay("seventeentrack") <= max(wait, 60.0)

        fake.override = None
        clock.set(T0 + timedelta(seconds=wait))
        await pipeline.poller.poll_source("seventeentrack")
        assert not health.healthy  # a snapshot: what was so when it was taken
        health = pipeline.poller.health["seventeentrack"]
        assert health.healthy and health.retry_after is None
        assert pipeline.poller.next_delay("seventeentrack") <= 6 * 3600 * 1.1  # poll_every again
    store.close()
