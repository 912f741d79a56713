"""The sender: delivers the outbox through Apprise, retries, survives restarts, sends once.

An async context manager that owns one task. The outbox in the store is the only queue: a
message is marked sent only after its channels confirmed it, so a crash or a stop at any moment
leaves it pending and the next start sends it (to the channels still missing it). Retry timing
uses the event loop's monotonic clock; dates (quiet hours, the digest, giving up) use the
`Clock`, so tests move time instead of sleeping.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from types import TracebackType

import structlog

from monitor.backoff import Backoff
from monitor.clock import Clock
from monitor.model import OrderView, Severity
from monitor.notify.channels import Channels, Delivery
from monitor.notify.render import Message, digest_of, render
from monitor.notify.schedule import digest_time, quiet_until
from monitor.notify.settings import NotifySettings
from monitor.store import OutboxItem, OutboxState, Store

log = structlog.get_logger("monitor.notify")

MIN_WAIT = 0.01  # never spin: even "due now" waits a moment for the loop's other work


GIVE_UP_AFTER_ATTEMPTS = 3


class Sender:
    def __init__(
        self,
        *,
        store: Store,
        channels: Channels,
        settings: NotifySettings,
        clock: Clock,
        rng: random.Random | None = None,
        zone: tzinfo | None = None,
    ) -> None:
        """`rng` seeds the jitter (tests pass a seeded one); `zone` is the display zone
        (`Settings.zone()`: messages, quiet hours and the digest), else `[notify] timezone`."""
        self._store = store
        self._channels = channels
        self._settings = settings
        self._clock = clock
        self._rng = rng or random.Random()
        self._zone = zone if zone is not None else settings.zone()
        self._retry_at: dict[int, float] = {}  # alert id -> loop time of its next attempt
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Sender:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def start(self) -> None:
        """Start delivering (in a task this sender owns); `aclose` ends it."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="notify-sender")
        log.info("monitor.notify.started", channels=[t.name for t in self._channels.targets])

    async def aclose(self) -> None:
        """Let the message in flight finish (within the send timeout); the rest stays queued."""
        self._stopping = True
        self._wakeup.set()
        if self._task is None:
            return
        grace = self._settings.send_timeout.total_seconds() + 1
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace)
        except TimeoutError:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def wake(self) -> None:
        """Something new may be in the outbox (the daemon calls this on every warning)."""
        self._wakeup.set()

    async def _run(self) -> None:
        while not self._stopping:
            self._wakeup.clear()
            try:
                wait = await self.send_due()
            except Exception:
                # A broken store or a bug must not silently end delivery for good.
                log.exception("monitor.notify.pass_failed")
                wait = self._settings.check_every.total_seconds()
            if self._stopping:
                break
            try:
                async with asyncio.timeout(wait):
                    await self._wakeup.wait()
            except TimeoutError:
                pass

    async def send_due(self) -> float:
        """Send everything that may go now; return the seconds until something else may."""
        now = self._clock.now()
        loop_now = asyncio.get_running_loop().time()
        wait = self._settings.check_every.total_seconds()
        digest: list[tuple[OutboxItem, OrderView]] = []
        # Muted by the buyer (`Order.muted`) or, the older way, by `[notify] muted_orders`.
        muted = self._store.muted_order_ids() | set(self._settings.muted_orders)
        for item in self._store.outbox_pending():
            if self._stopping:
                break
            if item.alert.order_id in muted:
                self._store.outbox_mark_final([item.id], OutboxState.MUTED)
                continue
            retry_at = self._retry_at.get(item.id)
            if retry_at is None:  # first sight since start: the stored backoff still holds
                waited = (item.next_attempt_at - now).total_seconds()
                retry_at = self._retry_at[item.id] = loop_now + max(0.0, waited)
            if retry_at > loop_now:
                wait = min(wait, retry_at - loop_now)
                continue
            hold = self._held_until(item, now)
            if hold is not None:
                wait = min(wait, (hold - now).total_seconds())
                continue
            view = self._store.get_view(item.alert.order_id)
            if view is None:  # the buyer removed the order: its warnings no longer matter
                self._store.outbox_mark_final(
                    [item.id], OutboxState.REMOVED, "the order was removed"
                )
                self._retry_at.pop(item.id, None)
                log.info("monitor.notify.dropped", alert=item.id, order=item.alert.order_id)
                continue
            if item.alert.severity is Severity.INFO and self._settings.digest_at is not None:
                digest.append((item, view))
            else:
                await self._deliver([(item, view)], digest=False)
        if digest and not self._stopping:
            await self._deliver(digest, digest=True)
        return max(wait, MIN_WAIT)

    def _held_until(self, item: OutboxItem, now: datetime) -> datetime | None:
        """The wall-clock moment before which this notification must wait, if any."""
        held: list[datetime] = []
        quiet = self._settings.quiet_hours
        if quiet is not None and item.alert.severity is not Severity.CRITICAL:
            end = quiet_until(now, quiet, self._zone)
            if end is not None:
                held.append(end)
        if item.alert.severity is Severity.INFO and self._settings.digest_at is not None:
            due = digest_time(item.created_at, self._settings.digest_at, self._zone)
            if due > now:
                held.append(due)
        return max(held) if held else None

    def _rendered(
        self, pairs: Sequence[tuple[OutboxItem, OrderView]]
    ) -> list[tuple[OutboxItem, Message]]:
        """Each warning's message; one that cannot be rendered fails alone, with its reason,
        and never holds up the others (`notify retry` tries it again after a fix)."""
        good = []
        for item, view in pairs:
            try:
                good.append((item, render(item.alert, view, self._settings.language, self._zone)))
            except Exception as exc:
                reason = f"cannot render the message: {type(exc).__name__}: {exc}"
                self._store.outbox_mark_final([item.id], OutboxState.FAILED, reason)
                self._retry_at.pop(item.id, None)
                log.error(
                    "monitor.notify.unrenderable",
                    alert=item.id,
                    order=item.alert.order_id,
                    rule=item.alert.rule,
                    reason=reason,
                )
        return good

    async def _deliver(
        self, pairs: Sequence[tuple[OutboxItem, OrderView]], *, digest: bool
    ) -> None:
        rendered = self._rendered(pairs)
        if not rendered:
            return
        items = [item for item, _ in rendered]
        if digest:
            message = digest_of([m for _, m in rendered], self._settings.language)
        else:
            message = rendered[0][1]
        ids = [item.id for item in items]
        tags: list[str] = []
        for item in items:
            tags += self._settings.tags_for(item.alert.rule, item.alert.severity)
        targets = self._channels.matching(tuple(dict.fromkeys(tags)))
        if not targets:
            # A routing mistake: retrying cannot fix it, so say so once and stop.
            reason = f"no service matched the tags {sorted(set(tags))}"
            self._store.outbox_mark_final(ids, OutboxState.FAILED, reason)
            log.error("monitor.notify.unroutable", alerts=ids, tags=sorted(set(tags)))
            return
        done = set.intersection(*(self._store.outbox_delivered_to(i) for i in ids))
        limit_s = self._settings.send_timeout.total_seconds()
        failures: list[Delivery] = []
        for target in targets:
            if target.key in done:
                continue
            delivery = await self._channels.send(target, message, limit_s=limit_s)
            if delivery.ok:
                self._store.outbox_record_delivery(ids, target.key, self._clock.now())
            else:
                failures.append(delivery)
        now = self._clock.now()
        if not failures:
            self._store.outbox_mark_sent(ids, now)
            for item in items:
                self._retry_at.pop(item.id, None)
            log.info(
                "monitor.notify.sent",
                alerts=ids,
                orders=[i.alert.order_id for i in items],
                channels=len(targets),
            )
            return
        self._failed(items, failures, now)

    def _failed(
        self, items: Sequence[OutboxItem], failures: Sequence[Delivery], now: datetime
    ) -> None:
        ids = [item.id for item in items]
        reason = "; ".join(f"{d.target.name}: {d.reason}" for d in failures)
        oldest = min(item.created_at for item in items)
        attempt = max(item.attempts for item in items) + 1
        # Both a long time and a few tries: a warning that waited for a channel to be configured
        # is not given up on at its first hiccup.
        if now - oldest >= self._settings.give_up_after and attempt >= GIVE_UP_AFTER_ATTEMPTS:
            self._store.outbox_mark_final(ids, OutboxState.FAILED, reason)
            for item in items:
                self._retry_at.pop(item.id, None)
            log.error(
                "monitor.notify.failed",
                alerts=ids,
                reason=reason,
                hint="parcel-monitor notify retry",
            )
            return
        # Half of the delay fixed: many failed messages (a channel down for an hour) spread out,
        # yet none retries almost at once.
        retries = Backoff(
            base=self._settings.retry_first.total_seconds(),
            cap=self._settings.retry_max.total_seconds(),
            jitter=0.5,
        )
        delay = retries.delay(attempt, self._rng)
        loop_now = asyncio.get_running_loop().time()
        for item in items:
            self._retry_at[item.id] = loop_now + delay
        self._store.outbox_mark_retry(ids, reason, now + timedelta(seconds=delay))
        # One warning when a message starts failing, not one per retry.
        emit = log.warning if attempt == 1 else log.debug
        emit(
            "monitor.notify.retry",
            alerts=ids,
            attempt=attempt,
            retry_in=round(delay, 3),
            reason=reason,
        )
