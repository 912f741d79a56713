"""Replaying scenarios through the real pipeline on a simulated clock (SCENARIOS.md).

Each scenario gets its own in-memory store: a replay never touches the user's state and never
sends a real notification unless asked to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import aiohttp

from monitor.clock import SimulatedClock
from monitor.events import Alert, WarningRaised
from monitor.model import OrderView
from monitor.pipeline import Pipeline
from monitor.plugin import SourceContext, load_source_class
from monitor.rules.base import RuleSettings
from monitor.scenario import Scenario
from monitor.store import SourceCursors, Store

TICK = timedelta(hours=1)


def _moments(scenario: Scenario) -> Iterator[tuple[datetime, bool]]:
    """Every simulated moment to visit, and whether the source is polled then."""
    start, end, every = scenario.start, scenario.end, scenario.poll_every
    next_poll, next_tick = start, start
    while min(next_poll, next_tick) <= end:
        now = min(next_poll, next_tick)
        polls = now == next_poll
        if polls:
            next_poll += every
        if now == next_tick:
            next_tick += TICK
        yield now, polls


async def replay(
    scenario: Scenario,
    *,
    rules: RuleSettings | None = None,
    on_warning: Callable[[Alert, OrderView | None], None] | None = None,
) -> list[Alert]:
    """Run one scenario start to end; return its warnings in the order they were raised.

    `on_warning` also gets the order as it was when each warning was raised (`--notify`).
    """
    clock = SimulatedClock(scenario.start)
    store = Store.open(":memory:")
    try:
        source_class = load_source_class("replay")
        settings = source_class.Settings()
        context = SourceContext(
            clock=clock,
            http=_no_http,
            cursors=SourceCursors(store, "replay"),
            extra={"scenarios": [scenario]},
        )
        source = source_class(settings, context)
        pipeline = Pipeline.build(
            store=store,
            clock=clock,
            sources={"replay": (source, settings)},
            rules=_with_buyer(rules or RuleSettings(), scenario),
            enqueue=False,
        )
        raised: list[Alert] = []
        pipeline.bus.subscribe(WarningRaised, lambda event: raised.append(event.alert))
        if on_warning is not None:
            pipeline.bus.subscribe(
                WarningRaised, lambda e: on_warning(e.alert, store.get_view(e.alert.order_id))
            )
        order_id = scenario.order.id
        pipeline.orders.add(scenario.order.order())
        pending = list(scenario.timeline)
        for now, polls in _moments(scenario):
            clock.set(now)
            if polls:
                while pending and pending[0].at <= now:
                    entry = pending.pop(0)
                    changes = entry.order.changes() if entry.order else {}
                    if entry.sets_eta and not entry.track and not _tracked(pipeline, order_id):
                        # An estimate before any number: the one the shop shows on the order.
                        changes["estimate"] = entry.eta
                    if entry.track or changes:
                        pipeline.orders.update(order_id, track=entry.track, **changes)
                await pipeline.poller.poll_all()
            pipeline.tick()
        return raised
    finally:
        store.close()


def _with_buyer(rules: RuleSettings, scenario: Scenario) -> RuleSettings:
    """The scenario's own buyer address, where it gives one, replaces the configured one."""
    if scenario.buyer is None:
        return rules
    return rules.model_copy(update={"buyer": scenario.buyer})


def _tracked(pipeline: Pipeline, order_id: str) -> bool:
    return bool(pipeline.orders.get(order_id).order.tracks)


def _no_http() -> aiohttp.ClientSession:
    raise RuntimeError("the replay source does not use the network")
