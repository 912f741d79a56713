"""How the 17TRACK source reads odd values in events: its fast paths for plain JSON (a `dict`, a
`str`) must read exactly as its careful reading of anything else."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from parcel_monitor_plugins.seventeentrack import (
    change_mark,
    parse_trackinfo,
    snapshot_from_track_info,
)
from structlog.testing import capture_logs

from monitor.model import Point, Snapshot, Status
from monitor.sourcekit import ParseCache, fingerprint

from .conftest import NOW


class Text(str):
    """A string that is not exactly `str`: the parser's fast paths leave it to its careful one."""


def disguised(value: Any) -> Any:
    """The same JSON, with every string a `Text` and every object a read-only mapping."""
    if isinstance(value, str):
        return Text(value)
    if isinstance(value, dict):
        return MappingProxyType({key: disguised(item) for key, item in value.items()})
    if isinstance(value, list):
        return [disguised(item) for item in value]
    return value


def outcome(track_info: Any) -> Snapshot | str:
    try:
        return snapshot_from_track_info("N1", track_info, NOW)
    except ValueError as exc:  # shape errors name the type, which `disguised` changed
        return re.sub(r"got (mappingproxy|Text)$", lambda m: f"got {PLAIN[m[1]]}", str(exc))


PLAIN = {"mappingproxy": "dict", "Text": "str"}


def answer(events: list[Any], status: Any = "InTransit", sub_status: Any = "") -> dict[str, Any]:
    return {
        "latest_status": {"status": status, "sub_status": sub_status},
        "tracking": {"providers": [{"provider": {"name": "Test Post"}, "events": events}]},
    }


texts = (
    st.sampled_from(["", " ", " Kazan ", "0", "Прибыло в почтомат", "Post office, Moscow"])
    | st.text(max_size=6)
    | st.integers(-2, 2)
    | st.floats(allow_nan=False)
    | st.booleans()
    | st.none()
    | st.just(["Kazan"])
)
times = (
    st.sampled_from(
        [
            "2024-02-12T08:00:00+03:00",
            " 2024-02-12T08:00:00+03:00 ",
            "2024-02-12T08:00:00.250+05:30",
            "2024-02-12T05:00:00Z",
            "2024-02-12T05:00:00+00:00",
            "2024-02-12T08:00:00",  # no offset: the UTC time is taken instead
            "0001-01-01T00:00:00+03:00",
            "9999-12-31T23:59:59-01:00",
            "",
            "  ",
            "yesterday",
            "2024-02-30T08:00:00+03:00",
        ]
    )
    | st.builds(
        lambda at, minutes: at.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat(),
        st.datetimes(datetime(2023, 1, 1), datetime(2025, 1, 1)),
        st.sampled_from([-300, 0, 180, 480]),
    )
    | st.integers(0, 3)
    | st.none()
)
codes = (
    st.sampled_from(
        [
            "InTransit_Other",
            "AvailableForPickup_Other",
            "Exception_Returned",
            " Delivered_Other ",
            "DeliveryFailure_Dog",  # unknown sub-status of a known main status
            "Delivered",
            "InTransit",
            "Arrival",
            "Nope",  # an unknown stage
            "",
            " ",
        ]
    )
    | st.none()
    | st.booleans()
    | st.sampled_from([0, 1, 1.0])  # equal as keys, read differently ("1" and "1.0")
    | st.just(["InTransit_Other"])
)
addresses = (
    st.none()
    | st.fixed_dictionaries(
        {},
        optional={"city": texts, "state": texts, "country": texts, "postal_code": texts},
    )
    | st.sampled_from(["Kazan", ["Kazan"], 7])
)
events: st.SearchStrategy[Any] = st.fixed_dictionaries(
    {},
    optional={
        "time_iso": times,
        "time_utc": times,
        "description": texts,
        "location": texts,
        "sub_status": codes,
        "stage": codes,
        "address": addresses,
    },
) | st.sampled_from([None, "event", 3, []])
answers = st.builds(
    answer,
    st.lists(events, max_size=6),
    st.sampled_from(["InTransit", "Delivered", "Odd", "", None]),
    codes,
)


@given(answers)
def test_plain_json_reads_as_its_careful_reading(track_info: dict[str, Any]) -> None:
    careful = outcome(disguised(track_info))
    fast = outcome(track_info)
    assert fast == careful
    assert outcome(track_info) == fast  # and again, with every code read before
    if isinstance(fast, Snapshot) and isinstance(careful, Snapshot):
        zones: dict[timedelta | None, set[int]] = {}
        for checkpoint in fast.checkpoints + careful.checkpoints:
            zones.setdefault(checkpoint.at.utcoffset(), set()).add(id(checkpoint.at.tzinfo))
        assert all(len(ids) == 1 for ids in zones.values())  # one tzinfo per offset


def scan(**fields: Any) -> dict[str, Any]:
    return {"time_iso": "2024-02-12T08:00:00+03:00", "description": "Scan", **fields}


MSK = timezone(timedelta(hours=3))


KAZAN = {"city": " Kazan ", "state": None, "country": "RU", "postal_code": 420111}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            scan(description=" 42 ", location="  ", stage="Arrival", sub_status=None),
            (Status.IN_TRANSIT, "42", "", "Arrival", ""),
        ),
        (
            scan(description=42, location=3.5, sub_status=" Exception_Returned "),
            (Status.RETURNING, "42", "3.5", "Exception_Returned", ""),
        ),
        (
            scan(address=KAZAN),  # neither sub-status nor stage: the newest takes the latest
            (Status.DELIVERED, "Scan", "Kazan, RU", "", "420111"),
        ),
        (
            scan(location="Moscow", address={"postal_code": " 101000 "}),
            (Status.DELIVERED, "Scan", "Moscow", "", "101000"),
        ),
        (
            scan(address={"city": None, "country": None}, description=None),
            (Status.DELIVERED, "", "", "", ""),
        ),
        (scan(address=["Kazan"], location=None), (Status.DELIVERED, "Scan", "", "", "")),
        (
            scan(description=True, sub_status=True, stage=1),
            (Status.DELIVERED, "", "", "1", ""),  # a number is an (unknown) code, True nothing
        ),
        (
            scan(sub_status="AvailableForPickup_Other", description="At the post office"),
            (Status.AT_POST_OFFICE, "At the post office", "", "AvailableForPickup_Other", ""),
        ),
    ],
)
def test_odd_values_in_an_event(event: dict[str, Any], expected: tuple[Any, ...]) -> None:
    older = {"time_iso": "2024-02-11T08:00:00+03:00", "description": "Older"}
    snapshot = snapshot_from_track_info("N1", answer([event, older], "Delivered"), NOW)
    newest, oldest = snapshot.checkpoints
    assert newest.at == datetime(2024, 2, 12, 8, 0, tzinfo=MSK)
    read = (newest.status, newest.text, newest.location, newest.code, newest.postcode)
    assert read == expected
    assert newest.point is (Point.OFFICE if newest.status is Status.AT_POST_OFFICE else None)
    assert oldest.status is Status.IN_TRANSIT  # not the newest: in transit


def test_times_in_odd_shapes() -> None:
    local_only = "2024-02-12T08:00:00"
    events = [
        {"time_iso": local_only, "time_utc": " 2024-02-12T05:00:00Z ", "description": "a"},
        {"time_iso": None, "time_utc": "2024-02-12T06:00:00Z", "description": "b"},
        {"time_iso": "2024-02-12T07:00:00", "description": "naive and nothing else: dropped"},
        {"time_iso": "  ", "description": "blank: dropped"},
        {"description": "no time at all: dropped"},
        {"time_iso": "2024-02-12T09:00:00+03:00", "description": "c"},
        {"time_iso": "2024-02-13T09:00:00.125+03:00", "description": "d"},
    ]
    snapshot = snapshot_from_track_info("N1", answer(events), NOW)
    assert [(c.text, c.at) for c in snapshot.checkpoints] == [
        ("a", datetime(2024, 2, 12, 5, 0, tzinfo=UTC)),
        ("b", datetime(2024, 2, 12, 6, 0, tzinfo=UTC)),
        ("c", datetime(2024, 2, 12, 9, 0, tzinfo=MSK)),
        ("d", datetime(2024, 2, 13, 9, 0, 0, 125000, tzinfo=MSK)),
    ]
    c, d = snapshot.checkpoints[2:]
    assert c.at.tzinfo is d.at.tzinfo
    other = snapshot_from_track_info("N2", answer(events[5:]), NOW)
    assert other.checkpoints[0].at.tzinfo is c.at.tzinfo  # shared across answers too


def test_codes_equal_as_keys_but_read_differently() -> None:
    """`1 == True == 1.0`: an event's code is never taken from another one's reading."""
    events = [
        scan(time_iso=f"2024-02-1{day}T08:00:00+03:00", sub_status=sub_status, stage=stage)
        for day, (sub_status, stage) in enumerate(
            [(1, None), (True, None), (1.0, None), ("1", None), (0, 1), (False, 1), (None, True)]
        )
    ]
    snapshot = snapshot_from_track_info("N1", answer(events), NOW)
    assert [c.code for c in snapshot.checkpoints] == ["1", "", "1.0", "1", "0", "1", ""]


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([scan(), scan(time_iso=2024)], "Invalid isoformat string: '2024'"),
        ([scan(time_iso=None, time_utc=1.5)], "Invalid isoformat string: '1.5'"),
        ([scan(time_iso=" 2024-02-30T08:00:00+03:00")], "day is out of range for month"),
        ([scan(time_iso="2024-02-12T08:00:00", time_utc="soon")], "Invalid isoformat string"),
        ([scan(), "event"], "event should be an object, got str"),
        ([None], "event should be an object, got NoneType"),
    ],
)
def test_malformed_events_fail_the_answer(events: list[Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        snapshot_from_track_info("N1", answer(events), NOW)


def test_unknown_event_codes_are_logged_once_and_only_from_an_answer_that_parses() -> None:
    unknown_stage = scan(stage="Beamed")
    unknown_sub = scan(sub_status="DeliveryFailure_Beamed", time_iso="2024-02-13T08:00:00+03:00")
    broken = [unknown_stage, unknown_sub, scan(time_iso="never")]
    with capture_logs() as logs:
        with pytest.raises(ValueError):
            snapshot_from_track_info("N1", answer(broken), NOW)
        for _ in range(3):
            snapshot = snapshot_from_track_info("N1", answer(broken[:2], "Warped"), NOW)
    assert [(c.status, c.code) for c in snapshot.checkpoints] == [
        (Status.IN_TRANSIT, "Beamed"),  # an unknown stage and not the newest: in transit
        (Status.DELIVERY_FAILED, "DeliveryFailure_Beamed"),  # an unknown sub: its main status
    ]
    codes = [e["code"] for e in logs if e.get("source") == "seventeentrack"]
    assert codes == ["Warped", "stage Beamed", "DeliveryFailure_Beamed"]  # the latest status first


def test_a_parsed_answer_is_marked_with_17tracks_change_mark() -> None:
    info = answer([scan(sub_status="InTransit_Other")])
    unmarked = answer([scan(sub_status="InTransit_Arrival")])
    info["tracking"] |= {"providers_hash": 7}
    info["tracking"]["providers"][0]["events_hash"] = 1
    payload = {
        "code": 0,
        "data": {
            "accepted": [
                {"number": "N1", "track_info": info},
                {"number": "N2", "track_info": unmarked},
            ],
            "rejected": [],
        },
    }
    cache = ParseCache()
    results, _ = parse_trackinfo(payload, {"N1", "N2"}, NOW, cache)
    assert isinstance(results["N1"], Snapshot) and isinstance(results["N2"], Snapshot)
    assert replace(results["N1"], fingerprint="") == snapshot_from_track_info("N1", info, NOW)
    nothing = "|".join(["None"] * 5)  # no estimate, hand-over number or recipient
    assert results["N1"].fingerprint == change_mark(info) == f"17track:7|1|InTransit||{nothing}"
    assert results["N2"].fingerprint == fingerprint(unmarked)  # no hashes: the whole answer
    later = NOW + timedelta(hours=1)
    again, _ = parse_trackinfo(payload, {"N1", "N2"}, later, cache)
    assert again == {number: replace(r, fetched_at=later) for number, r in results.items()}
