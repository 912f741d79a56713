from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("6h", timedelta(hours=6)),
        ("7d", timedelta(days=7)),
        ("1d12h", timedelta(days=1, hours=12)),
        (" 2w ", timedelta(weeks=2)),
    ],
)
def test_parses_the_documented_forms(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "6", "h6", "6 hours", "-1d", "1.5h", "6x"])
def test_rejects_anything_else_with_a_hint(text: str) -> None:
    with pytest.raises(ValueError, match="30s, 15m, 6h or 7d"):
        parse_duration(text)


@given(st.integers(min_value=0, max_value=10**8))
def test_format_round_trips(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize("text", ["99999999999999d", "9999999999999999999999s"])
def test_absurdly_long_durations_are_value_errors(text: str) -> None:
    with pytest.raises(ValueError, match="too long"):
        parse_duration(text)
