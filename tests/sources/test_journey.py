"""A whole parcel journey through the daemon's own assembly, against local carrier servers:
Cainiao number → hand-over → Russian Post number → at the post office → delivered."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from aiohttp import web

from monitor.clock import SimulatedClock
from monitor.config import load_settings
from monitor.daemon import assemble
from monitor.events import WarningRaised
from monitor.model import Order, Status

from .test_cainiao import FakeCainiao, module, trace
from .test_russianpost import LOGIN, PASSWORD, FakeRussianPost, Operation

MSK = timezone(timedelta(hours=3))
LP = "LP00698765432101"
RU = "80097612345670"  # a valid Russian Post number


def day(d: int, hour: int = 12) -> datetime:
    return datetime(2026, 10, d, hour, tzinfo=MSK)


async def test_cainiao_hands_over_to_russian_post_and_the_right_warnings_follow(
    tmp_path: Path, serve: Callable[[web.Application], Awaitable[str]]
) -> None:
    cainiao, post = FakeCainiao(), FakeRussianPost()
    config = tmp_path / "config.toml"
    config.write_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        f'[sources.cainiao]\nbase_url = "{await serve(cainiao.app())}"\n'
        f'[sources.russianpost]\nbase_url = "{await serve(post.app())}"\n'
        f'login = "{LOGIN}"\npassword = "{PASSWORD}"\n'
    )
    settings, path = load_settings(config)
    clock = SimulatedClock(day(1))
    running = assemble(settings, str(path), clock=clock)
    pipeline = running.pipeline
    warnings: list[str] = []
    pipeline.bus.subscribe(WarningRaised, lambda e: warnings.append(e.alert.rule))
    pipeline.start()
    pipeline.orders.add(
        Order(
            id="5004417700000777",
            ordered_at=day(1),
            tracks=(LP,),
            protection_until=day(1) + timedelta(days=75),
        )
    )

    async def at(when: datetime) -> None:
        clock.set(when)
        await pipeline.poller.poll_all()
        pipeline.tick()

    try:
        cainiao.modules[LP] = module(
            LP,
            [
                trace("CC_IM_START", day(14, 7), "GMT+3", "Import customs clearance started"),
                trace("LH_DEPART", day(6, 9), "GMT+8", "Departed from origin hub"),
                trace("GWMS_ACCEPT", day(3, 8), "GMT+8", "Order received by warehouse"),
            ],
        )
        await at(day(15))
        assert pipeline.store.get_view("5004417700000777").tracking.status is Status.CUSTOMS

        cainiao.modules[LP] = {**cainiao.modules[LP], "realMailNo": RU}
        post.histories[RU] = [Operation(1, 1, day(16, 9).isoformat(), "101000", "Москва")]
        await at(day(16, 18))  # the hand-over is seen ...
        await at(day(17))  # ... and the new number polled
        view = pipeline.store.get_view("5004417700000777")
        assert view.order.tracks == (LP, RU) and view.tracking.status is Status.IN_TRANSIT

        post.histories[RU].append(Operation(8, 2, day(22, 8).isoformat(), "160000", "Вологда"))
        for d in range(22, 29):
            await at(day(d, 18))
        assert warnings == ["stuck_at_post_office"]

        post.histories[RU].append(Operation(2, 1, day(29, 11).isoformat(), "160000", "Вологда"))
        await at(day(29, 18))
        await at(day(30, 18))
        assert warnings == ["stuck_at_post_office", "delivered"]
        assert len(post.requests) < 20  # the daily budget is spent on this number only
    finally:
        await running.aclose()


async def test_track_json_looks_a_number_up_through_base_url(
    tmp_path: Path, serve: Callable[[web.Application], Awaitable[str]]
) -> None:
    cainiao = FakeCainiao()
    cainiao.modules[LP] = module(
        LP,
        [
            trace("GTMS_STA_SIGNED", day(20, 10), "GMT+3", "Arrived at pickup point"),
            trace("GWMS_ACCEPT", day(3, 8), "GMT+8", "Order received by warehouse"),
        ],
        globalEtaInfo={"deliveryMinTime": 1793000000000, "deliveryMaxTime": 1793500000000},
    )
    base = await serve(cainiao.app())

    async def track(*args: str) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "monitor",
            "track",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={
                "PARCEL_MONITOR_SOURCES__CAINIAO__BASE_URL": base,
                "PARCEL_MONITOR_STATE_DIR": str(tmp_path),
                "PATH": "/usr/bin:/bin",
                "XDG_CONFIG_HOME": str(tmp_path),
            },
        )
        out, err = await proc.communicate()
        return proc.returncode or 0, out.decode(), err.decode()

    code, out, err = await track(LP, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert (data["number"], data["source"], data["status"]) == (LP, "cainiao", "at_post_office")
    assert [e["status"] for e in data["events"]] == ["info_received", "at_post_office"]
    assert data["events"][0]["at"] == "2026-10-03T13:00:00+08:00"  # in the scan's own zone
    assert data["eta"] is not None and len(data["eta"]) == 2

    code, out, _ = await track("LP00000000000000", "--json")
    assert code == 0 and json.loads(out)["status"] == "not_found"

    cainiao.override = web.Response(status=503, text="<html>busy</html>", content_type="text/html")
    code, out, err = await track(LP, "--json")
    assert code == 1 and out == "" and "cainiao" in err
