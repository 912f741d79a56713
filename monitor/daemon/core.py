"""The core of a running daemon: what lives as long as the process, and what a part is."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from monitor.config import Settings
from monitor.events import Alert, OrderRemoved, OrderStateChanged, WarningRaised
from monitor.pipeline import Pipeline
from monitor.sources import (
    SharedSession,
)
from monitor.store import Store

log = structlog.get_logger("monitor.daemon")


class Part:
    """One settings-derived piece of the daemon; every step is optional."""

    def apply(self) -> None:
        """Install into the core (synchronous: nothing else runs in between)."""

    def start(self, running: Running) -> None:
        """Spawn this part's tasks with `running.spawn`."""

    async def aclose(self) -> None:
        """End this part's tasks and release what it holds; also called on a part never started."""


PartFactory = Callable[[Settings, str, "Running"], Part]


@dataclass(slots=True)
class Running:
    """What one start of the daemon built; parts come and go around it, `close` ends it all."""

    store: Store
    session: SharedSession
    pipeline: Pipeline
    # Lives as long as the process, so that a reload never skips the revisions in between.
    sync: OrderSync
    parts: list[Part] = field(default_factory=list)
    # What `serve` acts on, in order: "stop", "reload", or the exception a task died of.
    inbox: asyncio.Queue[str | BaseException] = field(default_factory=asyncio.Queue)

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """A task whose crash stops the daemon (with a non-zero exit, so systemd restarts it)."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        task.add_done_callback(self._check)
        return task

    def _check(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (error := task.exception()) is not None:
            self.inbox.put_nowait(error)

    async def stop_parts(self) -> None:
        for part in reversed(self.parts):
            await part.aclose()
        self.parts = []

    async def aclose(self) -> None:
        await self.stop_parts()
        await self.session.aclose()
        self.pipeline.rules.close()
        self.store.close()


class OrderSync:
    """Picks up what another process (the CLI) changed: orders through the store's revision,
    warnings through the ledger.

    A warning a CLI command raised is announced on the bus here, so the sender wakes for it (and
    the MQTT bridge and the dashboard hear of it) within `sync_every`, not at the outbox's next
    `check_every`. The daemon's own warnings are on the bus already and are not announced twice.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline
        self._rev = pipeline.store.current_rev()
        self._alert_id = pipeline.store.last_alert_id()
        self._announced: set[tuple[str, str, str]] = set()
        pipeline.bus.subscribe(WarningRaised, lambda e: self._announced.add(_key(e.alert)))

    def __call__(self) -> None:
        store, bus = self._pipeline.store, self._pipeline.bus
        views, removed, self._rev = store.views_changed_since(self._rev)
        now = self._pipeline.clock.now()
        for order_id in removed:
            bus.publish(OrderRemoved(at=now, order_id=order_id))
        for view in views:
            bus.publish(OrderStateChanged(at=now, view=view))
        while rows := store.alerts_after(self._alert_id):
            self._alert_id = rows[-1].id
            for stored in rows:
                key = _key(stored.alert)
                if key in self._announced:
                    self._announced.discard(key)
                else:
                    bus.publish(WarningRaised(at=now, alert=stored.alert))
        self._announced.clear()  # every warning raised so far is in the ledger and seen


def _key(alert: Alert) -> tuple[str, str, str]:
    return (alert.order_id, alert.rule, alert.condition)


async def cancel_all(tasks: Sequence[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def every(seconds: float, action: Callable[[], object]) -> None:
    while True:
        await asyncio.sleep(seconds)
        action()
