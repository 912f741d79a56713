"""How orders, timelines and warnings look on a terminal and in JSON."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from monitor.events import Alert
from monitor.model import Checkpoint, EtaWindow, OrderView
from monitor.replay import alert_json
from monitor.routing import Coverage

_MARK = {"info": "ℹ", "warning": "⚠", "critical": "‼"}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def status_text(view: OrderView, coverage: Coverage | None = None) -> str:
    """The status as a person reads it, also before any source has answered."""
    if view.tracking.status is not None:
        return view.tracking.status.value
    if view.order.track is None:
        return "awaiting track number"
    if coverage is not None and not coverage.followers(view.order.track):
        return "no source follows it"
    return "not checked yet"


def unfollowed_text(number: str, coverage: Coverage) -> str | None:
    """Plain words when no turned-on source can follow `number`, with what would; else None."""
    if coverage.followers(number):
        return None
    could = coverage.would_follow(number)
    if not coverage.enabled:
        why = "no tracking source is turned on"
    else:
        why = f"none of the sources turned on ({', '.join(coverage.enabled)}) reads this format"
    fix = (
        f"add a [sources.{could[0]}] section"
        + (f" (or {', '.join(could[1:])})" if could[1:] else "")
        if could
        else "no installed source plugin reads this format"
    )
    return f"nothing follows {number}: {why}; {fix}"


def order_json(view: OrderView, warnings: int = 0) -> dict[str, Any]:
    order, tracking = view.order, view.tracking
    cp = tracking.last_checkpoint
    return {
        "id": order.id,
        "title": order.title,
        "shop": order.shop,
        "ordered_at": _iso(order.ordered_at),
        "paid_at": _iso(order.paid_at),
        "protection_until": _iso(order.protection_until),
        "promised_by": _iso(order.promised_by),
        "estimate": [order.estimate.earliest.isoformat(), order.estimate.latest.isoformat()]
        if order.estimate
        else None,
        "track": order.track,
        "tracks": list(order.tracks),
        "status": tracking.status.value if tracking.status else None,
        "status_since": _iso(tracking.status_since),
        "eta": [tracking.eta.earliest.isoformat(), tracking.eta.latest.isoformat()]
        if tracking.eta
        else None,
        "last_checkpoint": {
            "at": cp.at.isoformat(),
            "status": cp.status.value,
            "text": cp.text,
            "location": cp.location,
        }
        if cp
        else None,
        "closed": order.closed,
        "notes": order.notes,
        "warnings": warnings,
    }


def timeline_json(
    view: OrderView,
    checkpoints: Mapping[str, Sequence[Checkpoint]],
    etas: Sequence[tuple[datetime, EtaWindow | None]],
    alerts: Sequence[Alert],
) -> dict[str, Any]:
    """One order with its checkpoints, ETA history and warnings (`show --json`, the HTTP API)."""
    data = order_json(view, len(alerts))
    data["checkpoints"] = [
        {
            "number": number,
            "at": cp.at.isoformat(),
            "status": cp.status.value,
            "text": cp.text,
            "location": cp.location,
        }
        for number, cps in checkpoints.items()
        for cp in cps
    ]
    data["eta_history"] = [
        {"seen_at": at.isoformat(), "eta": [str(e.earliest), str(e.latest)] if e else None}
        for at, e in etas
    ]
    data["warnings"] = [alert_json(a) for a in alerts]
    return data


def print_order_table(
    views: Sequence[OrderView], warnings: Mapping[str, int], coverage: Coverage | None = None
) -> None:
    if not views:
        print("no orders yet; add one with `parcel-monitor add ORDER_ID --ordered YYYY-MM-DD`")
        return
    rows = [("ORDER", "TITLE", "TRACK", "STATUS", "ETA", "PROTECTION ENDS", "WARNINGS")]
    for view in views:
        order, tracking = view.order, view.tracking
        status = status_text(view, coverage)
        if order.closed:
            status += " (closed)"
        rows.append(
            (
                order.id,
                order.title[:28],
                order.track or "-",
                status,
                str(tracking.eta) if tracking.eta else "-",
                f"{order.protection_until:%Y-%m-%d %H:%M}" if order.protection_until else "-",
                str(warnings.get(order.id, 0)),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    notes = unfollowed_notes(views, coverage)
    if notes:
        print("", *notes, sep="\n")


def unfollowed_notes(views: Sequence[OrderView], coverage: Coverage | None) -> list[str]:
    """One line per open order whose number no turned-on source follows."""
    if coverage is None:
        return []
    return [
        f"order {view.order.id}: {unfollowed_text(view.order.track, coverage)}"
        for view in coverage.unfollowed(views)
        if view.order.track is not None
    ]


def print_warning(alert: Alert, indent: str = "") -> None:
    mark = _MARK.get(alert.severity.value, "*")
    print(f"{indent}{mark} {alert.at:%Y-%m-%d %H:%M} [{alert.rule}] {alert.title}")
    for line in alert.body.splitlines():
        wrapped = textwrap.wrap(line, width=96) or [""]
        for part in wrapped:
            print(f"{indent}    {part}".rstrip())
    print()


def print_timeline(
    view: OrderView,
    checkpoints: Mapping[str, Sequence[Checkpoint]],
    etas: Sequence[tuple[datetime, EtaWindow | None]],
    alerts: Sequence[Alert],
) -> None:
    order = view.order
    print(f"Order {order.id}" + (f" — {order.title}" if order.title else ""))
    print(f"  ordered {order.ordered_at:%Y-%m-%d %H:%M}, paid {order.paid:%Y-%m-%d %H:%M}")
    if order.protection_until:
        print(f"  buyer protection ends {order.protection_until:%Y-%m-%d %H:%M}")
    if order.promised_by:
        print(f"  promised by {order.promised_by}")
    if order.estimate:
        print(f"  the shop's estimate: {order.estimate}")
    print(f"  track numbers: {', '.join(order.tracks) or 'none yet'}")
    status = status_text(view)
    print(f"  status: {status}" + (" (closed)" if order.closed else ""))
    merged = sorted(
        ((cp, number) for number, cps in checkpoints.items() for cp in cps),
        key=lambda pair: pair[0].at,
    )
    print("\nCheckpoints:" if merged else "\nCheckpoints: none yet")
    for cp, number in merged:
        place = f" — {cp.location}" if cp.location else ""
        print(f"  {cp.at:%Y-%m-%d %H:%M}  {cp.status.value:<16} {cp.text}{place}  [{number}]")
    if etas:
        print("\nEstimated delivery:")
        for seen, eta in etas:
            print(f"  {seen:%Y-%m-%d %H:%M}  {eta if eta else 'no estimate'}")
    print("\nWarnings:" if alerts else "\nWarnings: none")
    for alert in alerts:
        print(f"  {alert.at:%Y-%m-%d %H:%M}  {alert.severity.value:<8} {alert.rule}: {alert.title}")
