"""Plain frozen shapes of the dashboard and the evidence pack: an order's summary, its
timeline, its warnings, its ETA history and the sources' health.

Built from the store's public reads. Words come from `monitor.notify.texts`; the shapes keep
facts (statuses, datetimes, durations), and each renderer says them in its language.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Literal

from monitor.events import Alert
from monitor.model import Checkpoint, EtaWindow, OrderView, Severity, Status
from monitor.notify.texts import (
    RULES,
    Language,
    dispute_text,
    fill,
    fill_values,
    leads_to_dispute,
    text_key,
)
from monitor.rules.dates import midnight_after
from monitor.store import OrderRank, Store
from monitor.tracking.poller import SourceHealth
from monitor.views.state import state

Filter = Literal["open", "closed", "all"]
FILTERS: tuple[Filter, ...] = ("open", "closed", "all")


@dataclass(frozen=True, slots=True)
class WarningView:
    rule: str
    severity: Severity
    at: datetime
    headline: str
    steps: tuple[str, ...]
    dispute: str | None  # the English message to paste, for the warnings that lead to a dispute
    track: str | None


@dataclass(frozen=True, slots=True)
class OrderSummary:
    """One order as a row of the overview (and the head of its page)."""

    id: str
    title: str
    shop: str
    ordered_at: datetime
    paid_at: datetime | None
    tracks: tuple[str, ...]
    state: str  # `monitor.views.state.state`: a status value, "unknown" or "awaiting_track"
    closed: bool
    final: bool
    last_checkpoint: Checkpoint | None
    last_checkpoint_age: timedelta | None
    eta: EtaWindow | None  # the carrier's, else the shop's estimate
    eta_from_shop: bool
    promised_by: date | None
    protection_until: datetime | None
    protection_left: timedelta | None
    storage_until: date | None  # the carrier's own "keep until" day, when it gives one
    # When storage at the pick-up point runs out: the carrier's day, else the storage warning's.
    pick_up_by: datetime | None
    # Newest first, the newest of each rule; a delivered, returning or closed order keeps its
    # warnings too (a critical `wrong_destination` matters most after "delivered").
    warnings: tuple[WarningView, ...]
    origin: str = ""  # `Order.origin`: "" when typed in, "mail: <subject> (...)" from the intake
    muted: bool = False  # `Order.muted`: its warnings are shown but not pushed

    @property
    def track(self) -> str | None:
        return self.tracks[-1] if self.tracks else None

    @property
    def critical(self) -> int:
        """Critical warnings still open: a final order's are history, not a to-do."""
        if self.final:
            return 0
        return sum(1 for w in self.warnings if w.severity is Severity.CRITICAL)

    @property
    def dispute(self) -> str | None:
        """The newest warning's dispute message, if any warning leads to a dispute."""
        return next((w.dispute for w in self.warnings if w.dispute), None)


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    number: str
    source: str
    status: Status
    text: str
    location: str


@dataclass(frozen=True, slots=True)
class EtaPoint:
    """An estimate as it was seen on a day (None: the carrier stopped giving one)."""

    seen_at: datetime
    eta: EtaWindow | None


@dataclass(frozen=True, slots=True)
class OrderDetail:
    summary: OrderSummary
    timeline: tuple[TimelineEntry, ...]  # oldest first
    etas: tuple[EtaPoint, ...]  # oldest first
    all_warnings: tuple[WarningView, ...]  # also those of a closed order, newest first

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(sorted({entry.source for entry in self.timeline}))


@dataclass(frozen=True, slots=True)
class SourceState:
    name: str
    healthy: bool
    failures: int
    last_error: str


@dataclass(frozen=True, slots=True)
class Page:
    orders: tuple[OrderSummary, ...]
    number: int  # 1-based
    pages: int
    total: int


def warning_view(
    alert: Alert, view: OrderView, lang: Language, zone: tzinfo | None = None
) -> WarningView:
    text = RULES[lang][text_key(alert.rule, view, alert.facts)]
    dispute = (
        dispute_text(alert.rule, view, alert.facts)
        if leads_to_dispute(alert.rule, view, alert.facts)
        else None
    )
    values = fill_values(view, alert.facts, lang, zone)
    return WarningView(
        rule=alert.rule,
        severity=alert.severity,
        at=alert.at,
        headline=text.headline,
        steps=tuple(fill(step, values) for step in text.steps),
        dispute=dispute,
        track=alert.track,
    )


def summarize(
    view: OrderView,
    alerts: Sequence[Alert],
    *,
    now: datetime,
    lang: Language,
    zone: tzinfo | None = None,
) -> OrderSummary:
    """Every warning is listed, also a final order's (its critical ones no longer count as
    open: see `OrderSummary.critical`)."""
    order, tracking = view.order, view.tracking
    cp = tracking.last_checkpoint
    warnings = _warnings(alerts, view, lang, zone)
    return OrderSummary(
        id=order.id,
        title=order.title,
        shop=order.shop,
        ordered_at=order.ordered_at,
        paid_at=order.paid_at,
        tracks=order.tracks,
        state=state(view),
        closed=order.closed,
        final=view.is_final,
        last_checkpoint=cp,
        last_checkpoint_age=now - cp.at if cp else None,
        eta=tracking.eta or order.estimate,
        eta_from_shop=tracking.eta is None and order.estimate is not None,
        promised_by=order.promised_by,
        protection_until=order.protection_until,
        protection_left=order.protection_until - now if order.protection_until else None,
        storage_until=cp.storage_until if cp else None,
        pick_up_by=_pick_up_by(view, alerts),
        warnings=warnings,
        origin=order.origin,
        muted=order.muted,
    )


def _pick_up_by(view: OrderView, alerts: Sequence[Alert]) -> datetime | None:
    """The end of the current stay's storage: the carrier's own day, else what the storage
    warning of this stay computed (the rule knows the storage periods per kind of point)."""
    stay = view.tracking.stay
    if stay is None or view.is_final:
        return None
    if stay.storage_until is not None:
        return midnight_after(stay.storage_until, view.order.ordered_at)
    key = f"stay@{stay.since.isoformat()}"
    for alert in reversed(alerts):
        if alert.rule == "storage_ending" and alert.condition == key:
            try:
                return datetime.fromisoformat(alert.facts["storage_ends"])
            except (KeyError, ValueError):
                return None
    return None


def _warnings(
    alerts: Sequence[Alert],
    view: OrderView,
    lang: Language,
    zone: tzinfo | None = None,
    *,
    newest_per_rule: bool = True,
) -> tuple[WarningView, ...]:
    """Newest first; by default one per rule (the third "ETA moved later" says nothing new)."""
    seen: set[str] = set()
    shown = []
    for alert in reversed(alerts):
        if newest_per_rule and alert.rule in seen:
            continue
        seen.add(alert.rule)
        shown.append(warning_view(alert, view, lang, zone))
    return tuple(shown)


def urgency(rank: OrderRank) -> tuple[int, float, str]:
    """Open critical warnings first, then the nearest deadline (protection end, storage end),
    then the order without one; closed and final orders last."""
    deadlines = []
    if rank.protection_until is not None:
        deadlines.append(rank.protection_until.timestamp())
    if rank.storage_until is not None:
        deadlines.append(datetime.combine(rank.storage_until, datetime.min.time()).timestamp())
    if rank.final:
        level = 3
    elif rank.critical:
        level = 0
    elif rank.warnings:
        level = 1
    else:
        level = 2
    return (level, min(deadlines) if deadlines else float("inf"), rank.order_id)


def matches(rank: OrderRank, query: str) -> bool:
    """Search by order id, track number (any of the order's) or title, ignoring case."""
    needle = query.strip().casefold()
    if not needle:
        return True
    return (
        needle in rank.order_id.casefold()
        or needle in rank.title.casefold()
        or any(needle in number.casefold() for number in rank.tracks)
    )


def overview(
    store: Store,
    *,
    now: datetime,
    lang: Language,
    show: Filter = "open",
    query: str = "",
    page: int = 1,
    per_page: int = 100,
    zone: tzinfo | None = None,
) -> Page:
    """The overview's orders, most urgent first, one page of them.

    Every order is ranked from a light read (no views built, no warning parsed); only the page's
    orders are read whole and put into words. That keeps 1,000 open orders well under 100 ms.
    """
    ranks = [
        rank
        for rank in store.order_ranks(include_closed=show != "open")
        if (show == "all" or rank.final == (show == "closed")) and matches(rank, query)
    ]
    ranks.sort(key=urgency)
    pages = max(1, -(-len(ranks) // per_page))
    number = min(max(1, page), pages)
    shown = [rank.order_id for rank in ranks[(number - 1) * per_page : number * per_page]]
    views = store.get_views(shown)
    alerts = store.alerts_by_order(shown)
    return Page(
        orders=tuple(
            summarize(views[order_id], alerts.get(order_id, ()), now=now, lang=lang, zone=zone)
            for order_id in shown
            if order_id in views
        ),
        number=number,
        pages=pages,
        total=len(ranks),
    )


def detail(
    store: Store, order_id: str, *, now: datetime, lang: Language, zone: tzinfo | None = None
) -> OrderDetail | None:
    view = store.get_view(order_id)
    if view is None:
        return None
    alerts = store.alerts_by_order([order_id]).get(order_id, [])
    return OrderDetail(
        summary=summarize(view, alerts, now=now, lang=lang, zone=zone),
        timeline=tuple(
            TimelineEntry(
                at=row.checkpoint.at,
                number=row.number,
                source=row.source,
                status=row.checkpoint.status,
                text=row.checkpoint.text,
                location=row.checkpoint.location,
            )
            for row in store.history(view.order.tracks)
        ),
        etas=tuple(EtaPoint(seen_at=at, eta=eta) for at, eta in store.eta_history(order_id)),
        all_warnings=_warnings(alerts, view, lang, zone, newest_per_rule=False),
    )


def source_states(health: Mapping[str, SourceHealth]) -> tuple[SourceState, ...]:
    """The tracker's per-source bookkeeping as read-only rows, by name."""
    return tuple(
        SourceState(
            name=name, healthy=state.healthy, failures=state.failures, last_error=state.last_error
        )
        for name, state in sorted(health.items())
    )
