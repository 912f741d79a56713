"""Malformed answers of every shape: parsers may only raise SourceError or return failures.

Each strategy mixes plausible values with arbitrary JSON at every known key, so the examples reach
deep into the parsers instead of stopping at the envelope check.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta, timezone
from typing import Any
from xml.sax.saxutils import escape

from hypothesis import given
from hypothesis import strategies as st
from parcel_monitor_plugins import cainiao, russianpost, seventeentrack

from monitor.model import LookupFailure, Snapshot
from monitor.plugin import SourceError
from monitor.sourcekit import HttpReply

from .conftest import NOW

NUMBER = "N1"

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
iso_times = st.builds(
    lambda at, minutes: at.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat(),
    st.datetimes(),
    st.integers(-720, 840),
)
epoch_ms = st.integers(-(10**16), 10**16) | st.floats() | st.integers(0, 10**13).map(str)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value, one time in eight anything JSON can hold.

    Junk at every level at even odds would almost never let an example reach the innermost
    fields, whose parsing matters most.
    """
    return st.integers(0, 7).flatmap(lambda roll: json_values if roll == 0 else strategy)


def obj(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """An object with these keys (missing keys come from the arbitrary-JSON branch)."""
    return maybe(st.fixed_dictionaries(fields))


def check_results(results: Mapping[str, Any]) -> None:
    for number, result in results.items():
        assert isinstance(result, Snapshot | LookupFailure)
        assert result.number == number


seventeen_event = obj(
    time_iso=maybe(iso_times | st.just("2024-01-02T03:04:05")),
    time_utc=maybe(st.just("2024-01-02T03:04:05Z")),
    description=json_values,
    location=json_values,
    stage=maybe(st.sampled_from(["PickedUp", "Delivered", "Exception", "Nope"])),
    sub_status=maybe(
        st.sampled_from(
            ["InTransit_CustomsProcessing", "Exception_Returned", "AvailableForPickup_Other", "X"]
        )
    ),
    address=obj(city=json_values, country=json_values, postal_code=json_values),
)
seventeen_track_info = obj(
    shipping_info=obj(
        recipient_address=obj(country=maybe(st.just("RU")), postal_code=json_values),
    ),
    latest_status=obj(
        status=maybe(st.sampled_from(["InTransit", "Delivered", "Expired", "Odd"])),
        sub_status=json_values,
    ),
    time_metrics=obj(
        estimated_delivery_date=obj(
            **{"from": maybe(iso_times | st.just("2024-13-45")), "to": maybe(iso_times)}
        )
    ),
    misc_info=obj(local_number=json_values, local_provider=json_values),
    tracking=obj(
        providers=maybe(
            st.lists(
                obj(
                    provider=obj(name=json_values),
                    events=maybe(st.lists(seventeen_event, max_size=3)),
                ),
                max_size=2,
            )
        )
    ),
)
seventeen_item = obj(number=maybe(st.just(NUMBER)), track_info=seventeen_track_info)
seventeen_payload = obj(
    code=maybe(st.just(0)),
    data=obj(
        accepted=maybe(st.lists(seventeen_item, max_size=2)),
        rejected=maybe(
            st.lists(
                obj(
                    number=maybe(st.just(NUMBER)),
                    error=obj(code=maybe(st.sampled_from([-18019909, -18019902]))),
                ),
                max_size=2,
            )
        ),
        errors=json_values,
    ),
)


@given(seventeen_payload)
def test_17track_trackinfo(payload: Any) -> None:
    try:
        results, unregistered = seventeentrack.parse_trackinfo(payload, {NUMBER}, NOW)
    except SourceError:
        return
    check_results(results)
    assert unregistered <= {NUMBER}


@given(seventeen_track_info)
def test_17track_track_info(track_info: Any) -> None:
    try:
        snapshot = seventeentrack.snapshot_from_track_info(NUMBER, track_info, NOW)
    except ValueError:  # the callers turn this into a LookupFailure or a SourceError
        return
    assert isinstance(snapshot, Snapshot)


@given(
    st.binary(max_size=200)
    | st.builds(
        lambda event, data: json.dumps({"event": event, "data": data}).encode(),
        maybe(st.sampled_from(["TRACKING_UPDATED", "TRACKING_STOPPED"])),
        obj(number=maybe(st.just(NUMBER)), track_info=seventeen_track_info),
    )
)
def test_17track_push(body: bytes) -> None:
    try:
        snapshot = seventeentrack.parse_push(body, NOW)
    except SourceError:
        return
    assert snapshot is None or isinstance(snapshot, Snapshot)


# pycountry loads its databases on first use, slower than hypothesis' deadline for one example.
cainiao.country_code("??")

cainiao_event = obj(
    time=maybe(epoch_ms),
    timeZone=maybe(st.sampled_from(["GMT+8", "GMT-3", "GMT+0800", "GMT+99", "GMT+5:30", ""])),
    actionCode=maybe(st.sampled_from(["GTMS_SIGNED", "CC_IM_START", "GWMS_ACCEPT", "??"])),
    standerdDesc=json_values,
)
cainiao_module_object = st.fixed_dictionaries(
    dict(
        mailNo=maybe(st.just(NUMBER)),
        status=maybe(st.sampled_from(["SELLER_PREPARING", "DELIVERED", "??"])),
        detailList=maybe(st.lists(cainiao_event, max_size=3)),
        globalEtaInfo=obj(deliveryMinTime=maybe(epoch_ms), deliveryMaxTime=maybe(epoch_ms)),
        destCpInfo=obj(cpName=json_values),
        realMailNo=json_values,
        destCountry=maybe(st.sampled_from(["Russia", "Israel", "Mainland China", "??"])),
    )
)
cainiao_module = maybe(cainiao_module_object)
cainiao_payload = obj(
    success=maybe(st.just(True)),
    module=maybe(st.lists(cainiao_module, max_size=2)),
)


@given(cainiao_module_object)
def test_cainiao_module(module: Any) -> None:
    try:
        snapshot = cainiao.snapshot_from_module(module, NOW)
    except ValueError:  # parse_detail turns this into a LookupFailure
        return
    assert isinstance(snapshot, Snapshot)


@given(cainiao_payload)
def test_cainiao_detail(payload: Any) -> None:
    try:
        results = cainiao.parse_detail(payload, {NUMBER}, NOW)
    except SourceError:
        return
    check_results(results)


xml_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20
).map(escape)


def operation(oper_type: str, oper_attr: str, when: str, place: str, country: str) -> str:
    return (
        "<ns3:historyRecord><ns3:AddressParameters>"
        f"<ns3:DestinationAddress><ns3:Index>{place}</ns3:Index></ns3:DestinationAddress>"
        f"<ns3:MailDirect><ns3:Code2A>{country}</ns3:Code2A></ns3:MailDirect>"
        "<ns3:OperationAddress>"
        f"<ns3:Index>{place}</ns3:Index></ns3:OperationAddress></ns3:AddressParameters>"
        f"<ns3:OperationParameters><ns3:OperType><ns3:Id>{oper_type}</ns3:Id></ns3:OperType>"
        f"<ns3:OperAttr><ns3:Id>{oper_attr}</ns3:Id></ns3:OperAttr>"
        f"<ns3:OperDate>{when}</ns3:OperDate></ns3:OperationParameters></ns3:historyRecord>"
    )


def soap(body: str) -> bytes:
    return (
        '<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:ns7="http://russianpost.org/operationhistory" '
        f'xmlns:ns3="http://russianpost.org/operationhistory/data"><S:Body>{body}</S:Body>'
        "</S:Envelope>"
    ).encode()


def history(operations: list[str]) -> bytes:
    records = "".join(operations)
    return soap(
        "<ns7:getOperationHistoryResponse><ns3:OperationHistoryData>"
        f"{records}</ns3:OperationHistoryData></ns7:getOperationHistoryResponse>"
    )


def fault(reason: str, detail: str) -> bytes:
    return soap(
        f"<S:Fault><S:Reason><S:Text>{reason}</S:Text></S:Reason>"
        f"<S:Detail><ns3:{detail}>{reason}</ns3:{detail}></S:Detail></S:Fault>"
    )


russianpost_bodies = (
    st.binary(max_size=200)
    | st.lists(
        st.builds(
            operation,
            st.integers(-5, 55).map(str) | xml_text,
            st.integers(-5, 50).map(str) | xml_text,
            iso_times | xml_text,
            xml_text,
            st.sampled_from(["RU", "", "kz"]) | xml_text,
        ),
        max_size=3,
    ).map(history)
    | st.builds(
        fault,
        xml_text,
        st.sampled_from(["AuthorizationFaultReason", "OperationHistoryFaultReason", "Other"]),
    )
)


@given(st.sampled_from([200, 401, 500, 503]), russianpost_bodies)
def test_russianpost_reply(status: int, body: bytes) -> None:
    try:
        result = russianpost.parse_reply(HttpReply(status, {}, body), NUMBER, NOW)
    except SourceError:
        return
    assert isinstance(result, Snapshot | LookupFailure)
