"""The long-running daemon: a core that lives as long as the process, and parts rebuilt on reload.

- The core (`Running`: store, shared HTTP session, pipeline: bus, poller, differ, rules state and
  order book) is opened once by `assemble()` and closed once at the very end. A reload never
  touches it, so no state is lost.
- A *part* is whatever is derived from the settings: logging, rule thresholds, the polling
  sources, the timers (and the notifier, MQTT and HTTP as they arrive). `PARTS` lists the
  factories; each takes `(settings, origin, running)` and returns a `Part`, or raises
  `ConfigError`/`PluginError`. Building has no effect on the running daemon; `apply()` installs
  the part into the core, `start()` spawns its tasks, `aclose()` ends them (finishing work in
  flight) and releases what the part holds. The same `start()`/`aclose()` pair (or `async with`)
  runs every component: the MQTT bridge, the notification service, the sources.
- Startup builds every part before any runs, so a bad configuration stops the daemon with a
  message before anything starts (`parcel-monitor run` exits 78).
- Reload (SIGHUP) re-reads the configuration and plugins and builds a whole new generation of
  parts. If anything is wrong, the error is logged and the old generation keeps running. Otherwise
  the old parts stop (in reverse order) and the new ones are applied and started.
- Stop (SIGTERM/SIGINT): parts stop in reverse order, then the core closes. Store writes are
  synchronous transactions between awaits, so cancelling a task never leaves one half done.

To add a part: subclass `Part`, override what it needs, and build it in `build_parts` (or
append its factory to `PARTS`, the parts that need nothing from the others).
systemd is told about each step through `monitor.systemd` (a no-op outside systemd).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from monitor.clock import Clock, SystemClock
from monitor.config import ConfigError, Settings, load_settings
from monitor.events import Alert, OrderRemoved, OrderStateChanged, WarningRaised
from monitor.health import Health, broker_check, notifier_check, sources_check, store_check
from monitor.logs import configure
from monitor.model import OrderView, Snapshot
from monitor.mqtt.bridge import MqttBridge
from monitor.notify.wiring import NotifyService
from monitor.pipeline import Pipeline
from monitor.plugin import PluginError, SourceSettings, discover
from monitor.sources import (
    ActiveSources,
    SharedSession,
    close_sources,
    coverage,
    start_sources,
    validate_sections,
)
from monitor.statelock import StateLock
from monitor.status import summary
from monitor.store import Store
from monitor.systemd import Notifier, keep_alive, watchdog_interval
from monitor.web import dashboard
from monitor.web.api import build_app, metrics_renderer
from monitor.web.server import serve_forever

log = structlog.get_logger("monitor.daemon")

STATUS_EVERY = 15.0  # seconds between STATUS= updates; each costs two indexed counts


class Part:
    """One settings-derived piece of the daemon; every step is optional."""

    def apply(self) -> None:
        """Install into the core (synchronous: nothing else runs in between)."""

    def start(self, running: Running) -> None:
        """Spawn this part's tasks with `running.spawn`."""

    async def aclose(self) -> None:
        """End this part's tasks and release what it holds; also called on a part never started."""


PartFactory = Callable[[Settings, str, "Running"], Part]


@dataclass(slots=True)
class Running:
    """What one start of the daemon built; parts come and go around it, `close` ends it all."""

    store: Store
    session: SharedSession
    pipeline: Pipeline
    # Lives as long as the process, so that a reload never skips the revisions in between.
    sync: OrderSync
    parts: list[Part] = field(default_factory=list)
    # What `serve` acts on, in order: "stop", "reload", or the exception a task died of.
    inbox: asyncio.Queue[str | BaseException] = field(default_factory=asyncio.Queue)

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """A task whose crash stops the daemon (with a non-zero exit, so systemd restarts it)."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        task.add_done_callback(self._check)
        return task

    def _check(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (error := task.exception()) is not None:
            self.inbox.put_nowait(error)

    async def stop_parts(self) -> None:
        for part in reversed(self.parts):
            await part.aclose()
        self.parts = []

    async def aclose(self) -> None:
        await self.stop_parts()
        await self.session.aclose()
        self.pipeline.rules.close()
        self.store.close()


def assemble(settings: Settings, origin: str, *, clock: Clock | None = None) -> Running:
    """Open the store, wire the pipeline, build and apply every part. Raises on bad config."""
    store = Store.open(settings.database)
    pipeline = Pipeline.build(
        store=store,
        clock=clock or SystemClock(),
        sources={},
        rules=settings.rules,
        zone=settings.zone(),
    )
    running = Running(
        store=store, session=SharedSession(), pipeline=pipeline, sync=OrderSync(pipeline)
    )
    try:
        build_parts(settings, origin, running, into=running.parts)
    except BaseException:
        # Only a failed start gets here, and the process ends; built parts need no stop().
        pipeline.rules.close()
        store.close()
        raise
    for part in running.parts:
        part.apply()
    return running


async def validate(settings: Settings, origin: str) -> dict[str, SourceSettings]:
    """Everything `run` checks before it starts, without starting anything: every part is built
    (channels, broker connection settings, plugins with their settings) on a throwaway in-memory
    store, then given back. Raises what `assemble` raises; returns the checked source sections.

    `config check` calls this, so it can never say OK to a configuration the daemon refuses.
    Must run inside the event loop, as the daemon does (clients bind to it).
    """
    store = Store.open(":memory:")
    pipeline = Pipeline.build(store=store, clock=SystemClock(), sources={}, rules=settings.rules)
    running = Running(
        store=store, session=SharedSession(), pipeline=pipeline, sync=OrderSync(pipeline)
    )
    built: list[Part] = []
    try:
        build_parts(settings, origin, running, into=built)
    finally:
        for part in reversed(built):
            await part.aclose()
        await running.session.aclose()
        pipeline.rules.close()
        store.close()
    return next(part.checked for part in built if isinstance(part, Sources))


def build_parts(settings: Settings, origin: str, running: Running, *, into: list[Part]) -> None:
    """Build one generation of parts into `into`, each as soon as it is built, so that a caller
    can close those built before an error (a rejected reload must give back what the new plugins
    already hold). On success `into` holds them in the order they run (see `PARTS`)."""
    pipeline = running.pipeline
    logging = Logging(settings)
    rules = Rules(settings, pipeline)
    notifications = Notifications(settings, origin, running)
    into += [logging, rules, notifications]
    # Sources before HTTP: the HTTP app mounts the new sources' webhooks when it is built.
    sources = Sources(settings, origin, running)
    into.append(sources)
    mqtt = Mqtt(settings, origin, running)
    into.append(mqtt)
    http = Http(settings, origin, running, bridge=mqtt.bridge, sources=sources.active)
    into.append(http)
    timers = Timers(settings, pipeline, running.sync)
    into.append(timers)
    more = []
    for factory in PARTS:
        more.append(factory(settings, origin, running))
        into.append(more[-1])
    # Those that consume events run before those that produce them, so a stop (in reverse) ends
    # polling and ticking first, and the bridge and the sender still see the last events.
    into[:] = [logging, rules, notifications, mqtt, http, sources, timers, *more]


# --- the parts ---------------------------------------------------------------------------------


@dataclass
class Logging(Part):
    settings: Settings

    def apply(self) -> None:
        configure(self.settings.log.level, self.settings.log.format)


@dataclass
class Rules(Part):
    settings: Settings
    pipeline: Pipeline

    def apply(self) -> None:
        rules = self.pipeline.rules
        if rules.settings != self.settings.rules:
            # New thresholds: look at every open order again. The ledger keeps what already fired.
            rules.settings = self.settings.rules
            rules.load(self.pipeline.store.views(include_closed=False))


class Sources(Part):
    """The configured tracking sources and one polling task each."""

    def __init__(self, settings: Settings, origin: str, running: Running) -> None:
        plugins = discover(settings.plugin_dirs)
        self.checked = checked = validate_sections(settings, plugins, origin)
        self.coverage = coverage(settings, plugins, checked)
        self._poller = running.pipeline.poller
        self._clock = running.pipeline.clock
        differ = running.pipeline.differ

        async def push(snapshots: Sequence[Snapshot]) -> None:
            differ.apply(snapshots)

        self._preference = settings.source_order
        self._per_number = settings.sources_per_number
        self.active: ActiveSources = start_sources(
            checked,
            plugins,
            store=running.store,
            clock=running.pipeline.clock,
            http=running.session,
            push=push,
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._bus = running.pipeline.bus
        self._unsubscribe: list[Callable[[], None]] = []
        self._told: set[tuple[str, str]] = set()  # (order, number) already logged as unfollowed
        self._told_nothing_runs = False

    def apply(self) -> None:
        self._poller.replace_sources(
            self.active, preference=self._preference, per_number=self._per_number
        )

    def start(self, running: Running) -> None:
        self._say_what_is_not_followed(running.store.views(include_closed=False))
        # Orders added or given a new number later (CLI, API, MQTT) are looked at too.
        self._unsubscribe.append(
            self._bus.subscribe(
                OrderStateChanged, lambda event: self._say_what_is_not_followed([event.view])
            )
        )
        # A reload keeps each source's schedule (and backoff): no extra poll out of a budget.
        now = self._clock.monotonic()
        self._tasks = [
            running.spawn(
                self._poller.run_source(
                    name, first_delay=max(0.0, self._poller.next_poll.get(name, now) - now)
                ),
                name=f"poll:{name}",
            )
            for name in self.active
        ]
        # Every changed order passes here, the CLI's too (through the order sync).
        poller = self._poller
        self._unsubscribe.append(
            self._bus.subscribe(
                OrderStateChanged, lambda event: poller.want_first_lookup(event.view)
            )
        )
        self._tasks.append(running.spawn(poller.run_first_lookups(), name="first-lookups"))

    def _say_what_is_not_followed(self, views: Sequence[OrderView]) -> None:
        # A number nobody follows never gets a warning about its tracking: say so plainly.
        if not self.coverage.enabled and not self._told_nothing_runs:
            log.warning(
                "monitor.sources.none_enabled",
                reason="no [sources.<name>] section and no default source: nothing is tracked",
            )
            self._told_nothing_runs = True
        for view in self.coverage.unfollowed(views):
            number = view.order.track
            assert number is not None
            if (view.order.id, number) in self._told:
                continue
            self._told.add((view.order.id, number))
            log.warning(
                "monitor.sources.number_not_followed",
                order=view.order.id,
                number=number,
                sources=list(self.coverage.enabled),
                could_follow=self.coverage.would_follow(number),
            )

    async def aclose(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        await _cancel(self._tasks)
        await close_sources(self.active)


@dataclass
class Timers(Part):
    """The deadline ticker and the pick-up of orders changed by the CLI."""

    settings: Settings
    pipeline: Pipeline
    sync: OrderSync
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self, running: Running) -> None:
        self.tasks = [
            running.spawn(
                _every(self.settings.tick_every.total_seconds(), self.pipeline.tick), name="ticker"
            ),
            running.spawn(
                _every(self.settings.sync_every.total_seconds(), self.sync), name="order-sync"
            ),
        ]

    async def aclose(self) -> None:
        await _cancel(self.tasks)


class Notifications(Part):
    """The outbox sender (`monitor.notify`): channels checked when built, so a bad URL is a
    configuration error; on stop it finishes the send in flight and leaves the rest queued."""

    def __init__(self, settings: Settings, origin: str, running: Running) -> None:
        self._service = NotifyService(settings.notify, running.pipeline, settings.zone())

    def apply(self) -> None:
        self._service.apply()

    def start(self, running: Running) -> None:
        self._service.start()

    async def aclose(self) -> None:
        await self._service.aclose()


class Mqtt(Part):
    """The MQTT bridge (`monitor.mqtt.bridge`), when `[mqtt] url` is set."""

    def __init__(self, settings: Settings, origin: str, running: Running) -> None:
        self.settings = settings.mqtt
        self.bridge: MqttBridge | None = None
        if not self.settings.active:
            return
        password = _secret("mqtt.password_file", self.settings.resolved_password)
        pipeline = running.pipeline
        try:  # built now, not in start(): what can fail must fail before the old parts stop
            self.bridge = MqttBridge(
                settings=self.settings,
                store=pipeline.store,
                bus=pipeline.bus,
                clock=pipeline.clock,
                orders=pipeline.orders,
                password=password,
                language=settings.notify.language,
                zone=settings.zone(),
                ledger_every_s=settings.sync_every.total_seconds(),
            )
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise ConfigError(f"{origin}: mqtt: cannot set up the connection: {exc}") from None

    def start(self, running: Running) -> None:
        if self.bridge is not None:
            self.bridge.start()

    async def aclose(self) -> None:
        if self.bridge is not None:
            await self.bridge.aclose()


class Http(Part):
    """The HTTP API and the dashboard (`monitor.web`), unless `[http] enabled = false`.

    The application is built here, not in `start()`: a bad webhook route fails the reload
    before the old generation stops. The bridge and the sources are this generation's.
    """

    def __init__(
        self,
        settings: Settings,
        origin: str,
        running: Running,
        *,
        bridge: MqttBridge | None,
        sources: ActiveSources,
    ) -> None:
        self.settings = settings.http
        self.token = _secret("http.token_file", self.settings.resolved_token)
        self.tasks: list[asyncio.Task[None]] = []
        self.app: web.Application | None = None
        if not self.settings.enabled:
            return
        # The pages follow the browser's Accept-Language unless a language was configured.
        notify = settings.notify
        language = notify.language if "language" in notify.model_fields_set else None
        pipeline = running.pipeline
        health = Health()
        health.add("store", store_check(pipeline.store))
        health.add("sources", sources_check(pipeline.poller))
        health.add("notifier", notifier_check(pipeline.store))
        if bridge is not None:
            health.add("broker", broker_check(bridge))
        self.app = build_app(
            store=pipeline.store,
            orders=pipeline.orders,
            health=health,
            token=self.token,
            read_token=self.settings.resolved_read_token(),
            allowed_hosts=self.settings.allowed_hosts,
            metrics_text=metrics_renderer(
                pipeline.store,
                pipeline.poller,
                (lambda: bridge.connected) if bridge is not None else None,
            ),
            sources={name: source for name, (source, _) in sources.items()},
        )
        dashboard.mount(
            self.app,
            dashboard.Desk(
                store=pipeline.store,
                orders=pipeline.orders,
                bus=pipeline.bus,
                clock=pipeline.clock,
                zone=settings.zone(),
                language=language,
                token=self.token,
                read_token=self.settings.resolved_read_token(),
                health=lambda: pipeline.poller.health,
            ),
        )

    def start(self, running: Running) -> None:
        if self.app is None:
            return
        if (
            self.token is None
            and self.settings.read_token is None
            and not _loopback(self.settings.host)
        ):
            log.warning(
                "monitor.http.no_token",
                listen=self.settings.listen,
                effect="without http.token or http.read_token, only this machine gets answers",
            )
        self.tasks = [
            running.spawn(
                serve_forever(
                    self.app,
                    host=self.settings.host,
                    port=self.settings.port,
                    max_connections=self.settings.max_connections,
                    header_timeout=self.settings.header_timeout.total_seconds(),
                ),
                name="http",
            )
        ]

    async def aclose(self) -> None:
        await _cancel(self.tasks)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _secret(key: str, read: Callable[[], str | None]) -> str | None:
    try:
        return read()
    except OSError as exc:
        raise ConfigError(f"{key}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:  # a weak token in the file; the message names the key, not the value
        raise ConfigError(str(exc)) from None


PARTS: list[PartFactory] = []
"""Further parts that need nothing from the others, built and run after those `build_parts`
wires together. Every generation is built, then all applied, then all started; closed in
reverse."""


async def _relay(stop: asyncio.Event, inbox: asyncio.Queue[str | BaseException]) -> None:
    await stop.wait()
    inbox.put_nowait("stop")


async def _cancel(tasks: Sequence[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _every(seconds: float, action: Callable[[], object]) -> None:
    while True:
        await asyncio.sleep(seconds)
        action()


class OrderSync:
    """Picks up what another process (the CLI) changed: orders through the store's revision,
    warnings through the ledger.

    A warning a CLI command raised is announced on the bus here, so the sender wakes for it (and
    the MQTT bridge and the dashboard hear of it) within `sync_every`, not at the outbox's next
    `check_every`. The daemon's own warnings are on the bus already and are not announced twice.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline
        self._rev = pipeline.store.current_rev()
        self._alert_id = pipeline.store.last_alert_id()
        self._announced: set[tuple[str, str, str]] = set()
        pipeline.bus.subscribe(WarningRaised, lambda e: self._announced.add(_key(e.alert)))

    def __call__(self) -> None:
        store, bus = self._pipeline.store, self._pipeline.bus
        views, removed, self._rev = store.views_changed_since(self._rev)
        now = self._pipeline.clock.now()
        for order_id in removed:
            bus.publish(OrderRemoved(at=now, order_id=order_id))
        for view in views:
            bus.publish(OrderStateChanged(at=now, view=view))
        while rows := store.alerts_after(self._alert_id):
            self._alert_id = rows[-1].id
            for stored in rows:
                key = _key(stored.alert)
                if key in self._announced:
                    self._announced.discard(key)
                else:
                    bus.publish(WarningRaised(at=now, alert=stored.alert))
        self._announced.clear()  # every warning raised so far is in the ledger and seen


def _key(alert: Alert) -> tuple[str, str, str]:
    return (alert.order_id, alert.rule, alert.condition)


# --- serving -----------------------------------------------------------------------------------


async def reload(running: Running, settings: Settings, config_path: Path | None) -> Settings:
    """Swap in a new generation of parts; on any error keep the old one. Returns what runs now."""
    new_parts: list[Part] = []
    try:
        new_settings, path = load_settings(config_path)
        build_parts(new_settings, str(path) if path else "configuration", running, into=new_parts)
    except Exception as exc:  # whatever the new configuration breaks, the old one keeps running
        for part in reversed(new_parts):
            await part.aclose()
        reason = str(exc) if isinstance(exc, ConfigError | PluginError) else repr(exc)
        log.error("monitor.daemon.reload_rejected", error=reason, kept="the previous configuration")
        return settings
    if new_settings.database != settings.database:
        log.warning(
            "monitor.daemon.restart_needed",
            key="state_dir",
            running=str(settings.database),
            configured=str(new_settings.database),
        )
    await running.stop_parts()
    running.parts = new_parts
    running.pipeline.orders.zone = new_settings.zone()
    for part in new_parts:
        part.apply()
    for part in new_parts:
        part.start(running)
    log.info("monitor.daemon.reloaded", sources=sorted(running.pipeline.poller.sources))
    return new_settings


async def serve(
    settings: Settings,
    config_path: Path | None,
    *,
    stop: asyncio.Event | None = None,
    notifier: Notifier | None = None,
) -> None:
    """Run until SIGTERM/SIGINT (or `stop` is set); SIGHUP reloads the configuration.

    Raises StateDirBusy when another daemon holds the state directory."""
    # First of all: a second daemon on this state directory must not touch the outbox, the
    # broker's retained state or a carrier's budget. StateDirBusy names the holder's PID.
    with StateLock(settings.resolved_state_dir()):
        await _serve(settings, config_path, stop=stop, notifier=notifier)


async def _serve(
    settings: Settings,
    config_path: Path | None,
    *,
    stop: asyncio.Event | None,
    notifier: Notifier | None,
) -> None:
    origin = str(config_path) if config_path else "configuration"
    notifier = notifier or Notifier.from_environ()
    running = assemble(settings, origin)
    loop = asyncio.get_running_loop()
    for signum, action in (
        (signal.SIGTERM, "stop"),
        (signal.SIGINT, "stop"),
        (signal.SIGHUP, "reload"),
    ):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, running.inbox.put_nowait, action)
    pipeline = running.pipeline
    background: list[asyncio.Task[None]] = []
    if stop is not None:
        background.append(running.spawn(_relay(stop, running.inbox), name="stop-relay"))
    try:
        for part in running.parts:
            part.start(running)
        # After the parts: the warnings that fell due while the daemon was down reach MQTT too.
        pipeline.start()
        interval = watchdog_interval()
        if interval is not None:
            background.append(running.spawn(keep_alive(notifier, interval), name="watchdog"))
        background.append(
            running.spawn(
                _every(STATUS_EVERY, lambda: notifier.status(summary(pipeline))), name="status"
            )
        )
        # Ready means: store open, plugins loaded, polls scheduled. Not: the first answer came back.
        notifier.ready(summary(pipeline))
        log.info(
            "monitor.daemon.started",
            database=str(settings.database),
            sources=sorted(pipeline.poller.sources),
            orders=pipeline.rules.watching,
            config=str(config_path) if config_path else None,
        )
        while (command := await running.inbox.get()) != "stop":
            if isinstance(command, BaseException):
                raise command
            notifier.reloading()
            settings = await reload(running, settings, config_path)
            notifier.ready(summary(pipeline))
    finally:
        notifier.stopping()
        log.info("monitor.daemon.stopping")
        await _cancel(background)
        await running.aclose()
        log.info("monitor.daemon.stopped")
        notifier.close()
