"""An order's state before and after a carrier has spoken: one code, and its name in words.

The code is what machines read (MQTT's `state`, the metrics' `status` label, the dashboard's
badge); the name is what people read (the CLI, MQTT's `status_text`, the dashboard).
"""

from __future__ import annotations

from datetime import datetime

from monitor.model import OrderView, Status
from monitor.notify.languages import Language
from monitor.notify.texts import STATE_NAMES, STATUS_NAMES
from monitor.routing import Coverage

AWAITING_TRACK = "awaiting_track"  # no track number yet: the buyer's next step, not a carrier's
UNKNOWN = "unknown"  # a number we have not heard about yet
UNFOLLOWED = "unfollowed"  # a number no turned-on source can follow (said, never published)

STATES: tuple[str, ...] = (*(status.value for status in Status), UNKNOWN, AWAITING_TRACK)
"""Every value `state` can take (MQTT's enum sensor's options)."""


def state(view: OrderView) -> str:
    """The carrier's status, else `unknown` (a number not answered yet) or `awaiting_track`."""
    if view.tracking.status is not None:
        return view.tracking.status.value
    return UNKNOWN if view.order.tracks else AWAITING_TRACK


def state_name(view: OrderView, lang: Language = "en", coverage: Coverage | None = None) -> str:
    """The state as a person reads it; with `coverage`, a number nothing follows says so."""
    code, track = state(view), view.order.track
    if code == UNKNOWN and coverage is not None and track and not coverage.followers(track):
        code = UNFOLLOWED
    return name_of(code, lang)


def name_of(code: str, lang: Language) -> str:
    """A state code (see `STATES`) in words."""
    if code in STATE_NAMES[lang]:
        return STATE_NAMES[lang][code]
    return STATUS_NAMES[lang][Status(code)]


def days_in_transit(view: OrderView, now: datetime) -> int:
    """Whole days since payment, up to the delivery when the parcel has arrived."""
    tracking = view.tracking
    end = tracking.status_since if view.is_final and tracking.status_since else now
    return max(0, (end - view.order.paid).days)
