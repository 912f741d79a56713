"""Order payloads follow the CLI's rules: same date forms, same refusals, same messages."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import pytest

from monitor.cli import common as cli
from monitor.orderinput import BadInput, NewOrder, OrderChanges, changes_for, parse
from tests import builders


@pytest.mark.parametrize("text", ["2026-13-01", "yesterday", "2026-03-01T09:00:00"])
def test_the_cli_and_payloads_refuse_the_same_dates_with_the_same_words(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as from_cli:
        cli.parse_when(text)
    with pytest.raises(BadInput) as from_payload:
        parse(NewOrder, {"id": "1", "ordered": text})
    assert str(from_cli.value) in str(from_payload.value)


def test_a_new_order_from_a_payload() -> None:
    order = parse(
        NewOrder,
        {
            "id": "77",
            "ordered": "2026-03-01T09:00:00+03:00",
            "protection_days": 10,
            "track": "RA1",
            "promised": "2026-04-01",
        },
    ).to_order()
    assert order.ordered_at.utcoffset() == timedelta(hours=3)
    assert order.protection_until == order.ordered_at + timedelta(days=10)
    assert order.tracks == ("RA1",) and order.promised_by.isoformat() == "2026-04-01"


def test_protection_days_in_an_update_count_from_the_new_payment() -> None:
    current = builders.order()
    update = changes_for(
        parse(OrderChanges, {"paid": "2026-01-12T00:00:00+00:00", "protection_days": 5}), current
    )
    assert update.changes["protection_until"] == datetime(2026, 1, 17, tzinfo=UTC)
    again = changes_for(parse(OrderChanges, {"protection_days": 5}), current)
    assert again.changes["protection_until"] == current.paid + timedelta(days=5)
    assert changes_for(parse(OrderChanges, {"reopen": True}), current).changes == {"closed": False}
    assert changes_for(parse(OrderChanges, {"muted": True}), current).changes == {"muted": True}
    assert changes_for(parse(OrderChanges, {"muted": False}), current).changes == {"muted": False}


def test_types_are_strict() -> None:
    with pytest.raises(BadInput, match="title: Input should be a valid string"):
        parse(OrderChanges, {"title": 5})
    with pytest.raises(BadInput, match="reopen"):
        parse(OrderChanges, {"reopen": "yes"})


@pytest.mark.parametrize("given", [".", "..", "..."])
def test_an_id_of_dots_only_is_refused_everywhere(given: str) -> None:
    # A browser normalises /orders/.. away: such an order's page could never be opened.
    with pytest.raises(BadInput, match="only of dots"):
        parse(NewOrder, {"id": given, "ordered": "2026-03-01"})
    with pytest.raises(argparse.ArgumentTypeError, match="only of dots"):
        cli.order_id(given)


def test_an_id_with_dots_among_other_characters_is_fine() -> None:
    assert parse(NewOrder, {"id": "81.00.1", "ordered": "2026-03-01"}).to_order().id == "81.00.1"
