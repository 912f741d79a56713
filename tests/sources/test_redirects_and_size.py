"""What a carrier's server may not do to us: send our credentials elsewhere with a redirect, or
drown the daemon in an answer of a hundred megabytes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from parcel_monitor_plugins.cainiao import CainiaoSettings, CainiaoSource
from parcel_monitor_plugins.replay import ReplaySource
from structlog.testing import capture_logs

from monitor.clock import SimulatedClock
from monitor.model import Order, Status
from monitor.pipeline import Pipeline
from monitor.plugin import SourceContext, SourceError
from monitor.rules.base import RuleSettings
from monitor.scenario import parse_scenario
from monitor.sourcekit import request
from monitor.store import SourceCursors, Store

from . import test_russianpost as rp
from . import test_seventeentrack as st
from .test_cainiao import FakeCainiao, module, trace

Serve = Callable[[web.Application], Awaitable[str]]


class Spy:
    """Another origin: records everything that reaches it."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, str], bytes]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.any)
        return app

    async def any(self, request: web.Request) -> web.Response:
        self.seen.append((request.path, dict(request.headers), await request.read()))
        return web.json_response({"code": 0, "data": {"accepted": [], "rejected": []}})


def redirector(to: str, status: int) -> web.Application:
    async def move(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": f"{to}{request.path_qs}"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", move)
    return app


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_17track_key_never_follows_a_redirect_to_another_origin(
    serve: Serve, context: SourceContext, status: int
) -> None:
    spy = Spy()
    other = await serve(spy.app())  # another port: another origin
    source = st.make_source(context, base_url=await serve(redirector(other, status)))
    with pytest.raises(SourceError) as caught:
        await source.lookup(["RB102030405CN"])
    assert spy.seen == []
    assert "redirected to another server" in caught.value.reason
    assert other in caught.value.reason and st.KEY not in caught.value.reason


async def test_russian_post_password_never_follows_a_redirect_to_another_origin(
    serve: Serve, context: SourceContext
) -> None:
    spy = Spy()
    other = await serve(spy.app())
    source = rp.make_source(context, base_url=await serve(redirector(other, 308)))
    with pytest.raises(SourceError, match="redirected to another server"):
        await source.lookup([rp.DOMESTIC])
    assert spy.seen == []


async def test_a_redirect_within_the_origin_is_followed_with_the_credentials(
    serve: Serve, context: SourceContext
) -> None:
    fake = st.Fake17Track()
    app = fake.app()

    async def moved(request: web.Request) -> web.Response:
        return web.Response(status=308, headers={"Location": "/track/v2.2/register"})

    app.router.add_post("/old/register", moved)
    base = await serve(app)
    async with aiohttp.ClientSession() as http:
        reply = await request(
            http,
            "POST",
            f"{base}/old/register",
            service="17TRACK",
            time_limit=timedelta(seconds=5),
            headers={"17token": st.KEY},
            json_body=[{"number": "RB102030405CN"}],
        )
    assert reply.ok
    assert fake.registered == {"RB102030405CN"}


async def test_a_redirect_loop_is_a_clear_failure(serve: Serve) -> None:
    async def again(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/loop"})

    app = web.Application()
    app.router.add_get("/loop", again)
    base = await serve(app)
    async with aiohttp.ClientSession() as http:
        with pytest.raises(SourceError, match="redirected more than"):
            await request(http, "GET", f"{base}/loop", service="X", time_limit=timedelta(seconds=5))


# --- answer size ---------------------------------------------------------------------------

MSK = timezone(timedelta(hours=3))
T0 = datetime(2026, 5, 1, 12, tzinfo=MSK)
LP, RB = "LP00512345678901", "RB102030405CN"


def huge_body(events: int) -> bytes:
    details = [
        trace("LH_DEPART", T0 + timedelta(minutes=i), "GMT+8", f"Departed {i}")
        for i in range(events)
    ]
    return json.dumps({"module": [module(LP, details)], "success": True}).encode()


class HugeCainiao(FakeCainiao):
    """Streams `body` in chunks, without Content-Length (as a chunked answer comes)."""

    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.body = body
        self.sent = 0

    async def detail(self, request: web.Request) -> web.Response:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for start in range(0, len(self.body), 256 * 1024):
                await response.write(self.body[start : start + 256 * 1024])
                self.sent = start
        except (ConnectionError, aiohttp.ClientError):
            pass  # the client hung up, as it should
        return response  # type: ignore[return-value]


class LoopLag:
    """The longest time the event loop took to come back to a task that asked for 5 ms."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._asked = time.perf_counter()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self._asked = time.perf_counter()
            await asyncio.sleep(0.005)
            self._record()

    def _record(self) -> None:
        self.worst = max(self.worst, time.perf_counter() - self._asked - 0.005)

    async def __aenter__(self) -> LoopLag:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self._record()  # a stall just before the end counts too


@pytest.fixture
async def pipeline_with(
    serve: Serve,
) -> AsyncIterator[Callable[[FakeCainiao, dict[str, Any]], Awaitable[Pipeline]]]:
    store = Store.open(":memory:")
    clock = SimulatedClock(T0 + timedelta(days=2))
    session = aiohttp.ClientSession()

    async def build(fake: FakeCainiao, settings: dict[str, Any]) -> Pipeline:
        def context(name: str, **extra: object) -> SourceContext:
            return SourceContext(
                clock=clock, http=lambda: session, cursors=SourceCursors(store, name), extra=extra
            )

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
                    }
                ],
                "end": (T0 + timedelta(days=9)).isoformat(),
            }
        )
        cainiao = CainiaoSettings(base_url=await serve(fake.app()), **settings)
        replay = ReplaySource.Settings()
        pipeline = Pipeline.build(
            store=store,
            clock=clock,
            rules=RuleSettings(),
            sources={
                "replay": (ReplaySource(replay, context("replay", scenarios=[scenario])), replay),
                "cainiao": (CainiaoSource(cainiao, context("cainiao")), cainiao),
            },
        )
        pipeline.orders.add(Order(id="A", ordered_at=T0, tracks=(LP,)))
        pipeline.orders.add(Order(id="B", ordered_at=T0, tracks=(RB,)))
        return pipeline

    yield build
    await session.close()
    store.close()


async def test_an_answer_over_the_size_limit_is_refused_and_the_rest_carries_on(
    pipeline_with: Callable[[FakeCainiao, dict[str, Any]], Awaitable[Pipeline]],
) -> None:
    body = huge_body(60_000)  # about 15 MB, three times the default limit
    fake = HugeCainiao(body)
    pipeline = await pipeline_with(fake, {})
    with capture_logs() as logs:
        async with LoopLag() as lag:
            async with asyncio.timeout(20):
                await pipeline.poller.poll_all()
    health = pipeline.poller.health["cainiao"]
    assert not health.healthy
    assert "over the limit of 5 MB" in health.last_error
    assert fake.sent + 256 * 1024 < len(body)  # reading stopped at the limit
    failed = [entry for entry in logs if entry["event"] == "monitor.tracking.source_failed"]
    assert len(failed) == 1 and "max_answer_size" in failed[0]["reason"]
    assert pipeline.poller.health["replay"].healthy
    assert pipeline.store.get_view("B").tracking.status is Status.IN_TRANSIT  # type: ignore[union-attr]
    print(f"worst loop lag {lag.worst:.3f}s")
    assert lag.worst < 0.5, f"the event loop stalled for {lag.worst:.2f}s"


async def test_a_big_allowed_answer_is_parsed_off_the_loop_and_its_checkpoints_capped(
    pipeline_with: Callable[[FakeCainiao, dict[str, Any]], Awaitable[Pipeline]],
) -> None:
    body = huge_body(40_000)  # about 10 MB; parsing on the loop stalls it for most of a second
    fake = FakeCainiao()
    fake.override = web.Response(body=body, content_type="application/json")
    pipeline = await pipeline_with(fake, {"max_answer_size": "20MB", "max_checkpoints": 300})
    started = time.perf_counter()
    async with LoopLag() as lag:
        async with asyncio.timeout(30):
            await pipeline.poller.poll_all()
    took = time.perf_counter() - started
    assert pipeline.poller.health["cainiao"].healthy
    store = pipeline.store
    kept = store.checkpoints([LP])[LP]
    assert len(kept) == 300
    assert kept[-1].text.endswith("Departed 39999")  # the newest are the ones kept
    print(f"worst loop lag {lag.worst:.3f}s of {took:.3f}s")
    # Parsing is most of the poll's time; on the loop, the loop would wait for all of it.
    assert lag.worst < took / 2, f"the event loop stalled for {lag.worst:.2f}s of {took:.2f}s"
