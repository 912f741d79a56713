"""Issue 10's false alarm: an old order added after delivery got "overdue, open a dispute".

A local server answers in Cainiao's shape that the parcel was delivered weeks ago. Adding the
order, with or without a daemon running, must look the number up at once and say only that it
was delivered.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from monitor.cli import main
from monitor.model import Order
from monitor.store import Store
from tests.notify.conftest import Receiver, free_port

NUMBER = "RB123456785CN"
ORDER_ID = "8190000000000015"
DELIVERED_AT = datetime.now(UTC) - timedelta(days=20)


class FakeCainiao:
    """`GET /global/detail.json` in Cainiao's shape: every asked number was delivered."""

    def __init__(self) -> None:
        self.port = free_port()
        self.asked: list[str] = []
        self._runner: web.AppRunner | None = None

    async def _detail(self, request: web.Request) -> web.Response:
        numbers = request.query["mailNos"].split(",")
        self.asked += numbers
        event = {
            "time": int(DELIVERED_AT.timestamp() * 1000),
            "timeZone": "GMT+3",
            "standerdDesc": "Delivered",
            "actionCode": "GTMS_SIGNED",
        }
        modules = [{"mailNo": n, "status": "SIGNIN", "detailList": [event]} for n in numbers]
        return web.json_response({"module": modules, "success": True})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/global/detail.json", self._detail)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def carrier() -> AsyncIterator[FakeCainiao]:
    server = FakeCainiao()
    await server.start()
    yield server
    await server.stop()


def write_config(tmp_path: Path, carrier: FakeCainiao, notify_url: str | None = None) -> Path:
    config = tmp_path / "config.toml"
    text = (
        f'state_dir = "{tmp_path / "state"}"\nsync_every = "1s"\n'
        "[http]\nenabled = false\n"
        f'[sources.cainiao]\nbase_url = "http://127.0.0.1:{carrier.port}"\npoll_every = "6h"\n'
    )
    if notify_url:
        text += f'[notify]\nurls = ["{notify_url}"]\nlanguage = "en"\ncheck_every = "1s"\n'
    config.write_text(text)
    return config


def ledger(tmp_path: Path) -> list[str]:
    store = Store.open(tmp_path / "state" / "parcel-monitor.db")
    try:
        return [stored.alert.rule for stored in store.alerts()]
    finally:
        store.close()


ADD = ["add", ORDER_ID, "--ordered", "2026-10-20", "--promised", "2026-10-25", "--track", NUMBER]


async def test_add_without_a_daemon_looks_the_number_up_and_only_says_delivered(
    tmp_path: Path, carrier: FakeCainiao, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, carrier)
    assert await asyncio.to_thread(main, ["--config", str(config), *ADD]) == 0
    assert f"looked up {NUMBER} with cainiao: delivered" in capsys.readouterr().out
    assert carrier.asked == [NUMBER]
    assert ledger(tmp_path) == ["delivered"]


async def test_add_says_so_when_the_number_cannot_be_looked_up_and_warns_nothing(
    tmp_path: Path, carrier: FakeCainiao, capsys: pytest.CaptureFixture[str]
) -> None:
    await carrier.stop()
    config = write_config(tmp_path, carrier)
    assert await asyncio.to_thread(main, ["--config", str(config), *ADD]) == 0
    err = capsys.readouterr().err
    assert f"could not look {NUMBER} up now" in err and "Traceback" not in err
    assert ledger(tmp_path) == []


async def test_a_running_daemon_looks_up_a_number_the_cli_added_at_once(
    tmp_path: Path, carrier: FakeCainiao, receiver: Receiver
) -> None:
    config = write_config(tmp_path, carrier, receiver.url)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "monitor", "--config", str(config), "run"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PARCEL_MONITOR_LOG__FORMAT": "json"},
    )
    try:
        await wait_log(proc, "monitor.daemon.started")
        # What `add` writes when it leaves the lookup to the daemon: the order, nothing else.
        store = Store.open(tmp_path / "state" / "parcel-monitor.db")
        ordered = datetime.now(UTC) - timedelta(days=40)
        store.add_order(
            Order(id=ORDER_ID, ordered_at=ordered, promised_by=ordered.date(), tracks=(NUMBER,)),
            now=datetime.now(UTC),
        )
        store.close()
        await wait_log(proc, "monitor.notify.sent")  # not hours later at the scheduled poll
    finally:
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            await proc.wait()
    assert carrier.asked == [NUMBER]
    assert ledger(tmp_path) == ["delivered"]
    assert len(receiver.messages) == 1 and "Delivered" in receiver.messages[0]["title"]


async def wait_log(proc: asyncio.subprocess.Process, event: str) -> dict[str, Any]:
    assert proc.stderr is not None
    async with asyncio.timeout(20):
        while line := await proc.stderr.readline():
            record: dict[str, Any] = json.loads(line)
            if record.get("event") == event:
                return record
    raise AssertionError(f"the daemon ended before logging {event}")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.stop()
