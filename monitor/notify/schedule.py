"""When a notification may go: quiet hours and the morning digest (retries: `monitor.backoff`).

Pure functions of the time they are given, so they are tested without waiting.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

from monitor.notify.settings import QuietHours


def _at(day: date, moment: time, like: datetime, zone: tzinfo | None) -> datetime:
    # With a named zone the wall-clock time is right across DST changes; without one the
    # system's current offset is the best we know.
    return datetime.combine(day, moment, tzinfo=zone or like.tzinfo)


def quiet_until(now: datetime, quiet: QuietHours, zone: tzinfo | None) -> datetime | None:
    """When the quiet window around `now` ends, or None when `now` is outside it."""
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if quiet.start < quiet.end:
        inside, end_day = quiet.start <= clock < quiet.end, local.date()
    else:  # the window runs past midnight, e.g. 22:00-08:00
        inside = clock >= quiet.start or clock < quiet.end
        end_day = local.date() + timedelta(days=1) if clock >= quiet.start else local.date()
    return _at(end_day, quiet.end, local, zone) if inside else None


def digest_time(queued: datetime, digest_at: time, zone: tzinfo | None) -> datetime:
    """The first digest at or after the moment a notification was queued."""
    local = queued.astimezone(zone)
    today = _at(local.date(), digest_at, local, zone)
    if today >= local:
        return today
    return _at(local.date() + timedelta(days=1), digest_at, local, zone)
