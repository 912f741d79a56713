"""The Cainiao source against a local server answering `GET /global/detail.json`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from aiohttp import web
from parcel_monitor_plugins.cainiao import (
    CainiaoSettings,
    CainiaoSource,
    map_action,
    parse_detail,
)
from parcel_monitor_plugins.cainiao_codes import ACTIONS, MODULE_STATUSES, country_code
from structlog.testing import capture_logs

from monitor.model import Action, Destination, Point, Snapshot, Status
from monitor.plugin import SourceContext, SourceError
from monitor.sourcekit import Meaning

from .conftest import hang, new_app


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def trace(code: str, when: datetime, zone: str, text: str) -> dict[str, Any]:
    """One `detailList` entry in the real shape (timeStr is always Beijing time there)."""
    beijing = when.astimezone(timezone(timedelta(hours=8)))
    return {
        "time": ms(when),
        "timeStr": beijing.strftime("%Y-%m-%d %H:%M:%S"),
        "desc": text.lower(),
        "standerdDesc": text,
        "descTitle": "Carrier note:",
        "timeZone": zone,
        "actionCode": code,
        "group": {"nodeCode": "TEST_GROUP", "nodeDesc": "In transit"},
    }


def module(number: str, details: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "mailNo": number,
        "originCountry": "Mainland China",
        "destCountry": "Russia",
        "status": "",
        "processInfo": {"progressStatus": "NORMAL", "progressRate": 0.3},
        "latestTrace": details[0] if details else None,
        "detailList": details,
        **extra,
    }


class FakeCainiao:
    def __init__(self) -> None:
        self.modules: dict[str, dict[str, Any]] = {}
        self.queries: list[dict[str, str]] = []
        self.override: web.Response | None = None
        self.hanging = False

    def app(self) -> web.Application:
        app = new_app()
        app.router.add_get("/global/detail.json", self.detail)
        return app

    async def detail(self, request: web.Request) -> web.Response:
        if self.hanging:
            return await hang(request)
        if self.override is not None:
            return self.override
        self.queries.append(dict(request.query))
        numbers = request.query["mailNos"].split(",")
        # Unknown numbers still get a module, with no events (as the real service does).
        found = [self.modules.get(n) or module(n, []) for n in numbers]
        return web.json_response({"module": found, "success": True})


@pytest.fixture
def fake() -> FakeCainiao:
    return FakeCainiao()


def make_source(context: SourceContext, **settings: Any) -> CainiaoSource:
    return CainiaoSource(CainiaoSettings(**settings), context)


@pytest.fixture
async def source(serve: Any, fake: FakeCainiao, context: SourceContext) -> CainiaoSource:
    return make_source(context, base_url=await serve(fake.app()))


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("GTMS_SIGNED", Status.DELIVERED),
        ("GTMS_STA_SIGNED", Status.AT_POST_OFFICE),
        ("GTMS_DO_DEPART", Status.OUT_FOR_DELIVERY),
        ("GTMS_ACCEPT", Status.IN_TRANSIT),
        ("CC_EX_START", Status.CUSTOMS),
        ("CC_HO_IN_SUCCESS", Status.CUSTOMS),
        ("CC_IM_START", Status.CUSTOMS),
        ("CUSTOMS_ARRIVED_IN_AREA_CALLBACK", Status.CUSTOMS),
        ("CC_IM_SUCCESS", Status.IN_TRANSIT),
        ("CC_HO_OUT_SUCCESS", Status.IN_TRANSIT),
        ("GWMS_ACCEPT", Status.INFO_RECEIVED),
        ("WMS_CONFIRMED", Status.INFO_RECEIVED),
        ("LH_DEPART", Status.IN_TRANSIT),
        ("", Status.IN_TRANSIT),
    ],
)
def test_action_mapping(code: str, expected: Status) -> None:
    assert map_action(code) is expected


WHEN = datetime(2024, 2, 12, 8, 0, tzinfo=UTC)


def parse_module(entry: dict[str, Any]) -> Snapshot:
    result = parse_detail({"module": [entry], "success": True}, {entry["mailNo"]}, WHEN)
    snapshot = result[entry["mailNo"]]
    assert isinstance(snapshot, Snapshot)
    return snapshot


@pytest.mark.parametrize(("code", "row"), ACTIONS.items())
def test_every_action_code_of_the_table(code: str, row: tuple[str, Meaning]) -> None:
    """Each published action code, as the newest event of a real-shaped answer, reads as its row."""
    _, meaning = row
    snapshot = parse_module(module("LP00123456789012", [trace(code, WHEN, "GMT+3", row[0])]))
    [checkpoint] = snapshot.checkpoints
    assert snapshot.status is meaning.status
    assert (checkpoint.status, checkpoint.point, checkpoint.action, checkpoint.code) == (
        meaning.status,
        meaning.point,
        meaning.action,
        code,
    )


@pytest.mark.parametrize(("status", "meaning"), MODULE_STATUSES.items())
def test_every_parcel_status_of_the_table(status: str, meaning: Meaning) -> None:
    """Without events, the parcel's own status decides."""
    assert parse_module(module("LP00123456789012", [], status=status)).status is meaning.status


def test_last_mile_rows_the_rules_depend_on() -> None:
    assert ACTIONS["GTMS_STA_SIGNED"][1] == Meaning(Status.AT_POST_OFFICE, Point.PICKUP_POINT)
    assert ACTIONS["POSTMAN_POST"][1].point is Point.LOCKER
    assert ACTIONS["CUS_TAX"][1].action is Action.DUTY_PAYMENT
    assert ACTIONS["GTMS_STA_WAIT_CUST_CHANGE_ADDRESS"][1].action is Action.ADDRESS
    assert map_action("GTMS_DEL_FAILURE") is Status.DELIVERY_FAILED
    # The China leg's "signed" is the consolidation warehouse, never the buyer.
    assert map_action("SIGNED") is Status.IN_TRANSIT


def test_unknown_codes_are_read_by_family_or_in_transit_and_logged_once() -> None:
    with capture_logs() as logs:
        for _ in range(3):  # three polls
            assert map_action("CC_IM_TELEPORTED") is Status.CUSTOMS
            assert map_action("ZZ_SOMETHING_NEW") is Status.IN_TRANSIT
    codes = [e["code"] for e in logs if e.get("source") == "cainiao"]
    assert codes == ["CC_IM_TELEPORTED", "ZZ_SOMETHING_NEW"]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Russia", "RU"),
        ("Russian Federation", "RU"),
        ("Israel", "IL"),
        ("RU", "RU"),
        ("  united   states ", "US"),
        ("Mainland China", "CN"),
        ("Turkey", "TR"),
        ("Narnia", ""),
        ("", ""),
    ],
)
def test_dest_country_names_become_iso_codes(name: str, code: str) -> None:
    assert country_code(name) == code


def test_destination_from_dest_country() -> None:
    snapshot = parse_module(module("LP00123456789012", [], destCountry="Russia"))
    assert snapshot.destination == Destination("RU", "")
    assert parse_module(module("LP00123456789012", [], destCountry="")).destination is None


async def test_batch_of_numbers_in_one_request(source: CainiaoSource, fake: FakeCainiao) -> None:
    start = datetime(2024, 2, 1, 3, 0, tzinfo=UTC)
    fake.modules["LP00771234560042"] = module(
        "LP00771234560042",
        [
            trace("GTMS_STA_SIGNED", start + timedelta(days=12), "GMT+3", "Awaiting pickup"),
            trace("CC_HO_IN_SUCCESS", start + timedelta(days=7), "GMT+0300", "Arrived at customs"),
            trace("LH_DEPART", start + timedelta(days=3), "GMT+8", "Departed from origin"),
            trace("GWMS_ACCEPT", start, "", "Order received by warehouse"),
        ],
        globalEtaInfo={
            "etaDesc": "Estimated delivery by",
            "deliveryMinTime": ms(datetime(2024, 2, 20, 10, tzinfo=UTC)),
            "deliveryMaxTime": ms(datetime(2024, 2, 26, 10, tzinfo=UTC)),
        },
        destCpInfo={"cpName": "Russian Post", "phone": "8-800", "url": "https://example.test"},
        realMailNo="LZ215469379CN",
    )
    fake.modules["AE123456789"] = module("AE123456789", [], status="SELLER_PREPARING")

    results = await source.lookup(["LP00771234560042", "AE123456789", "UNKNOWN1234567Y"])

    assert fake.queries == [
        {"mailNos": "LP00771234560042,AE123456789,UNKNOWN1234567Y", "lang": "en-US"}
    ]
    parcel = results["LP00771234560042"]
    assert isinstance(parcel, Snapshot)
    assert parcel.status is Status.AT_POST_OFFICE
    assert parcel.handover == "LZ215469379CN"
    assert parcel.carrier == "Russian Post"
    assert str(parcel.eta) == "2024-02-20..2024-02-26"
    assert [c.status for c in parcel.checkpoints] == [
        Status.AT_POST_OFFICE,
        Status.CUSTOMS,
        Status.IN_TRANSIT,
        Status.INFO_RECEIVED,
    ]
    newest, customs, _, oldest = parcel.checkpoints
    assert newest.at == start + timedelta(days=12)
    assert newest.at.utcoffset() == timedelta(hours=3)
    assert customs.at.utcoffset() == timedelta(hours=3)
    assert oldest.at.utcoffset() == timedelta(0)  # empty timeZone: shown in UTC
    assert newest.text == "Awaiting pickup"

    preparing = results["AE123456789"]
    assert isinstance(preparing, Snapshot)
    assert preparing.status is Status.INFO_RECEIVED
    unknown = results["UNKNOWN1234567Y"]
    assert isinstance(unknown, Snapshot)
    assert unknown.status is Status.NOT_FOUND


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (web.json_response({"success": False, "errorMessage": "system busy"}), "system busy"),
        (web.json_response({"rgv587_flag": "sm", "url": "/punish?x=1"}), "captcha"),
        (web.Response(text="<!DOCTYPE html><html>slide to verify</html>"), "HTML page"),
        (web.Response(text="{not json", content_type="application/json"), "invalid JSON"),
        (web.Response(status=503, text="busy"), r"server error \(HTTP 503\)"),
        (web.Response(status=404), r"answered HTTP 404"),
        (web.json_response({"success": True, "module": {"mailNo": "x"}}), "unexpected shape"),
    ],
)
async def test_unusable_answers_raise_source_error(
    source: CainiaoSource, fake: FakeCainiao, response: web.Response, expected: str
) -> None:
    fake.override = response
    with pytest.raises(SourceError, match=expected):
        await source.lookup(["LP00771234560042"])


async def test_timeout_and_refused_connection(
    serve: Any, fake: FakeCainiao, context: SourceContext, closed_port_url: str
) -> None:
    fake.hanging = True
    slow = make_source(context, base_url=await serve(fake.app()), timeout=0.05)
    with pytest.raises(SourceError, match="Cainiao did not answer"):
        await slow.lookup(["LP00771234560042"])
    with pytest.raises(SourceError, match="cannot connect to Cainiao"):
        await make_source(context, base_url=closed_port_url).lookup(["LP00771234560042"])


def test_handles_cainiao_and_s10_numbers(context: SourceContext) -> None:
    source = make_source(context)
    assert source.handles("LP00771234560042")
    assert source.handles("XY1234567890Y")
    assert source.handles("LZ215469379CN")
    assert not source.handles("63010245873122")
