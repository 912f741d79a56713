"""The tracker: asks sources about watched numbers, decides what changed, publishes it.

The tracker alone writes tracking history. Each batch a source answers is diffed and stored in
one transaction; the events are published after the commit, so every subscriber sees stored state.
A snapshot identical to the last one from the same source costs one dictionary lookup.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import structlog

from monitor.bus import Bus
from monitor.clock import Clock
from monitor.events import (
    CheckpointsAdded,
    EtaChanged,
    Event,
    OrderStateChanged,
    SourceFailed,
    SourceRecovered,
    StatusChanged,
    TrackAssigned,
)
from monitor.model import Checkpoint, LookupFailure, OrderView, Snapshot
from monitor.plugin import SourceError, SourceSettings, TrackingSource
from monitor.routing import Routing
from monitor.sourcekit import answer_limit, bounded
from monitor.store import SnapshotRow, Store, StoreError
from monitor.tracking import derive, new_checkpoints, snapshot_digest

log = structlog.get_logger("monitor.tracker")

MAX_RETRY_AFTER_S = 24 * 3600.0  # a service may ask for a pause, not for silence forever


@dataclass(slots=True)
class SourceHealth:
    """Failure bookkeeping for one source: log once when it breaks and once when it heals."""

    failing_since: float | None = None
    failures: int = 0
    last_error: str = ""
    retry_after: float | None = None  # seconds the service asked us to wait (Retry-After)
    polls: int = 0
    numbers_checked: int = 0
    last_poll_s: float = 0.0

    @property
    def healthy(self) -> bool:
        return self.failing_since is None


@dataclass(slots=True)
class PollReport:
    """Counts only: the events themselves went out on the bus (keeping them would hold a whole
    cycle's checkpoints in memory)."""

    checked: int = 0
    changed: int = 0
    failed_batches: int = 0


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff with full jitter, in seconds."""

    base: float = 60.0
    cap: float = 6 * 3600.0

    def delay(self, failures: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.cap, self.base * 2 ** max(0, failures - 1)))


class Tracker:
    store_retry_s = 60.0  # seconds until a poll whose answer could not be stored is tried again

    def __init__(
        self,
        *,
        store: Store,
        bus: Bus,
        clock: Clock,
        sources: dict[str, tuple[TrackingSource, SourceSettings]],
        rng: random.Random | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self.sources = sources
        self._routing = Routing({name: source for name, (source, _) in sources.items()})
        self.health = {name: SourceHealth() for name in sources}
        self.next_poll: dict[str, float] = {}  # source -> clock.monotonic() of its next poll
        self._digests = store.snapshot_digests()
        self._rng = rng or random.Random()
        self._backoff = backoff or Backoff()
        # First lookups (DOMAIN.md): numbers to ask about now, and those already asked about
        # once in this process (a number no source answers waits for the scheduled polls).
        self._first: set[str] = set()
        self._asked: set[str] = set()
        self._first_wanted = asyncio.Event()

    # --- polling ---------------------------------------------------------------------------

    def numbers_for(self, name: str, watched: Iterable[str]) -> list[str]:
        route = self._routing.sources_for
        return [number for number in watched if name in route(number)]

    async def poll_all(self) -> PollReport:
        """One poll of every source over every watched number (what `check` and replays do)."""
        total = PollReport()
        watched = list(self._store.watched_numbers())
        for name in self.sources:
            report = await self.poll_source(name, watched)
            total.checked += report.checked
            total.changed += report.changed
            total.failed_batches += report.failed_batches
        return total

    async def poll_source(self, name: str, watched: Sequence[str] | None = None) -> PollReport:
        """Ask one source about its numbers, batch by batch; each batch is stored as it comes.

        The first batch the source fails ends the cycle (the rest would fail the same way, or be
        rate-limited harder); the source is then backed off and its known state kept.
        """
        source, settings = self.sources[name]
        if watched is None:
            watched = list(self._store.watched_numbers())
        numbers = self.numbers_for(name, watched)
        report = PollReport()
        if not numbers:
            return report
        # Numbers never answered for come first, then those that moved last: a source that runs
        # out of budget or patience mid-cycle has spent it where news is likeliest.
        newest = self._store.newest_scans(name)
        numbers.sort(key=lambda n: -newest.get(n, float("inf")))
        started = self._clock.monotonic()
        gate = asyncio.Semaphore(settings.concurrency)
        size = max(1, source.batch_size)
        limit = settings.timeout.total_seconds() * 2
        errors: list[SourceError] = []

        async def one(batch: list[str]) -> None:
            async with gate:
                if errors:
                    return
                answer_limit.set(settings.max_answer_size)  # this batch's task only
                try:
                    async with asyncio.timeout(limit):
                        answer = await source.lookup(batch)
                except SourceError as exc:
                    errors.append(exc)
                    return
                except TimeoutError:
                    errors.append(SourceError(f"no answer within {limit:.0f}s"))
                    return
                except Exception as exc:  # a plugin bug must not take the daemon down
                    log.exception("monitor.source_crashed", source=name)
                    errors.append(SourceError(f"plugin raised {type(exc).__name__}: {exc}"))
                    return
            snapshots = []
            for number, result in answer.items():
                if isinstance(result, Snapshot):
                    snapshots.append(result)
                elif isinstance(result, LookupFailure):
                    log.debug(
                        "monitor.lookup_rejected", source=name, number=number, reason=result.reason
                    )
            report.checked += len(snapshots)
            events = self.apply(snapshots)
            report.changed += sum(isinstance(e, OrderStateChanged) for e in events)

        await asyncio.gather(*(one(numbers[i : i + size]) for i in range(0, len(numbers), size)))
        report.failed_batches = len(errors)
        health = self.health[name]
        health.polls += 1
        health.numbers_checked += report.checked
        health.last_poll_s = self._clock.monotonic() - started
        if errors:
            waits = [e.retry_after for e in errors if e.retry_after is not None]
            self._failed(name, errors[0], max(waits, default=None))
        else:
            self._recovered(name)
        return report

    def want_first_lookup(self, view: OrderView) -> None:
        """A new or changed number no source answered yet is looked up at once, not at the
        next scheduled poll (`run_first_lookups` does it); its warnings wait for the answer."""
        number = view.order.track
        if number is None or view.tracking.track_answered or number in self._asked:
            return
        self._asked.add(number)
        self._first.add(number)
        self._first_wanted.set()

    async def run_first_lookups(self) -> None:
        """Look up the numbers `want_first_lookup` was told about, forever (the daemon's task)."""
        while True:
            await self._first_wanted.wait()
            self._first_wanted.clear()
            numbers, self._first = sorted(self._first), set()
            log.info("monitor.first_lookup", numbers=numbers)
            await self.look_up_now(numbers)

    async def look_up_now(self, numbers: Sequence[str]) -> PollReport:
        """Ask every source that follows these numbers about them, outside its schedule."""
        total = PollReport()
        for name in list(self.sources):
            if self.numbers_for(name, numbers):
                report = await self.poll_source(name, numbers)
                total.checked += report.checked
                total.changed += report.changed
                total.failed_batches += report.failed_batches
        return total

    def next_delay(self, name: str) -> float:
        """Seconds until this source's next poll: its interval with jitter, or backoff (at least
        what the service asked for in Retry-After)."""
        health = self.health[name]
        _, settings = self.sources[name]
        if health.failing_since is not None:
            delay = self._backoff.delay(health.failures, self._rng)
            if health.retry_after is not None:
                delay = max(delay, min(health.retry_after, MAX_RETRY_AFTER_S))
            return delay
        interval = settings.poll_every.total_seconds()
        return interval * (1 + self._rng.uniform(-settings.jitter, settings.jitter))

    def replace_sources(
        self,
        sources: dict[str, tuple[TrackingSource, SourceSettings]],
        *,
        preference: Sequence[str] = (),
        per_number: int = 1,
    ) -> None:
        """Poll these sources from now on (a reload); a source that stays keeps its health."""
        self.sources = sources
        self._routing = Routing(
            {name: source for name, (source, _) in sources.items()},
            preference=preference,
            per_number=per_number,
        )
        self.health = {name: self.health.get(name, SourceHealth()) for name in sources}
        self.next_poll = {n: at for n, at in self.next_poll.items() if n in sources}

    async def run_source(self, name: str, *, first_delay: float = 0.0) -> None:
        """Poll one source forever (the daemon runs one of these per source)."""
        delay = first_delay
        while True:
            self.next_poll[name] = self._clock.monotonic() + delay
            await asyncio.sleep(delay)
            try:
                await self.poll_source(name)
            except StoreError:
                # The answer could not be stored (a full disk): nothing of it was kept, so the
                # next poll brings it again. The store logged why, once; the daemon stays up.
                delay = min(self.next_delay(name), self.store_retry_s)
                continue
            delay = self.next_delay(name)

    def _failed(self, name: str, error: SourceError, retry_after: float | None) -> None:
        health = self.health[name]
        health.failures += 1
        health.last_error = error.reason
        health.retry_after = retry_after
        if health.failing_since is None:
            health.failing_since = self._clock.monotonic()
            log.warning(
                "monitor.source_failed", source=name, reason=error.reason, retry_after_s=retry_after
            )
            self._bus.publish(SourceFailed(at=self._clock.now(), source=name, reason=error.reason))
        else:
            log.debug(
                "monitor.source_still_failing",
                source=name,
                reason=error.reason,
                failures=health.failures,
            )

    def _recovered(self, name: str) -> None:
        health = self.health[name]
        if health.failing_since is None:
            return
        down_for = self._clock.monotonic() - health.failing_since
        health.failing_since, health.failures, health.last_error = None, 0, ""
        health.retry_after = None
        log.info("monitor.source_recovered", source=name, failed_for_s=round(down_for, 1))
        self._bus.publish(SourceRecovered(at=self._clock.now(), source=name, failed_for_s=down_for))

    # --- diffing ---------------------------------------------------------------------------

    def apply(self, snapshots: Sequence[Snapshot]) -> list[Event]:
        """Store what is new in these snapshots and publish the resulting events.

        Also the entry point for pushed snapshots (webhooks).
        """
        fresh = []
        for snapshot in snapshots:
            keep = self._checkpoints_kept(snapshot.source)
            if len(snapshot.checkpoints) > keep:
                snapshot = replace(snapshot, checkpoints=_newest(snapshot.checkpoints, keep))
            digest = snapshot_digest(snapshot)
            if self._digests.get((snapshot.number, snapshot.source)) != digest:
                # Only what changed is checked: a steady answer was checked when it was new.
                fresh.append((bounded(snapshot), digest))
        if not fresh:
            return []
        now = self._clock.now()
        events: list[Event] = []
        with self._store.transaction():
            numbers = {s.number for s, _ in fresh}
            history = self._store.checkpoints(numbers)
            rows = {(r.number, r.source): r for r in self._store.snapshot_rows(numbers)}
            owners = self._store.orders_of_numbers(numbers)
            touched: dict[str, None] = {}
            for snapshot, digest in fresh:
                added = self._store_snapshot(snapshot, digest, rows, history, now)
                order_ids = tuple(owners.get(snapshot.number, ()))
                touched.update(dict.fromkeys(order_ids))
                if added:
                    events.append(
                        CheckpointsAdded(
                            at=now, number=snapshot.number, order_ids=order_ids, checkpoints=added
                        )
                    )
            handovers = {s.number: s.handover for s, _ in fresh if s.handover}
            events += self._refresh(touched, now, handovers=handovers, history=history, rows=rows)
        for snapshot, digest in fresh:
            self._digests[(snapshot.number, snapshot.source)] = digest
        for event in events:
            self._bus.publish(event)
        return events

    def _store_snapshot(
        self,
        snapshot: Snapshot,
        digest: str,
        rows: dict[tuple[str, str], SnapshotRow],
        history: dict[str, list[Checkpoint]],
        now: datetime,
    ) -> tuple[Checkpoint, ...]:
        keep = self._checkpoints_kept(snapshot.source)
        known = history.setdefault(snapshot.number, [])
        added = new_checkpoints(snapshot.checkpoints, known)
        if added:
            # Trimming costs a query per number: only when the number outgrows what is kept.
            trim = keep if len(known) + len(added) > keep else None
            self._store.add_checkpoints(snapshot.number, snapshot.source, added, now=now, keep=trim)
            known.extend(added)
            known.sort(key=lambda cp: cp.at)
            del known[:-keep]
        old = rows.get((snapshot.number, snapshot.source))
        row = SnapshotRow(
            number=snapshot.number,
            source=snapshot.source,
            status=snapshot.status,
            status_seen_at=old.status_seen_at if old and old.status == snapshot.status else now,
            eta=snapshot.eta,
            handover=snapshot.handover,
            newest_ts=newest.timestamp() if (newest := _newest_time(snapshot)) else None,
            digest=digest,
            fetched_at=snapshot.fetched_at,
            destination=snapshot.destination or None,
        )
        self._store.write_snapshot(row)
        rows[(row.number, row.source)] = row
        return added

    def _checkpoints_kept(self, source: str) -> int:
        entry = self.sources.get(source)
        return (entry[1] if entry else SourceSettings()).max_checkpoints

    def refresh(self, order_ids: Iterable[str]) -> list[Event]:
        """Re-derive and store these orders' tracking state, then publish their views.

        For orders the buyer just changed: their view is published even when tracking is the same.
        """
        now = self._clock.now()
        with self._store.transaction():
            events = self._refresh(dict.fromkeys(order_ids), now, handovers={}, force=True)
        for event in events:
            self._bus.publish(event)
        return events

    def _refresh(
        self,
        order_ids: Iterable[str],
        now: datetime,
        *,
        handovers: dict[str, str],
        force: bool = False,
        history: dict[str, list[Checkpoint]] | None = None,
        rows: dict[tuple[str, str], SnapshotRow] | None = None,
    ) -> list[Event]:
        """Derive the orders' state again; `history` and `rows` are what the caller has loaded."""
        events: list[Event] = []
        views = self._store.get_views(order_ids)
        added_at = self._store.tracks_added_at(views)
        history = dict(history or {})
        rows = dict(rows or {})
        wanted = {n for view in views.values() for n in view.order.tracks} | set(handovers.values())
        missing = wanted - history.keys()
        history.update(self._store.checkpoints(missing))
        rows.update({(r.number, r.source): r for r in self._store.snapshot_rows(missing)})
        by_number: dict[str, list[SnapshotRow]] = {}
        for row in rows.values():
            by_number.setdefault(row.number, []).append(row)
        for view in views.values():
            order = view.order
            for number in order.tracks:
                new_number = handovers.get(number)
                if new_number and new_number not in order.tracks:
                    previous = order.track
                    order = replace(order, tracks=(*order.tracks, new_number))
                    self._store.update_order(order, now=now)
                    added_at.setdefault(order.id, {})[new_number] = now
                    log.info(
                        "monitor.handover", order=order.id, number=number, new_number=new_number
                    )
                    events.append(
                        TrackAssigned(
                            at=now, order_id=order.id, number=new_number, previous=previous
                        )
                    )
            state = derive(
                order,
                view.tracking,
                [row for n in order.tracks for row in by_number.get(n, ())],
                {n: history.get(n, []) for n in order.tracks},
                added_at.get(order.id, {}),
            )
            if state == view.tracking and order == view.order and not force:
                continue
            self._store.write_tracking(order.id, state, now=now)
            old = view.tracking
            if state.status is not None and state.status != old.status:
                events.append(
                    StatusChanged(
                        at=now,
                        order_id=order.id,
                        old=old.status,
                        new=state.status,
                        since=state.status_since,
                    )
                )
            if state.eta != old.eta:
                events.append(EtaChanged(at=now, order_id=order.id, old=old.eta, new=state.eta))
            events.append(
                OrderStateChanged(at=now, view=replace(view, order=order, tracking=state))
            )
        return events


def _newest(checkpoints: Sequence[Checkpoint], keep: int) -> tuple[Checkpoint, ...]:
    """The `keep` newest: a carrier that sends a million scans must not fill memory and disk."""
    return tuple(sorted(checkpoints, key=lambda cp: cp.at)[-keep:])


def _newest_time(snapshot: Snapshot) -> datetime | None:
    return max((cp.at for cp in snapshot.checkpoints), default=None)
