"""SIGKILL in the middle of a poll cycle and in the middle of a delivery; then restart.

Delivery is at-least-once: every warning must reach the receiver, and the database must pass an
integrity check. A message is acknowledged once: a request the receiver never answered was never
delivered, as far as any sender can know, and is rightly sent again. Counted by arrival instead,
a kill between the channel accepting a message and the sender recording its confirmation repeats
that one message; the last test measures it and bounds it by one per kill.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from monitor.model import Order
from monitor.store import Store
from tests.notify.conftest import free_port

ORDERS = 30

SLOW_SOURCE = '''
import asyncio, json
from datetime import datetime
from pathlib import Path
from monitor.model import Checkpoint, Snapshot, Status
from monitor.plugin import BaseSource, SourceSettings


class SlowSettings(SourceSettings):
    file: str
    pause: float = 0.1


class SlowSource(BaseSource):
    """Answers from a JSON file, slowly: a poll cycle takes long enough to be killed in."""

    name = "slow"
    Settings = SlowSettings
    batch_size = 2

    async def lookup(self, numbers):
        await asyncio.sleep(self.settings.pause)
        data = json.loads(Path(self.settings.file).read_text())
        now = self.context.clock.now()
        result = {}
        for number in numbers:
            at = datetime.fromisoformat(data[number])
            result[number] = Snapshot(
                number=number, source=self.name, status=Status.DELIVERED, fetched_at=now,
                checkpoints=(Checkpoint(at=at, status=Status.DELIVERED, text="Delivered"),),
            )
        return result


SOURCE = SlowSource
'''


class CountingReceiver:
    """Acknowledges deliveries and counts them per order; can hold requests unanswered."""

    def __init__(self) -> None:
        self.port = free_port()
        self.acknowledged: Counter[str] = Counter()
        self.arrived = 0
        self.hold_from: int | None = None
        self.holding = asyncio.Event()
        self.all_in = asyncio.Event()
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None

    async def _post(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.arrived += 1
        if self.hold_from is not None and self.arrived >= self.hold_from:
            self.holding.set()
            await self._release.wait()  # never answered: the sender is killed meanwhile
            raise web.HTTPServiceUnavailable()
        order = next(o for o in ORDER_IDS if o in body.get("message", "") + body.get("title", ""))
        self.acknowledged[order] += 1
        if len(self.acknowledged) == ORDERS:
            self.all_in.set()
        return web.json_response({"ok": True})

    def release(self) -> None:
        self.hold_from = None
        self._release.set()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._post)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        self.release()
        if self._runner is not None:
            await self._runner.cleanup()


ORDER_IDS = [f"81000000{i:08d}" for i in range(ORDERS)]


@pytest.fixture
async def receiver() -> Any:
    server = CountingReceiver()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def daemon_config(tmp_path: Path, receiver: CountingReceiver) -> Path:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "slow.py").write_text(SLOW_SOURCE)
    delivered = datetime.now(UTC) - timedelta(hours=1)
    numbers = {f"RB{i:09d}CN": delivered.isoformat() for i in range(ORDERS)}
    (tmp_path / "parcels.json").write_text(json.dumps(numbers))
    store = Store.open(tmp_path / "state" / "parcel-monitor.db")
    now = datetime.now(UTC)
    with store.transaction():
        for i, order_id in enumerate(ORDER_IDS):
            store.add_order(
                Order(id=order_id, ordered_at=now - timedelta(days=20), tracks=(f"RB{i:09d}CN",)),
                now=now,
            )
    store.close()
    config = tmp_path / "config.toml"
    config.write_text(
        f'state_dir = "{tmp_path / "state"}"\nplugin_dirs = ["{plugins}"]\n'
        f'[sources.slow]\nfile = "{tmp_path / "parcels.json"}"\nconcurrency = 1\n'
        f'[notify]\nurls = ["json://127.0.0.1:{receiver.port}/"]\nlanguage = "en"\n'
        'check_every = "1s"\nretry_first = "1s"\nretry_max = "2s"\n'
    )
    return config


async def start_daemon(config: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitor",
        "--config",
        str(config),
        "run",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PARCEL_MONITOR_LOG__FORMAT": "json"},
    )


async def wait_log(proc: asyncio.subprocess.Process, event: str, count: int = 1) -> None:
    assert proc.stderr is not None
    seen = 0
    async with asyncio.timeout(30):
        while seen < count:
            line = await proc.stderr.readline()
            assert line, f"the daemon ended before logging {event}"
            if json.loads(line).get("event") == event:
                seen += 1


async def finish(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(20):
        assert await proc.wait() == 0


def integrity(tmp_path: Path) -> str:
    store = Store.open(tmp_path / "state" / "parcel-monitor.db")
    try:
        return store.integrity_check()
    finally:
        store.close()


def outbox_states(tmp_path: Path) -> Counter[str]:
    """After a clean stop: a row still pending could be sent again later, a sent one never."""
    store = Store.open(tmp_path / "state" / "parcel-monitor.db")
    try:
        return Counter(row[0] for row in store._conn.execute("SELECT state FROM outbox"))
    finally:
        store.close()


async def test_killed_mid_poll_then_restarted_delivers_every_warning_once(
    tmp_path: Path, daemon_config: Path, receiver: CountingReceiver
) -> None:
    proc = await start_daemon(daemon_config)
    await wait_log(proc, "monitor.warning", count=3)  # a few batches in, most still to come
    proc.kill()
    await proc.wait()
    assert integrity(tmp_path) == "ok"

    proc = await start_daemon(daemon_config)
    try:
        async with asyncio.timeout(30):
            await receiver.all_in.wait()
    finally:
        await finish(proc)
    assert set(receiver.acknowledged) == set(ORDER_IDS)
    assert max(receiver.acknowledged.values()) == 1
    assert outbox_states(tmp_path) == {"sent": ORDERS}
    assert integrity(tmp_path) == "ok"


async def test_killed_mid_delivery_then_restarted_delivers_every_warning_once(
    tmp_path: Path, daemon_config: Path, receiver: CountingReceiver
) -> None:
    receiver.hold_from = 5
    proc = await start_daemon(daemon_config)
    async with asyncio.timeout(30):
        await receiver.holding.wait()
    proc.kill()
    await proc.wait()
    receiver.release()
    assert integrity(tmp_path) == "ok"

    proc = await start_daemon(daemon_config)
    try:
        async with asyncio.timeout(30):
            await receiver.all_in.wait()
    finally:
        await finish(proc)
    assert max(receiver.acknowledged.values()) == 1
    assert sum(receiver.acknowledged.values()) == ORDERS
    assert outbox_states(tmp_path) == {"sent": ORDERS}
    assert integrity(tmp_path) == "ok"


class SlowReceiver:
    """A channel that accepts a message as it arrives and confirms it 0 to 0.3 s later.

    A sender killed inside that gap cannot know the message got through and must send it again:
    those are the duplicates at-least-once delivery allows, and the only ones.
    """

    def __init__(self, rng: random.Random) -> None:
        self.port = free_port()
        self.arrived: Counter[str] = Counter()
        self.new_arrival = asyncio.Event()
        self._rng = rng
        self._runner: web.AppRunner | None = None

    async def _post(self, request: web.Request) -> web.Response:
        body = await request.json()
        text = body.get("message", "") + body.get("title", "")
        self.arrived[next(o for o in ORDER_IDS if o in text)] += 1
        self.new_arrival.set()
        await asyncio.sleep(self._rng.uniform(0, 0.3))
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


KILLS = 5


def send_to(config: Path, old_port: int, new_port: int) -> None:
    config.write_text(config.read_text().replace(f":{old_port}/", f":{new_port}/"))


async def test_killed_again_and_again_while_sending_duplicates_only_the_message_in_flight(
    tmp_path: Path, daemon_config: Path, receiver: CountingReceiver
) -> None:
    slow = SlowReceiver(random.Random(10))
    await slow.start()
    send_to(daemon_config, receiver.port, slow.port)
    try:
        for _ in range(KILLS):
            slow.new_arrival.clear()
            proc = await start_daemon(daemon_config)
            async with asyncio.timeout(30):
                await slow.new_arrival.wait()
            await asyncio.sleep(random.uniform(0, 0.3))  # somewhere in a send, or between two
            proc.kill()
            await proc.wait()
            assert integrity(tmp_path) == "ok"
        proc = await start_daemon(daemon_config)
        try:
            async with asyncio.timeout(60):
                while outbox_states(tmp_path) != {"sent": ORDERS}:  # noqa: ASYNC110 - a file
                    await asyncio.sleep(0.2)
        finally:
            await finish(proc)
    finally:
        await slow.stop()
    assert set(slow.arrived) == set(ORDER_IDS)  # nothing lost
    duplicates = sum(count - 1 for count in slow.arrived.values())
    # At most the one message in flight per kill (one channel); typically fewer.
    print(f"{duplicates} duplicates of {ORDERS} warnings after {KILLS} kills mid-send")
    assert duplicates <= KILLS
