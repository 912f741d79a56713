"""Durations as people write them in config files: `30s`, `15m`, `6h`, `7d`, or `1d12h`.

Every duration has a floor: `Duration` is more than zero, and the named types set a higher one
where a small value does harm (`Interval`, `PollEvery`, `Threshold`: `poll_every = "0s"` hammers a
carrier, `tick_every = "0s"` pins a core). The error names the minimum, so the fix is obvious.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer

_PART = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """Parse `30s`, `15m`, `6h`, `7d`, `2w` or a sequence like `1d12h`; else raise ValueError."""
    cleaned = text.strip().lower()
    if not cleaned or _PART.sub("", cleaned).strip():
        raise ValueError(f"{text!r} is not a duration; write it like 30s, 15m, 6h or 7d")
    total = timedelta()
    try:
        for amount, unit in _PART.findall(cleaned):
            total += timedelta(**{_UNITS[unit]: int(amount)})
    except OverflowError:
        raise ValueError(f"{text!r} is too long a duration") from None
    return total


def format_duration(value: timedelta) -> str:
    if value < timedelta(0):
        return "-" + format_duration(-value)
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


def _coerce(value: Any) -> Any:
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return timedelta(seconds=value)
        except OverflowError:
            raise ValueError(f"{value} seconds is too long a duration") from None
    return value


def _floor(minimum: timedelta, *, inclusive: bool) -> AfterValidator:
    def check(value: timedelta) -> timedelta:
        if value < minimum or (not inclusive and value == minimum):
            floor = f"at least {format_duration(minimum)}" if inclusive else "more than 0s"
            raise ValueError(f"{format_duration(value)} is too short; it must be {floor}")
        return value

    return AfterValidator(check)


SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)

_SERIALIZE = PlainSerializer(format_duration, return_type=str, when_used="json")

Duration = Annotated[
    timedelta, BeforeValidator(_coerce), _floor(timedelta(0), inclusive=False), _SERIALIZE
]
"""A pydantic field type: accepts `6h`-style strings (or seconds), more than zero, serializes
back to `6h`."""

Interval = Annotated[
    timedelta, BeforeValidator(_coerce), _floor(SECOND, inclusive=True), _SERIALIZE
]
"""A timer or a request timeout: at least a second (`tick_every = "0s"` pins a core)."""

PollEvery = Annotated[
    timedelta, BeforeValidator(_coerce), _floor(MINUTE, inclusive=True), _SERIALIZE
]
"""A source's polling interval: more often than once a minute only spends a carrier's budget."""

Threshold = Annotated[timedelta, BeforeValidator(_coerce), _floor(HOUR, inclusive=True), _SERIALIZE]
"""A rule's threshold: tracking answers come hours apart, so less than an hour is only noise."""
