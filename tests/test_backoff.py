"""The one backoff shared by sources, the outbox and the MQTT connection."""

from __future__ import annotations

import random

import pytest

from monitor.backoff import Backoff


def test_without_jitter_it_doubles_up_to_the_cap() -> None:
    backoff = Backoff(base=1.0, cap=10.0, jitter=0.0)
    assert [backoff.delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff.delay(10_000) == 10.0  # no overflow after a long outage


def test_jitter_keeps_the_fixed_share_and_never_exceeds_the_step() -> None:
    rng = random.Random(7)
    half = Backoff(base=60.0, cap=3600.0, jitter=0.5)
    full = Backoff(base=60.0, cap=3600.0)
    for failures in range(1, 10):
        step = min(3600.0, 60.0 * 2 ** (failures - 1))
        assert step / 2 <= half.delay(failures, rng) <= step
        assert 0 <= full.delay(failures, rng) <= step


def test_a_jitter_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="jitter"):
        Backoff(base=1.0, cap=2.0, jitter=1.5)
