"""Time zone names in settings: an IANA name, checked when the configuration is read."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator


def _known(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}; write e.g. Europe/Moscow") from None
    return value


ZoneName = Annotated[str, AfterValidator(_known)]
