"""The poller: which source to ask about which numbers, and when.

It keeps each source's health (log once when a source breaks and once when it heals), backs a
failing source off (at least as long as the service asked for in Retry-After), looks up new
numbers at once, and hands every answer to the differ.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import structlog

from monitor.backoff import Backoff
from monitor.bus import Bus
from monitor.clock import Clock
from monitor.events import OrderStateChanged, SourceFailed, SourceRecovered
from monitor.model import LookupFailure, OrderView, Snapshot
from monitor.plugin import SourceError, SourceSettings, TrackingSource
from monitor.routing import Routing
from monitor.sourcekit import answer_limit
from monitor.store import Store, StoreError
from monitor.tracking.differ import Differ

log = structlog.get_logger("monitor.tracker")

MAX_RETRY_AFTER_S = 24 * 3600.0  # a service may ask for a pause, not for silence forever
SOURCE_BACKOFF = Backoff(base=60.0, cap=6 * 3600.0)  # full jitter: sources behind one proxy

Sources = dict[str, tuple[TrackingSource, SourceSettings]]


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """One source's health as readers see it: a snapshot, taken when asked for."""

    failing_since: float | None = None  # clock.monotonic() of the first failure in a row
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
class _Health:
    """The poller's own, changing record behind `SourceHealth`."""

    failing_since: float | None = None
    failures: int = 0
    last_error: str = ""
    retry_after: float | None = None
    polls: int = 0
    numbers_checked: int = 0
    last_poll_s: float = 0.0

    def snapshot(self) -> SourceHealth:
        return SourceHealth(
            failing_since=self.failing_since,
            failures=self.failures,
            last_error=self.last_error,
            retry_after=self.retry_after,
            polls=self.polls,
            numbers_checked=self.numbers_checked,
            last_poll_s=self.last_poll_s,
        )


@dataclass(slots=True)
class PollReport:
    """Counts only: the events themselves went out on the bus (keeping them would hold a whole
    cycle's checkpoints in memory)."""

    checked: int = 0
    changed: int = 0
    failed_batches: int = 0

    def add(self, other: PollReport) -> None:
        self.checked += other.checked
        self.changed += other.changed
        self.failed_batches += other.failed_batches


class Poller:
    store_retry_s = 60.0  # seconds until a poll whose answer could not be stored is tried again

    def __init__(
        self,
        *,
        store: Store,
        bus: Bus,
        clock: Clock,
        differ: Differ,
        sources: Sources,
        rng: random.Random | None = None,
        backoff: Backoff = SOURCE_BACKOFF,
    ) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self._differ = differ
        self._rng = rng or random.Random()
        self._backoff = backoff
        self._health: dict[str, _Health] = {}
        self.next_poll: dict[str, float] = {}  # source -> clock.monotonic() of its next poll
        self.sources: Sources = {}
        self.replace_sources(sources)
        # First lookups (DOMAIN.md): numbers to ask about now, and those already asked about
        # once in this process (a number no source answers waits for the scheduled polls).
        self._first: set[str] = set()
        self._asked: set[str] = set()
        self._first_wanted = asyncio.Event()

    @property
    def health(self) -> Mapping[str, SourceHealth]:
        """Every source's health as it is now (a read-only copy: it does not change later)."""
        return MappingProxyType({name: h.snapshot() for name, h in self._health.items()})

    def set_health(self, name: str, health: SourceHealth) -> None:
        """Make a source look as `health` says (a testing switch: pages showing a failing source
        are tested without waiting for a real failure)."""
        self._health[name] = _Health(
            failing_since=health.failing_since,
            failures=health.failures,
            last_error=health.last_error,
            retry_after=health.retry_after,
            polls=health.polls,
            numbers_checked=health.numbers_checked,
            last_poll_s=health.last_poll_s,
        )

    # --- polling ---------------------------------------------------------------------------

    def numbers_for(self, name: str, watched: Iterable[str]) -> list[str]:
        route = self._routing.sources_for
        return [number for number in watched if name in route(number)]

    async def poll_all(self) -> PollReport:
        """One poll of every source over every watched number (what `check` and replays do)."""
        total = PollReport()
        watched = list(self._store.watched_numbers())
        for name in self.sources:
            total.add(await self.poll_source(name, watched))
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
                    log.exception("monitor.tracking.source_crashed", source=name)
                    errors.append(SourceError(f"plugin raised {type(exc).__name__}: {exc}"))
                    return
            snapshots = []
            for number, result in answer.items():
                if isinstance(result, Snapshot):
                    snapshots.append(result)
                elif isinstance(result, LookupFailure):
                    log.debug(
                        "monitor.tracking.lookup_rejected",
                        source=name,
                        number=number,
                        reason=result.reason,
                    )
            report.checked += len(snapshots)
            events = self._differ.apply(snapshots)
            report.changed += sum(isinstance(e, OrderStateChanged) for e in events)

        await asyncio.gather(*(one(numbers[i : i + size]) for i in range(0, len(numbers), size)))
        report.failed_batches = len(errors)
        health = self._health[name]
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
            log.info("monitor.tracking.first_lookup", numbers=numbers)
            await self.look_up_now(numbers)

    async def look_up_now(self, numbers: Sequence[str]) -> PollReport:
        """Ask every source that follows these numbers about them, outside its schedule."""
        total = PollReport()
        for name in list(self.sources):
            if self.numbers_for(name, numbers):
                total.add(await self.poll_source(name, numbers))
        return total

    def next_delay(self, name: str) -> float:
        """Seconds until this source's next poll: its interval with jitter, or backoff (at least
        what the service asked for in Retry-After)."""
        health = self._health[name]
        _, settings = self.sources[name]
        if health.failing_since is not None:
            delay = self._backoff.delay(health.failures, self._rng)
            if health.retry_after is not None:
                delay = max(delay, min(health.retry_after, MAX_RETRY_AFTER_S))
            return delay
        interval = settings.poll_every.total_seconds()
        return interval * (1 + self._rng.uniform(-settings.jitter, settings.jitter))

    def replace_sources(
        self, sources: Sources, *, preference: Sequence[str] = (), per_number: int = 1
    ) -> None:
        """Poll these sources from now on (a reload); a source that stays keeps its health."""
        self.sources = sources
        self._routing = Routing(
            {name: source for name, (source, _) in sources.items()},
            preference=preference,
            per_number=per_number,
        )
        self._differ.settings = {name: settings for name, (_, settings) in sources.items()}
        self._health = {name: self._health.get(name, _Health()) for name in sources}
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
        health = self._health[name]
        health.failures += 1
        health.last_error = error.reason
        health.retry_after = retry_after
        if health.failing_since is None:
            health.failing_since = self._clock.monotonic()
            log.warning(
                "monitor.tracking.source_failed",
                source=name,
                reason=error.reason,
                retry_after_s=retry_after,
            )
            self._bus.publish(SourceFailed(at=self._clock.now(), source=name, reason=error.reason))
        else:
            log.debug(
                "monitor.tracking.source_still_failing",
                source=name,
                reason=error.reason,
                failures=health.failures,
            )

    def _recovered(self, name: str) -> None:
        health = self._health[name]
        if health.failing_since is None:
            return
        down_for = self._clock.monotonic() - health.failing_since
        health.failing_since, health.failures, health.last_error = None, 0, ""
        health.retry_after = None
        log.info("monitor.tracking.source_recovered", source=name, failed_for_s=round(down_for, 1))
        self._bus.publish(SourceRecovered(at=self._clock.now(), source=name, failed_for_s=down_for))
