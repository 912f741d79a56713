"""The domain model's hand-written parts: what a generated dataclass method would have done."""

from __future__ import annotations

import dataclasses
import inspect
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from monitor.model import Action, Checkpoint, Point, Status

AT = datetime(2024, 2, 12, 8, 0, tzinfo=timezone(timedelta(hours=3)))


def test_checkpoint_init_takes_the_fields_in_order_with_their_defaults() -> None:
    """Checkpoint's `__init__` is written out for speed; it must stay the generated one's twin."""
    parameters = list(inspect.signature(Checkpoint).parameters.values())
    fields = dataclasses.fields(Checkpoint)
    assert [p.name for p in parameters] == [f.name for f in fields]
    assert [p.kind for p in parameters] == [inspect.Parameter.POSITIONAL_OR_KEYWORD] * len(fields)
    assert [p.default for p in parameters] == [
        inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default for f in fields
    ]
    assert all(f.init and f.default_factory is dataclasses.MISSING for f in fields)


def test_checkpoint_init_sets_every_field() -> None:
    values = {
        "at": AT,
        "status": Status.AT_POST_OFFICE,
        "text": "Arrived",
        "location": "Kazan",
        "code": "AvailableForPickup_Other",
        "point": Point.LOCKER,
        "storage_until": date(2024, 2, 19),
        "action": Action.PASSPORT_DATA,
        "postcode": "420111",
    }
    by_keyword = Checkpoint(**values)  # type: ignore[arg-type]
    by_position = Checkpoint(*values.values())  # type: ignore[arg-type]
    assert dataclasses.asdict(by_keyword) == values
    assert by_position == by_keyword
    assert hash(by_position) == hash(by_keyword)
    assert repr(by_keyword).startswith("Checkpoint(at=datetime.datetime(2024, 2, 12, 8, 0, tzinfo=")
    assert Checkpoint(AT, Status.IN_TRANSIT) == Checkpoint(
        AT, Status.IN_TRANSIT, "", "", "", None, None, None, ""
    )


def test_checkpoint_stays_frozen_and_refuses_naive_times() -> None:
    checkpoint = Checkpoint(AT, Status.IN_TRANSIT, "Departed")
    with pytest.raises(dataclasses.FrozenInstanceError):
        checkpoint.text = "changed"  # type: ignore[misc]
    naive = datetime(2024, 2, 12, 8, 0)
    message = "checkpoint time must carry a UTC offset, got naive 2024-02-12T08:00:00"
    with pytest.raises(ValueError, match=message):
        Checkpoint(naive, Status.IN_TRANSIT)
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(checkpoint, at=naive)
    moved = dataclasses.replace(checkpoint, at=AT.astimezone(UTC), postcode="101000")
    assert (moved.at, moved.text, moved.postcode) == (AT, "Departed", "101000")
