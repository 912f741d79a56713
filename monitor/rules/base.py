"""What a rule is: a pure function from an order's view to the conditions that can fire.

A rule never reads the clock and never does I/O. It names each condition it sees with a key, when
that condition falls due and, for reminders that stop making sense, when it expires. The engine
compares that with the clock and the ledger, so "fires once" and "fires late after a restart"
live in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from monitor.durations import Threshold
from monitor.model import OrderView, Severity


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
    disabled: tuple[str, ...] = Field((), description="rule ids that never fire")

    @field_validator("disabled")
    @classmethod
    def _known_rules(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # A typo here would silently keep the rule on; the engine's table is the list of ids.
        from monitor.rules.engine import RULES

        unknown = [rule for rule in value if rule not in RULES]
        if unknown:
            raise ValueError(
                f"unknown rule id{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(map(repr, unknown))}; known: {', '.join(sorted(RULES))}"
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
