"""Order input, wherever it comes from: CLI arguments, HTTP API and MQTT command payloads.

The fields are the CLI's options (`ordered`, `paid`, `protection_days`, ...) and each value is
checked by the same rules at every entrance, so an order that `parcel-monitor add` refuses is
refused over HTTP and MQTT with the same reason. Every problem is a `BadInput` whose message
names the field; nothing is changed before a payload has passed.

What a Russian buyer types is understood: `28.11.2026` as well as `2026-11-28`, a track number
with spaces or in lower case; a date without a time is midnight in the user's zone
(`Settings.zone()`, carried by the order book), not the server's. Dates outside 2000..2099 are
refused (a year 9999 once overflowed every later computation), and so is an order date in the
future. Order ids are short and plain (`ORDER_ID_MAX`, letters, digits, `- _ . :`), because they
become MQTT topics and URL paths.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from monitor.model import EtaWindow, Order, OrderView
from monitor.numbers import detect, normalize
from monitor.orders import OrderBook

M = TypeVar("M", bound=BaseModel)


class BadInput(ValueError):
    """A payload that cannot be used; the message is safe to show to the client."""


EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)
ORDER_ID_MAX = 64
TRACK_MAX = 40
_ID_MARKS = frozenset("-_.:")
# A phone's clock may run a little ahead of the server's; an order date further ahead is a typo.
FUTURE_SLACK = timedelta(minutes=10)
_DOTTED = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_DATE_FORMS = "YYYY-MM-DD, DD.MM.YYYY or e.g. 2026-03-01T09:00:00+03:00"


def _day_only(text: str) -> date | None:
    """A date written without a time (`2026-11-28`, `28.11.2026`); None when it has a time."""
    dotted = _DOTTED.fullmatch(text)
    if dotted is not None:
        return date(int(dotted[3]), int(dotted[2]), int(dotted[1]))
    if len(text) == 10:
        return date.fromisoformat(text)
    return None


def _bounded(day: date, text: str) -> None:
    if not EARLIEST <= day <= LATEST:
        raise ValueError(
            f"{text!r} is out of range; dates from {EARLIEST} to {LATEST} are accepted"
        )


def parse_when(text: str, zone: tzinfo | None = None) -> datetime:
    """A date-time: `YYYY-MM-DD` or `DD.MM.YYYY` (midnight in `zone`, the user's; the system's
    when None) or a full ISO 8601 date-time with an offset."""
    cleaned = text.strip()
    try:
        day = _day_only(cleaned)
        value = datetime.fromisoformat(cleaned) if day is None else None
    except ValueError:
        raise ValueError(f"{text!r} is not a date; write {_DATE_FORMS}") from None
    if day is not None:
        _bounded(day, text)
        if zone is None:
            return datetime.combine(day, time(0)).astimezone()
        return datetime.combine(day, time(0), tzinfo=zone)
    assert value is not None
    # Checked on the written fields, before any conversion can overflow.
    _bounded(value.date(), text)
    if value.utcoffset() is None:
        raise ValueError(f"{text!r} has no UTC offset; add one, e.g. +03:00")
    return value


def parse_day(text: str) -> date:
    """`YYYY-MM-DD` or `DD.MM.YYYY`, or a full ISO 8601 date-time whose date is taken."""
    cleaned = text.strip()
    try:
        day = _day_only(cleaned)
    except ValueError:
        raise ValueError(f"{text!r} is not a date; write YYYY-MM-DD or DD.MM.YYYY") from None
    if day is None:
        try:
            return parse_when(cleaned).date()
        except ValueError as exc:
            if "out of range" in str(exc):
                raise
            raise ValueError(f"{text!r} is not a date; write YYYY-MM-DD or DD.MM.YYYY") from None
    _bounded(day, text)
    return day


def _shown(value: str) -> str:
    """An id fit for an error message: a hostile 70,000-character one is not echoed whole."""
    return repr(value if len(value) <= ORDER_ID_MAX else value[:ORDER_ID_MAX] + "…")


def check_order_id(value: str) -> str:
    """The id itself when it is usable; else ValueError saying why."""
    if value != value.strip():
        raise ValueError(f"{_shown(value)} has spaces around it; an order id is written without")
    if not value:
        raise ValueError("the order id is empty")
    if len(value) > ORDER_ID_MAX:
        raise ValueError(
            f"an order id has at most {ORDER_ID_MAX} characters; this one has {len(value)}"
        )
    bad = sorted({c for c in value if not (c.isalnum() or c in _ID_MARKS)})
    if bad:
        raise ValueError(
            f"{_shown(value)}: an order id has only letters, digits and - _ . : "
            f"(not {', '.join(map(repr, bad[:5]))})"
        )
    if not value.strip("."):
        # A browser and every URL library read /orders/. and /orders/.. as other paths.
        raise ValueError(f"{_shown(value)}: an order id must not be made only of dots")
    return value


def order_id(value: Any) -> str:
    """An order id from any entrance (CLI argument, URL path, MQTT payload), or BadInput."""
    if not isinstance(value, str):
        raise BadInput("id: the order id is required, as a string")
    try:
        return check_order_id(value)
    except ValueError as exc:
        raise BadInput(f"id: {exc}") from None


def normalize_track(value: str) -> str:
    """A track number as carriers write it: `ra 1234 5678 9cn` is `RA123456789CN`."""
    number = normalize(value)
    if not number:
        raise ValueError(f"{value!r} is not a track number: it has spaces and nothing else")
    if len(number) > TRACK_MAX or not (number.isascii() and number.isalnum()):
        raise ValueError(
            f"{value[:TRACK_MAX]!r} is not a track number; write its letters and digits, "
            "e.g. RA123456789CN"
        )
    return number


def check_digit_doubtful(number: str) -> bool:
    """Shaped like a UPU S10 number (`RB123456785CN`) but its check digit does not match, and no
    other known format either: likely a typo. Kept all the same (carriers do issue odd numbers);
    the CLI and the dashboard say so."""
    cleaned = normalize(number)
    shaped = (
        len(cleaned) == 13
        and cleaned.isascii()
        and cleaned[:2].isalpha()
        and cleaned[2:11].isdigit()
        and cleaned[11:].isalpha()
    )
    return shaped and not detect(cleaned)


def _text_only(parse: Callable[..., Any], *, zoned: bool = False) -> BeforeValidator:
    # JSON gives numbers and nulls too; only strings go through the CLI's parsers.
    def check(value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"expected a date as a string, got {type(value).__name__}")
        if zoned:
            return parse(value, (info.context or {}).get("zone"))
        return parse(value)

    return BeforeValidator(check)


def parse_window(text: str) -> EtaWindow:
    """`YYYY-MM-DD` or `YYYY-MM-DD..YYYY-MM-DD`: a delivery estimate."""
    first, _, last = text.partition("..")
    try:
        return EtaWindow(parse_day(first), parse_day(last or first))
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc}; write YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD") from None


When = Annotated[datetime, _text_only(parse_when, zoned=True)]
Day = Annotated[date, _text_only(parse_day)]
Window = Annotated[EtaWindow, _text_only(parse_window)]


class _Fields(BaseModel):
    """What `add` and `update` share (the CLI's `_order_fields`)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    paid: When | None = None
    title: str | None = None
    shop: str | None = None
    protection_until: When | None = None
    protection_days: int | None = Field(None, ge=1, le=3650)
    promised: Day | None = None
    estimate: Window | None = None
    track: str | None = Field(None, min_length=1)
    notes: str | None = None

    @field_validator("track")
    @classmethod
    def _track(cls, value: str | None) -> str | None:
        return None if value is None else normalize_track(value)

    @field_validator("paid")
    @classmethod
    def _paid_not_ahead(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        return _not_ahead(value, info, "a payment date")

    def protection(self, base: datetime | None) -> datetime | None:
        if self.protection_until is not None and self.protection_days is not None:
            raise BadInput("give protection_until or protection_days, not both")
        if self.protection_until is not None:
            return self.protection_until
        if self.protection_days is not None:
            if base is None:
                raise BadInput("protection_days needs the order's payment or order date")
            return base + timedelta(days=self.protection_days)
        return None


class NewOrder(_Fields):
    """The payload of `add`: the order id and its date are required."""

    id: str

    @field_validator("id")
    @classmethod
    def _plain(cls, value: str) -> str:
        return check_order_id(value)

    ordered: When

    @field_validator("ordered")
    @classmethod
    def _ordered_not_ahead(cls, value: datetime, info: ValidationInfo) -> datetime:
        checked = _not_ahead(value, info, "an order date")
        assert checked is not None
        return checked

    def to_order(self) -> Order:
        paid = self.paid or self.ordered
        return _checked(
            lambda: Order(
                id=self.id,
                ordered_at=self.ordered,
                paid_at=self.paid,
                title=self.title or "",
                shop=self.shop or "",
                protection_until=self.protection(paid),
                promised_by=self.promised,
                estimate=self.estimate,
                tracks=(self.track,) if self.track else (),
                notes=self.notes or "",
            )
        )


def _not_ahead(value: datetime | None, info: ValidationInfo, what: str) -> datetime | None:
    now = (info.context or {}).get("now")
    if value is not None and now is not None and value > now + FUTURE_SLACK:
        raise ValueError(f"{value.isoformat()} is in the future; {what} is a day that has been")
    return value


class OrderChanges(_Fields):
    """The payload of `update`: every field optional, at least one given."""

    reopen: bool = False
    # True: no pushes about this order (its warnings are still recorded); False: pushes again.
    muted: bool | None = None


@dataclass(frozen=True, slots=True)
class Update:
    """What `OrderBook.update` is called with."""

    changes: dict[str, Any]
    track: str | None


def changes_for(payload: OrderChanges, current: Order) -> Update:
    """The CLI's `update` rules: `protection_days` counts from the new or the current payment."""
    changes: dict[str, Any] = {}
    for name, field in (
        ("title", "title"),
        ("shop", "shop"),
        ("notes", "notes"),
        ("promised", "promised_by"),
        ("estimate", "estimate"),
        ("paid", "paid_at"),
    ):
        value = getattr(payload, name)
        if value is not None:
            changes[field] = value
    protection = payload.protection(payload.paid or current.paid)
    if protection is not None:
        changes["protection_until"] = protection
    if payload.reopen:
        changes["closed"] = False
    if payload.muted is not None:
        changes["muted"] = payload.muted
    if not changes and payload.track is None:
        raise BadInput("nothing to change")
    return Update(changes=changes, track=payload.track)


def add(book: OrderBook, data: Any) -> OrderView:
    """Validate an `add` payload and add the order (DuplicateOrder if the id is taken)."""
    return book.add(parse(NewOrder, data, zone=book.zone, now=book.now()).to_order())


def update(book: OrderBook, id_: Any, data: Any) -> OrderView:
    """Validate an `update` payload and apply it (UnknownOrder if there is no such order)."""
    order = order_id(id_)
    payload = parse(OrderChanges, data, zone=book.zone, now=book.now())
    wanted = changes_for(payload, book.get(order).order)
    try:
        return book.update(order, track=wanted.track, **wanted.changes)
    except ValueError as exc:  # the changed order breaks an invariant: nothing was written
        raise BadInput(str(exc)) from None


def close(book: OrderBook, id_: Any) -> OrderView:
    """Close an order (UnknownOrder if there is no such order)."""
    return book.close(order_id(id_))


def remove(book: OrderBook, id_: Any) -> None:
    """Forget an order. The id is not held to today's rules: an order stored before they
    existed must still be removable. UnknownOrder if there is no such order."""
    if not isinstance(id_, str) or not id_:
        raise BadInput("id: the order id is required, as a string")
    book.remove(id_)


def parse(
    model: type[M], data: Any, *, zone: tzinfo | None = None, now: datetime | None = None
) -> M:
    """Validate decoded JSON into `model`, or raise BadInput naming each bad field.

    zone: where a date without a time is midnight (None: the system's zone).
    now: refuse order and payment dates after it (None: not checked).
    """
    if not isinstance(data, dict):
        raise BadInput(f"expected a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(data, context={"zone": zone, "now": now})
    except ValidationError as exc:
        raise BadInput(describe(exc)) from None


def describe(error: ValidationError) -> str:
    problems = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "payload"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown field"
        problems.append(f"{where}: {message}")
    return "; ".join(problems)


def _checked(build: Callable[[], Order]) -> Order:
    try:
        return build()
    except ValueError as exc:  # the model's own invariants (paid before ordered, ...)
        raise BadInput(str(exc)) from None
