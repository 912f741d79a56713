"""The domain model: orders, tracking snapshots and their checkpoints.

Everything here is immutable. Timestamps are always timezone-aware; a naive datetime is a bug and
is refused at construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime
from enum import StrEnum


class Status(StrEnum):
    """The normalized tracking statuses every source maps its carrier's codes onto."""

    NOT_FOUND = "not_found"
    INFO_RECEIVED = "info_received"
    IN_TRANSIT = "in_transit"
    CUSTOMS = "customs"
    AT_POST_OFFICE = "at_post_office"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERY_FAILED = "delivery_failed"
    DELIVERED = "delivered"
    RETURNING = "returning"
    EXCEPTION = "exception"

    @property
    def is_final(self) -> bool:
        """The parcel will not move towards the buyer any more."""
        return self in (Status.DELIVERED, Status.RETURNING)


class Point(StrEnum):
    """The kind of place that keeps a parcel for the buyer to collect (storage periods differ)."""

    OFFICE = "office"
    LOCKER = "locker"
    PICKUP_POINT = "pickup_point"


class Action(StrEnum):
    """What the carrier or customs waits for the buyer to do before the parcel moves on."""

    CUSTOMS_DOCUMENTS = "customs_documents"
    PASSPORT_DATA = "passport_data"
    DUTY_PAYMENT = "duty_payment"
    ADDRESS = "address"
    OTHER = "other"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


SANE_YEARS = range(2000, 2101)
"""The years a date from outside (a carrier, a buyer) may have. Beyond them arithmetic near
`datetime.min`/`max` overflows, and no parcel of this century was scanned in year 1 or 9999."""


def sane_date(value: date | datetime) -> bool:
    return value.year in SANE_YEARS


def _require_aware(value: datetime | None, what: str) -> None:
    # tzinfo, not utcoffset(): this runs for every checkpoint parsed, and is as good in practice.
    if value is not None and value.tzinfo is None:
        raise ValueError(f"{what} must carry a UTC offset, got naive {value.isoformat()}")


@dataclass(frozen=True, slots=True, init=False)
class Checkpoint:
    """One scan of the parcel as a carrier reported it."""

    at: datetime
    status: Status
    text: str = ""
    location: str = ""
    code: str = ""  # the carrier's raw code, kept for people debugging a mapping
    # The last mile, where the carrier says it (DOMAIN.md, second set): the kind of pick-up
    # point of an `at_post_office` scan, the carrier's own keep-until day, what the carrier
    # waits for the buyer to do, and the postcode of the place of the scan.
    point: Point | None = None
    storage_until: date | None = None
    action: Action | None = None
    postcode: str = ""

    def __init__(
        self,
        at: datetime,
        status: Status,
        text: str = "",
        location: str = "",
        code: str = "",
        point: Point | None = None,
        storage_until: date | None = None,
        action: Action | None = None,
        postcode: str = "",
    ) -> None:
        # Written out rather than generated, as a first poll builds one per event (hundreds of
        # thousands): the generated one sets each field with `object.__setattr__` (a frozen
        # dataclass refuses plain assignment), which checks the class's bases on every call;
        # the slots' own setters do not. tests/test_model.py keeps this in step with the fields.
        _require_aware(at, "checkpoint time")
        (
            set_at,
            set_status,
            set_text,
            set_location,
            set_code,
            set_point,
            set_storage_until,
            set_action,
            set_postcode,
        ) = _CHECKPOINT_SLOTS
        set_at(self, at)
        set_status(self, status)
        set_text(self, text)
        set_location(self, location)
        set_code(self, code)
        set_point(self, point)
        set_storage_until(self, storage_until)
        set_action(self, action)
        set_postcode(self, postcode)

    @property
    def key(self) -> tuple[datetime, str, str]:
        """What makes two reports of a checkpoint the same checkpoint."""
        return (self.at, self.status.value, self.text.strip().casefold())


_CHECKPOINT_SLOTS = tuple(vars(Checkpoint)[spec.name].__set__ for spec in fields(Checkpoint))


@dataclass(frozen=True, slots=True)
class EtaWindow:
    """The carrier's estimated delivery window; comparisons use its latest day."""

    earliest: date
    latest: date

    def __post_init__(self) -> None:
        if self.earliest > self.latest:
            raise ValueError(f"ETA window starts after it ends: {self.earliest} > {self.latest}")

    def __str__(self) -> str:
        if self.earliest == self.latest:
            return self.latest.isoformat()
        return f"{self.earliest.isoformat()}..{self.latest.isoformat()}"


def postcode_key(postcode: str) -> str:
    """Postcodes compare without spaces, case-insensitively (DOMAIN.md)."""
    return "".join(postcode.split()).casefold()


@dataclass(frozen=True, slots=True)
class Destination:
    """Where the carrier says the parcel is addressed; either part may be unknown ("")."""

    country: str = ""  # ISO 3166 alpha-2, upper case
    postcode: str = ""

    def __bool__(self) -> bool:
        return bool(self.country or self.postcode)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one source says about one track number at one moment.

    `checkpoints` may come in any order and may repeat earlier reports; the differ deduplicates.
    `handover` is a new number the parcel continues under (a last-mile carrier's number).
    """

    number: str
    source: str
    status: Status
    fetched_at: datetime
    checkpoints: tuple[Checkpoint, ...] = ()
    eta: EtaWindow | None = None
    handover: str | None = None
    carrier: str = ""
    destination: Destination | None = None
    # A source's stable fingerprint of the raw answer, when it has a cheap one: equal
    # fingerprints promise equal snapshots, which lets the differ skip unchanged answers.
    fingerprint: str = ""

    def __post_init__(self) -> None:
        _require_aware(self.fetched_at, "snapshot fetch time")


@dataclass(frozen=True, slots=True)
class LookupFailure:
    """A per-number failure inside an otherwise good batch (e.g. a number the API rejected)."""

    number: str
    reason: str


@dataclass(frozen=True, slots=True)
class Order:
    """A buyer's order as the buyer told us about it."""

    id: str
    ordered_at: datetime
    paid_at: datetime | None = None
    title: str = ""
    shop: str = ""
    protection_until: datetime | None = None
    promised_by: date | None = None
    # The delivery estimate the shop shows before any carrier gives one; a carrier's wins.
    estimate: EtaWindow | None = None
    tracks: tuple[str, ...] = ()  # oldest first; the last one is the current number
    notes: str = ""
    closed: bool = False
    # Where the order came from: "" when typed in (CLI, API, MQTT), else e.g. "mail: <subject>
    # (<sender>, <date>)" for an order the e-mail intake created.
    origin: str = ""
    # The buyer asked for no pushes about this order: its warnings are still recorded and shown
    # (ledger, MQTT, dashboard), only the notification channels skip them.
    muted: bool = False

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise ValueError("order id must not be empty")
        _require_aware(self.ordered_at, "ordered_at")
        _require_aware(self.paid_at, "paid_at")
        _require_aware(self.protection_until, "protection_until")
        if self.paid_at is not None and self.paid_at < self.ordered_at:
            raise ValueError(
                f"paid_at {self.paid_at.isoformat()} is before ordered_at "
                f"{self.ordered_at.isoformat()}"
            )
        if self.protection_until is not None and self.protection_until <= self.ordered_at:
            raise ValueError(
                f"protection_until {self.protection_until.isoformat()} is not after ordered_at "
                f"{self.ordered_at.isoformat()}"
            )
        if self.promised_by is not None and self.promised_by < self.ordered_at.date():
            raise ValueError(
                f"promised_by {self.promised_by.isoformat()} is before the order date "
                f"{self.ordered_at.date().isoformat()}"
            )
        if len(set(self.tracks)) != len(self.tracks):
            raise ValueError(f"duplicate track number in {list(self.tracks)}")

    @property
    def paid(self) -> datetime:
        return self.paid_at or self.ordered_at

    @property
    def track(self) -> str | None:
        return self.tracks[-1] if self.tracks else None


@dataclass(frozen=True, slots=True)
class Stay:
    """The parcel's current stay at one pick-up point, where its storage time counts from."""

    since: datetime  # the carrier's time of the stay's first `at_post_office` scan
    point: Point = Point.OFFICE
    storage_until: date | None = None  # the carrier's own keep-until day, when it gives one
    postcode: str = ""
    location: str = ""


@dataclass(frozen=True, slots=True)
class TrackingState:
    """What tracking concluded about an order from all its numbers' snapshots.

    `status_since` is when the current status began: the carrier's time of the first checkpoint
    of the current run of that status, or when we first saw the status if no checkpoint says it.
    """

    status: Status | None = None
    status_since: datetime | None = None
    last_checkpoint: Checkpoint | None = None
    eta: EtaWindow | None = None
    eta_first_latest: date | None = None
    eta_last_latest: date | None = None
    eta_later_moves: int = 0
    track_since: datetime | None = None  # when the current number became known
    # The last mile (DOMAIN.md, second set).
    stay: Stay | None = None  # set while the status is `at_post_office`
    destination: Destination | None = None  # where the carrier says the parcel is addressed
    asks: tuple[Checkpoint, ...] = ()  # the newest checkpoints, while they wait for the buyer
    failed_attempts: tuple[Checkpoint, ...] = ()  # the current run of failed hand-overs
    places: tuple[Checkpoint, ...] = ()  # last-mile scans with a postcode: the first per postcode
    # Whether any source has answered for the current number yet (DOMAIN.md "First lookup").
    track_answered: bool = False

    @property
    def last_checkpoint_at(self) -> datetime | None:
        return self.last_checkpoint.at if self.last_checkpoint else None


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order together with its tracking state: everything a rule may look at."""

    order: Order
    tracking: TrackingState = field(default_factory=TrackingState)

    @property
    def is_final(self) -> bool:
        status = self.tracking.status
        return self.order.closed or (status is not None and status.is_final)


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    """The last thing one source said about one number, as the tracking differ remembers it."""

    number: str
    source: str
    status: Status
    status_seen_at: datetime
    eta: EtaWindow | None
    handover: str | None
    newest_ts: float | None
    digest: str
    fetched_at: datetime
    destination: Destination | None = None
