"""The Russian Post source against a local server speaking SOAP 1.2 `getOperationHistory`."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from parcel_monitor_plugins.russianpost import (
    RussianPostSettings,
    RussianPostSource,
    map_operation,
    parse_reply,
)
from parcel_monitor_plugins.russianpost_codes import PAIRS, TYPES
from parcel_monitor_plugins.russianpost_codes import Operation as CodeRow
from structlog.testing import capture_logs

from monitor.model import Action, Destination, LookupFailure, Point, Snapshot, Status
from monitor.plugin import SourceContext, SourceError
from monitor.sourcekit import HttpReply

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
    destination: str = "190000"
    mail_direct: str = ""  # the destination country's Code2A, as MailDirect carries it


def record(op: Operation) -> str:
    destination = (
        f"<ns3:DestinationAddress><ns3:Index>{op.destination}</ns3:Index>"
        "<ns3:Description>Почтамт</ns3:Description></ns3:DestinationAddress>"
        if op.destination
        else ""
    )
    mail_direct = (
        f"<ns3:MailDirect><ns3:Id>0</ns3:Id><ns3:Code2A>{op.mail_direct}</ns3:Code2A>"
        "</ns3:MailDirect>"
        if op.mail_direct
        else ""
    )
    return f"""
<ns3:historyRecord>
  <ns3:AddressParameters>
    {destination}
    <ns3:OperationAddress><ns3:Index>{op.index}</ns3:Index>
      <ns3:Description>{op.place}</ns3:Description></ns3:OperationAddress>
    {mail_direct}
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


ROWS = sorted(
    [((oper_type, None), row) for oper_type, row in TYPES.items()]
    + [(pair, row) for pair, row in PAIRS.items()],
    key=lambda item: (item[0][0], -1 if item[0][1] is None else item[0][1]),
)


def parse_one(op: Operation) -> Snapshot:
    body = history([op]).encode()
    result = parse_reply(HttpReply(200, {}, body), DOMESTIC, datetime(2024, 3, 1, tzinfo=UTC))
    assert isinstance(result, Snapshot)
    return result


@pytest.mark.parametrize(
    ("code", "row"), ROWS, ids=[f"{t}.{'-' if a is None else a}" for (t, a), _ in ROWS]
)
def test_every_row_of_the_code_table(code: tuple[int, int | None], row: CodeRow) -> None:
    """Each published operation, in an answer of the real shape, reads as its table row."""
    oper_type, oper_attr = code
    op = Operation(oper_type, 0 if oper_attr is None else oper_attr,
                   "2024-02-14T15:45:00.000+03:00", "420111", "Казань 111")  # fmt: skip
    if oper_attr is None:  # a type without its attribute element, as types 9-11 come
        body = history([op]).replace("<ns3:OperAttr><ns3:Id>0</ns3:Id>", "<ns3:OperAttr>")
        result = parse_reply(HttpReply(200, {}, body.encode()), DOMESTIC, datetime.now(UTC))
        assert isinstance(result, Snapshot)
        snapshot = result
    else:
        snapshot = parse_one(op)
    [checkpoint] = snapshot.checkpoints
    assert (checkpoint.status, checkpoint.point, checkpoint.action) == (
        row.meaning.status,
        row.meaning.point,
        row.meaning.action,
    )
    assert snapshot.status is row.meaning.status
    assert checkpoint.postcode == "420111"
    expected_until = (
        None if row.storage_days is None else date(2024, 2, 13) + timedelta(days=row.storage_days)
    )
    assert checkpoint.storage_until == expected_until


def test_last_mile_rows_the_rules_depend_on() -> None:
    """The rows DOMAIN.md names, spelled out (a table edit that breaks one shows here)."""
    assert map_operation(8, 2) is Status.AT_POST_OFFICE
    assert PAIRS[(8, 2)].meaning.point is Point.OFFICE
    assert PAIRS[(8, 9)].meaning.point is Point.LOCKER  # arrived at a parcel locker
    assert PAIRS[(8, 14)].meaning.point is Point.PICKUP_POINT
    assert map_operation(3, 1) is Status.RETURNING  # return: storage expired
    assert map_operation(12, 1) is Status.DELIVERY_FAILED
    assert PAIRS[(12, 4)].meaning.action is Action.ADDRESS
    assert PAIRS[(14, 14)].meaning.action is Action.DUTY_PAYMENT
    assert PAIRS[(24, 1054)].meaning.action is Action.CUSTOMS_DOCUMENTS
    assert PAIRS[(8, 28)].storage_days == 5
    # Statuses the old ten-type table had that the carrier's list corrected:
    assert map_operation(7, 2) is Status.EXCEPTION  # unclaimed, in undeliverable storage
    assert map_operation(2, 7) is Status.RETURNING  # handed to the sender by a postman
    assert map_operation(21, 2) is Status.DELIVERED


def test_storage_notice_gives_the_keep_until_day() -> None:
    snapshot = parse_one(Operation(8, 28, "2024-03-10T23:30:00.000+10:00"))
    [checkpoint] = snapshot.checkpoints
    # Five days left on the scan's own day (10 March, local): the last safe day is 14 March.
    assert checkpoint.storage_until == date(2024, 3, 14)


def test_unknown_codes_are_in_transit_and_logged_once() -> None:
    with capture_logs() as logs:
        for _ in range(3):  # three polls
            unknown_type = parse_one(Operation(97, 3, "2024-02-14T15:45:00.000+03:00"))
            new_reason = parse_one(Operation(12, 97, "2024-02-14T15:45:00.000+03:00"))
    assert unknown_type.status is Status.IN_TRANSIT
    assert new_reason.status is Status.DELIVERY_FAILED  # an unlisted reason of a failed attempt
    warned = [(e["source"], e["code"]) for e in logs if e.get("code") in ("97.3", "12.97")]
    assert warned == [("russianpost", "97.3"), ("russianpost", "12.97")]


def test_destination_from_the_destination_index() -> None:
    domestic = parse_one(Operation(1, 1, "2024-02-14T15:45:00.000+03:00", destination="420111"))
    assert domestic.destination == Destination("RU", "420111")
    abroad = parse_one(
        Operation(1, 1, "2024-02-14T15:45:00.000+03:00", destination="050000", mail_direct="kz")
    )
    assert abroad.destination == Destination("KZ", "050000")
    unknown = parse_one(Operation(1, 1, "2024-02-14T15:45:00.000+03:00", destination=""))
    assert unknown.destination is None


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
    assert (last.postcode, last.point) == ("630099", Point.OFFICE)
    assert snapshot.destination == Destination("RU", "190000")
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
