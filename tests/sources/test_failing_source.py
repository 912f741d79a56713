"""A source that times out, errs, sends garbage or stalls half-way through its answer: the other
sources and the rules carry on, the failing one is backed off, and what was known stays known."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest
from aiohttp import web
from parcel_monitor_plugins.cainiao import CainiaoSettings, CainiaoSource
from parcel_monitor_plugins.replay import ReplaySource

from monitor.clock import SimulatedClock
from monitor.events import SourceFailed, SourceRecovered, WarningRaised
from monitor.model import Order, Status
from monitor.pipeline import Pipeline
from monitor.plugin import SourceContext
from monitor.rules.base import RuleSettings
from monitor.scenario import parse_scenario
from monitor.store import SourceCursors, Store

from .conftest import HANG
from .test_cainiao import FakeCainiao, module, trace

MSK = timezone(timedelta(hours=3))
T0 = datetime(2026, 5, 1, 12, tzinfo=MSK)
LP, RB = "LP00512345678901", "RB102030405CN"


async def stalled_body(request: web.Request) -> web.StreamResponse:
    """Headers and half a JSON document, then nothing more."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    await response.write(b'{"module": [{"mailNo": "LP0051234')
    await request.app[HANG].wait()
    return response


class StallingCainiao(FakeCainiao):
    def __init__(self) -> None:
        super().__init__()
        self.stall = False

    async def detail(self, request: web.Request) -> web.Response:
        if self.stall:
            return await stalled_body(request)  # type: ignore[return-value]
        return await super().detail(request)


FAILURES: dict[str, Callable[[StallingCainiao], None]] = {
    "timeout": lambda fake: setattr(fake, "hanging", True),
    "http 500": lambda fake: setattr(fake, "override", web.Response(status=500, text="oops")),
    "garbage": lambda fake: setattr(
        fake, "override", web.Response(text="<html>captcha</html>", content_type="text/html")
    ),
    "stalls half-way": lambda fake: setattr(fake, "stall", True),
}


@pytest.mark.parametrize("failure", FAILURES)
async def test_one_failing_source_does_not_stop_the_rest(
    failure: str, serve: Callable[[web.Application], Awaitable[str]]
) -> None:
    fake = StallingCainiao()
    app = fake.app()
    base = await serve(app)
    fake.modules[LP] = module(LP, [trace("LH_DEPART", T0 + timedelta(days=1), "GMT+8", "Departed")])
    scenario = parse_scenario(
        {
            "order": {"id": "B", "ordered_at": T0.isoformat(), "track": RB},
            "timeline": [
                {
                    "at": (T0 + timedelta(days=1)).isoformat(),
                    "events": [
                        {
                            "at": (T0 + timedelta(days=1)).isoformat(),
                            "status": "in_transit",
                            "text": "x",
                        }
                    ],
                },
                {
                    "at": (T0 + timedelta(days=3)).isoformat(),
                    "events": [
                        {
                            "at": (T0 + timedelta(days=3)).isoformat(),
                            "status": "delivered",
                            "text": "y",
                        }
                    ],
                },
            ],
            "end": (T0 + timedelta(days=9)).isoformat(),
        }
    )
    clock = SimulatedClock(T0)
    store = Store.open(":memory:")
    async with aiohttp.ClientSession() as session:

        def context(name: str, **extra: object) -> SourceContext:
            return SourceContext(
                clock=clock, http=lambda: session, cursors=SourceCursors(store, name), extra=extra
            )

        cainiao_settings = CainiaoSettings(base_url=base, timeout="1s")
        replay_settings = ReplaySource.Settings()
        pipeline = Pipeline.build(
            store=store,
            clock=clock,
            rules=RuleSettings(),
            sources={
                "replay": (
                    ReplaySource(replay_settings, context("replay", scenarios=[scenario])),
                    replay_settings,
                ),
                "cainiao": (CainiaoSource(cainiao_settings, context("cainiao")), cainiao_settings),
            },
        )
        seen: list[str] = []
        pipeline.bus.subscribe(SourceFailed, lambda e: seen.append("SourceFailed"))
        pipeline.bus.subscribe(SourceRecovered, lambda e: seen.append("SourceRecovered"))
        pipeline.bus.subscribe(WarningRaised, lambda e: seen.append(e.alert.rule))
        pipeline.orders.add(Order(id="A", ordered_at=T0, tracks=(LP,)))
        pipeline.orders.add(Order(id="B", ordered_at=T0, tracks=(RB,)))

        clock.set(T0 + timedelta(days=2))
        await pipeline.poller.poll_all()
        assert store.get_view("A").tracking.status is Status.IN_TRANSIT  # type: ignore[union-attr]

        FAILURES[failure](fake)
        for day in (4, 5, 6):
            clock.set(T0 + timedelta(days=day))
            async with asyncio.timeout(10):
                await pipeline.poller.poll_all()
            pipeline.tick()
        health = pipeline.poller.health["cainiao"]
        assert not health.healthy and health.failures == 3
        assert pipeline.poller.next_delay("cainiao") <= 6 * 3600  # backoff, capped
        assert store.get_view("A").tracking.status is Status.IN_TRANSIT  # type: ignore[union-attr]
        assert store.get_view("B").tracking.status is Status.DELIVERED  # type: ignore[union-attr]
        assert sorted(seen) == ["SourceFailed", "delivered"]  # failed once; the rules went on

        fake.hanging, fake.override, fake.stall = False, None, False
        app[HANG].set()
        clock.set(T0 + timedelta(days=7))
        await pipeline.poller.poll_all()
        assert pipeline.poller.health["cainiao"].healthy
        assert seen[2:] == ["SourceRecovered"]
    store.close()
