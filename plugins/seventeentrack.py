"""17TRACK (API v2.2): one paid API that follows thousands of carriers, plus its push webhook.

A number must be registered once (one quota unit) before 17TRACK follows it; polling it later is
free. Registered numbers are remembered in the source's cursors under `registered:<number>`, one
key per number so a lookup only reads the keys of its own batch.

Checkpoint statuses: a v2.2 event carries its own `sub_status` (and every version a key `stage`);
when an event has neither, the newest event takes the parcel's latest status and older ones count
as `in_transit`, the one thing every scan between acceptance and the end certainly is. Every main
status and sub-status 17TRACK documents is in `seventeentrack_codes` (and docs/carrier-codes.md):
status, kind of pick-up point, buyer action. An unknown sub-status reads as its main status, an
unknown main status as in_transit; either is logged once.

The last mile: an event's `address.postal_code` is the checkpoint's postcode, the kind of pick-up
point comes from the event's wording, and `shipping_info.recipient_address` (country, postal code)
is the snapshot's destination.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from functools import partial
from sys import intern
from typing import Any, ClassVar, TypeGuard

from aiohttp import web
from pydantic import Field, SecretStr

from monitor.model import Checkpoint, Destination, EtaWindow, LookupFailure, Snapshot, Status
from monitor.plugin import BaseSource, LookupResult, SourceContext, SourceError, SourceSettings
from monitor.sourcekit import (
    BaseUrl,
    Meaning,
    ParseCache,
    PayloadError,
    RateLimiter,
    UnknownCodes,
    as_list,
    as_object,
    as_text,
    decode_json,
    http_error,
    off_loop,
    request,
    shared_zone,
)

from .seventeentrack_codes import MAIN_STATUSES, STAGES, SUB_STATUSES, point_from_text

SERVICE = "17TRACK"
NAME = "seventeentrack"
WEBHOOK_PATH = "/"  # the daemon serves it at /hooks/seventeentrack

ALREADY_REGISTERED = -18019901
NOT_REGISTERED = -18019902
NO_INFO_YET = -18019909
DAILY_LIMIT = -18019907
QUOTA_USED_UP = -18019908

_UNKNOWN = UnknownCodes(NAME)


def read_status(status: str, sub_status: str = "") -> Meaning | None:
    """17TRACK's status/sub-status pair as a code-table row; None when both are empty.

    A sub-status 17TRACK added since reads as its main status, an unknown main status as
    in_transit; both are logged once.
    """
    if sub_status:
        known = SUB_STATUSES.get(sub_status)
        if known is not None:
            return known
        return _UNKNOWN.read(sub_status, MAIN_STATUSES.get(status, UnknownCodes.IN_TRANSIT))
    if not status:
        return None
    return MAIN_STATUSES.get(status) or _UNKNOWN.read(status)


def map_status(status: str, sub_status: str = "") -> Status | None:
    """17TRACK's status/sub-status pair as our status; None when both are empty."""
    meaning = read_status(status, sub_status)
    return meaning.status if meaning is not None else None


def _event_meaning(sub_status: str, stage: str) -> Meaning | None:
    if sub_status:
        return read_status(sub_status.split("_", 1)[0], sub_status)
    if not stage:
        return None
    known = STAGES.get(stage) or MAIN_STATUSES.get(stage)
    if known is None:
        _UNKNOWN.read(f"stage {stage}")  # logged; the event then takes the fallback below
    return known


_CODES: dict[tuple[Any, Any], tuple[Meaning | None, str]] = {}
_CODE_TYPES = (str, type(None))
_MAX_CODES = 4096  # a service sending ever new codes must not grow the table without end


def _read_code(sub_status: Any, stage: Any) -> tuple[Meaning | None, str]:
    """An event's `sub_status` and `stage` as sent: its meaning (None for "neither") and code.

    Events repeat a handful of codes, so each pair is read once and kept in `_CODES`; only
    pairs of strings and nulls, as keys `True`, `1` and `1.0` are equal but read differently.
    """
    sub_text, stage_text = as_text(sub_status), as_text(stage)
    read = _event_meaning(sub_text, stage_text), intern(sub_text or stage_text)
    plain = type(sub_status) in _CODE_TYPES and type(stage) in _CODE_TYPES
    if plain and len(_CODES) < _MAX_CODES:
        _CODES[sub_status, stage] = read
    return read


def _time(event: Mapping[str, Any]) -> datetime | None:
    """The local time with its offset; the UTC time when the local one lacks an offset."""
    for key in ("time_iso", "time_utc"):
        text = as_text(event.get(key))
        if text:
            at = datetime.fromisoformat(text)
            if at.utcoffset() is not None:
                return at
    return None


def _is_object(value: Any) -> TypeGuard[Mapping[str, Any]]:
    return type(value) is dict or isinstance(value, Mapping)  # most often without an ABC check


def _location(event: Mapping[str, Any]) -> str:
    location = as_text(event.get("location"))
    if location or not _is_object(event.get("address")):
        return location
    address = event["address"]
    parts = (as_text(address.get(key)) for key in ("city", "state", "country"))
    return ", ".join(part for part in parts if part)


def _postcode(address: Any) -> str:
    return as_text(address.get("postal_code")) if _is_object(address) else ""


def _dated_events(
    tracking: Mapping[str, Any],
) -> tuple[list[datetime], list[Mapping[str, Any]], datetime | None]:
    """The events that have a time, their times (in two lists: no tuple per event to build and
    collect) and the newest of the times.

    Each value takes a fast path for the type JSON nearly always gives it (an object, a string)
    and the careful reading (`as_object`, `_time`) for anything else, so the outcome is the
    careful one's. The time zone is shared as `shared_zone` would, without its dictionary
    look-up for every event: an answer's events mostly have one offset.
    """
    fromisoformat = datetime.fromisoformat
    new_datetime = datetime
    shared = None
    times: list[datetime] = []
    events: list[Mapping[str, Any]] = []
    newest = None
    for provider in as_list(tracking.get("providers"), "tracking.providers"):
        for raw in as_list(as_object(provider, "provider").get("events"), "events"):
            event = raw if type(raw) is dict else as_object(raw, "event")
            local = event.get("time_iso")
            text = local.strip() if type(local) is str else ""
            at = fromisoformat(text) if text else None
            if at is None or at.tzinfo is None:
                at = _time(event)
                if at is None:  # an event without a time cannot be placed in the history
                    continue
            zone = at.tzinfo
            if zone != shared:  # fixed offsets compare by their offsets, cheaper than a hash
                at = shared_zone(at)
                shared = at.tzinfo
            elif zone is not shared:  # `fromisoformat` gives neither a fold nor a subclass
                at = new_datetime(
                    at.year, at.month, at.day, at.hour, at.minute, at.second, at.microsecond, shared
                )
            if newest is None or at > newest:
                newest = at
            times.append(at)
            events.append(event)
    return times, events, newest


def _checkpoints(track_info: Mapping[str, Any], latest: Meaning | None) -> list[Checkpoint]:
    tracking = as_object(track_info.get("tracking") or {}, "tracking")
    times, events, newest = _dated_events(tracking)
    codes = _CODES
    in_transit = UnknownCodes.IN_TRANSIT
    at_post_office = Status.AT_POST_OFFICE
    checkpoints = []
    for at, event in zip(times, events, strict=True):
        code_key = (event.get("sub_status"), event.get("stage"))
        try:
            meaning, code = codes[code_key]
        except (KeyError, TypeError):  # a new code, or a value JSON cannot use as a key
            meaning, code = _read_code(*code_key)
        if meaning is None:
            meaning = latest if at == newest and latest is not None else in_transit
        value = event.get("description")
        text = intern(value.strip() if type(value) is str else as_text(value))
        value = event.get("location")
        location = value.strip() if type(value) is str else as_text(value)
        address = event.get("address")
        if address is None:
            postcode = ""
        else:
            postcode = _postcode(address)
            if not location:
                location = _location(event)
        point = meaning.point
        if point is None and meaning.status is at_post_office:
            point = point_from_text(f"{text} {location}")
        checkpoints.append(
            Checkpoint(
                at,
                meaning.status,
                text,
                intern(location),
                code,
                point,
                None,
                meaning.action,
                postcode,
            )
        )
    return checkpoints


def _destination(track_info: Mapping[str, Any]) -> Destination | None:
    shipping = track_info.get("shipping_info")
    recipient = shipping.get("recipient_address") if _is_object(shipping) else None
    if not _is_object(recipient):
        return None
    destination = Destination(
        country=as_text(recipient.get("country")).upper(),
        postcode=as_text(recipient.get("postal_code")),
    )
    return destination or None


def _eta(track_info: Mapping[str, Any]) -> EtaWindow | None:
    metrics = as_object(track_info.get("time_metrics") or {}, "time_metrics")
    window = as_object(metrics.get("estimated_delivery_date") or {}, "estimated_delivery_date")
    days = [
        date.fromisoformat(text[:10])
        for text in map(as_text, (window.get("from"), window.get("to")))
        if text
    ]
    return EtaWindow(min(days), max(days)) if days else None


def _carrier(track_info: Mapping[str, Any]) -> str:
    tracking = as_object(track_info.get("tracking") or {}, "tracking")
    for provider in as_list(tracking.get("providers"), "tracking.providers"):
        described = as_object(provider, "provider").get("provider")
        if _is_object(described) and as_text(described.get("name")):
            return as_text(described["name"])
    return ""


def snapshot_from_track_info(
    number: str,
    track_info: Any,
    fetched_at: datetime,
    *,
    source: str = NAME,
    fingerprint: str = "",
) -> Snapshot:
    """A `track_info` (from gettrackinfo or a push) as a Snapshot; ValueError if malformed."""
    info = as_object(track_info or {}, "track_info")
    latest_status = as_object(info.get("latest_status") or {}, "latest_status")
    latest_meaning = read_status(
        as_text(latest_status.get("status")), as_text(latest_status.get("sub_status"))
    )
    checkpoints = _checkpoints(info, latest_meaning)
    if latest_meaning is not None:
        latest = latest_meaning.status
    else:
        newest = max(checkpoints, key=lambda c: c.at, default=None)
        latest = newest.status if newest else Status.NOT_FOUND
    misc = as_object(info.get("misc_info") or {}, "misc_info")
    local_number = as_text(misc.get("local_number"))
    return Snapshot(
        number=number,
        source=source,
        status=latest,
        fetched_at=fetched_at,
        checkpoints=tuple(checkpoints),
        eta=_eta(info),
        handover=local_number if local_number and local_number != number else None,
        carrier=_carrier(info) or as_text(misc.get("local_provider")),
        destination=_destination(info),
        fingerprint=fingerprint,
    )


def _errors(payload: Any) -> list[Mapping[str, Any]]:
    """The `data.errors` of a request-level failure (empty when the body has none)."""
    data = payload.get("data") if isinstance(payload, Mapping) else None
    errors = data.get("errors") if isinstance(data, Mapping) else None
    return [e for e in errors if isinstance(e, Mapping)] if isinstance(errors, list) else []


def _errors_text(payload: Any) -> str:
    return "; ".join(
        f"{as_text(e.get('message')) or 'no message'} ({as_text(e.get('code'))})"
        for e in _errors(payload)
    )


def parse_envelope(payload: Any) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """`accepted` and `rejected` of a successful answer; SourceError for a failed request."""
    if not isinstance(payload, Mapping):
        raise SourceError(f"{SERVICE} sent JSON that is not an object")
    if payload.get("code") != 0:
        codes = {e.get("code") for e in _errors(payload)}
        if DAILY_LIMIT in codes:
            reason = "daily request limit reached"
        elif QUOTA_USED_UP in codes:
            reason = "tracking quota used up (buy more or wait for the plan to renew)"
        else:
            reason = "request failed"
        detail = _errors_text(payload) or f"code {payload.get('code')!r}"
        raise SourceError(f"{SERVICE} {reason}: {detail}")
    try:
        data = as_object(payload.get("data"), "data")
        accepted = [
            as_object(a, "accepted item") for a in as_list(data.get("accepted"), "accepted")
        ]
        rejected = [
            as_object(r, "rejected item") for r in as_list(data.get("rejected"), "rejected")
        ]
    except PayloadError as exc:
        raise SourceError(f"{SERVICE} sent an answer of an unexpected shape: {exc}") from exc
    return accepted, rejected


def _rejection(item: Mapping[str, Any]) -> tuple[str, int | None, str]:
    error = item.get("error")
    error = error if isinstance(error, Mapping) else {}
    code = error.get("code")
    return (
        as_text(item.get("number")),
        code if isinstance(code, int) else None,
        as_text(error.get("message")) or "rejected without a reason",
    )


def change_mark(track_info: Any) -> str | None:
    """17TRACK's own change markers for a `track_info`, or None where they are missing.

    The API hashes each provider's event list (`events_hash`) and the provider set
    (`providers_hash`) so that clients can tell a changed history without reading it; the latest
    status, the estimate, the hand-over number and the recipient's address are added because they
    can change alone.
    """
    try:
        tracking = track_info["tracking"]
        hashes = [tracking["providers_hash"]] + [p["events_hash"] for p in tracking["providers"]]
        latest = track_info.get("latest_status") or {}
        window = (track_info.get("time_metrics") or {}).get("estimated_delivery_date") or {}
        misc = track_info.get("misc_info") or {}
        recipient = (track_info.get("shipping_info") or {}).get("recipient_address") or {}
        extras = [
            latest.get("status"),
            latest.get("sub_status"),
            window.get("from"),
            window.get("to"),
            misc.get("local_number"),
            recipient.get("country"),
            recipient.get("postal_code"),
        ]
    except (KeyError, TypeError, AttributeError):
        return None
    if any(mark is None or isinstance(mark, dict | list) for mark in hashes):
        return None
    marks = hashes + extras
    return "17track:" + "|".join(map(str, marks))


def parse_trackinfo(
    payload: Any,
    requested: Collection[str],
    fetched_at: datetime,
    cache: ParseCache | None = None,
) -> tuple[dict[str, Snapshot | LookupFailure], set[str]]:
    """A gettrackinfo answer as results for the `requested` numbers (others are ignored), and
    the numbers 17TRACK says are not registered (any more)."""
    cache = cache or ParseCache()
    parse = snapshot_from_track_info
    accepted, rejected = parse_envelope(payload)
    results: dict[str, Snapshot | LookupFailure] = {}
    unregistered = set()
    for item in accepted:
        number = as_text(item.get("number"))
        if number not in requested:
            continue
        try:
            info = item.get("track_info")
            mark = change_mark(info)
            parser = partial(snapshot_from_track_info, fingerprint=mark) if mark else parse
            results[number] = cache.parse(number, info, fetched_at, parser, mark)
        except ValueError as exc:
            results[number] = LookupFailure(number, f"{SERVICE} sent malformed tracking: {exc}")
    for item in rejected:
        number, code, message = _rejection(item)
        if number not in requested:
            continue
        if code == NO_INFO_YET:
            results[number] = Snapshot(number, NAME, Status.NOT_FOUND, fetched_at)
            continue
        if code == NOT_REGISTERED:
            unregistered.add(number)
        results[number] = LookupFailure(number, f"{SERVICE}: {message} ({code})")
    return results, unregistered


def verify_signature(body: bytes, sign: str, key: str) -> bool:
    """Whether `sign` is 17TRACK's signature of a push: hex SHA-256 of `raw body + "/" + key`."""
    expected = hashlib.sha256(body + b"/" + key.encode()).hexdigest().encode()
    return hmac.compare_digest(expected, sign.strip().lower().encode("utf-8", "replace"))


def parse_push(body: bytes, fetched_at: datetime) -> Snapshot | None:
    """A webhook body as a Snapshot; None for events that carry no tracking (TRACKING_STOPPED).

    Raises SourceError for a body that is not a 17TRACK push.
    """
    try:
        payload = as_object(json.loads(body), "push")
        if payload.get("event") != "TRACKING_UPDATED":
            return None
        data = as_object(payload.get("data"), "data")
        number = as_text(data.get("number"))
        if not number:
            raise PayloadError("the push names no number")
        return snapshot_from_track_info(number, data.get("track_info"), fetched_at)
    except ValueError as exc:  # json's and PayloadError are both ValueErrors
        raise SourceError(f"not a valid {SERVICE} push: {exc}") from exc


class SeventeenTrackSettings(SourceSettings):
    api_key: SecretStr = Field(description="the API key (17token) from the 17TRACK dashboard")
    base_url: BaseUrl = "https://api.17track.net"
    requests_per_second: float = Field(default=3, gt=0, description="17TRACK allows about 3")


class SeventeenTrackSource(BaseSource[SeventeenTrackSettings]):
    name: ClassVar[str] = NAME
    Settings: ClassVar[type[SourceSettings]] = SeventeenTrackSettings
    batch_size = 40  # the API refuses more than 40 numbers per call (-18010014)

    def __init__(self, settings: SeventeenTrackSettings, context: SourceContext) -> None:
        super().__init__(settings, context)
        self._limiter = RateLimiter(settings.requests_per_second, context.clock.monotonic)
        self._parsed = ParseCache()
        self._registered: set[str] = set()  # what the cursors said, so each is read only once

    def _is_registered(self, number: str) -> bool:
        if number in self._registered:
            return True
        if self.context.cursors.get(_cursor(number)):
            self._registered.add(number)
            return True
        return False

    async def _call(self, endpoint: str, numbers: Sequence[str]) -> Any:
        await self._limiter.wait()
        reply = await request(
            self.context.http(),
            "POST",
            f"{self.settings.base_url}/track/v2.2/{endpoint}",
            service=SERVICE,
            time_limit=self.settings.timeout,
            headers={"17token": self.settings.api_key.get_secret_value()},
            json_body=[{"number": n} for n in numbers],
        )
        if not reply.ok:
            detail = "" if reply.looks_like_html else _errors_text(_try_json(reply.body))
            raise http_error(reply, SERVICE, detail=detail)
        return await off_loop(len(reply.body), decode_json, reply, SERVICE)

    async def _register(self, numbers: Sequence[str]) -> dict[str, LookupFailure]:
        """Register the numbers; those 17TRACK refused come back as failures.

        Running out of quota is not the numbers' fault: it fails the batch (after remembering
        the numbers that did get registered) so the poller backs off and tries again later.
        """
        accepted, rejected = parse_envelope(await self._call("register", numbers))
        done = {as_text(item.get("number")) for item in accepted}
        failures = {}
        out_of_quota = ""
        for number, code, message in map(_rejection, rejected):
            if code == ALREADY_REGISTERED:
                done.add(number)
            elif code in (DAILY_LIMIT, QUOTA_USED_UP):
                out_of_quota = f"{message} ({code})"
            elif number in numbers:
                failures[number] = LookupFailure(
                    number, f"{SERVICE} refused it: {message} ({code})"
                )
        stamp = self.context.clock.now().isoformat()
        newly = done & set(numbers)
        self.context.cursors.set_many({_cursor(n): stamp for n in newly})
        self._registered |= newly
        if out_of_quota:
            raise SourceError(f"{SERVICE} cannot register more numbers now: {out_of_quota}")
        return failures

    async def lookup(self, numbers: Sequence[str]) -> LookupResult:
        numbers = list(dict.fromkeys(numbers))
        if len(numbers) > self.batch_size:
            raise ValueError(f"at most {self.batch_size} numbers per lookup, got {len(numbers)}")
        results: dict[str, Snapshot | LookupFailure] = {}
        fresh = [n for n in numbers if not self._is_registered(n)]
        if fresh:
            results.update(await self._register(fresh))
        polled = [n for n in numbers if n not in results]
        if polled:
            answer = await self._call("gettrackinfo", polled)
            tracked, unregistered = parse_trackinfo(
                answer, polled, self.context.clock.now(), self._parsed
            )
            # e.g. deleted in the dashboard: register it again next time
            for number in unregistered:
                self._registered.discard(number)
                self.context.cursors.set(_cursor(number), "")
            results.update(tracked)
        return results

    def webhook_routes(self) -> list[web.RouteDef]:
        """The push endpoint for the daemon's web app; none when the daemon takes no pushes."""
        if self.context.push is None:
            return []
        return [web.post(WEBHOOK_PATH, self._on_push)]

    async def _on_push(self, http_request: web.Request) -> web.Response:
        body = await http_request.read()
        key = self.settings.api_key.get_secret_value()
        if not verify_signature(body, http_request.headers.get("sign", ""), key):
            return web.Response(status=401, text="bad signature")
        try:
            snapshot = parse_push(body, self.context.clock.now())
        except SourceError as exc:
            return web.Response(status=400, text=exc.reason)
        if snapshot is not None and self.context.push is not None:
            await self.context.push([snapshot])
        return web.Response(text="ok")


def _cursor(number: str) -> str:
    return f"registered:{number}"


def _try_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None
