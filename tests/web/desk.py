"""A daemon's HTTP face with the dashboard mounted, over a real store filled by the real pipeline:
five orders in different states, their histories written by the differ from snapshots, and
warnings raised by the rules on a simulated clock (so the ETA history spans weeks)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web

from monitor.clock import SimulatedClock
from monitor.health import Health
from monitor.model import Checkpoint, EtaWindow, Order, Snapshot, Status
from monitor.notify.texts import Language
from monitor.pipeline import Pipeline
from monitor.rules.base import RuleSettings
from monitor.store import Store
from monitor.web import dashboard
from monitor.web.api import build_app
from monitor.web.server import HttpServer
from monitor.web.throttle import Throttle

TOKEN = "desk-token-7f3a-9c21"
READ_TOKEN = "desk-read-token-5e0b"
START = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 2, 26, 12, 0, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Moscow")
LAMP, CABLE, CASE, LIGHT, SOCKS = (
    "8100000000000001",
    "8100000000000002",
    "8100000000000003",
    "8100000000000004",
    "8100000000000005",
)


@dataclass
class Desk:
    pipeline: Pipeline
    clock: SimulatedClock
    base: str

    def advance(self, days: float) -> None:
        self.clock.set(self.clock.now() + timedelta(days=days))


def _cp(days: float, status: Status, text: str, place: str = "") -> Checkpoint:
    return Checkpoint(at=START + timedelta(days=days), status=status, text=text, location=place)


def _snap(
    number: str,
    source: str,
    status: Status,
    *checkpoints: Checkpoint,
    eta: tuple[str, str] | None = None,
    at: datetime,
) -> Snapshot:
    window = EtaWindow(date.fromisoformat(eta[0]), date.fromisoformat(eta[1])) if eta else None
    return Snapshot(
        number=number,
        source=source,
        status=status,
        fetched_at=at,
        checkpoints=checkpoints,
        eta=window,
    )


def fill(pipeline: Pipeline, clock: SimulatedClock) -> None:
    """Weeks of a buyer's life, played on the simulated clock."""
    book, differ = pipeline.orders, pipeline.differ

    def order(order_id: str, title: str, track: str | None, protection_days: int) -> None:
        book.add(
            Order(
                id=order_id,
                ordered_at=START,
                title=title,
                shop="Brightlight Store",
                tracks=(track,) if track else (),
                protection_until=START + timedelta(days=protection_days),
                promised_by=date(2026, 2, 25) if order_id == LAMP else None,
            )
        )

    order(LAMP, "Desk lamp", "LP00123456789012", 55)
    order(CABLE, "USB-C cable", None, 75)
    order(CASE, "Phone case", "RB123456785CN", 60)
    order(LIGHT, "Bike light", "RA987654321CN", 48)
    order(SOCKS, "Wool socks", "LP00987654321098", 70)
    transit = [
        _cp(2, Status.INFO_RECEIVED, "Electronic information received", "Shenzhen"),
        _cp(4, Status.IN_TRANSIT, "Departed from sorting center", "Shenzhen"),
    ]
    for step, (day, eta) in enumerate(
        [
            (5, ("2026-02-01", "2026-02-10")),
            (14, ("2026-02-08", "2026-02-18")),
            (24, ("2026-02-15", "2026-02-27")),
            (33, ("2026-02-22", "2026-03-06")),
        ]
    ):
        clock.set(START + timedelta(days=day))
        moves = transit + [
            _cp(4 + 9 * i, Status.IN_TRANSIT, "Arrived at transit hub", "Ürümqi")
            for i in range(1, step + 1)
        ]
        differ.apply(
            [
                _snap(
                    "LP00123456789012",
                    "cainiao",
                    Status.IN_TRANSIT,
                    *moves,
                    eta=eta,
                    at=clock.now(),
                )
            ]
        )
        delivered = [
            *transit,
            _cp(15, Status.AT_POST_OFFICE, "Arrived at the post office", "Moscow 101000"),
            _cp(17, Status.DELIVERED, "Delivered to the addressee", "Moscow 101000"),
        ]
        seen = delivered[: 2 + step]
        differ.apply(
            [_snap("RB123456785CN", "russianpost", seen[-1].status, *seen, at=clock.now())]
        )
    clock.set(START + timedelta(days=38))
    differ.apply(
        [
            _snap(
                "RA987654321CN",
                "russianpost",
                Status.AT_POST_OFFICE,
                *transit,
                _cp(30, Status.CUSTOMS, "Customs clearance", "Moscow"),
                _cp(35, Status.AT_POST_OFFICE, "Arrived at the post office", "Kazan 420111"),
                at=clock.now(),
            ),
            _snap(
                "LP00987654321098",
                "cainiao",
                Status.IN_TRANSIT,
                *transit,
                eta=("2026-02-20", "2026-03-01"),
                at=clock.now(),
            ),
        ]
    )
    for day in range(39, 48):
        clock.set(START + timedelta(days=day))
        pipeline.tick()
    clock.set(NOW)
    pipeline.tick()


def build(tmp_path: Path) -> tuple[Pipeline, SimulatedClock]:
    clock = SimulatedClock(START)
    store = Store.open(tmp_path / "parcel-monitor.db")
    pipeline = Pipeline.build(store=store, clock=clock, sources={}, rules=RuleSettings())
    fill(pipeline, clock)
    return pipeline, clock


@asynccontextmanager
async def serve(
    pipeline: Pipeline,
    clock: SimulatedClock,
    *,
    token: str | None = TOKEN,
    read_token: str | None = None,
    language: Language | None = None,
) -> AsyncIterator[Desk]:
    app = application(pipeline, clock, token=token, read_token=read_token, language=language)
    async with HttpServer(app, host="127.0.0.1", port=0) as server:
        yield Desk(pipeline=pipeline, clock=clock, base=f"http://127.0.0.1:{server.port}")


def application(
    pipeline: Pipeline,
    clock: SimulatedClock,
    *,
    token: str | None = TOKEN,
    read_token: str | None = None,
    language: Language | None = None,
) -> web.Application:
    """Wired as the daemon's Http part wires it."""
    app = build_app(
        store=pipeline.store,
        orders=pipeline.orders,
        health=Health(),
        metrics_text=lambda: "",
        token=token,
        read_token=read_token,
        throttle=Throttle(clock),
    )
    dashboard.mount(
        app,
        dashboard.Desk(
            store=pipeline.store,
            orders=pipeline.orders,
            bus=pipeline.bus,
            clock=clock,
            zone=ZONE,
            language=language,
            token=token,
            read_token=read_token,
            health=lambda: pipeline.poller.health,
        ),
    )
    return app
