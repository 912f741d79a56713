"""An in-process event bus: typed subscriptions, isolated subscribers.

Handlers run synchronously in publish order, so a subscriber sees events in the order they
happened. A handler that raises is logged and skipped; it never stops the publisher or the other
subscribers. Handlers that need I/O hand the event to their own task or queue.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

import structlog

from monitor.events import Event

log = structlog.get_logger("monitor.bus")

E = TypeVar("E", bound=Event)
Handler = Callable[[Any], object]


class Bus:
    def __init__(self) -> None:
        self._handlers: dict[type[Event], list[Handler]] = defaultdict(list)
        self._dispatch_cache: dict[type[Event], tuple[Handler, ...]] = {}

    def subscribe(self, event_type: type[E], handler: Callable[[E], object]) -> Callable[[], None]:
        """Call `handler` for every event of `event_type` (subclasses included).

        Returns a function that undoes the subscription.
        """
        self._handlers[event_type].append(handler)
        self._dispatch_cache.clear()

        def unsubscribe() -> None:
            handlers = self._handlers.get(event_type, [])
            if handler in handlers:
                handlers.remove(handler)
                self._dispatch_cache.clear()

        return unsubscribe

    def publish(self, event: Event) -> None:
        for handler in self._handlers_for(type(event)):
            try:
                handler(event)
            except Exception:
                log.exception(
                    "monitor.bus.subscriber_failed",
                    event_kind=event.kind,
                    subscriber=getattr(handler, "__qualname__", repr(handler)),
                )

    def _handlers_for(self, event_type: type[Event]) -> tuple[Handler, ...]:
        cached = self._dispatch_cache.get(event_type)
        if cached is None:
            cached = tuple(
                handler
                for base in event_type.__mro__
                for handler in self._handlers.get(base, ())  # type: ignore[call-overload]
            )
            self._dispatch_cache[event_type] = cached
        return cached
