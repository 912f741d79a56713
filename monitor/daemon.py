"""The long-running daemon: every part started in one TaskGroup, stopped in reverse order.

Startup opens the store, loads plugins and checks every source section before anything runs, so a
bad configuration stops the daemon at once with a message instead of half-starting it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from monitor.clock import Clock, SystemClock
from monitor.config import Settings
from monitor.events import OrderRemoved, OrderStateChanged
from monitor.model import Snapshot
from monitor.pipeline import Pipeline
from monitor.plugin import discover
from monitor.sources import ActiveSources, SharedSession, start_sources, validate_sections
from monitor.store import Store

log = structlog.get_logger("monitor.daemon")


@dataclass(slots=True)
class Running:
    """What one start of the daemon built; torn down in reverse order by `close`."""

    store: Store
    session: SharedSession
    sources: ActiveSources
    pipeline: Pipeline

    async def close(self) -> None:
        for name, (source, _) in self.sources.items():
            try:
                async with asyncio.timeout(5):
                    await source.aclose()
            except Exception:
                log.exception("monitor.source_close_failed", source=name)
        await self.session.close()
        self.pipeline.rules.close()
        self.store.close()


def assemble(settings: Settings, origin: str, *, clock: Clock | None = None) -> Running:
    """Open the store, load and check the plugins, wire the pipeline. Raises on bad config."""
    clock = clock or SystemClock()
    plugins = discover(settings.plugin_dirs)
    checked = validate_sections(settings, plugins, origin)
    store = Store.open(settings.database)
    session = SharedSession()
    holder: list[Pipeline] = []

    async def push(snapshots: Sequence[Snapshot]) -> None:
        holder[0].tracker.apply(snapshots)

    sources = start_sources(checked, plugins, store=store, clock=clock, http=session, push=push)
    pipeline = Pipeline.build(store=store, clock=clock, sources=sources, rules=settings.rules)
    holder.append(pipeline)
    return Running(store=store, session=session, sources=sources, pipeline=pipeline)


async def _every(seconds: float, action: object) -> None:
    while True:
        await asyncio.sleep(seconds)
        action()  # type: ignore[operator]


class OrderSync:
    """Picks up orders changed by another process (the CLI) through the store's revision."""

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline
        self._rev = pipeline.store.current_rev()

    def __call__(self) -> None:
        views, removed, self._rev = self._pipeline.store.views_changed_since(self._rev)
        now = self._pipeline.clock.now()
        for order_id in removed:
            self._pipeline.bus.publish(OrderRemoved(at=now, order_id=order_id))
        for view in views:
            self._pipeline.bus.publish(OrderStateChanged(at=now, view=view))


async def serve(settings: Settings, config_path: Path | None, *, stop: asyncio.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT (or `stop` is set)."""
    origin = str(config_path) if config_path else "configuration"
    running = assemble(settings, origin)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    pipeline = running.pipeline
    try:
        pipeline.start()
        log.info(
            "monitor.started", database=str(settings.database), sources=sorted(running.sources),
            orders=len(pipeline.rules._views), config=str(config_path) if config_path else None,
        )
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(pipeline.tracker.run_source(name), name=f"poll:{name}")
                for name in running.sources
            ]
            tasks.append(group.create_task(
                _every(settings.tick_every.total_seconds(), pipeline.tick), name="ticker"))
            tasks.append(group.create_task(
                _every(settings.sync_every.total_seconds(), OrderSync(pipeline)), name="order-sync"))
            await stop.wait()
            log.info("monitor.stopping")
            for task in tasks:
                task.cancel()
    finally:
        await running.close()
        log.info("monitor.stopped")
