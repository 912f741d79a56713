"""Time as an input: rules and the poller ask a clock, never the wall clock directly."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps; for backoff and timeouts, not for dates."""
        ...


class SystemClock:
    """The real clock: wall time for dates, the monotonic clock for intervals."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class SimulatedClock:
    """A clock that only moves when told to: replays and tests run months in a second."""

    def __init__(self, start: datetime) -> None:
        if start.utcoffset() is None:
            raise ValueError("a simulated clock needs a timezone-aware start")
        self._now = start
        self._start = start

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return (self._now - self._start).total_seconds()

    def set(self, when: datetime) -> None:
        if when < self._now:
            raise ValueError(f"a simulated clock does not go back: {when} < {self._now}")
        self._now = when
