"""What the bridge publishes, as pure functions of settings, orders and time.

Topics (`<base>` is `base_topic`):
- `<base>/status`: `online` / `offline`, retained (the last will says `offline`);
- `<base>/orders/<id>/state`: the order's normalized status, retained;
- `<base>/orders/<id>/attributes`: retained JSON with what a dashboard shows
  (`monitor.views.data.attributes`);
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
from datetime import datetime
from typing import Any

from monitor import __version__
from monitor.events import Alert
from monitor.model import OrderView
from monitor.mqtt.settings import MqttSettings
from monitor.views.data import Presentation, attributes
from monitor.views.state import STATES, state

ONLINE = "online"
OFFLINE = "offline"
ENGLISH = Presentation()  # English, the system's zone, no notes

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
    shown: Presentation = ENGLISH,
) -> list[Message]:
    """Everything retained about an order still being watched."""
    base = topics.order(view.order.id)
    messages = [
        Message(f"{base}/state", state(view), retain=True),
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
