"""Serving: signals, reloads, systemd notifications, and the orderly stop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import structlog

from monitor.config import ConfigError, Settings, load_settings
from monitor.daemon.assembly import assemble, build_parts
from monitor.daemon.core import Part, Running, cancel_all, every
from monitor.plugin import PluginError
from monitor.statelock import StateLock
from monitor.status import summary
from monitor.systemd import Notifier, keep_alive, watchdog_interval

log = structlog.get_logger("monitor.daemon")


STATUS_EVERY = 15.0  # seconds between STATUS= updates; each costs two indexed counts


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
                every(STATUS_EVERY, lambda: notifier.status(summary(pipeline))), name="status"
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
        await cancel_all(background)
        await running.aclose()
        log.info("monitor.daemon.stopped")
        notifier.close()


async def _relay(stop: asyncio.Event, inbox: asyncio.Queue[str | BaseException]) -> None:
    await stop.wait()
    inbox.put_nowait("stop")
