"""The 17TRACK source against a local server speaking API v2.2."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from parcel_monitor_plugins.seventeentrack import (
    SeventeenTrackSettings,
    SeventeenTrackSource,
    change_mark,
    map_status,
    parse_push,
    snapshot_from_track_info,
    verify_signature,
)
from parcel_monitor_plugins.seventeentrack_codes import MAIN_STATUSES, SUB_STATUSES
from pydantic import ValidationError
from structlog.testing import capture_logs

from monitor.model import Action, Destination, LookupFailure, Point, Snapshot, Status
from monitor.plugin import SourceContext, SourceError
from monitor.sourcekit import Meaning

from .conftest import NOW, MemoryCursors, Pushes, hang, new_app

KEY = "test-key-9f8e7d"


def track_info(
    status: str = "InTransit",
    sub_status: str = "InTransit_Arrival",
    events: list[dict[str, Any]] | None = None,
    eta: tuple[str | None, str | None] = (None, None),
    local_number: str | None = None,
    recipient: tuple[str | None, str | None] = ("RU", "420111"),
) -> dict[str, Any]:
    """A v2.2 `track_info` in the documented shape, with only the fields the source reads."""
    return {
        "shipping_info": {
            "shipper_address": {"country": "CN", "postal_code": None},
            "recipient_address": {
                "country": recipient[0],
                "state": None,
                "city": None,
                "street": None,
                "postal_code": recipient[1],
                "coordinates": {"longitude": None, "latitude": None},
            },
        },
        "latest_status": {"status": status, "sub_status": sub_status, "sub_status_descr": None},
        "time_metrics": {
            "days_after_order": 9,
            "estimated_delivery_date": {"source": "17TRACK", "from": eta[0], "to": eta[1]},
        },
        "misc_info": {"local_number": local_number, "local_provider": None},
        "tracking": {
            "providers_hash": 11,
            "providers": [
                {
                    "provider": {"key": 3011, "name": "Test Post", "country": "CN"},
                    "latest_sync_status": "Success",
                    "events": events or [],
                }
            ],
        },
    }


def event(time_iso: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"time_iso": time_iso, "description": description, "location": "", **extra}


class Fake17Track:
    """Just enough of api.17track.net: register, gettrackinfo, the token check, the 40 limit."""

    def __init__(self) -> None:
        self.registered: set[str] = set()
        self.refuse: dict[str, int] = {}  # number -> register error code
        self.tracks: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, list[str]]] = []
        self.override: web.Response | None = None
        self.hanging = False

    def app(self) -> web.Application:
        app = new_app()
        app.router.add_post("/track/v2.2/register", self.register)
        app.router.add_post("/track/v2.2/gettrackinfo", self.gettrackinfo)
        return app

    async def _numbers(self, request: web.Request) -> list[str] | web.Response:
        if request.headers.get("17token") != KEY:
            errors = [{"code": -18010002, "message": "Access token is invalid."}]
            return web.json_response({"code": 401, "data": {"errors": errors}}, status=401)
        if self.override is not None:
            return self.override
        if self.hanging:
            return await hang(request)
        items = await request.json()
        numbers = [item["number"] for item in items]
        self.requests.append((request.path.rsplit("/", 1)[-1], numbers))
        if len(items) > 40:
            errors = [{"code": -18010014, "message": "More than 40 numbers."}]
            return web.json_response({"code": -18010014, "data": {"errors": errors}})
        return numbers

    @staticmethod
    def _reject(number: str, code: int) -> dict[str, Any]:
        return {"number": number, "error": {"code": code, "message": f"error {code}"}}

    async def register(self, request: web.Request) -> web.Response:
        numbers = await self._numbers(request)
        if isinstance(numbers, web.Response):
            return numbers
        accepted, rejected = [], []
        for number in numbers:
            if number in self.refuse:
                rejected.append(self._reject(number, self.refuse[number]))
            elif number in self.registered:
                rejected.append(self._reject(number, -18019901))
            else:
                self.registered.add(number)
                accepted.append({"origin": 1, "number": number, "carrier": 3011})
        return web.json_response({"code": 0, "data": {"accepted": accepted, "rejected": rejected}})

    async def gettrackinfo(self, request: web.Request) -> web.Response:
        numbers = await self._numbers(request)
        if isinstance(numbers, web.Response):
            return numbers
        accepted, rejected = [], []
        for number in numbers:
            if number not in self.registered:
                rejected.append(self._reject(number, -18019902))
            elif number not in self.tracks:
                rejected.append(self._reject(number, -18019909))
            else:
                info = self.tracks[number]
                accepted.append({"number": number, "carrier": 3011, "track_info": info})
        return web.json_response({"code": 0, "data": {"accepted": accepted, "rejected": rejected}})


@pytest.fixture
def fake() -> Fake17Track:
    return Fake17Track()


@pytest.fixture
async def source(serve: Any, fake: Fake17Track, context: SourceContext) -> SeventeenTrackSource:
    base_url = await serve(fake.app())
    return make_source(context, base_url=base_url)


def make_source(context: SourceContext, **settings: Any) -> SeventeenTrackSource:
    values = {"api_key": KEY, "requests_per_second": 1000, **settings}
    return SeventeenTrackSource(SeventeenTrackSettings(**values), context)


def address(postal_code: str | None = None, city: str | None = None) -> dict[str, Any]:
    return {
        "country": "RU" if postal_code else None,
        "state": None,
        "city": city,
        "street": None,
        "postal_code": postal_code,
        "coordinates": {"longitude": None, "latitude": None},
    }


@pytest.mark.parametrize(("sub_status", "meaning"), SUB_STATUSES.items())
def test_every_sub_status_of_the_code_table(sub_status: str, meaning: Meaning) -> None:
    """Each documented sub-status, as a v2.2 event and latest status, reads as its row."""
    main = sub_status.split("_", 1)[0]
    scan = event("2024-02-12T08:00:00+03:00", "Scan", stage=main, sub_status=sub_status,
                 address=address("420111", "Kazan"))  # fmt: skip
    snapshot = snapshot_from_track_info("N1", track_info(main, sub_status, [scan]), NOW)
    [checkpoint] = snapshot.checkpoints
    assert snapshot.status is meaning.status
    assert (checkpoint.status, checkpoint.point, checkpoint.action) == (
        meaning.status,
        meaning.point,
        meaning.action,
    )
    assert (checkpoint.code, checkpoint.postcode) == (sub_status, "420111")


@pytest.mark.parametrize(("status", "meaning"), MAIN_STATUSES.items())
def test_every_main_status_of_the_code_table(status: str, meaning: Meaning) -> None:
    """Before v2.2 events name only a `stage`, and a latest status may lack its sub-status."""
    scan = event("2024-02-12T08:00:00+03:00", "Scan", stage=status)
    snapshot = snapshot_from_track_info("N1", track_info(status, "", [scan]), NOW)
    assert snapshot.status is meaning.status
    assert snapshot.checkpoints[0].status is meaning.status
    assert map_status(status) is meaning.status


def test_last_mile_rows_the_rules_depend_on() -> None:
    assert SUB_STATUSES["InTransit_CustomsRequiringInformation"] == Meaning(
        Status.CUSTOMS, action=Action.CUSTOMS_DOCUMENTS
    )
    assert SUB_STATUSES["DeliveryFailure_InvalidAddress"].action is Action.ADDRESS
    assert map_status("AvailableForPickup", "AvailableForPickup_Other") is Status.AT_POST_OFFICE
    assert map_status("Exception", "Exception_Returned") is Status.RETURNING
    assert map_status("Exception", "Exception_Lost") is Status.EXCEPTION


@pytest.mark.parametrize(
    ("description", "point"),
    [
        ("Прибыло в почтомат", Point.LOCKER),
        ("Arrived at the parcel locker, code sent by SMS", Point.LOCKER),
        ("Available for pick-up from the retail outlet Valentinskamp 88", Point.PICKUP_POINT),
        ("Прибыло в пункт выдачи", Point.PICKUP_POINT),
        ("Arrived at the post office", Point.OFFICE),
        ("Прибыло в место вручения", None),  # the place is not named
    ],
)
def test_the_kind_of_pick_up_point_comes_from_the_wording(
    description: str, point: Point | None
) -> None:
    scan = event("2024-02-12T08:00:00+03:00", description, sub_status="AvailableForPickup_Other")
    info = track_info("AvailableForPickup", "AvailableForPickup_Other", [scan])
    [checkpoint] = snapshot_from_track_info("N1", info, NOW).checkpoints
    assert (checkpoint.status, checkpoint.point) == (Status.AT_POST_OFFICE, point)


def test_unknown_statuses_are_in_transit_or_their_main_status_and_logged_once() -> None:
    with capture_logs() as logs:
        for _ in range(3):  # three polls
            new_main = snapshot_from_track_info("N1", track_info("Teleported", "", []), NOW)
            new_sub = snapshot_from_track_info(
                "N1", track_info("DeliveryFailure", "DeliveryFailure_Dog", []), NOW
            )
    assert new_main.status is Status.IN_TRANSIT
    assert new_sub.status is Status.DELIVERY_FAILED
    codes = [e["code"] for e in logs if e.get("source") == "seventeentrack"]
    assert codes == ["Teleported", "DeliveryFailure_Dog"]


def test_destination_from_the_recipient_address() -> None:
    def destination(recipient: tuple[str | None, str | None]) -> Destination | None:
        return snapshot_from_track_info("N1", track_info(recipient=recipient), NOW).destination

    assert destination(("ru", "420 111")) == Destination("RU", "420 111")
    assert destination(("DE", None)) == Destination("DE", "")
    assert destination((None, None)) is None
    info, moved = track_info(), track_info(recipient=("RU", "101000"))
    for answer in (info, moved):
        answer["tracking"]["providers"][0]["events_hash"] = 5
    assert (
        None is not change_mark(info) != change_mark(moved)
    )  # an address change alone is a change


async def test_lookup_registers_then_maps_the_tracking(
    source: SeventeenTrackSource, fake: Fake17Track, cursors: MemoryCursors
) -> None:
    fake.tracks["UA902211334CN"] = track_info(
        status="InTransit",
        sub_status="InTransit_CustomsProcessing",
        events=[
            event(
                "2024-02-20T09:15:00+03:00",
                "Customs examination",
                sub_status="InTransit_Other",
                address=address("102976", "Moscow"),
            ),
            event("2024-02-18T22:40:00+08:00", "Left the origin hub", stage="Departure"),
            event("2024-02-17T10:05:00+08:00", "Parcel accepted"),
            {"time_iso": None, "description": "An event without a time is dropped"},
        ],
        eta=("2024-03-04T00:00:00+03:00", "2024-03-11T00:00:00+03:00"),
        local_number="80099912345678",
    )
    results = await source.lookup(["UA902211334CN"])

    snapshot = results["UA902211334CN"]
    assert isinstance(snapshot, Snapshot)
    assert snapshot.source == "seventeentrack"
    assert snapshot.status is Status.CUSTOMS
    assert snapshot.fetched_at == NOW
    assert snapshot.handover == "80099912345678"
    assert snapshot.carrier == "Test Post"
    assert str(snapshot.eta) == "2024-03-04..2024-03-11"
    assert [(c.status, c.text) for c in snapshot.checkpoints] == [
        (Status.IN_TRANSIT, "Customs examination"),  # its own sub_status wins
        (Status.IN_TRANSIT, "Left the origin hub"),  # from the stage
        (Status.IN_TRANSIT, "Parcel accepted"),  # older events without either
    ]
    assert snapshot.checkpoints[0].at.utcoffset() == timedelta(hours=3)
    assert [c.postcode for c in snapshot.checkpoints] == ["102976", "", ""]
    assert snapshot.destination == Destination("RU", "420111")
    assert fake.requests == [("register", ["UA902211334CN"]), ("gettrackinfo", ["UA902211334CN"])]
    assert cursors.get("registered:UA902211334CN") == NOW.isoformat()


async def test_newest_event_without_status_takes_the_latest_status(
    source: SeventeenTrackSource, fake: Fake17Track
) -> None:
    fake.tracks["N1"] = track_info(
        status="Delivered",
        sub_status="Delivered_Other",
        events=[
            event("2024-02-10T08:00:00+01:00", "Older scan"),
            event("2024-02-12T08:00:00+01:00", "Handed to the recipient"),
        ],
    )
    snapshot = (await source.lookup(["N1"]))["N1"]
    assert isinstance(snapshot, Snapshot)
    by_text = {c.text: c.status for c in snapshot.checkpoints}
    assert by_text == {"Older scan": Status.IN_TRANSIT, "Handed to the recipient": Status.DELIVERED}


async def test_registered_numbers_are_not_registered_again(
    source: SeventeenTrackSource, fake: Fake17Track, cursors: MemoryCursors
) -> None:
    fake.registered.add("OLD1")  # registered earlier, by us or in the dashboard
    cursors.set("registered:KNOWN1", "2024-01-01T00:00:00+00:00")
    fake.registered.add("KNOWN1")
    fake.tracks.update(OLD1=track_info(), KNOWN1=track_info())

    results = await source.lookup(["OLD1", "KNOWN1"])

    assert all(isinstance(r, Snapshot) for r in results.values())
    assert fake.requests[0] == ("register", ["OLD1"])  # -18019901 counts as registered
    assert cursors.get("registered:OLD1")
    await source.lookup(["OLD1", "KNOWN1"])
    assert [kind for kind, _ in fake.requests] == ["register", "gettrackinfo", "gettrackinfo"]


async def test_refused_registration_is_a_failure_and_not_polled(
    source: SeventeenTrackSource, fake: Fake17Track
) -> None:
    fake.refuse["BAD1"] = -18019903
    fake.tracks["GOOD1"] = track_info()
    results = await source.lookup(["BAD1", "GOOD1"])
    assert isinstance(results["BAD1"], LookupFailure)
    assert "-18019903" in results["BAD1"].reason
    assert isinstance(results["GOOD1"], Snapshot)
    assert fake.requests[1] == ("gettrackinfo", ["GOOD1"])


async def test_quota_refusal_on_register_fails_the_batch(
    source: SeventeenTrackSource, fake: Fake17Track, cursors: MemoryCursors
) -> None:
    fake.refuse["LATE1"] = -18019908
    with pytest.raises(SourceError, match=r"cannot register more numbers now: .*-18019908"):
        await source.lookup(["EARLY1", "LATE1"])
    assert cursors.get("registered:EARLY1")  # what did get registered is remembered
    assert not cursors.get("registered:LATE1")
    assert [kind for kind, _ in fake.requests] == ["register"]


async def test_no_tracking_yet_is_not_found(source: SeventeenTrackSource) -> None:
    snapshot = (await source.lookup(["FRESH1"]))["FRESH1"]
    assert isinstance(snapshot, Snapshot)
    assert snapshot.status is Status.NOT_FOUND
    assert snapshot.checkpoints == ()


async def test_number_unregistered_on_the_service_is_registered_again(
    source: SeventeenTrackSource, fake: Fake17Track, cursors: MemoryCursors
) -> None:
    cursors.set("registered:GONE1", "2024-01-01T00:00:00+00:00")  # deleted in the dashboard
    result = (await source.lookup(["GONE1"]))["GONE1"]
    assert isinstance(result, LookupFailure)
    assert not cursors.get("registered:GONE1")
    fake.tracks["GONE1"] = track_info()
    assert isinstance((await source.lookup(["GONE1"]))["GONE1"], Snapshot)
    assert [kind for kind, _ in fake.requests] == ["gettrackinfo", "register", "gettrackinfo"]


async def test_a_full_batch_goes_in_one_request_each(
    source: SeventeenTrackSource, fake: Fake17Track
) -> None:
    numbers = [f"BATCH{i:02d}" for i in range(40)]
    results = await source.lookup(numbers)
    assert len(results) == 40
    assert [(kind, len(sent)) for kind, sent in fake.requests] == [
        ("register", 40),
        ("gettrackinfo", 40),
    ]
    with pytest.raises(ValueError, match="at most 40"):
        await source.lookup([f"MORE{i}" for i in range(41)])


async def test_requests_are_spaced_by_the_rate_limit(
    serve: Any, fake: Fake17Track, context: SourceContext
) -> None:
    source = make_source(context, base_url=await serve(fake.app()), requests_per_second=50)
    started = context.clock.monotonic()
    await source.lookup(["R1"])  # register + gettrackinfo
    await source.lookup(["R1"])  # gettrackinfo
    # Three requests at 50/s need at least two 20 ms gaps.
    assert context.clock.monotonic() - started >= 0.039


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (web.Response(status=429, headers={"Retry-After": "7"}), "too many requests"),
        (web.Response(status=500, text="boom"), "server error"),
        (
            web.Response(status=200, text="<!DOCTYPE html><html>login</html>"),
            "HTML page instead of JSON",
        ),
        (
            web.json_response(
                {"code": -18019907, "data": {"errors": [{"code": -18019907, "message": "Limit"}]}}
            ),
            "daily request limit",
        ),
        (
            web.json_response(
                {"code": -18019908, "data": {"errors": [{"code": -18019908, "message": "Quota"}]}}
            ),
            "quota used up",
        ),
        (web.json_response({"code": 0, "data": {"accepted": {}}}), "unexpected shape"),
        (web.json_response([1, 2]), "not an object"),
    ],
)
async def test_request_level_errors_raise_source_error(
    source: SeventeenTrackSource, fake: Fake17Track, response: web.Response, expected: str
) -> None:
    fake.override = response
    with pytest.raises(SourceError, match=expected) as caught:
        await source.lookup(["E1"])
    assert KEY not in str(caught.value)
    if response.status == 429:
        assert caught.value.retry_after == 7


async def test_bad_key_is_401_without_leaking_the_key(
    serve: Any, fake: Fake17Track, context: SourceContext
) -> None:
    source = make_source(context, base_url=await serve(fake.app()), api_key="wrong-key-12345")
    with pytest.raises(SourceError, match=r"refused the credentials \(HTTP 401\)") as caught:
        await source.lookup(["E1"])
    assert "Access token is invalid" in caught.value.reason
    assert "wrong-key-12345" not in caught.value.reason


async def test_timeout_and_refused_connection(
    serve: Any, fake: Fake17Track, context: SourceContext, closed_port_url: str
) -> None:
    fake.hanging = True
    slow = make_source(context, base_url=await serve(fake.app()), timeout=0.05)
    with pytest.raises(SourceError, match=r"did not answer within 0\.05s"):
        await slow.lookup(["T1"])
    nobody = make_source(context, base_url=closed_port_url)
    with pytest.raises(SourceError, match="cannot connect to 17TRACK"):
        await nobody.lookup(["T1"])


def test_settings_validation() -> None:
    with pytest.raises(ValidationError, match="api_key"):
        SeventeenTrackSettings()
    with pytest.raises(ValidationError, match="more than scheme, host and port"):
        SeventeenTrackSettings(api_key="k", base_url="https://api.17track.net/track/v2.2")
    with pytest.raises(ValidationError, match="extra"):
        SeventeenTrackSettings(api_key="k", apikey="typo")
    settings = SeventeenTrackSettings(api_key="very-secret", base_url="http://127.0.0.1:8080/")
    assert settings.base_url == "http://127.0.0.1:8080"
    assert "very-secret" not in repr(settings)


def signed(body: bytes, key: str = KEY) -> str:
    return hashlib.sha256(body + b"/" + key.encode()).hexdigest()


def test_verify_signature() -> None:
    body = b'{"event":"TRACKING_UPDATED"}'
    assert verify_signature(body, signed(body), KEY)
    assert verify_signature(body, signed(body).upper(), KEY)
    assert not verify_signature(body, signed(body, "other"), KEY)
    assert not verify_signature(body + b" ", signed(body), KEY)
    assert not verify_signature(body, "", KEY)
    assert not verify_signature(body, "ünïcode", KEY)


def test_parse_push() -> None:
    stopped = json.dumps({"event": "TRACKING_STOPPED", "data": {"number": "P1"}}).encode()
    assert parse_push(stopped, NOW) is None
    with pytest.raises(SourceError, match="not a valid 17TRACK push"):
        parse_push(b"not json", NOW)
    with pytest.raises(SourceError, match="names no number"):
        parse_push(json.dumps({"event": "TRACKING_UPDATED", "data": {}}).encode(), NOW)


async def test_webhook_through_a_real_app(
    serve: Any, source: SeventeenTrackSource, pushes: Pushes, http: aiohttp.ClientSession
) -> None:
    app = web.Application()
    app.add_routes(source.webhook_routes())
    url = await serve(app) + "/"
    push = {"event": "TRACKING_UPDATED", "data": {"number": "W1", "track_info": track_info()}}
    body = json.dumps(push).encode()

    async with http.post(url, data=body, headers={"sign": signed(body, "nope")}) as response:
        assert response.status == 401
    async with http.post(url, data=b"{", headers={"sign": signed(b"{")}) as response:
        assert response.status == 400
    assert pushes.received == []
    async with http.post(url, data=body, headers={"sign": signed(body)}) as response:
        assert response.status == 200
    [snapshot] = pushes.received
    assert (snapshot.number, snapshot.status) == ("W1", Status.IN_TRANSIT)


def test_no_webhook_route_without_push(context: SourceContext) -> None:
    without = SourceContext(clock=context.clock, http=context.http, cursors=context.cursors)
    assert make_source(without).webhook_routes() == []


def test_the_change_mark_follows_17tracks_own_hashes_and_the_latest_status() -> None:
    from parcel_monitor_plugins.seventeentrack import change_mark

    info = {
        "latest_status": {"status": "InTransit", "sub_status": "InTransit_Other"},
        "tracking": {"providers_hash": 7, "providers": [{"events_hash": 11, "events": []}]},
    }
    same = change_mark(info)
    assert same is not None and same == change_mark(dict(info))
    moved = {**info, "tracking": {"providers_hash": 7, "providers": [{"events_hash": 12}]}}
    assert change_mark(moved) != same
    customs = {
        **info,
        "latest_status": {"status": "InTransit", "sub_status": "InTransit_CustomsProcessing"},
    }
    assert change_mark(customs) != same
    assert change_mark({"tracking": {"providers": [{}]}}) is None  # no hashes: fingerprint it
    assert change_mark({**info, "latest_status": "weird"}) is None
