"""What a rule is: a pure function from an order's view to the conditions that can fire.

A rule never reads the clock and never does I/O. It names each condition it sees with a key, when
that condition falls due and, for reminders that stop making sense, when it expires. The engine
compares that with the clock and the ledger, so "fires once" and "fires late after a restart"
live in one place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from monitor.durations import Duration, Threshold
from monitor.model import OrderView, Point, Severity
from monitor.rules.ids import NOTICE_IDS, RULE_IDS


class BuyerSettings(BaseModel):
    """The buyer's own address ([buyer]): what `wrong_destination` compares the carrier's with.

    Nothing set means the rule stays silent: without it a mismatch cannot be told from a match.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    country: str = Field("", description="ISO 3166 alpha-2 code, e.g. RU")
    postcodes: tuple[str, ...] = Field((), description="every postcode parcels may go to")

    @field_validator("country")
    @classmethod
    def _alpha2(cls, value: str) -> str:
        value = value.strip().upper()
        if value and (len(value) != 2 or not value.isascii() or not value.isalpha()):
            raise ValueError(f"not an ISO 3166 alpha-2 country code: {value!r}; write e.g. RU")
        return value

    @field_validator("postcodes")
    @classmethod
    def _not_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not code.strip() for code in value):
            raise ValueError("a postcode must not be empty")
        for code in value:
            if len(code.strip()) > 12 or not re.fullmatch(r"[A-Za-z0-9 -]+", code.strip()):
                raise ValueError(
                    f"{code[:20]!r} is not a postcode (letters, digits, spaces, -; 12 at most)"
                )
        return tuple(code.strip() for code in value)

    @property
    def configured(self) -> bool:
        return bool(self.country or self.postcodes)


class RuleSettings(BaseModel):
    """Every threshold of DOMAIN.md, with its documented default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    track_missing_after: Threshold = Field(timedelta(days=7), description="after payment")
    not_trackable_after: Threshold = Field(
        timedelta(days=10), description="after the number appeared"
    )
    eta_shift_moves: int = Field(2, ge=1, description="later moves of the ETA that warn")
    eta_shift_total: Threshold = Field(
        timedelta(days=3), description="total later shift that warns"
    )
    stalled_after: Threshold = Field(timedelta(days=14), description="since the last checkpoint")
    customs_after: Threshold = Field(timedelta(days=7), description="in customs")
    post_office_after: Threshold = Field(
        timedelta(days=5), description="waiting at the post office"
    )
    protection_reminder: Threshold = Field(
        timedelta(days=7), description="first reminder before the end"
    )
    protection_critical: Threshold = Field(
        timedelta(days=2), description="critical reminder before the end"
    )
    # --- the last mile (DOMAIN.md, second set) ---
    storage_office: Threshold = Field(timedelta(days=15), description="a post office keeps it")
    storage_locker: Threshold = Field(timedelta(days=3), description="a parcel locker keeps it")
    storage_pickup_point: Threshold = Field(
        timedelta(days=7), description="a pick-up point keeps it"
    )
    storage_notice: Threshold = Field(timedelta(days=3), description="warn before storage ends")
    protection_margin: Threshold = Field(
        timedelta(days=3), description="protection must outlast the ETA by this much"
    )
    # Filled from the [buyer] section (Settings), never written under [rules].
    buyer: BuyerSettings = Field(default_factory=BuyerSettings, exclude=True)
    # ---
    first_lookup_grace: Duration = Field(
        timedelta(hours=1),
        description="how long a new track number no source has answered yet holds back the "
        "warnings that depend on tracking or deadlines",
    )
    disabled: tuple[str, ...] = Field((), description="rule ids that never fire")

    def storage(self, point: Point) -> timedelta:
        """How long a kind of pick-up point keeps a parcel when the carrier gives no date."""
        return {
            Point.OFFICE: self.storage_office,
            Point.LOCKER: self.storage_locker,
            Point.PICKUP_POINT: self.storage_pickup_point,
        }[point]

    @field_validator("disabled")
    @classmethod
    def _known_rules(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # A typo here would silently keep the rule on.
        known = RULE_IDS + NOTICE_IDS
        unknown = [rule for rule in value if rule not in known]
        if unknown:
            raise ValueError(
                f"unknown rule id{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(map(repr, unknown))}; known: {', '.join(sorted(known))}"
            )
        return value


@dataclass(frozen=True, slots=True)
class Condition:
    rule: str
    key: str
    severity: Severity
    due: datetime | None  # None: as soon as the condition is seen
    expires: datetime | None = None
    facts: dict[str, str] = field(default_factory=dict, compare=False)

    def live_at(self, now: datetime) -> bool:
        due = self.due is None or self.due <= now
        return due and (self.expires is None or now < self.expires)


Rule = Callable[[OrderView, RuleSettings], Iterable[Condition]]


def held_until(view: OrderView, settings: RuleSettings) -> datetime | None:
    """Until when the other rules wait for the first answer about the current number.

    An order added with a number the sources have not looked up yet knows nothing about its
    parcel: a long-delivered parcel would look overdue. Its warnings wait for the first answer,
    or for `first_lookup_grace` after the number was added if no source ever answers.
    """
    tracking = view.tracking
    if view.order.track is None or tracking.track_answered or tracking.track_since is None:
        return None
    return tracking.track_since + settings.first_lookup_grace
