"""The typed events on the internal bus; one frozen dataclass per kind of change.

Every event carries `kind`, a stable dotted name used in logs and on MQTT topics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from monitor.model import Checkpoint, EtaWindow, Order, OrderView, Severity, Status


@dataclass(frozen=True, slots=True)
class Event:
    kind: ClassVar[str] = "event"
    at: datetime


@dataclass(frozen=True, slots=True)
class OrderAdded(Event):
    kind: ClassVar[str] = "order_added"
    order: Order


@dataclass(frozen=True, slots=True)
class OrderUpdated(Event):
    kind: ClassVar[str] = "order_updated"
    order: Order
    changed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OrderRemoved(Event):
    kind: ClassVar[str] = "order_removed"
    order_id: str


@dataclass(frozen=True, slots=True)
class TrackAssigned(Event):
    """An order got a track number: its first one, or a new one after a hand-over."""

    kind: ClassVar[str] = "track_assigned"
    order_id: str
    number: str
    previous: str | None


@dataclass(frozen=True, slots=True)
class CheckpointsAdded(Event):
    """New checkpoints for one number, oldest first (one event per number per poll)."""

    kind: ClassVar[str] = "checkpoints_added"
    number: str
    order_ids: tuple[str, ...]
    checkpoints: tuple[Checkpoint, ...]


@dataclass(frozen=True, slots=True)
class StatusChanged(Event):
    kind: ClassVar[str] = "status_changed"
    order_id: str
    old: Status | None
    new: Status
    since: datetime | None


@dataclass(frozen=True, slots=True)
class EtaChanged(Event):
    kind: ClassVar[str] = "eta_changed"
    order_id: str
    old: EtaWindow | None
    new: EtaWindow | None


@dataclass(frozen=True, slots=True)
class OrderStateChanged(Event):
    """The order's full view after any change: what rules and state publishers consume."""

    kind: ClassVar[str] = "order_state"
    view: OrderView


@dataclass(frozen=True, slots=True)
class SourceFailed(Event):
    kind: ClassVar[str] = "source_failed"
    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class SourceRecovered(Event):
    kind: ClassVar[str] = "source_recovered"
    source: str
    failed_for_s: float


@dataclass(frozen=True, slots=True)
class Tick(Event):
    """Time passed: the cue for deadline rules."""

    kind: ClassVar[str] = "tick"


@dataclass(frozen=True, slots=True)
class Alert:
    """A warning a rule raised about an order: what happened and what to do next.

    (Called Alert in code so it never shadows Python's built-in Warning.)
    `condition` tells one firing of a rule from another on the same order; the ledger keeps
    (order, rule, condition) unique, which is what makes a warning fire exactly once.
    """

    order_id: str
    rule: str
    condition: str
    severity: Severity
    at: datetime
    due: datetime
    title: str
    body: str
    track: str | None = None
    facts: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True, slots=True)
class WarningRaised(Event):
    kind: ClassVar[str] = "warning"
    alert: Alert


@dataclass(frozen=True, slots=True)
class OrderImported(Event):
    """The e-mail intake created an order or gave one a track number (monitor.mail.intake)."""

    kind: ClassVar[str] = "order_imported"
    order_id: str
    created: bool
    tracks: tuple[str, ...]  # the numbers this mail added, oldest first
    message_id: str
    reader: str
