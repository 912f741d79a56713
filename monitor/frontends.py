"""The daemon's outward faces, started as configured: the MQTT bridge and the HTTP API.

Both are optional: the bridge runs when `[mqtt] url` is set (and `enabled` is not false), the HTTP
API unless `[http] enabled = false`. Secrets files are read here, before either starts, so a
missing one stops the daemon with a configuration error instead of a half-started daemon.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TypeVar

from monitor.config import ConfigError, Settings
from monitor.health import Health, notifier_check, sources_check, store_check
from monitor.mqtt.bridge import MqttBridge
from monitor.pipeline import Pipeline
from monitor.plugin import SourceSettings, TrackingSource
from monitor.web.api import build_app, metrics_renderer
from monitor.web.server import HttpServer

T = TypeVar("T")


@asynccontextmanager
async def frontends(
    settings: Settings,
    pipeline: Pipeline,
    sources: Mapping[str, tuple[TrackingSource, SourceSettings]],
) -> AsyncIterator[Health]:
    """Enter after the pipeline has started; leaving stops the API, then the bridge."""
    health = Health()
    health.add("store", store_check(pipeline.store))
    health.add("sources", sources_check(pipeline.tracker))
    health.add("notifier", notifier_check(pipeline.store))
    async with AsyncExitStack() as stack:
        bridge: MqttBridge | None = None
        if settings.mqtt.active:
            new_bridge = _secret("mqtt.password_file", lambda: MqttBridge(
                settings=settings.mqtt, store=pipeline.store, bus=pipeline.bus,
                clock=pipeline.clock, orders=pipeline.orders,
            ))
            bridge = await stack.enter_async_context(new_bridge)
            health.add("broker", _broker_check(bridge))
        if settings.http.enabled:
            token = _secret("http.token_file", settings.http.resolved_token)
            app = build_app(
                store=pipeline.store, orders=pipeline.orders, health=health,
                metrics_text=metrics_renderer(
                    pipeline.store, pipeline.tracker,
                    (lambda: bridge.connected) if bridge is not None else None,
                ),
                token=token,
                sources={name: source for name, (source, _) in sources.items()},
            )
            await stack.enter_async_context(
                HttpServer(app, host=settings.http.host, port=settings.http.port)
            )
        yield health


def _broker_check(bridge: MqttBridge) -> Callable[[], str | None]:
    def check() -> str | None:
        if bridge.connected:
            return None
        return f"broker unreachable: {bridge.last_error or 'not connected yet'}"

    return check


def _secret(key: str, read: Callable[[], T]) -> T:
    try:
        return read()
    except OSError as exc:
        raise ConfigError(f"{key}: cannot read: {exc.strerror or exc}") from None
