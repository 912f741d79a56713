"""What the bridge publishes, as pure functions of settings, orders and time.

Topics (`<base>` is `base_topic`):
- `<base>/status`: `online` / `offline`, retained (the last will says `offline`);
- `<base>/orders/<id>/state`: the order's normalized status, retained;
- `<base>/orders/<id>/attributes`: retained JSON with what a dashboard shows;
- `<base>/events/<kind>`: each bus event as JSON, not retained;
- `<prefix>/sensor/<node>/<id>/config`: Home Assistant discovery, retained.

Order ids go into topics through `topic_id`, one-to-one: an id of letters, digits, `_` and single
`-` is used as it is; any other id becomes a readable slug, `--` and a hash of the whole id, so
`a/b` and `a\0b` get different topics and a 70,000-character id a short one.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from monitor import __version__
from monitor.events import Alert
from monitor.model import OrderView, Status
from monitor.mqtt.settings import MqttSettings
from monitor.notify.texts import STATE_NAMES, STATUS_NAMES, Language

ONLINE = "online"
OFFLINE = "offline"
AWAITING_TRACK = "awaiting_track"  # no track number yet: the buyer's next step, not a carrier's
UNKNOWN = "unknown"  # a number we have not heard about yet

STATES: tuple[str, ...] = (*(status.value for status in Status), UNKNOWN, AWAITING_TRACK)
"""Every value `<base>/orders/<id>/state` can take: the enum sensor's options."""

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_PLAIN = re.compile(r"(?!.*--)[A-Za-z0-9_-]{1,64}")
_SLUG_LENGTH = 40


def topic_id(text: str) -> str:
    """The order id as one topic level, also valid as a Home Assistant object id.

    One-to-one: a plain id never contains `--`, every other id ends in `--` and a hash.
    """
    if _PLAIN.fullmatch(text):
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{_UNSAFE.sub('_', text[:_SLUG_LENGTH]).strip('-')}--{digest}"


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: str
    retain: bool = False


@dataclass(frozen=True, slots=True)
class Topics:
    base: str
    discovery_prefix: str

    @classmethod
    def of(cls, settings: MqttSettings) -> Topics:
        return cls(base=settings.base_topic, discovery_prefix=settings.discovery_prefix)

    @property
    def status(self) -> str:
        return f"{self.base}/status"

    @property
    def node(self) -> str:
        """This daemon's id in Home Assistant: one device per base topic (kept as it always was:
        the base topic is the owner's own setting, and a new id would duplicate the device)."""
        return _UNSAFE.sub("_", self.base)

    @property
    def ha_status(self) -> str:
        return f"{self.discovery_prefix}/status"

    @property
    def commands(self) -> str:
        return f"{self.base}/cmd/+"

    @property
    def command_result(self) -> str:
        return f"{self.base}/cmd/result"

    def order(self, order_id: str) -> str:
        return f"{self.base}/orders/{topic_id(order_id)}"

    def event(self, kind: str) -> str:
        return f"{self.base}/events/{kind}"

    def discovery(self, order_id: str) -> str:
        return f"{self.discovery_prefix}/sensor/{self.node}/{topic_id(order_id)}/config"


def state_text(view: OrderView) -> str:
    if view.tracking.status is not None:
        return view.tracking.status.value
    return UNKNOWN if view.order.tracks else AWAITING_TRACK


def days_in_transit(view: OrderView, now: datetime) -> int:
    """Whole days since payment, up to the delivery when the parcel has arrived."""
    tracking = view.tracking
    end = tracking.status_since if view.is_final and tracking.status_since else now
    return max(0, (end - view.order.paid).days)


def status_name(view: OrderView, lang: Language) -> str:
    """The state as the buyer reads it, in their language (Home Assistant shows `state` raw)."""
    if view.tracking.status is not None:
        return STATUS_NAMES[lang][view.tracking.status]
    return STATE_NAMES[lang][state_text(view)]


@dataclass(frozen=True, slots=True)
class Presentation:
    """How attributes read: the buyer's language and display zone, and whether notes go out."""

    language: Language = "en"
    zone: tzinfo | None = None
    notes: bool = False

    def time(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        try:
            return value.astimezone(self.zone).isoformat()
        except OverflowError:  # a date at the edge of the calendar: as it was given
            return value.isoformat()


def attributes(
    view: OrderView,
    alerts: list[Alert],
    now: datetime,
    shown: Presentation = Presentation(),
) -> dict[str, Any]:
    order, tracking = view.order, view.tracking
    cp = tracking.last_checkpoint
    stay, destination = tracking.stay, tracking.destination
    data: dict[str, Any] = {
        "order_id": order.id,
        "title": order.title,
        "shop": order.shop,
        "track": order.track,
        "tracks": list(order.tracks),
        "status": state_text(view),
        "status_text": status_name(view, shown.language),
        "status_since": shown.time(tracking.status_since),
        "last_checkpoint": cp.text if cp else None,
        "last_checkpoint_place": cp.location if cp else None,
        "last_checkpoint_at": shown.time(cp.at) if cp else None,
        "eta_earliest": tracking.eta.earliest.isoformat() if tracking.eta else None,
        "eta_latest": tracking.eta.latest.isoformat() if tracking.eta else None,
        "protection_until": shown.time(order.protection_until),
        "days_in_transit": days_in_transit(view, now),
        # The last mile: where the parcel waits and until when, where the carrier says it goes.
        "pickup_point": stay.point.value if stay else None,
        "pickup_since": shown.time(stay.since) if stay else None,
        "pickup_postcode": stay.postcode or None if stay else None,
        "storage_until": stay.storage_until.isoformat() if stay and stay.storage_until else None,
        "destination_country": destination.country or None if destination else None,
        "destination_postcode": destination.postcode or None if destination else None,
        "warnings": [
            {
                "rule": a.rule,
                "severity": a.severity.value,
                "title": a.title,
                "at": shown.time(a.at),
                "facts": a.facts,  # e.g. storage_ending's storage_ends, what the carrier shows
            }
            for a in alerts
        ],
    }
    if shown.notes:
        data["notes"] = order.notes
    return data


def discovery_config(topics: Topics, view: OrderView) -> dict[str, Any]:
    order = view.order
    base = topics.order(order.id)
    return {
        "name": order.title or f"Order {order.id}",
        "unique_id": f"{topics.node}_order_{topic_id(order.id)}",
        # `object_id` is ignored since Home Assistant 2026.4; this names the entity instead.
        "default_entity_id": f"sensor.parcel_{entity_slug(order.id)}",
        "device_class": "enum",
        "options": list(STATES),
        "state_topic": f"{base}/state",
        "json_attributes_topic": f"{base}/attributes",
        "availability_topic": topics.status,
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
        "icon": "mdi:package-variant-closed",
        "device": {
            "identifiers": [topics.node],
            "name": "Parcel monitor",
            "manufacturer": "parcel-monitor",
            "model": "order watchdog",
            "sw_version": __version__,
        },
    }


def entity_slug(order_id: str) -> str:
    """`topic_id` in the lower case and `_` Home Assistant's entity ids allow."""
    return topic_id(order_id).lower().replace("-", "_")


def order_messages(
    topics: Topics,
    view: OrderView,
    alerts: list[Alert],
    now: datetime,
    *,
    discovery: bool,
    shown: Presentation = Presentation(),
) -> list[Message]:
    """Everything retained about an order still being watched."""
    base = topics.order(view.order.id)
    messages = [
        Message(f"{base}/state", state_text(view), retain=True),
        Message(f"{base}/attributes", _dumps(attributes(view, alerts, now, shown)), retain=True),
    ]
    if discovery:
        messages.append(
            Message(topics.discovery(view.order.id), _dumps(discovery_config(topics, view)), True)
        )
    return messages


def removal_messages(topics: Topics, order_id: str, *, discovery: bool) -> list[Message]:
    """Empty retained payloads: the broker forgets the order and Home Assistant drops the sensor."""
    base = topics.order(order_id)
    messages = [Message(f"{base}/state", "", True), Message(f"{base}/attributes", "", True)]
    if discovery:
        messages.insert(0, Message(topics.discovery(order_id), "", True))
    return messages


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)
