"""A number "delivered" at someone else's address (the fake-track trick) must never read as
"confirm receipt": confirming would end the buyer's protection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.clock import SimulatedClock
from monitor.model import Checkpoint, Order, Snapshot, Status
from monitor.notify.render import render
from monitor.pipeline import Pipeline
from monitor.rules.base import BuyerSettings, RuleSettings
from monitor.store import Store

T0 = datetime(2026, 6, 8, 7, 0, tzinfo=UTC)
ORDER, TRACK = "8100000000000093", "RS625276011CN"


def _delivered_at(tmp_path: Path, postcode: str, *, via_office: bool = False) -> Pipeline:
    clock = SimulatedClock(T0)
    rules = RuleSettings(buyer=BuyerSettings(country="RU", postcodes=("420111",)))
    store = Store.open(tmp_path / "parcel-monitor.db")
    pipeline = Pipeline.build(store=store, clock=clock, sources={}, rules=rules)
    pipeline.orders.add(
        Order(id=ORDER, ordered_at=T0, tracks=(TRACK,), protection_until=T0 + timedelta(days=60))
    )
    clock.set(T0 + timedelta(days=18))
    pipeline.differ.apply(
        [
            Snapshot(
                number=TRACK,
                source="russianpost",
                status=Status.DELIVERED,
                fetched_at=clock.now(),
                checkpoints=(
                    Checkpoint(at=T0 + timedelta(days=3), status=Status.IN_TRANSIT, text="Left"),
                    *(
                        [
                            Checkpoint(
                                at=T0 + timedelta(days=16),
                                status=Status.AT_POST_OFFICE,
                                text="Arrived",
                                postcode=postcode,
                            )
                        ]
                        if via_office
                        else []
                    ),
                    Checkpoint(
                        at=T0 + timedelta(days=17),
                        status=Status.DELIVERED,
                        text="Delivered to addressee",
                        location="Omsk",
                        postcode=postcode,
                    ),
                ),
            )
        ]
    )
    pipeline.tick()
    return pipeline


@pytest.mark.parametrize(("lang", "via_office"), [("en", False), ("ru", False), ("en", True)])
def test_a_delivery_elsewhere_says_do_not_confirm_and_carries_the_dispute(
    tmp_path: Path, lang: str, via_office: bool
) -> None:
    # via_office: the wrong office's arrival scan, then the delivery at the same postcode.
    pipeline = _delivered_at(tmp_path, "644000", via_office=via_office)
    alerts = {a.rule: a for a in pipeline.store.alerts_by_order([ORDER])[ORDER]}
    view = pipeline.store.get_view(ORDER)
    message = render(alerts["delivered"], view, lang)  # type: ignore[arg-type]
    text = message.text
    assert "644000" in text
    assert ("Confirm receipt" not in text) and ("Подтвердите получение" not in text)
    assert ("Do not confirm receipt" in text) or ("Не подтверждайте получение" in text)
    assert "Order number: " + ORDER in text  # the English dispute message
    assert "Delivery time is expiring" not in text and "Истекает срок доставки" not in text
    wrong = render(alerts["wrong_destination"], view, lang)  # type: ignore[arg-type]
    assert "Delivery time is expiring" not in wrong.text
    assert "Истекает срок доставки" not in wrong.text
    pipeline.store.close()


@pytest.mark.parametrize("via_office", [False, True])
def test_a_delivery_at_home_still_says_confirm_receipt(tmp_path: Path, via_office: bool) -> None:
    pipeline = _delivered_at(tmp_path, "420111", via_office=via_office)
    alerts = {a.rule: a for a in pipeline.store.alerts_by_order([ORDER])[ORDER]}
    assert set(alerts) == {"delivered"}
    message = render(alerts["delivered"], pipeline.store.get_view(ORDER), "en")
    assert "Confirm receipt" in message.text and "Order number" not in message.text
    pipeline.store.close()
