"""The MQTT bridge: mirrors open orders and bus events onto a broker, takes commands back.

One aiomqtt client is reused across connections (`while True: async with client: ...`): a lost
broker never stops the daemon, it only delays what the bridge publishes. What happened meanwhile
is handled in two ways:
- retained state (status, orders, discovery) is republished in full on every connect, because a
  restarted broker may have lost it, and stale per-order updates are worth nothing;
- events are kept in order in a bounded buffer and sent after the reconnect; past the bound the
  oldest are dropped, and the bound and the drops are logged;
- warnings are not taken from the bus but from the ledger, after a cursor kept in the store: so a
  warning raised by a CLI command (another process) goes out too, each one once, also across an
  outage or a restart.
Everything is published with QoS 1 and an event leaves the buffer (a warning moves the cursor)
only once the broker has acknowledged it, so a connection lost mid-flush resends rather than
loses. A message the broker or the client refuses (a topic too long, say) is logged and skipped.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections import Counter, deque
from collections.abc import Callable
from datetime import tzinfo
from types import TracebackType
from typing import Self

import aiomqtt
import structlog

from monitor.backoff import Backoff
from monitor.bus import Bus
from monitor.clock import Clock
from monitor.events import (
    Alert,
    CheckpointsAdded,
    Event,
    OrderAdded,
    OrderRemoved,
    OrderStateChanged,
    OrderUpdated,
    Tick,
    WarningRaised,
)
from monitor.model import OrderView
from monitor.mqtt import commands
from monitor.mqtt.payloads import (
    OFFLINE,
    ONLINE,
    Message,
    Topics,
    order_messages,
    removal_messages,
)
from monitor.mqtt.settings import MqttSettings
from monitor.notify.render import render
from monitor.notify.texts import Language
from monitor.orders import OrderBook
from monitor.store import Store, StoredAlert
from monitor.views.data import Presentation, alert_json, event_json

log = structlog.get_logger("monitor.mqtt")

QOS = 1
STOP_TIMEOUT_S = 5.0
CURSOR = "mqtt"  # the store's cursor namespace for what the bridge has published


class MqttBridge:
    """`async with MqttBridge(...) as bridge:`; leaving publishes `offline` and disconnects."""

    def __init__(
        self,
        *,
        settings: MqttSettings,
        store: Store,
        bus: Bus,
        clock: Clock,
        orders: OrderBook,
        password: str | None = None,
        language: Language = "en",
        zone: tzinfo | None = None,
        ledger_every_s: float = 2.0,
    ) -> None:
        """Build inside the running event loop (aiomqtt's client wants one).

        settings: the `[mqtt]` section (`settings.active` must be true).
        store: read for the current state of orders and their warnings.
        bus: every event on it is published; order changes trigger state updates.
        clock: for "days in transit" and outage durations.
        orders: where MQTT commands are carried out (only used with `settings.commands`).
        password: the broker password, already read (see `MqttSettings.resolved_password`).
        language, zone: how warnings and times read (`[notify] language`, `Settings.zone()`).
        ledger_every_s: how often the ledger is looked at for warnings other processes raised.
        """
        self._settings = settings
        self._store = store
        self._bus = bus
        self._clock = clock
        self._orders = orders
        self._topics = Topics.of(settings)
        self._shown = Presentation(language=language, zone=zone, notes=settings.publish_notes)
        self._ledger_every_s = ledger_every_s
        self._cursor_key = f"warnings_published:{self._topics.base}"
        if store.cursor_get(CURSOR, self._cursor_key) is None:
            # The first start with this base topic: history stays history, new warnings go out.
            store.cursor_set(CURSOR, {self._cursor_key: str(store.last_alert_id())})
        self._client = _client(settings, self._topics, password)
        self._events: deque[Event] = deque(maxlen=settings.buffer)
        self._dropped: Counter[str] = Counter()
        self._dirty: set[str] = set()
        self._full = True  # republish everything retained at the next chance
        self._day = clock.now().date()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self.connected = False
        self.last_error = ""

    def start(self) -> None:
        """Follow the bus and connect in the background; returns at once."""
        self._unsubscribe.append(self._bus.subscribe(Event, self._on_event))
        self._task = asyncio.create_task(self._run(), name="mqtt")

    async def aclose(self) -> None:
        """Publish what is buffered and `offline`, then disconnect (forcibly after a timeout)."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        if self._task is None:
            return
        self._stopping.set()
        self._wake.set()
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await asyncio.shield(self._task)
        except TimeoutError:
            log.warning("monitor.mqtt.stop_timeout", buffered=len(self._events))
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- from the bus (synchronous: only bookkeeping here) ----------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, Tick):
            if event.at.date() != self._day:
                self._day = event.at.date()  # "days in transit" moved on for every order
                self._full = True
                self._wake.set()
            if not self.connected:
                return  # a tick is news only now: an outage's ticks must not crowd out warnings
        if len(self._events) == self._events.maxlen:
            dropped = self._events[0]
            if not self._dropped:
                log.warning(
                    "monitor.mqtt.buffer_full",
                    bound=self._settings.buffer,
                    policy="dropping the oldest events until the broker is back",
                )
            self._dropped[dropped.kind] += 1
        self._events.append(event)
        self._dirty.update(_orders_touched(event))
        self._wake.set()

    # --- the connection loop ----------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        down_since: float | None = None
        while not self._stopping.is_set():
            try:
                async with self._client:
                    self.connected = True
                    log.info(
                        "monitor.mqtt.connected",
                        broker=self._settings.host,
                        port=self._settings.port,
                        down_for_s=None
                        if down_since is None
                        else round(self._clock.monotonic() - down_since, 1),
                    )
                    failures, down_since = 0, None
                    await self._session(self._client)
            except* aiomqtt.MqttError as group:
                self.last_error = str(group.exceptions[0])
            except* Exception:
                # A bug here must not take the daemon down with it: log, back off, try again.
                log.exception("monitor.mqtt.failed")
                self.last_error = "internal error (see the log)"
            self.connected = False
            if self._stopping.is_set():
                break
            if down_since is None:
                down_since = self._clock.monotonic()
                log.warning(
                    "monitor.mqtt.disconnected",
                    reason=self.last_error,
                    buffer_bound=self._settings.buffer,
                )
            failures += 1
            await self._pause(self._backoff(failures))
        log.info("monitor.mqtt.stopped", unsent_events=len(self._events))

    def _backoff(self, failures: int) -> float:
        reconnects = Backoff(
            base=self._settings.reconnect_min.total_seconds(),
            cap=self._settings.reconnect_max.total_seconds(),
            jitter=0.0,  # one broker, one client: nobody to stampede with
        )
        return reconnects.delay(failures)

    async def _pause(self, seconds: float) -> None:
        try:
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        except TimeoutError:
            pass

    async def _session(self, client: aiomqtt.Client) -> None:
        """One connection: announce, subscribe, then send and receive until stopped or cut."""
        topics = self._topics
        await client.publish(topics.status, ONLINE, qos=QOS, retain=True)
        if self._settings.discovery:
            await client.subscribe(topics.ha_status, qos=QOS)
        if self._settings.commands:
            await client.subscribe(topics.commands, qos=QOS)
        self._full = True
        if self._dropped:
            log.warning(
                "monitor.mqtt.events_dropped",
                bound=self._settings.buffer,
                dropped=sum(self._dropped.values()),
                kinds=dict(self._dropped),
            )
            self._dropped.clear()
        async with asyncio.TaskGroup() as group:
            receiver = group.create_task(self._receive(client), name="mqtt:receive")
            await self._send(client)
            receiver.cancel()

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            self._wake.clear()
            await self._flush(client)
            if self._stopping.is_set():
                await client.publish(self._topics.status, OFFLINE, qos=QOS, retain=True)
                return
            try:  # also woken by time: the CLI may have raised a warning in the ledger meanwhile
                async with asyncio.timeout(self._ledger_every_s):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _flush(self, client: aiomqtt.Client) -> None:
        if self._full:
            self._full = False
            self._dirty.clear()
            await _publish(client, Message(self._topics.status, ONLINE, retain=True))
            for message in self._everything():
                await _publish(client, message)
        while self._dirty:
            for message in self._order_now(self._dirty.pop()):
                await _publish(client, message)
        while self._events:
            event = self._events[0]
            if isinstance(event, WarningRaised):
                # Only a place in the order: the warning itself comes from the ledger, like
                # those of other processes (so a dropped one is not lost either).
                await self._flush_warnings(client)
            else:
                payload = json.dumps(
                    event_json(event, notes=self._settings.publish_notes), ensure_ascii=False
                )
                await _publish(client, Message(self._topics.event(event.kind), payload))
            if self._events and self._events[0] is event:  # a full buffer may have dropped it
                self._events.popleft()
        await self._flush_warnings(client)

    async def _flush_warnings(self, client: aiomqtt.Client) -> None:
        """Every ledger row past the cursor on `<base>/events/warning`, the cursor moved after
        each acknowledgement (a crash in between sends that one again: at least once)."""
        while True:
            done = int(self._store.cursor_get(CURSOR, self._cursor_key) or 0)
            rows = self._store.alerts_after(done)
            if not rows:
                return
            views = self._store.get_views({stored.alert.order_id for stored in rows})
            for stored in rows:
                view = views.get(stored.alert.order_id)
                if view is None:
                    # Removed since (a CLI raised it while no daemon ran): like its dropped
                    # push, nothing to act on; an automation must not be woken for it.
                    log.info(
                        "monitor.mqtt.warning_of_removed_order_skipped",
                        alert_id=stored.id,
                        order=stored.alert.order_id,
                        rule=stored.alert.rule,
                    )
                else:
                    await _publish(
                        client, Message(self._topics.event("warning"), self._warning(stored, view))
                    )
                self._store.cursor_set(CURSOR, {self._cursor_key: str(stored.id)})

    def _warning(self, stored: StoredAlert, view: OrderView) -> str:
        """The warning in the buyer's language, rendered as a push would be."""
        alert = stored.alert
        title, body = alert.title, alert.body
        try:
            message = render(alert, view, self._shown.language, self._shown.zone)
            title, body = message.title, message.text
        except Exception:  # one warning that cannot be rendered must not hold up the others
            log.exception("monitor.mqtt.render_failed", alert_id=stored.id, rule=alert.rule)
        data = {
            "kind": WarningRaised.kind,
            **alert_json(alert),
            "id": stored.id,
            "title": title,
            "body": body,
        }
        return json.dumps(data, ensure_ascii=False)

    def _everything(self) -> list[Message]:
        """Every watched order's retained messages; removals for closed and removed ones."""
        views, removed, _ = self._store.views_changed_since(0)
        alerts: dict[str, list[Alert]] = {}
        for stored in self._store.alerts():
            alerts.setdefault(stored.alert.order_id, []).append(stored.alert)
        now = self._clock.now()
        discovery = self._settings.discovery
        messages: list[Message] = []
        watched = set()
        for view in views:
            if view.order.closed:
                messages += removal_messages(self._topics, view.order.id, discovery=discovery)
            else:
                watched.add(view.order.id)
                try:
                    messages += order_messages(
                        self._topics,
                        view,
                        alerts.get(view.order.id, []),
                        now,
                        discovery=discovery,
                        shown=self._shown,
                    )
                except Exception:  # one order that cannot be shown must not hide the others
                    log.exception("monitor.mqtt.order_skipped", order=view.order.id[:100])
        for order_id in dict.fromkeys(removed):
            if order_id not in watched:
                messages += removal_messages(self._topics, order_id, discovery=discovery)
        return messages

    def _order_now(self, order_id: str) -> list[Message]:
        view = self._store.get_view(order_id)
        discovery = self._settings.discovery
        if view is None or view.order.closed:
            return removal_messages(self._topics, order_id, discovery=discovery)
        alerts = [stored.alert for stored in self._store.alerts(order_id)]
        now, shown = self._clock.now(), self._shown
        try:
            return order_messages(self._topics, view, alerts, now, discovery=discovery, shown=shown)
        except Exception:  # one order that cannot be shown must not hide the others
            log.exception("monitor.mqtt.order_skipped", order=order_id[:100])
            return []

    async def _receive(self, client: aiomqtt.Client) -> None:
        """Home Assistant's birth message and commands; ends with MqttError when the link drops."""
        async for message in client.messages:
            topic = str(message.topic)
            payload = message.payload if isinstance(message.payload, bytes) else b""
            if topic == self._topics.ha_status:
                if payload == ONLINE.encode():
                    log.info("monitor.mqtt.home_assistant_online")
                    self._full = True
                    self._wake.set()
            elif self._settings.commands and message.topic.matches(self._topics.commands):
                name = topic.rsplit("/", 1)[1]
                if topic == self._topics.command_result:
                    continue  # our own answers come back through the wildcard
                answer = commands.execute(self._orders, name, payload)
                await client.publish(
                    self._topics.command_result, json.dumps(answer, ensure_ascii=False), qos=QOS
                )


async def _publish(client: aiomqtt.Client, message: Message) -> None:
    """Publish and wait for the broker's acknowledgement; a message the client refuses by itself
    (a topic too long or not valid UTF-8) is logged and skipped so that it cannot block the rest.
    A lost connection still raises MqttError: that message is sent again after the reconnect."""
    try:
        await client.publish(message.topic, message.payload, qos=QOS, retain=message.retain)
    except (ValueError, UnicodeError) as exc:
        log.error(
            "monitor.mqtt.message_skipped",
            topic=message.topic[:200],
            topic_length=len(message.topic),
            reason=str(exc)[:200],
        )


def _orders_touched(event: Event) -> tuple[str, ...]:
    """The orders whose retained state an event may have changed."""
    match event:
        case OrderStateChanged(view=view):
            return (view.order.id,)
        case OrderAdded(order=order) | OrderUpdated(order=order):
            return (order.id,)
        case OrderRemoved(order_id=order_id):
            return (order_id,)
        case WarningRaised(alert=alert):
            return (alert.order_id,)
        case CheckpointsAdded(order_ids=order_ids):
            return order_ids
    return ()


def _client(settings: MqttSettings, topics: Topics, password: str | None) -> aiomqtt.Client:
    tls = ssl.create_default_context(cafile=settings.ca_file) if settings.tls else None
    return aiomqtt.Client(
        settings.host,
        settings.port,
        username=settings.username,
        password=password,
        identifier=settings.client_id,
        will=aiomqtt.Will(topics.status, OFFLINE, qos=QOS, retain=True),
        tls_context=tls,
        keepalive=settings.keepalive,
    )
