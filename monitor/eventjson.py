"""Bus events as JSON objects: what MQTT's `<base>/events/<kind>` topics carry."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from enum import Enum
from typing import Any

from monitor.events import Event, WarningRaised
from monitor.model import EtaWindow, OrderView
from monitor.render import order_json
from monitor.replay import alert_json


def event_json(event: Event, *, notes: bool = True) -> dict[str, Any]:
    """`kind`, `at` and the event's own fields, with orders and warnings in their usual JSON.

    notes: false leaves out the buyer's order notes (an address, a phone number).
    """
    if isinstance(event, WarningRaised):
        return {"kind": event.kind, **alert_json(event.alert)}
    data: dict[str, Any] = {"kind": event.kind}
    for field in dataclasses.fields(event):
        data[field.name] = _plain(getattr(event, field.name), notes)
    return data


def _plain(value: Any, notes: bool) -> Any:
    if isinstance(value, OrderView):
        data = order_json(value)
        if not notes:
            del data["notes"]
        return data
    if isinstance(value, EtaWindow):
        return [value.earliest.isoformat(), value.latest.isoformat()]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name), notes)
            for f in dataclasses.fields(value)
            if notes or f.name != "notes"
        }
    if isinstance(value, tuple | list):
        return [_plain(item, notes) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item, notes) for key, item in value.items()}
    return value
