"""The one backoff: how long to wait before trying again after `failures` failures in a row.

Sources, the notification outbox and the MQTT connection all wait the same way: doubling from
`base` up to `cap`, with a share of the delay drawn at random so that many waiters (a channel
down for an hour, every source behind one proxy) do not all come back at the same instant.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff in seconds.

    `jitter` is the random share of the delay: 1.0 is "full jitter" (anywhere from 0 to the
    delay), 0.5 keeps half of it fixed so that no retry comes almost at once, 0.0 is none.
    """

    base: float
    cap: float
    jitter: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"backoff jitter must be within 0..1, not {self.jitter}")

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the `failures`-th failure in a row (1-based)."""
        step = min(self.cap, self.base * 2 ** min(max(0, failures - 1), 32))
        if not self.jitter:
            return float(step)
        random_part = step * self.jitter
        return step - random_part + (rng or random).uniform(0, random_part)
