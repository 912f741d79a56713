"""The `[notify]` section: channels, routing, language, quiet hours, digest and retries."""

from __future__ import annotations

import locale
import os
import re
from datetime import time, timedelta, tzinfo
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from monitor.durations import Duration
from monitor.model import Severity
from monitor.notify.languages import LANGUAGES, Language
from monitor.rules.ids import NOTICE_IDS, RULE_IDS
from monitor.zones import ZoneName


def system_language() -> Language:
    """Russian when the system locale says so, English otherwise."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            return "ru" if value.lower().startswith("ru") else "en"
    code = locale.getlocale()[0] or ""
    return "ru" if code.lower().startswith("ru") else "en"


_SHORT_HOUR = re.compile(r"(\d):(\d\d)")


def _padded(value: Any) -> Any:
    # People write "8:00"; ISO 8601 (and so pydantic) wants "08:00".
    if isinstance(value, str) and _SHORT_HOUR.fullmatch(value.strip()):
        return "0" + value.strip()
    return value


ClockTime = Annotated[time, BeforeValidator(_padded)]
"""A time of day: `08:00`, `8:00` or `22:30`."""


class QuietHours(BaseModel):
    """A daily window (local time) in which non-critical notifications wait."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: ClockTime = Field(description="e.g. 22:00")
    end: ClockTime = Field(description="e.g. 8:00; a window may run past midnight")

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet hours start and end at the same time")
        return self


class NotifySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    urls: tuple[str, ...] = Field((), description="Apprise URLs; every warning goes to them")
    config: Path | None = Field(None, description="an Apprise config file (YAML or TEXT, tags)")
    language: Language = Field(default_factory=system_language, description="en or ru")
    timezone: ZoneName | None = Field(
        None, description="IANA zone for quiet hours, the digest and dates (default: system)"
    )
    tags: tuple[str, ...] = Field(
        (), description="tags every warning goes to; empty: every configured service"
    )
    severity_tags: dict[Severity, tuple[str, ...]] = Field(
        default_factory=dict, description="extra tags by severity, e.g. critical = ['sms']"
    )
    rule_tags: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="extra tags by rule id"
    )
    muted_orders: tuple[str, ...] = Field(
        (), description="order ids that never notify (older than `parcel-monitor mute`)"
    )
    quiet_hours: QuietHours | None = Field(None, description="off unless set")
    digest_at: ClockTime | None = Field(
        None, description="gather info notifications into one message at this local time"
    )
    retry_first: Duration = Field(timedelta(seconds=30), description="first retry delay")
    retry_max: Duration = Field(timedelta(hours=1), description="longest retry delay")
    give_up_after: Duration = Field(
        timedelta(days=2), description="after this long since the warning, stop: 'failed'"
    )
    check_every: Duration = Field(
        timedelta(seconds=30), description="how often the outbox is looked at when idle"
    )
    send_timeout: Duration = Field(timedelta(seconds=30), description="limit for one delivery")

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, value: object) -> object:
        if isinstance(value, str) and value.lower()[:2] in LANGUAGES:
            return value.lower()[:2]
        return value

    @field_validator("rule_tags")
    @classmethod
    def _rules(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        known = RULE_IDS + NOTICE_IDS  # a notice goes through the outbox like a warning
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValueError(f"unknown rule id(s) {unknown}; known: {sorted(known)}")
        return value

    @model_validator(mode="after")
    def _retries(self) -> NotifySettings:
        if self.retry_first <= timedelta(0) or self.retry_max < self.retry_first:
            raise ValueError("retry_first must be positive and not above retry_max")
        if self.check_every <= timedelta(0) or self.send_timeout <= timedelta(0):
            raise ValueError("check_every and send_timeout must be positive")
        return self

    @property
    def configured(self) -> bool:
        """Whether any channel is set up at all (otherwise warnings wait in the outbox)."""
        return bool(self.urls) or self.config is not None

    def zone(self) -> tzinfo | None:
        """The zone for local times; None means the system's local zone."""
        return ZoneInfo(self.timezone) if self.timezone else None

    def tags_for(self, rule: str, severity: Severity) -> tuple[str, ...]:
        """Where a warning goes: the union of the general, severity and rule tags."""
        chosen = [*self.tags, *self.severity_tags.get(severity, ()), *self.rule_tags.get(rule, ())]
        return tuple(dict.fromkeys(chosen))

    def all_tags(self) -> set[str]:
        found = set(self.tags)
        for tags in (*self.severity_tags.values(), *self.rule_tags.values()):
            found.update(tags)
        return found
