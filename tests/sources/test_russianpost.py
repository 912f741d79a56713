"""The Russian Post source against a local server speaking SOAP 1.2 `getOperationHistory`."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from parcel_monitor_plugins.russianpost import (
    RussianPostSettings,
    RussianPostSource,
    map_operation,
)

from monitor.model import LookupFailure, Snapshot, Status
from monitor.plugin import SourceContext, SourceError

from .conftest import FixedClock, MemoryCursors, hang, new_app

LOGIN, PASSWORD = "shop-buyer", "p<a&ss>word"
DOMESTIC = "63010245873122"  # valid 14-digit check digit
INTERNATIONAL = "LZ215469379CN"  # valid S10

SOAP = "http://www.w3.org/2003/05/soap-envelope"
DATA = "http://russianpost.org/operationhistory/data"


@dataclass
class Operation:
    oper_type: int
    oper_attr: int
    when: str
    index: str = "101000"
    place: str = "Москва"
    type_name: str = "Операция"
    attr_name: str = "Атрибут"


def record(op: Operation) -> str:
    return f"""
<ns3:historyRecord>
  <ns3:AddressParameters>
    <ns3:DestinationAddress><ns3:Index>190000</ns3:Index><ns3:Description>СПб</ns3:Description>
    </ns3:DestinationAddress>
    <ns3:OperationAddress><ns3:Index>{op.index}</ns3:Index>
      <ns3:Description>{op.place}</ns3:Description></ns3:OperationAddress>
    <ns3:CountryOper><ns3:Id>643</ns3:Id><ns3:Code2A>RU</ns3:Code2A></ns3:CountryOper>
  </ns3:AddressParameters>
  <ns3:ItemParameters><ns3:Barcode>X</ns3:Barcode><ns3:Mass>412</ns3:Mass></ns3:ItemParameters>
  <ns3:OperationParameters>
    <ns3:OperType><ns3:Id>{op.oper_type}</ns3:Id><ns3:Name>{op.type_name}</ns3:Name></ns3:OperType>
    <ns3:OperAttr><ns3:Id>{op.oper_attr}</ns3:Id><ns3:Name>{op.attr_name}</ns3:Name></ns3:OperAttr>
    <ns3:OperDate>{op.when}</ns3:OperDate>
  </ns3:OperationParameters>
</ns3:historyRecord>"""


def history(operations: list[Operation]) -> str:
    records = "".join(record(op) for op in operations)
    return f"""<?xml version='1.0' encoding='UTF-8'?>
<S:Envelope xmlns:S="{SOAP}"><S:Body>
<ns7:getOperationHistoryResponse xmlns:ns3="{DATA}" xmlns:ns7="http://russianpost.org/operationhistory">
<ns3:OperationHistoryData>{records}</ns3:OperationHistoryData>
</ns7:getOperationHistoryResponse></S:Body></S:Envelope>"""


def fault(reason: str, detail_tag: str) -> str:
    return f"""<S:Envelope xmlns:S="{SOAP}"><S:Body><S:Fault>
<S:Code><S:Value>S:Receiver</S:Value></S:Code>
<S:Reason><S:Text xml:lang="en">{reason}</S:Text></S:Reason>
<S:Detail><ns3:{detail_tag} xmlns:ns3="{DATA}">{reason}</ns3:{detail_tag}></S:Detail>
</S:Fault></S:Body></S:Envelope>"""


def soap_response(text: str, status: int = 200) -> web.Response:
    return web.Response(status=status, text=text, content_type="application/soap+xml")


class FakeRussianPost:
    def __init__(self) -> None:
        self.histories: dict[str, list[Operation]] = {}
        self.requests: list[dict[str, str]] = []
        self.override: web.Response | None = None
        self.hanging = False

    def app(self) -> web.Application:
        app = new_app()
        app.router.add_post("/rtm34", self.rtm34)
        return app

    async def rtm34(self, request: web.Request) -> web.Response:
        if self.hanging:
            return await hang(request)
        if self.override is not None:
            return self.override
        assert request.content_type == "application/soap+xml"
        envelope = ET.fromstring(await request.read())
        fields = {
            name: envelope.findtext(f".//{{{DATA}}}{name}", "")
            for name in ("Barcode", "MessageType", "Language", "login", "password")
        }
        self.requests.append(fields)
        if (fields["login"], fields["password"]) != (LOGIN, PASSWORD):
            return soap_response(fault("Ошибка авторизации", "AuthorizationFaultReason"), 500)
        barcode = fields["Barcode"]
        if barcode == "BROKEN":
            return soap_response(fault("Неверный формат ШПИ", "OperationHistoryFaultReason"), 500)
        if barcode not in self.histories:
            reason = f"Сведения об отправлении {barcode} не найдены"
            return soap_response(fault(reason, "OperationHistoryFaultReason"), 500)
        return soap_response(history(self.histories[barcode]))


@pytest.fixture
def fake() -> FakeRussianPost:
    return FakeRussianPost()


def make_source(context: SourceContext, **settings: Any) -> RussianPostSource:
    values = {"login": LOGIN, "password": PASSWORD, **settings}
    return RussianPostSource(RussianPostSettings(**values), context)


@pytest.fixture
async def source(serve: Any, fake: FakeRussianPost, context: SourceContext) -> RussianPostSource:
    return make_source(context, base_url=await serve(fake.app()))


@pytest.mark.parametrize(
    ("oper_type", "oper_attr", "expected"),
    [
        (1, 1, Status.IN_TRANSIT),
        (2, 1, Status.DELIVERED),
        (2, 2, Status.RETURNING),
        (3, 4, Status.RETURNING),
        (4, 0, Status.IN_TRANSIT),
        (5, 1, Status.EXCEPTION),
        (6, 0, Status.AT_POST_OFFICE),
        (7, 0, Status.AT_POST_OFFICE),
        (8, 2, Status.AT_POST_OFFICE),
        (8, 9, Status.AT_POST_OFFICE),
        (8, 4, Status.IN_TRANSIT),
        (8, 15, Status.OUT_FOR_DELIVERY),
        (9, 0, Status.IN_TRANSIT),
        (10, 0, Status.IN_TRANSIT),
        (11, 0, Status.CUSTOMS),
        (12, 3, Status.DELIVERY_FAILED),
        (13, 0, Status.INFO_RECEIVED),
        (14, 1, Status.IN_TRANSIT),
        (14, 7, Status.CUSTOMS),
        (23, 0, Status.IN_TRANSIT),
        (None, None, Status.IN_TRANSIT),
    ],
)
def test_operation_mapping(oper_type: int | None, oper_attr: int | None, expected: Status) -> None:
    assert map_operation(oper_type, oper_attr) is expected


async def test_history_becomes_a_snapshot(source: RussianPostSource, fake: FakeRussianPost) -> None:
    fake.histories[INTERNATIONAL] = [
        Operation(1, 1, "2024-02-02T10:00:00.000+08:00", "518000", "Шэньчжэнь", "Прием"),
        Operation(9, 0, "2024-02-10T04:12:00.000+03:00", "102976", "Москва ММПО", "Импорт"),
        Operation(14, 1, "2024-02-10T09:30:00.000+03:00", "102976", "Москва ММПО", "Таможня"),
        Operation(8, 2, "2024-02-14T15:45:00.000+03:00", "630099", "Новосибирск 99", "Обработка",
                  "Прибыло в место вручения"),
    ]  # fmt: skip
    snapshot = (await source.lookup([INTERNATIONAL]))[INTERNATIONAL]

    assert isinstance(snapshot, Snapshot)
    assert (snapshot.source, snapshot.carrier) == ("russianpost", "Russian Post")
    assert snapshot.status is Status.AT_POST_OFFICE
    assert [c.status for c in snapshot.checkpoints] == [
        Status.IN_TRANSIT,
        Status.IN_TRANSIT,
        Status.IN_TRANSIT,
        Status.AT_POST_OFFICE,
    ]
    last = snapshot.checkpoints[-1]
    assert last.location == "630099 Новосибирск 99"
    assert last.text == "Обработка: Прибыло в место вручения"
    assert last.code == "8.2"
    assert last.at == datetime(2024, 2, 14, 12, 45, tzinfo=UTC)
    assert fake.requests == [
        {
            "Barcode": INTERNATIONAL,
            "MessageType": "0",
            "Language": "RUS",
            "login": LOGIN,
            "password": PASSWORD,  # sent escaped, arrives intact
        }
    ]


async def test_language_setting_is_sent(
    serve: Any, fake: FakeRussianPost, context: SourceContext
) -> None:
    source = make_source(context, base_url=await serve(fake.app()), language="ENG")
    fake.histories[DOMESTIC] = []
    await source.lookup([DOMESTIC])
    assert fake.requests[0]["Language"] == "ENG"


async def test_empty_history_and_not_found_fault_are_not_found(
    source: RussianPostSource, fake: FakeRussianPost
) -> None:
    fake.histories[DOMESTIC] = []
    for barcode in (DOMESTIC, "RU000000000RU"):
        snapshot = (await source.lookup([barcode]))[barcode]
        assert isinstance(snapshot, Snapshot)
        assert snapshot.status is Status.NOT_FOUND


async def test_other_barcode_fault_is_a_lookup_failure(source: RussianPostSource) -> None:
    result = (await source.lookup(["BROKEN"]))["BROKEN"]
    assert isinstance(result, LookupFailure)
    assert "Неверный формат ШПИ" in result.reason


async def test_auth_fault_is_named_and_keeps_the_password_out(
    serve: Any, fake: FakeRussianPost, context: SourceContext
) -> None:
    source = make_source(context, base_url=await serve(fake.app()), password="wrong-pass-77")
    with pytest.raises(SourceError, match="refused the login or password") as caught:
        await source.lookup([DOMESTIC])
    assert "wrong-pass-77" not in caught.value.reason


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (soap_response("<S:Envelope><unclosed>"), "invalid XML"),
        (web.Response(text="<html><body>Service unavailable</body></html>",
                      content_type="text/html"), "HTML page"),
        (web.Response(status=502, text="Bad gateway"), r"error \(HTTP 502\): an answer that"),
        (soap_response("<other/>"), "not a SOAP envelope"),
        (soap_response(f'<S:Envelope xmlns:S="{SOAP}"><S:Body/></S:Envelope>'),
         "without OperationHistoryData"),
        (soap_response(fault("Internal error", "SomethingElse"), 500), "SOAP fault: Internal"),
        (soap_response(fault("Bad language", "LanguageFaultReason"), 500), "language setting"),
        (soap_response('<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'), "DTD"),
        (web.Response(status=503), "empty answer"),
    ],
)  # fmt: skip
async def test_unusable_answers_raise_source_error(
    source: RussianPostSource, fake: FakeRussianPost, response: web.Response, expected: str
) -> None:
    fake.override = response
    with pytest.raises(SourceError, match=expected):
        await source.lookup([DOMESTIC])


async def test_malformed_operation_is_a_lookup_failure(
    source: RussianPostSource, fake: FakeRussianPost
) -> None:
    fake.histories[DOMESTIC] = [Operation(1, 1, "2024-02-02T10:00:00")]  # no UTC offset
    result = (await source.lookup([DOMESTIC]))[DOMESTIC]
    assert isinstance(result, LookupFailure)
    assert "no UTC offset" in result.reason


async def test_timeout_and_refused_connection(
    serve: Any, fake: FakeRussianPost, context: SourceContext, closed_port_url: str
) -> None:
    fake.hanging = True
    slow = make_source(context, base_url=await serve(fake.app()), timeout=0.05)
    with pytest.raises(SourceError, match="did not answer"):
        await slow.lookup([DOMESTIC])
    with pytest.raises(SourceError, match="cannot connect to Russian Post"):
        await make_source(context, base_url=closed_port_url).lookup([DOMESTIC])


async def test_daily_budget(
    serve: Any, fake: FakeRussianPost, cursors: MemoryCursors, http: Any
) -> None:
    clock = FixedClock(datetime(2024, 3, 1, 22, 0, tzinfo=UTC))
    context = SourceContext(clock=clock, http=lambda: http, cursors=cursors)
    source = make_source(context, base_url=await serve(fake.app()), daily_limit=2)
    fake.histories[DOMESTIC] = []
    await source.lookup([DOMESTIC])
    await source.lookup([DOMESTIC])
    with pytest.raises(SourceError, match="daily request budget of 2 used up") as caught:
        await source.lookup([DOMESTIC])
    assert caught.value.retry_after == 2 * 3600
    assert cursors.get("budget:2024-03-01") == "2"
    assert len(fake.requests) == 2

    clock.current = datetime(2024, 3, 2, 0, 0, 1, tzinfo=UTC)
    await source.lookup([DOMESTIC])
    assert cursors.get("budget:2024-03-02") == "1"


def test_handles_russian_and_international_numbers(context: SourceContext) -> None:
    source = make_source(context)
    assert source.handles(DOMESTIC)
    assert source.handles(INTERNATIONAL)
    assert source.handles("rr 123 456 785 ru")  # S10 written loosely
    assert not source.handles("63010245873125")  # wrong check digit
    assert not source.handles("LP00123456789012")  # Cainiao's own numbers
