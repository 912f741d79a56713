"""How the daemon runs notifications: channels checked when built, the sender woken by warnings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo

import structlog

from monitor.events import WarningRaised
from monitor.notify.channels import Channels
from monitor.notify.sender import Sender
from monitor.notify.settings import NotifySettings
from monitor.pipeline import Pipeline

log = structlog.get_logger("monitor.notify")


def build_channels(settings: NotifySettings) -> Channels | None:
    """The configured channels, or None when none is configured; raises ChannelError."""
    if not settings.configured:
        return None
    return Channels.build(settings.urls, settings.config, required_tags=settings.all_tags())


class NotifyService:
    """The daemon's notification part (`monitor.daemon.Notifications` adapts it).

    Building it checks every channel and so raises ChannelError for a bad URL, before anything
    runs (at start) or while the old generation still runs (on reload). Without any channel it
    does nothing and warnings wait in the outbox.
    """

    def __init__(
        self, settings: NotifySettings, pipeline: Pipeline, zone: tzinfo | None = None
    ) -> None:
        channels = build_channels(settings)
        self._pipeline = pipeline
        self._sender = (
            Sender(
                store=pipeline.store,
                channels=channels,
                settings=settings,
                clock=pipeline.clock,
                zone=zone,
            )
            if channels is not None
            else None
        )
        self._unsubscribe: Callable[[], None] | None = None

    def apply(self) -> None:
        if self._sender is not None:
            sender = self._sender
            self._unsubscribe = self._pipeline.bus.subscribe(WarningRaised, lambda _: sender.wake())

    def start(self) -> None:
        if self._sender is None:
            log.info("monitor.notify.off", reason="no [notify] urls or config; warnings wait")
            return
        self._sender.start()

    async def aclose(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._sender is not None:
            await self._sender.aclose()
