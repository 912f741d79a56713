"""The JSON shapes of orders, timelines, warnings and events: one each, for the CLI's `--json`,
the HTTP API, MQTT's topics and `replay --json`.

Times are ISO 8601 with their offsets, keys English; docs/mqtt-http.md and the README promise
these field names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from enum import Enum
from typing import Any

from monitor.events import Alert, Event, WarningRaised
from monitor.model import Checkpoint, EtaWindow, OrderView
from monitor.notify.languages import Language
from monitor.routing import Coverage
from monitor.store import MailRecord, Store
from monitor.views.state import days_in_transit, state, state_name


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _window(eta: EtaWindow | None) -> list[str] | None:
    return [eta.earliest.isoformat(), eta.latest.isoformat()] if eta else None


def alert_json(alert: Alert) -> dict[str, object]:
    """A warning as the ledger has it: one line of `replay --json` (SCENARIOS.md), the
    `warnings` of a timeline, the `warning` event."""
    return {
        "at": alert.at.isoformat(),
        "rule": alert.rule,
        "order": alert.order_id,
        "severity": alert.severity.value,
        "due": alert.due.isoformat(),
        "condition": alert.condition,
        "track": alert.track,
        "title": alert.title,
        "body": alert.body,
    }


def order_json(view: OrderView, warnings: int = 0) -> dict[str, Any]:
    """An order (`list --json`, `GET /api/orders`, the order inside events)."""
    order, tracking = view.order, view.tracking
    cp = tracking.last_checkpoint
    stay, destination = tracking.stay, tracking.destination
    return {
        "id": order.id,
        "title": order.title,
        "shop": order.shop,
        "ordered_at": _iso(order.ordered_at),
        "paid_at": _iso(order.paid_at),
        "protection_until": _iso(order.protection_until),
        "promised_by": _iso(order.promised_by),
        "estimate": _window(order.estimate),
        "track": order.track,
        "tracks": list(order.tracks),
        "status": tracking.status.value if tracking.status else None,
        "status_since": _iso(tracking.status_since),
        "eta": _window(tracking.eta),
        "last_checkpoint": {
            "at": cp.at.isoformat(),
            "status": cp.status.value,
            "text": cp.text,
            "location": cp.location,
        }
        if cp
        else None,
        "stay": {
            "since": stay.since.isoformat(),
            "point": stay.point.value,
            "storage_until": _iso(stay.storage_until),
            "postcode": stay.postcode,
            "location": stay.location,
        }
        if stay
        else None,
        "destination": {"country": destination.country, "postcode": destination.postcode}
        if destination
        else None,
        "closed": order.closed,
        "muted": order.muted,
        "notes": order.notes,
        "origin": order.origin,
        "warnings": warnings,
    }


@dataclass(frozen=True, slots=True)
class Timeline:
    """An order with everything that happened to it: checkpoints of each of its numbers, the
    estimates as they were seen, its warnings (oldest first)."""

    view: OrderView
    checkpoints: Mapping[str, Sequence[Checkpoint]]
    etas: Sequence[tuple[datetime, EtaWindow | None]]
    alerts: Sequence[Alert]
    mails: Sequence[MailRecord] = ()  # the mails that created or changed it, oldest first


def timeline(store: Store, order_id: str) -> Timeline | None:
    """None when there is no such order."""
    view = store.get_view(order_id)
    if view is None:
        return None
    return Timeline(
        view=view,
        checkpoints=store.checkpoints(view.order.tracks),
        etas=store.eta_history(order_id),
        alerts=[stored.alert for stored in store.alerts(order_id)],
        mails=store.mails_of_order(order_id),
    )


def timeline_json(shown: Timeline) -> dict[str, Any]:
    """One order with its checkpoints, ETA history and warnings (`show --json`, the HTTP API)."""
    data = order_json(shown.view, len(shown.alerts))
    data["checkpoints"] = [
        {
            "number": number,
            "at": cp.at.isoformat(),
            "status": cp.status.value,
            "text": cp.text,
            "location": cp.location,
        }
        for number, cps in shown.checkpoints.items()
        for cp in cps
    ]
    data["eta_history"] = [
        {"seen_at": at.isoformat(), "eta": [str(e.earliest), str(e.latest)] if e else None}
        for at, e in shown.etas
    ]
    data["warnings"] = [alert_json(a) for a in shown.alerts]
    data["mails"] = [mail_json(m) for m in shown.mails]
    return data


def mail_json(record: MailRecord) -> dict[str, Any]:
    """A mail the intake read: its headers and what was found in it, never its text."""
    return {
        "message_id": record.message_id,
        "from": record.sender,
        "date": _iso(record.sent_at),
        "subject": record.subject,
        "reader": record.reader,
        "found": record.extracted,
    }


def unfollowed_json(view: OrderView, coverage: Coverage) -> dict[str, Any]:
    """An open order whose number no turned-on source follows, and which would (`check --json`)."""
    number = view.order.track or ""
    return {
        "kind": "unfollowed",
        "order_id": view.order.id,
        "number": view.order.track,
        "could_follow": coverage.would_follow(number),
    }


def event_json(event: Event, *, notes: bool = True) -> dict[str, Any]:
    """`kind`, `at` and the event's own fields, with orders and warnings in their usual JSON
    (MQTT's `<base>/events/<kind>`, `check --json`).

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
        return _window(value)
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
    alerts: Sequence[Alert],
    now: datetime,
    shown: Presentation = Presentation(),
) -> dict[str, Any]:
    """What a dashboard shows of an order, flat (MQTT's `<base>/orders/<id>/attributes`)."""
    order, tracking = view.order, view.tracking
    cp = tracking.last_checkpoint
    stay, destination = tracking.stay, tracking.destination
    data: dict[str, Any] = {
        "order_id": order.id,
        "title": order.title,
        "shop": order.shop,
        "origin": order.origin,
        "muted": order.muted,
        "track": order.track,
        "tracks": list(order.tracks),
        "status": state(view),
        "status_text": state_name(view, shown.language),
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
