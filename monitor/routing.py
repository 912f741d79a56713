"""Which sources follow which track number.

Each number goes to the sources that can make sense of it (its format, see `monitor.numbers`, and
each source's own `handles()`), in the configured order of preference, at most `per_number` of
them. With more than one, their checkpoints are merged without duplicates by the differ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from monitor.model import OrderView
from monitor.numbers import candidate_sources
from monitor.plugin import TrackingSource


class Routing:
    def __init__(
        self,
        sources: Mapping[str, TrackingSource],
        *,
        preference: Sequence[str] = (),
        per_number: int = 1,
    ) -> None:
        self._sources = sources
        # Named sources first, in the order given; the rest in their configuration order.
        self._order = [n for n in preference if n in sources] + [
            n for n in sources if n not in preference
        ]
        self._per_number = per_number
        self._cache: dict[str, tuple[str, ...]] = {}

    def sources_for(self, number: str) -> tuple[str, ...]:
        routed = self._cache.get(number)
        if routed is None:
            routed = tuple(
                name
                for name in candidate_sources(number, self._order)
                if self._sources[name].handles(number)
            )[: self._per_number]
            self._cache[number] = routed
        return routed


@dataclass(frozen=True, slots=True)
class Coverage:
    """Which turned-on sources can follow a number, judged by its format alone (no source is
    started): so `run`, `check`, `list` and `show` can say plainly that nobody follows one."""

    enabled: tuple[str, ...]  # the sources that run, in order of preference
    installed: tuple[str, ...]  # every installed source plugin

    def followers(self, number: str) -> list[str]:
        return candidate_sources(number, self.enabled)

    def would_follow(self, number: str) -> list[str]:
        """Installed sources, not turned on, that could follow `number`."""
        return [n for n in candidate_sources(number, self.installed) if n not in self.enabled]

    def unfollowed(self, views: Sequence[OrderView]) -> list[OrderView]:
        """The open orders whose current number no turned-on source can follow."""
        return [
            view
            for view in views
            if view.order.track is not None
            and not view.order.closed
            and not self.followers(view.order.track)
        ]
