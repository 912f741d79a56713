"""A warning a CLI command raised (another process, the same database) goes out at the daemon's
next sync, not at the outbox's next `check_every`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from monitor.clock import SimulatedClock
from monitor.daemon.core import OrderSync
from monitor.events import WarningRaised
from monitor.notify.wiring import NotifyService
from monitor.pipeline import Pipeline
from monitor.rules.base import RuleSettings
from monitor.store import Store
from tests.notify.conftest import ORDER, T0, Receiver, alert, settings


async def test_a_cli_warning_wakes_the_sender_at_the_next_sync(
    tmp_path: Path, receiver: Receiver
) -> None:
    path = tmp_path / "state.db"
    clock = SimulatedClock(T0)
    daemon = Pipeline.build(store=Store.open(path), clock=clock, sources={}, rules=RuleSettings())
    cli = Store.open(path)  # the CLI's own connection
    cli.add_order(ORDER, now=T0)
    sync = OrderSync(daemon)
    heard: list[WarningRaised] = []
    daemon.bus.subscribe(WarningRaised, heard.append)
    # An hour between outbox checks: only a wake-up can deliver within the test's timeout.
    service = NotifyService(settings(urls=(receiver.url,), check_every=3600), daemon)
    service.apply()
    service.start()

    async def received(count: int) -> None:
        async with asyncio.timeout(5):
            while len(receiver.messages) < count:  # noqa: ASYNC110 - the receiver has no event
                await asyncio.sleep(0.02)

    try:
        own = alert(condition="daemon")
        daemon.store.record_alert(own)
        daemon.bus.publish(WarningRaised(at=T0, alert=own))  # as the daemon's engine does
        await received(1)  # the sender now waits its hour
        cli.record_alert(alert("protection_expiring", condition="cli"))
        sync()
        sync()  # nothing new: nothing announced again
        await received(2)
    finally:
        await service.aclose()
        cli.close()
        daemon.store.close()
    assert [e.alert.condition for e in heard] == ["daemon", "cli"]
