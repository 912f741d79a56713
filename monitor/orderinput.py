"""Order input from outside the CLI: the JSON payloads of the HTTP API and of MQTT commands.

The fields are the CLI's options (`ordered`, `paid`, `protection_days`, ...) and each value is
checked by the same rules the CLI applies to its arguments, so an order that `parcel-monitor add`
refuses is refused here with the same reason. Every problem is a `BadInput` whose message names
the field; nothing is changed before a payload has passed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from monitor.model import EtaWindow, Order, OrderView
from monitor.orders import OrderBook

M = TypeVar("M", bound=BaseModel)


class BadInput(ValueError):
    """A payload that cannot be used; the message is safe to show to the client."""


def parse_when(text: str) -> datetime:
    """`YYYY-MM-DD` (midnight, local time) or a full ISO 8601 date-time with offset."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0)).astimezone()
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date; write YYYY-MM-DD or e.g. 2026-03-01T09:00:00+03:00"
        ) from None
    if value.utcoffset() is None:
        raise ValueError(f"{text!r} has no UTC offset; add one, e.g. +03:00")
    return value


def parse_day(text: str) -> date:
    """`YYYY-MM-DD`, or a full ISO 8601 date-time whose date is taken."""
    try:
        return date.fromisoformat(text) if len(text) == 10 else parse_when(text).date()
    except ValueError:
        raise ValueError(f"{text!r} is not a date; write YYYY-MM-DD") from None


def _text_only(parse: Callable[[str], Any]) -> BeforeValidator:
    # JSON gives numbers and nulls too; only strings go through the CLI's parsers.
    def check(value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"expected a date as a string, got {type(value).__name__}")
        return parse(value)

    return BeforeValidator(check)


def parse_window(text: str) -> EtaWindow:
    """`YYYY-MM-DD` or `YYYY-MM-DD..YYYY-MM-DD`: a delivery estimate."""
    first, _, last = text.partition("..")
    try:
        return EtaWindow(parse_day(first), parse_day(last or first))
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc}; write YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD") from None


When = Annotated[datetime, _text_only(parse_when)]
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
    def _one_word(cls, value: str | None) -> str | None:
        if value is not None and (not value or any(c.isspace() for c in value)):
            raise ValueError(f"{value!r} is not a track number: it has spaces")
        return value

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

    id: str = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        if value != value.strip():
            raise ValueError(f"{value!r} has spaces around it; an order id is written without")
        return value

    ordered: When

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


class OrderChanges(_Fields):
    """The payload of `update`: every field optional, at least one given."""

    reopen: bool = False


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
    if not changes and payload.track is None:
        raise BadInput("nothing to change")
    return Update(changes=changes, track=payload.track)


def add(book: OrderBook, data: Any) -> OrderView:
    """Validate an `add` payload and add the order (DuplicateOrder if the id is taken)."""
    return book.add(parse(NewOrder, data).to_order())


def update(book: OrderBook, order_id: str, data: Any) -> OrderView:
    """Validate an `update` payload and apply it (UnknownOrder if there is no such order)."""
    payload = parse(OrderChanges, data)
    wanted = changes_for(payload, book.get(order_id).order)
    try:
        return book.update(order_id, track=wanted.track, **wanted.changes)
    except ValueError as exc:  # the changed order breaks an invariant: nothing was written
        raise BadInput(str(exc)) from None


def parse(model: type[M], data: Any) -> M:
    """Validate decoded JSON into `model`, or raise BadInput naming each bad field."""
    if not isinstance(data, dict):
        raise BadInput(f"expected a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
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
