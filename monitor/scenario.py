"""Replay scenarios (SCENARIOS.md): one order and what a source reported about it over time.

Part of the public plugin API: the `replay` source serves these, and tests build them in code.
Loading validates everything and names the file and the field of the first problems it finds.
"""

from __future__ import annotations

import itertools
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from monitor.durations import Duration
from monitor.model import Action, Checkpoint, Destination, EtaWindow, Order, Point, Status
from monitor.rules.base import BuyerSettings
from monitor.rules.ids import RULE_IDS


class ScenarioError(Exception):
    """A scenario file that does not follow the format; the message names file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScenarioEvent(_Strict):
    at: AwareDatetime
    status: Status
    text: str = ""
    location: str = ""
    code: str = ""
    point: Point | None = None
    storage_until: date | None = None
    # true: the carrier waits for the buyer; or name what for (customs_documents, ...)
    action: Action | bool | None = None
    postcode: str = ""

    @field_validator("action", mode="before")
    @classmethod
    def _action(cls, value: Any) -> Any:
        if value is True:
            return Action.OTHER
        return None if value is False else value

    def checkpoint(self) -> Checkpoint:
        return Checkpoint(
            at=self.at,
            status=self.status,
            text=self.text,
            location=self.location,
            code=self.code,
            point=self.point,
            storage_until=self.storage_until,
            action=self.action if isinstance(self.action, Action) else None,
            postcode=self.postcode.strip(),
        )


class ScenarioDestination(_Strict):
    country: str = Field("", pattern=r"^([A-Za-z]{2})?$")
    postcode: str = ""

    def destination(self) -> Destination:
        return Destination(country=self.country.upper(), postcode=self.postcode.strip())


class ScenarioOrder(_Strict):
    id: str = Field(min_length=1)
    title: str = ""
    shop: str = ""
    ordered_at: AwareDatetime
    paid_at: AwareDatetime | None = None
    protection_until: AwareDatetime | None = None
    promised_by: date | None = None
    track: str | None = Field(default=None, min_length=1)

    def order(self) -> Order:
        try:
            return Order(
                id=self.id,
                ordered_at=self.ordered_at,
                paid_at=self.paid_at,
                title=self.title,
                shop=self.shop,
                protection_until=self.protection_until,
                promised_by=self.promised_by,
                tracks=(self.track,) if self.track else (),
            )
        except ValueError as exc:
            raise ScenarioError(f"order: {exc}") from exc


class OrderChange(_Strict):
    """What the user may change about the order in the middle of a scenario."""

    title: str | None = None
    protection_until: AwareDatetime | None = None
    promised_by: date | None = None
    closed: bool | None = None

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


def _eta_window(value: Any) -> EtaWindow | None:
    if value is None:
        return None
    days = [value] if isinstance(value, str | date) else value
    if not isinstance(days, list) or not 1 <= len(days) <= 2:
        raise ValueError("eta must be a date, a list of one or two dates, or null")
    parsed = [d if isinstance(d, date) else date.fromisoformat(str(d)) for d in days]
    return EtaWindow(parsed[0], parsed[-1])


class TimelineEntry(_Strict):
    at: AwareDatetime
    track: str | None = Field(default=None, min_length=1)
    status: Status | None = None
    eta: EtaWindow | None = None
    events: tuple[ScenarioEvent, ...] = ()
    destination: ScenarioDestination | None = None  # absent: unchanged
    order: OrderChange | None = None

    @field_validator("eta", mode="before")
    @classmethod
    def _parse_eta(cls, value: Any) -> EtaWindow | None:
        return _eta_window(value)

    @property
    def sets_eta(self) -> bool:
        """`eta` absent means unchanged; `null` means the estimate is gone."""
        return "eta" in self.model_fields_set


class Expectation(_Strict):
    rule: str
    due: AwareDatetime
    severity: str | None = None

    @field_validator("rule")
    @classmethod
    def _known_rule(cls, value: str) -> str:
        if value not in RULE_IDS:
            raise ValueError(f"unknown rule {value!r}; known: {', '.join(RULE_IDS)}")
        return value


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    name_ru: str = ""  # the name in Russian, for `demo --language ru`
    poll_every: Duration = timedelta(hours=6)
    order: ScenarioOrder
    timeline: tuple[TimelineEntry, ...] = ()
    end: AwareDatetime
    buyer: BuyerSettings | None = None  # the buyer's own address ([buyer] of the config)
    expect: tuple[Expectation, ...] = ()
    strict: bool = False

    def title(self, lang: str) -> str:
        """The name in `lang` when the scenario gives one, else its own name."""
        return (self.name_ru if lang == "ru" else "") or self.name

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        times = [entry.at for entry in self.timeline]
        for i, (earlier, later) in enumerate(itertools.pairwise(times)):
            if later < earlier:
                raise ValueError(
                    f"timeline is not sorted by 'at': entry {i + 1} is before entry {i}"
                )
        if self.end <= self.start:
            raise ValueError(
                f"end {self.end.isoformat()} is not after the start {self.start.isoformat()}"
            )
        self.order.order()
        return self

    @property
    def start(self) -> datetime:
        """The simulated clock starts at the earliest of ordered_at and the first entry."""
        first = [self.timeline[0].at] if self.timeline else []
        return min([self.order.ordered_at, *first])


def _location(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1] if parts else ''}[{part}]"]
        else:
            parts.append(str(part))
    return ".".join(parts) or "(top level)"


def load_scenario(path: Path | str) -> Scenario:
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ScenarioError(
            f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    return parse_scenario(raw, source=str(path))


def parse_scenario(raw: Any, *, source: str = "<scenario>") -> Scenario:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{source}: a scenario is a JSON object, got {type(raw).__name__}")
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors()[:5]:
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key (see SCENARIOS.md for the format)"
            got = error.get("input")
            shown = (
                ""
                if isinstance(got, dict | list) or error["type"] == "missing"
                else f" (got {got!r})"
            )
            problems.append(f"{_location(error['loc'])}: {message}{shown}")
        raise ScenarioError(f"{source}: " + "; ".join(problems)) from None
    except ScenarioError as exc:
        raise ScenarioError(f"{source}: {exc}") from None
