"""The watch pipeline wired together: store, bus, poller, differ, rules and the order book.

The daemon, `check`, `replay` and the tests all build it the same way; only the clock, the store
file and the sources differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from monitor.bus import Bus
from monitor.clock import Clock
from monitor.events import Tick
from monitor.notify.texts import describe
from monitor.orders import OrderBook
from monitor.plugin import SourceSettings, TrackingSource
from monitor.rules.base import RuleSettings
from monitor.rules.engine import RuleEngine
from monitor.store import Store
from monitor.tracking.differ import Differ
from monitor.tracking.poller import Poller


@dataclass(slots=True)
class Pipeline:
    store: Store
    bus: Bus
    clock: Clock
    poller: Poller
    differ: Differ
    rules: RuleEngine
    orders: OrderBook

    @classmethod
    def build(
        cls,
        *,
        store: Store,
        clock: Clock,
        sources: dict[str, tuple[TrackingSource, SourceSettings]],
        rules: RuleSettings,
        bus: Bus | None = None,
        enqueue: bool = True,
        zone: tzinfo | None = None,
    ) -> Pipeline:
        bus = bus or Bus()
        # The book re-derives an order it changed through the differ, and the differ hands
        # hand-overs to the book (the one writer of orders): the book asks the differ late.
        book = OrderBook(
            store=store, bus=bus, clock=clock, refresh=lambda ids: differ.refresh(ids), zone=zone
        )
        differ = Differ(store=store, bus=bus, clock=clock, orders=book)
        poller = Poller(store=store, bus=bus, clock=clock, differ=differ, sources=sources)
        engine = RuleEngine(
            store=store, bus=bus, clock=clock, settings=rules, describe=describe, enqueue=enqueue
        )
        return cls(
            store=store,
            bus=bus,
            clock=clock,
            poller=poller,
            differ=differ,
            rules=engine,
            orders=book,
        )

    def start(self) -> None:
        """Load the open orders into the rules (raising what fell due while we were away)."""
        self.rules.load(self.store.views(include_closed=False))

    def tick(self) -> None:
        self.bus.publish(Tick(at=self.clock.now()))
