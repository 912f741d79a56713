"""Slowing down token guessing: after `limit` wrong tokens from one address within `window`
seconds, that address gets 429 (with Retry-After) until the window ends, even with the right
token, so a guesser cannot tell a hit from a miss while throttled.

Failures are logged summarised, so a guesser cannot fill the disk: the first wrong token of a
window is one line (with the count of the previous window's unlogged ones), reaching the limit
is one more line with the count; the failures between are only counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from monitor.clock import Clock

log = structlog.get_logger("monitor.http")

LIMIT = 10
WINDOW_S = 60.0
# Addresses remembered at most; expired ones are dropped first, so a spread-out guesser costs
# memory only for as long as its windows last.
MAX_ADDRESSES = 4096


@dataclass(slots=True)
class _Window:
    start: float
    failures: int = 0
    unlogged: int = 0


class Throttle:
    def __init__(self, clock: Clock, *, limit: int = LIMIT, window_s: float = WINDOW_S) -> None:
        self._clock, self._limit, self._window_s = clock, limit, window_s
        self._windows: dict[str, _Window] = {}

    def wait(self, address: str) -> int:
        """Seconds this address must wait before its next try; 0 when it may try now."""
        window = self._windows.get(address)
        if window is None or window.failures < self._limit:
            return 0
        left = window.start + self._window_s - self._clock.monotonic()
        return max(0, int(left + 0.999))

    def failed(self, address: str, event: str) -> None:
        """Count a wrong token from `address`; `event` names the log line (login or bearer)."""
        now = self._clock.monotonic()
        window = self._windows.get(address)
        if window is None or now - window.start >= self._window_s:
            earlier = window.unlogged if window is not None else 0
            self._forget_expired(now)
            window = self._windows[address] = _Window(start=now)
            window.failures = 1
            log.warning(event, remote=address, earlier_unlogged=earlier)
            return
        window.failures += 1
        if window.failures == self._limit:
            log.warning(
                "monitor.http.throttled",
                remote=address,
                failures=window.failures,
                retry_after_s=self.wait(address),
            )
        else:
            window.unlogged += 1

    def _forget_expired(self, now: float) -> None:
        if len(self._windows) < MAX_ADDRESSES:
            return
        for address, window in list(self._windows.items()):
            if now - window.start >= self._window_s:
                del self._windows[address]
        while len(self._windows) >= MAX_ADDRESSES:  # all still live: the oldest go
            del self._windows[next(iter(self._windows))]
