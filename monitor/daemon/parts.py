"""The parts of the daemon, each derived from the settings and rebuilt on reload."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import structlog
from aiohttp import web

from monitor.config import ConfigError, Settings
from monitor.daemon.core import OrderSync, Part, Running, cancel_all, every
from monitor.events import OrderStateChanged
from monitor.health import Health, broker_check, notifier_check, sources_check, store_check
from monitor.logs import configure
from monitor.mail.imap import MailWatcher, stop_task
from monitor.mail.intake import Intake
from monitor.mail.reader import load_readers
from monitor.model import OrderView, Snapshot
from monitor.mqtt.bridge import MqttBridge
from monitor.notify.wiring import NotifyService
from monitor.pipeline import Pipeline
from monitor.plugin import discover
from monitor.sources import (
    ActiveSources,
    close_sources,
    coverage,
    start_sources,
    validate_sections,
)
from monitor.store import SourceCursors
from monitor.web import dashboard
from monitor.web.api import build_app, metrics_renderer
from monitor.web.server import serve_forever

log = structlog.get_logger("monitor.daemon")


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
        await cancel_all(self._tasks)
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
                every(self.settings.tick_every.total_seconds(), self.pipeline.tick), name="ticker"
            ),
            running.spawn(
                every(self.settings.sync_every.total_seconds(), self.sync), name="order-sync"
            ),
        ]

    async def aclose(self) -> None:
        await cancel_all(self.tasks)


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
        mail: MailWatcher | None = None,
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
        if mail is not None:
            health.add("mail", mail.problem)
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
        await cancel_all(self.tasks)


class MailIntake(Part):
    """The mailbox watcher (`monitor.mail`, docs/mail.md), when `[mail] host` is set: shop mails
    become orders. Readers are found and checked here, so a bad one fails the start or reload."""

    def __init__(self, settings: Settings, origin: str, running: Running) -> None:
        self.watcher: MailWatcher | None = None
        self.tasks: list[asyncio.Task[None]] = []
        mail = settings.mail
        if not mail.active or mail.password is None:
            return
        readers = load_readers(settings.plugin_dirs, mail.readers)  # a PluginError stops here
        self.watcher = MailWatcher(
            mail,
            mail.password.get_secret_value(),
            Intake(running.pipeline, readers),
            SourceCursors(running.store, "mail"),
            running.pipeline.clock,
        )

    def start(self, running: Running) -> None:
        if self.watcher is not None:
            self.tasks = [running.spawn(self.watcher.run(), name="mail")]

    async def aclose(self) -> None:
        # Not `cancel_all`: aioimaplib's commands can swallow one cancellation (see `stop_task`).
        for task in self.tasks:
            await stop_task(task)
        self.tasks = []


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
