"""Building the core and a generation of parts from the settings."""

from __future__ import annotations

import structlog

from monitor.clock import Clock, SystemClock
from monitor.config import Settings
from monitor.daemon.core import OrderSync, Part, PartFactory, Running
from monitor.daemon.parts import (
    Http,
    Logging,
    MailIntake,
    Mqtt,
    Notifications,
    Rules,
    Sources,
    Timers,
)
from monitor.pipeline import Pipeline
from monitor.plugin import SourceSettings
from monitor.sources import (
    SharedSession,
)
from monitor.store import Store

log = structlog.get_logger("monitor.daemon")


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
    mail = MailIntake(settings, origin, running)
    into.append(mail)
    http = Http(
        settings, origin, running, bridge=mqtt.bridge, sources=sources.active, mail=mail.watcher
    )
    into.append(http)
    timers = Timers(settings, pipeline, running.sync)
    into.append(timers)
    more = []
    for factory in PARTS:
        more.append(factory(settings, origin, running))
        into.append(more[-1])
    # Those that consume events run before those that produce them, so a stop (in reverse) ends
    # polling and ticking first, and the bridge and the sender still see the last events.
    into[:] = [logging, rules, notifications, mqtt, http, mail, sources, timers, *more]


PARTS: list[PartFactory] = []
"""Further parts that need nothing from the others, built and run after those `build_parts`
wires together. Every generation is built, then all applied, then all started; closed in
reverse."""
