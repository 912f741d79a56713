"""The last mile and the traps (DOMAIN.md, second set): where the parcel is and who must act.

Protection that ends before the parcel is due, storage at a pick-up point running out, a number
addressed somewhere else, a carrier waiting for the buyer, a failed hand-over.
"""

from __future__ import annotations

from collections.abc import Iterator

from monitor.model import Checkpoint, OrderView, Severity, Status, postcode_key
from monitor.rules.base import Condition, RuleSettings
from monitor.rules.dates import midnight_after


def protection_gap(view: OrderView, settings: RuleSettings) -> Iterator[Condition]:
    """Protection ends less than the margin after the ETA's latest day (or before it).

    Keyed by the deadline: a later slip of the ETA does not repeat it, an extension that still
    leaves a gap does.
    """
    order, eta = view.order, view.tracking.eta
    end = order.protection_until
    if end is None or eta is None:
        return
    due_by = midnight_after(eta.latest, order.ordered_at)
    if due_by <= end - settings.protection_margin:
        return
    yield Condition(
        rule="protection_gap",
        key=f"until@{end.isoformat()}",
        severity=Severity.WARNING,
        due=None,
        expires=end,  # once protection is over, extending it is no longer the answer
        facts={
            "protection_until": end.isoformat(),
            "eta": eta.latest.isoformat(),
            "extend_to": (eta.latest + settings.protection_margin).isoformat(),
        },
    )


def storage_ending(view: OrderView, settings: RuleSettings) -> Iterator[Condition]:
    """Storage at the pick-up point ends soon: once per stay, the notice before its end."""
    tracking = view.tracking
    stay = tracking.stay
    if tracking.status is not Status.AT_POST_OFFICE or stay is None:
        return
    if stay.storage_until is not None:  # the carrier's own date wins
        ends = midnight_after(stay.storage_until, view.order.ordered_at)
    else:
        ends = stay.since + settings.storage(stay.point)
    facts = {
        "storage_ends": ends.isoformat(),
        "point": stay.point.value,
        "since": stay.since.isoformat(),
    }
    if stay.storage_until is not None:
        facts["carrier_date"] = stay.storage_until.isoformat()
    if stay.postcode:
        facts["postcode"] = stay.postcode
    if stay.location:
        facts["location"] = stay.location
    yield Condition(
        rule="storage_ending",
        key=f"stay@{stay.since.isoformat()}",
        severity=Severity.CRITICAL,
        due=max(stay.since, ends - settings.storage_notice),
        facts=facts,
    )


_SCANNED_WHERE = {
    Status.AT_POST_OFFICE: "arrived",
    Status.OUT_FOR_DELIVERY: "out_for_delivery",
    Status.DELIVERY_FAILED: "delivery_failed",
    Status.DELIVERED: "delivered",
}


def wrong_destination(view: OrderView, settings: RuleSettings) -> Iterator[Condition]:
    """The carrier shows another country or postcode than the buyer's: once per value.

    Speaks after delivery too: a number "delivered" in another city is the fake-track trick.
    Postcodes of another country are not compared (that country's warning says it all).
    """
    buyer = settings.buyer
    if not buyer.configured:
        return
    tracking = view.tracking
    destination = tracking.destination
    expected = {
        "buyer_country": buyer.country,
        "buyer_postcodes": ", ".join(buyer.postcodes),
    }
    country = destination.country.upper() if destination else ""
    if buyer.country and country and country != buyer.country:
        yield Condition(
            rule="wrong_destination",
            key=f"country:{country}",
            severity=Severity.CRITICAL,
            due=None,
            facts={"shown": country, "where": "addressed", "field": "country", **expected},
        )
        return
    if not buyer.postcodes:
        return
    own = {postcode_key(code) for code in buyer.postcodes}
    seen: list[tuple[str, str, Checkpoint | None]] = []
    if destination and destination.postcode:
        seen.append((destination.postcode, "addressed", None))
    seen += [(cp.postcode, _SCANNED_WHERE[cp.status], cp) for cp in tracking.places]
    reported: set[str] = set()
    for postcode, where, cp in seen:
        key = postcode_key(postcode)
        if key in own or key in reported:
            continue
        reported.add(key)
        facts = {"shown": postcode, "where": where, "field": "postcode", **expected}
        if cp is not None and cp.location:
            facts["location"] = cp.location
        yield Condition(
            rule="wrong_destination",
            key=f"postcode:{key}",
            severity=Severity.CRITICAL,
            due=None,
            facts=facts,
        )


def delivered_elsewhere(view: OrderView, settings: RuleSettings) -> dict[str, str] | None:
    """The facts of a delivery the carrier shows at another place than the buyer's, or None.

    A number "delivered" in another city is the fake-track trick: that delivery is not the
    buyer's, so it must not read as "confirm receipt", nor end the protection reminders.
    """
    buyer, tracking = settings.buyer, view.tracking
    if tracking.status is not Status.DELIVERED or not buyer.configured:
        return None
    expected = {"buyer_country": buyer.country, "buyer_postcodes": ", ".join(buyer.postcodes)}
    destination = tracking.destination
    country = destination.country.upper() if destination else ""
    if buyer.country and country and country != buyer.country:
        return {"shown": country, "where": "addressed", "field": "country", **expected}
    if not buyer.postcodes:
        return None
    own = {postcode_key(code) for code in buyer.postcodes}
    last = tracking.last_checkpoint
    if last is not None and last.status is Status.DELIVERED and last.postcode:
        if postcode_key(last.postcode) in own:
            return None  # forwarded in the end, and handed over at the buyer's own place
        facts = {"shown": last.postcode, "where": "delivered", "field": "postcode", **expected}
        if last.location:
            facts["location"] = last.location
        return facts
    # The delivery scan names no place: the last mile it came through, or its address, says.
    if tracking.places and postcode_key(tracking.places[-1].postcode) not in own:
        cp = tracking.places[-1]
        where = _SCANNED_WHERE[cp.status]
        return {"shown": cp.postcode, "where": where, "field": "postcode", **expected}
    if tracking.places:
        return None
    if destination and destination.postcode and postcode_key(destination.postcode) not in own:
        shown = destination.postcode
        return {"shown": shown, "where": "addressed", "field": "postcode", **expected}
    return None


def action_required(view: OrderView, settings: RuleSettings) -> Iterator[Condition]:
    """The carrier or customs waits for the buyer: once per checkpoint that asks."""
    for cp in view.tracking.asks:
        assert cp.action is not None  # the tracker keeps only the checkpoints that ask
        yield Condition(
            rule="action_required",
            key=f"{cp.at.isoformat()}|{cp.action.value}",
            severity=Severity.CRITICAL,
            due=None,
            facts=_scan_facts(cp, action=cp.action.value),
        )


def delivery_failed(view: OrderView, settings: RuleSettings) -> Iterator[Condition]:
    """An attempt to hand the parcel over failed: once per failed-attempt checkpoint."""
    tracking = view.tracking
    if tracking.status is not Status.DELIVERY_FAILED:
        return
    for cp in tracking.failed_attempts:
        yield Condition(
            rule="delivery_failed",
            key=f"attempt@{cp.at.isoformat()}",
            severity=Severity.WARNING,
            due=None,
            facts=_scan_facts(cp),
        )
    if not tracking.failed_attempts and tracking.status_since is not None:
        # A source that says the status without a checkpoint: the status itself is the news.
        yield Condition(
            rule="delivery_failed",
            key=f"since@{tracking.status_since.isoformat()}",
            severity=Severity.WARNING,
            due=None,
            facts={"at": tracking.status_since.isoformat()},
        )


def _scan_facts(cp: Checkpoint, **more: str) -> dict[str, str]:
    facts = {"at": cp.at.isoformat(), **more}
    if cp.text:
        facts["text"] = cp.text
    if cp.location:
        facts["location"] = cp.location
    if cp.postcode:
        facts["postcode"] = cp.postcode
    return facts
