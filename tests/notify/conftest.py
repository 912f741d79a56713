"""A real HTTP receiver for Apprise's json:// URLs, and warnings in a real store."""

from __future__ import annotations

import random
import socket
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from monitor.clock import SimulatedClock
from monitor.events import Alert
from monitor.model import Checkpoint, Order, Severity, Status, TrackingState
from monitor.notify.channels import Channels
from monitor.notify.sender import Sender
from monitor.notify.settings import NotifySettings
from monitor.store import Store

T0 = datetime.fromisoformat("2026-03-20T12:00:00+03:00")
ORDER = Order(
    id="8100000000000042",
    title="USB-C cable",
    ordered_at=T0 - timedelta(days=30),
    protection_until=T0 + timedelta(days=5),
    tracks=("RB123456785CN",),
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver:
    """Collects what Apprise posts; can be taken down and brought back on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/"

    async def _post(self, request: web.Request) -> web.Response:
        self.messages.append(await request.json())
        self.paths.append(request.path)
        return web.json_response({"ok": True})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._post)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store.open(tmp_path / "state.db")
    opened.add_order(ORDER, now=T0 - timedelta(days=30))
    with opened.transaction():
        opened.write_tracking(ORDER.id, tracking(), now=T0 - timedelta(days=10))
    return opened


def tracking() -> TrackingState:
    cp = Checkpoint(
        at=datetime.fromisoformat("2026-03-10T08:00:00+03:00"),
        status=Status.IN_TRANSIT,
        text="Departed from sorting center",
        location="Shenzhen",
    )
    return TrackingState(status=Status.IN_TRANSIT, last_checkpoint=cp)


def alert(
    rule: str = "stalled",
    severity: Severity = Severity.WARNING,
    *,
    at: datetime = T0,
    order_id: str = ORDER.id,
    condition: str = "c1",
    facts: dict[str, str] | None = None,
) -> Alert:
    return Alert(
        order_id=order_id,
        rule=rule,
        condition=condition,
        severity=severity,
        at=at,
        due=at,
        title="t",
        body="b",
        track="RB123456785CN",
        facts=facts or {},
    )


def settings(**changes: Any) -> NotifySettings:
    """Fast retries so tests never wait long; everything else as configured by the test."""
    base: dict[str, Any] = {
        "language": "en",
        "timezone": "Europe/Moscow",
        "retry_first": 0.05,
        "retry_max": 0.2,
        "check_every": 0.1,
        "send_timeout": 5,
    }
    return NotifySettings(**(base | changes))


def sender(
    store: Store, config: NotifySettings, clock: SimulatedClock, zone: tzinfo | None = None
) -> Sender:
    channels = Channels.build(config.urls, config.config, required_tags=config.all_tags())
    return Sender(
        store=store,
        channels=channels,
        settings=config,
        clock=clock,
        rng=random.Random(1),
        zone=zone,
    )


def states(store: Store) -> dict[int, str]:
    return {row[0]: row[1] for row in store._conn.execute("SELECT alert_id, state FROM outbox")}
