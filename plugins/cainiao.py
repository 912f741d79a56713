"""Cainiao global tracking: the public JSON behind global.cainiao.com (no key, unofficial).

`mailNos` takes a comma-separated list and the answer's `module` is a list with one entry per
number (`mailNo`), so a batch of a few numbers costs one request. Being unofficial, the endpoint
may answer with an anti-bot page; that is a `SourceError` the poller backs off from.

Statuses come from the newest event's `actionCode`, and from the module's `status` only when
there are no events. Every code of Cainiao's published list is in `cainiao_codes` (and
docs/carrier-codes.md) with its status, kind of pick-up point and buyer action. Customs: entering
or waiting is `customs`; the codes that say clearance finished (`CC_EX_SUCCESS`, `CC_IM_SUCCESS`,
`CC_HO_OUT_SUCCESS`) are `in_transit`, so a parcel released by customs no longer looks stuck there.
A code the list lacks is read by its family (customs, warehouse, return) or as in_transit, and
logged once. `destCountry` (a country's English name) is the snapshot's destination country.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar

from pydantic import Field

from monitor.model import Checkpoint, Destination, EtaWindow, LookupFailure, Snapshot, Status
from monitor.numbers import CAINIAO, S10, detect
from monitor.plugin import BaseSource, LookupResult, SourceError, SourceSettings
from monitor.sourcekit import (
    BaseUrl,
    Meaning,
    PayloadError,
    UnknownCodes,
    as_list,
    as_object,
    as_text,
    fetch_json,
)

from .cainiao_codes import ACTIONS, MODULE_STATUSES, PREFIXES, country_code

SERVICE = "Cainiao"
NAME = "cainiao"

_UNKNOWN = UnknownCodes(NAME)
_GMT = re.compile(r"(?:GMT|UTC)?\s*([+-])(\d{1,2})(?::?(\d{2}))?")


def read_action(code: str) -> Meaning:
    """An event's action code as a row of Cainiao's code table (unknown ones logged once)."""
    known = ACTIONS.get(code)
    if known is not None:
        return known[1]
    for prefix, meaning in PREFIXES:
        if code.startswith(prefix):
            return _UNKNOWN.read(code, meaning)
    return _UNKNOWN.read(code)


def map_action(code: str) -> Status:
    return read_action(code).status


def _zone(text: str) -> timezone:
    """`GMT+8`, `GMT+0800`, `GMT-3`, `GMT+5:30` as a zone; UTC when absent or unreadable."""
    match = _GMT.fullmatch(text.strip())
    if match is None:
        return UTC
    sign, hours, minutes = match.groups()
    offset = timedelta(hours=int(hours), minutes=int(minutes or 0))
    if offset >= timedelta(hours=24):
        return UTC
    return timezone(-offset if sign == "-" else offset)


def _epoch_ms(value: Any, zone: timezone, what: str) -> datetime:
    """An epoch-milliseconds instant (number or numeric string), shown in `zone`."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise PayloadError(f"{what} should be epoch milliseconds, got {value!r}")
    try:
        return datetime.fromtimestamp(value / 1000, zone)
    except (OverflowError, OSError, ValueError) as exc:
        raise PayloadError(f"{what} {value!r} is not a usable time: {exc}") from exc


def _checkpoint(raw: Any) -> Checkpoint:
    event = as_object(raw, "detailList item")
    # `time` is the instant; `timeZone` only says where the scan happened (and can be empty).
    at = _epoch_ms(event.get("time"), _zone(as_text(event.get("timeZone"))), "event time")
    code = as_text(event.get("actionCode"))
    meaning = read_action(code)
    return Checkpoint(
        at=at,
        status=meaning.status,
        text=as_text(event.get("standerdDesc")) or as_text(event.get("desc")),
        code=code,
        point=meaning.point,
        action=meaning.action,
    )


def _eta(module: Mapping[str, Any]) -> EtaWindow | None:
    info = module.get("globalEtaInfo")
    if not isinstance(info, Mapping):
        return None
    days = [
        _epoch_ms(info[key], UTC, key).date()
        for key in ("deliveryMinTime", "deliveryMaxTime")
        if info.get(key) not in (None, "")
    ]
    return EtaWindow(min(days), max(days)) if days else None


def _destination(module: Mapping[str, Any]) -> Destination | None:
    country = country_code(as_text(module.get("destCountry")))
    return Destination(country=country) if country else None


def snapshot_from_module(module: Mapping[str, Any], fetched_at: datetime) -> Snapshot:
    """One `module` entry as a Snapshot; ValueError when it is malformed."""
    number = as_text(module.get("mailNo"))
    checkpoints = [_checkpoint(raw) for raw in as_list(module.get("detailList"), "detailList")]
    if checkpoints:
        status = max(checkpoints, key=lambda c: c.at).status
    else:
        known = MODULE_STATUSES.get(as_text(module.get("status")))
        status = known.status if known is not None else Status.NOT_FOUND
    real_number = as_text(module.get("realMailNo"))
    carrier = module.get("destCpInfo")
    return Snapshot(
        number=number,
        source=NAME,
        status=status,
        fetched_at=fetched_at,
        checkpoints=tuple(checkpoints),
        eta=_eta(module),
        handover=real_number if real_number and real_number != number else None,
        carrier=as_text(carrier.get("cpName")) if isinstance(carrier, Mapping) else "",
        destination=_destination(module),
    )


def parse_detail(
    payload: Any, requested: Collection[str], fetched_at: datetime
) -> dict[str, Snapshot | LookupFailure]:
    """A detail.json answer as results for the `requested` numbers; SourceError if unusable."""
    if not isinstance(payload, Mapping):
        raise SourceError(f"{SERVICE} sent JSON that is not an object")
    if "rgv587_flag" in payload:  # Alibaba's anti-bot "punish" answer
        raise SourceError(f"{SERVICE} wants a captcha solved (anti-bot check); polling less often")
    if payload.get("success") is not True:
        message = as_text(payload.get("errorMessage") or payload.get("message")) or "no reason"
        raise SourceError(f"{SERVICE} answered success=false: {message}")
    try:
        modules = [as_object(m, "module item") for m in as_list(payload.get("module"), "module")]
    except PayloadError as exc:
        raise SourceError(f"{SERVICE} sent an answer of an unexpected shape: {exc}") from exc
    results: dict[str, Snapshot | LookupFailure] = {}
    for module in modules:
        number = as_text(module.get("mailNo"))
        if number not in requested:
            continue
        try:
            results[number] = snapshot_from_module(module, fetched_at)
        except ValueError as exc:
            results[number] = LookupFailure(number, f"{SERVICE} sent malformed tracking: {exc}")
    return results


class CainiaoSettings(SourceSettings):
    base_url: BaseUrl = "https://global.cainiao.com"
    lang: str = Field(default="en-US", pattern=r"^[a-z]{2}-[A-Z]{2}$")


class CainiaoSource(BaseSource[CainiaoSettings]):
    name: ClassVar[str] = NAME
    Settings: ClassVar[type[SourceSettings]] = CainiaoSettings
    batch_size = 10  # one request per few numbers; small enough not to look like scraping

    def handles(self, number: str) -> bool:
        return bool(detect(number) & {CAINIAO, S10})

    async def lookup(self, numbers: Sequence[str]) -> LookupResult:
        now = self.context.clock.now()
        return await fetch_json(  # type: ignore[no-any-return]
            self.context.http(),
            "GET",
            f"{self.settings.base_url}/global/detail.json",
            service=SERVICE,
            time_limit=self.settings.timeout,
            params={"mailNos": ",".join(numbers), "lang": self.settings.lang},
            parse=lambda payload: parse_detail(payload, numbers, now),
        )
