"""The words of every warning: what happened, and what to do next (DOMAIN.md).

One module holds all texts so they can be reviewed and translated in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.model import OrderView

NEXT_STEPS: dict[str, str] = {
    "track_missing": (
        "Ask the seller in the order chat whether the parcel has shipped and to which address. "
        "If it has not shipped, open a dispute before buyer protection ends."
    ),
    "not_trackable": (
        "No carrier has scanned this number: by experience that is the seller's side. Ask the "
        "seller for a working track number, and open a dispute before buyer protection ends."
    ),
    "eta_shifted": (
        "A delivery date that keeps moving points to transport or customs trouble. Watch the "
        "buyer-protection countdown and ask the seller to extend it if the parcel will be late."
    ),
    "stalled": (
        "Look the number up in a tracking service, then contact the seller (and the carrier) "
        "with the track number and ask where the parcel is."
    ),
    "customs_delay": (
        "Customs usually clears parcels within days. Wait a little, then contact the carrier "
        "with the track number; check whether customs asked for documents or a payment."
    ),
    "stuck_at_post_office": (
        "Call the delivery post office with the track number (the central office gives its "
        "phone). Ask them to hand it over, or to forward it if it was sent to the wrong office."
    ),
    "overdue": (
        "The delivery date has passed. Open a dispute: expected resolution Refund, goods "
        "received No, problem: delivery time is expiring. Write to the seller first."
    ),
    "protection_expiring": (
        "Ask the seller to extend buyer protection (Order management, pick the order). If the "
        "seller does not, open the dispute now: once protection ends you cannot."
    ),
    "returning": (
        "The parcel is going back to the seller and will not reach you. Open a dispute and "
        "ask for a refund."
    ),
    "delivered": (
        "Confirm receipt in the app once you have it. If the parcel arrived empty or damaged, "
        "open a dispute instead."
    ),
}

HEADLINES: dict[str, str] = {
    "track_missing": "No track number yet",
    "not_trackable": "The track number is not being scanned",
    "eta_shifted": "The estimated delivery date moved later",
    "stalled": "No movement for a long time",
    "customs_delay": "Stuck in customs",
    "stuck_at_post_office": "Waiting at the post office",
    "overdue": "Past the promised delivery date",
    "protection_expiring": "Buyer protection is running out",
    "returning": "The parcel is going back to the seller",
    "delivered": "Delivered",
}


@dataclass(frozen=True, slots=True)
class Text:
    title: str
    body: str


def describe(rule: str, view: OrderView, facts: dict[str, str]) -> Text:
    """A short English title and body for the log, the replay and plain channels."""
    order, tracking = view.order, view.tracking
    name = f"{order.id}" + (f" ({order.title})" if order.title else "")
    lines = [f"Order {name}"]
    if order.track:
        lines.append(f"Track number: {order.track}")
    if tracking.status:
        lines.append(f"Status: {tracking.status.value}")
    cp = tracking.last_checkpoint
    if cp is not None:
        place = f", {cp.location}" if cp.location else ""
        lines.append(f"Last checkpoint: {cp.at.isoformat()} {cp.text}{place}")
    if tracking.eta:
        lines.append(f"Estimated delivery: {tracking.eta}")
    if order.promised_by:
        lines.append(f"Promised by: {order.promised_by.isoformat()}")
    if order.protection_until:
        lines.append(f"Buyer protection ends: {order.protection_until.isoformat()}")
    for key, value in facts.items():
        lines.append(f"{key.replace('_', ' ')}: {value}")
    lines.append("")
    lines.append(f"What to do: {NEXT_STEPS[rule]}")
    return Text(title=f"{HEADLINES[rule]}: order {order.id}", body="\n".join(lines))
