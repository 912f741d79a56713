"""Russian Post single-access tracking: SOAP 1.2 `getOperationHistory`, one barcode per request.

Without a contract the service allows 100 requests a day, so the source counts its requests per UTC
day in its cursors (`budget:YYYY-MM-DD`) and stops before the service starts refusing.

Every operation type and type/attribute pair the carrier publishes is read through the table in
`russianpost_codes` (documented, with its sources, in docs/carrier-codes.md): a status, the kind of
pick-up point (office, parcel locker, pick-up point), what the buyer must do (customs documents, a
duty payment, the address) and, for "storage ends in N days", the keep-until day. A code the table
does not know is logged once and read as in_transit (an unlisted attribute of a known type: as its
type).

Each scan carries its office's postcode (`OperationAddress/Index`); the snapshot's destination is
the newest `DestinationAddress/Index` with the country of `MailDirect` (the item's destination
country), or RU for a six-digit destination index when no record names the country.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import ClassVar, Literal
from xml.sax.saxutils import escape

from pydantic import Field, SecretStr

from monitor.durations import PollEvery
from monitor.model import Checkpoint, Destination, LookupFailure, Snapshot, Status
from monitor.numbers import russian14_valid, s10_valid
from monitor.plugin import BaseSource, LookupResult, SourceError, SourceSettings
from monitor.sourcekit import BaseUrl, HttpReply, UnknownCodes, http_error, request

from .russianpost_codes import PAIRS, TYPES, Operation

SERVICE = "Russian Post"
NAME = "russianpost"
CARRIER = "Russian Post"

_SOAP12 = "application/soap+xml; charset=utf-8"
_ENVELOPE = """<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" \
xmlns:oper="http://russianpost.org/operationhistory" \
xmlns:data="http://russianpost.org/operationhistory/data" \
xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
<soap:Header/>
<soap:Body>
<oper:getOperationHistory>
<data:OperationHistoryRequest>
<data:Barcode>{barcode}</data:Barcode>
<data:MessageType>0</data:MessageType>
<data:Language>{language}</data:Language>
</data:OperationHistoryRequest>
<data:AuthorizationHeader soapenv:mustUnderstand="1">
<data:login>{login}</data:login>
<data:password>{password}</data:password>
</data:AuthorizationHeader>
</oper:getOperationHistory>
</soap:Body>
</soap:Envelope>"""

_NOT_FOUND_FAULT = re.compile(r"не найден|not found", re.IGNORECASE)


_UNKNOWN = UnknownCodes(NAME)
_TYPES_WITH_ATTRIBUTES = frozenset(oper_type for oper_type, _ in PAIRS)
_SIX_DIGITS = re.compile(r"[0-9]{6}")


def read_operation(oper_type: int | None, oper_attr: int | None) -> Operation:
    """An operation's type and attribute as a row of the carrier's code table.

    An attribute the table does not list for a known type reads as the type (and is logged once:
    the carrier may have added it); an unknown type is in_transit.
    """
    if oper_type is not None and oper_attr is not None:
        known = PAIRS.get((oper_type, oper_attr))
        if known is not None:
            return known
    code = (
        f"{oper_type if oper_type is not None else ''}.{oper_attr if oper_attr is not None else ''}"
    )
    by_type = TYPES.get(oper_type) if oper_type is not None else None
    if by_type is None:
        return Operation("unknown operation", _UNKNOWN.read(code))
    if oper_type in _TYPES_WITH_ATTRIBUTES and oper_attr not in (None, 0):
        _UNKNOWN.read(code, by_type.meaning)
    return by_type


def map_operation(oper_type: int | None, oper_attr: int | None) -> Status:
    """An operation's type and attribute as our status."""
    return read_operation(oper_type, oper_attr).meaning.status


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(element: ET.Element | None, path: str) -> str:
    """Text at a namespace-agnostic path like `OperType/Id` below `element` ("" if absent)."""
    if element is None:
        return ""
    found = element.find("/".join(f"{{*}}{step}" for step in path.split("/")))
    return (found.text or "").strip() if found is not None else ""


def _int(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None


def _checkpoint(record: ET.Element) -> Checkpoint:
    params = record.find("{*}OperationParameters")
    oper_type, oper_attr = _int(_text(params, "OperType/Id")), _int(_text(params, "OperAttr/Id"))
    names = [_text(params, "OperType/Name"), _text(params, "OperAttr/Name")]
    address = record.find("{*}AddressParameters/{*}OperationAddress")
    postcode = _text(address, "Index")
    location = [postcode, _text(address, "Description")]
    at = datetime.fromisoformat(_text(params, "OperDate"))
    if at.utcoffset() is None:
        raise ValueError(f"operation date {at.isoformat()} has no UTC offset")
    operation = read_operation(oper_type, oper_attr)
    storage_until: date | None = None
    if operation.storage_days is not None and at.date() < date.max - timedelta(days=31):
        storage_until = at.date() + timedelta(days=operation.storage_days - 1)
    return Checkpoint(
        at=at,
        status=operation.meaning.status,
        text=": ".join(part for part in names if part),
        location=" ".join(part for part in location if part),
        code=f"{_text(params, 'OperType/Id')}.{_text(params, 'OperAttr/Id')}",
        point=operation.meaning.point,
        storage_until=storage_until,
        action=operation.meaning.action,
        postcode=postcode,
    )


def _destination(records: list[ET.Element]) -> Destination | None:
    """The newest destination index, with MailDirect's country (RU for a bare 6-digit index)."""
    postcode = country = ""
    for record in records:  # oldest first: later records win
        address = record.find("{*}AddressParameters")
        postcode = _text(address, "DestinationAddress/Index") or postcode
        country = _text(address, "MailDirect/Code2A").upper() or country
    if not country and _SIX_DIGITS.fullmatch(postcode):
        country = "RU"  # the carrier's own office indexes are Russian postcodes
    destination = Destination(country=country, postcode=postcode)
    return destination or None


def _fault(root: ET.Element) -> ET.Element | None:
    return root.find("{*}Body/{*}Fault")


def _raise_or_fail_for_fault(fault: ET.Element, barcode: str) -> LookupFailure | None:
    """A fault about this barcode as a failure (None: simply not found); others raise."""
    reason = _text(fault, "Reason/Text") or "no reason given"
    detail = fault.find("{*}Detail")
    children = list(detail) if detail is not None else []
    kinds = {_local(child.tag) for child in children}
    if "AuthorizationFaultReason" in kinds:
        raise SourceError(f"{SERVICE} refused the login or password: {reason}")
    if "LanguageFaultReason" in kinds:
        raise SourceError(f"{SERVICE} refused the language setting: {reason}")
    if "OperationHistoryFaultReason" in kinds:
        details = " ".join((child.text or "") for child in children)
        if _NOT_FOUND_FAULT.search(reason + " " + details):
            return None
        return LookupFailure(barcode, f"{SERVICE}: {reason}")
    raise SourceError(f"{SERVICE} answered with a SOAP fault: {reason}")


def _parse_xml(body: bytes) -> ET.Element:
    # SOAP 1.2 forbids DTDs; refusing them also shuts out entity-expansion attacks.
    if re.search(rb"<!DOCTYPE", body, re.IGNORECASE):
        raise SourceError(f"{SERVICE} sent XML with a DTD, which SOAP does not allow")
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise SourceError(f"{SERVICE} sent invalid XML: {exc}") from exc


def _envelope_root(reply: HttpReply) -> ET.Element:
    """The SOAP envelope of any answer; an HTTP error is named as such when no SOAP came."""
    if reply.looks_like_html:
        problem = "an HTML page instead of a SOAP answer"
    elif not reply.body.strip():
        problem = "an empty answer"
    else:
        try:
            root = _parse_xml(reply.body)
        except SourceError:
            if reply.ok:
                raise
            problem = "an answer that is not XML"
        else:
            if _local(root.tag) == "Envelope":
                return root
            problem = f"XML that is not a SOAP envelope (<{_local(root.tag)}>)"
    if not reply.ok:
        raise http_error(reply, SERVICE, detail=problem)
    raise SourceError(f"{SERVICE} sent {problem}")


def parse_reply(reply: HttpReply, barcode: str, fetched_at: datetime) -> Snapshot | LookupFailure:
    """A getOperationHistory answer (any HTTP status) as a result; SourceError if unusable."""
    root = _envelope_root(reply)
    not_found = Snapshot(barcode, NAME, Status.NOT_FOUND, fetched_at, carrier=CARRIER)
    fault = _fault(root)
    if fault is not None:
        return _raise_or_fail_for_fault(fault, barcode) or not_found
    if not reply.ok:
        raise http_error(reply, SERVICE)
    data = root.find("{*}Body/{*}getOperationHistoryResponse/{*}OperationHistoryData")
    if data is None:
        raise SourceError(f"{SERVICE} sent a SOAP answer without OperationHistoryData")
    records = data.findall("{*}historyRecord")
    try:
        checkpoints = [_checkpoint(record) for record in records]
    except ValueError as exc:
        return LookupFailure(barcode, f"{SERVICE} sent a malformed operation: {exc}")
    if not checkpoints:
        return not_found
    # The history comes oldest first; a stable sort keeps that order for equal times.
    latest = sorted(checkpoints, key=lambda c: c.at)[-1]
    return Snapshot(
        number=barcode,
        source=NAME,
        status=latest.status,
        fetched_at=fetched_at,
        checkpoints=tuple(checkpoints),
        carrier=CARRIER,
        destination=_destination(records),
    )


class RussianPostSettings(SourceSettings):
    login: str = Field(min_length=1, description="login from the tracking API's personal page")
    password: SecretStr
    base_url: BaseUrl = "https://tracking.russianpost.ru"
    language: Literal["RUS", "ENG"] = "RUS"
    daily_limit: int = Field(default=100, ge=1, description="requests per UTC day")
    # Twice a day instead of the usual 6 h: one request per number and poll, out of 100 a day.
    poll_every: PollEvery = Field(default=timedelta(hours=12), description="how often to poll")


class RussianPostSource(BaseSource[RussianPostSettings]):
    name: ClassVar[str] = NAME
    Settings: ClassVar[type[SourceSettings]] = RussianPostSettings
    batch_size = 1  # single access takes one barcode per request

    def handles(self, number: str) -> bool:
        # Any S10 item, not only `..RU`: international parcels are tracked here once in Russia.
        return russian14_valid(number) or s10_valid(number)

    def _spend_budget(self) -> None:
        """Count one request against today's budget, or raise when it is used up."""
        now = self.context.clock.now().astimezone(UTC)
        key = f"budget:{now.date().isoformat()}"
        used = int(self.context.cursors.get(key) or 0)
        if used >= self.settings.daily_limit:
            midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
            raise SourceError(
                f"daily request budget of {self.settings.daily_limit} used up for "
                f"{now.date().isoformat()}; {SERVICE} lookups resume after midnight UTC",
                retry_after=(midnight - now).total_seconds(),
            )
        self.context.cursors.set(key, str(used + 1))

    def _envelope(self, barcode: str) -> bytes:
        return _ENVELOPE.format(
            barcode=escape(barcode),
            language=self.settings.language,
            login=escape(self.settings.login),
            password=escape(self.settings.password.get_secret_value()),
        ).encode()

    async def lookup(self, numbers: Sequence[str]) -> LookupResult:
        results: dict[str, Snapshot | LookupFailure] = {}
        for barcode in numbers:  # normally one: batch_size is 1
            self._spend_budget()
            reply = await request(
                self.context.http(),
                "POST",
                f"{self.settings.base_url}/rtm34",
                service=SERVICE,
                time_limit=self.settings.timeout,
                headers={"Content-Type": _SOAP12},
                data=self._envelope(barcode),
            )
            results[barcode] = parse_reply(reply, barcode, self.context.clock.now())
        return results
