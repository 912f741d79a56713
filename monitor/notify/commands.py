"""What `notify test` and `replay --notify` need: channels and sending at once, no outbox."""

from __future__ import annotations

from collections.abc import Sequence

from monitor.events import Alert
from monitor.model import OrderView
from monitor.notify.channels import ChannelError, Channels, Delivery
from monitor.notify.render import render, render_test
from monitor.notify.settings import NotifySettings
from monitor.notify.wiring import build_channels


def channels_for(settings: NotifySettings, url: str | None) -> Channels:
    """The given URL alone, else the configured channels; raises ChannelError."""
    if url is not None:
        return Channels.build([url])
    channels = build_channels(settings)
    if channels is None:
        raise ChannelError(
            "notify: no channel configured; set [notify] urls (or PARCEL_MONITOR_NOTIFY__URLS) "
            "or pass --url"
        )
    return channels


async def send_test(channels: Channels, settings: NotifySettings) -> list[Delivery]:
    """A sample message to every channel, each reporting success or Apprise's reason."""
    message = render_test(settings.language)
    limit_s = settings.send_timeout.total_seconds()
    return [await channels.send(t, message, limit_s=limit_s) for t in channels.targets]


async def send_now(
    channels: Channels,
    warnings: Sequence[tuple[Alert, OrderView | None]],
    settings: NotifySettings,
) -> list[Delivery]:
    """Deliver these warnings at once, one message each (for `replay --notify`); the failures."""
    limit_s = settings.send_timeout.total_seconds()
    failed = []
    for alert, view in warnings:
        message = render(alert, view, settings.language, settings.zone())
        for target in channels.matching(settings.tags_for(alert.rule, alert.severity)):
            delivery = await channels.send(target, message, limit_s=limit_s)
            if not delivery.ok:
                failed.append(delivery)
    return failed
