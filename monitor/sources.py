"""Turning `[sources.<name>]` sections into running source plugins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import structlog
from pydantic import ValidationError

from monitor.clock import Clock
from monitor.config import ConfigError, Settings, describe_errors
from monitor.model import Snapshot
from monitor.plugin import PluginError, PluginInfo, SourceContext, SourceSettings, TrackingSource
from monitor.routing import Coverage
from monitor.store import SourceCursors, Store

log = structlog.get_logger("monitor.sources")

CLOSE_TIMEOUT_S = 5.0  # a plugin that hangs while closing must not hold up a stop or a reload

ActiveSources = dict[str, tuple[TrackingSource, SourceSettings]]


def configured_sections(
    settings: Settings, plugins: dict[str, PluginInfo]
) -> dict[str, dict[str, Any]]:
    """The [sources.<name>] sections, or, when there are none, the `default_sources` with their
    defaults (a fresh install tracks AliExpress parcels without any setup)."""
    if settings.sources:
        return settings.sources
    return {name: {} for name in settings.default_sources}


def coverage(
    settings: Settings, plugins: dict[str, PluginInfo], checked: dict[str, SourceSettings]
) -> Coverage:
    enabled = [name for name, section in checked.items() if section.enabled]
    preferred = [n for n in settings.source_order if n in enabled]
    return Coverage(
        enabled=tuple(preferred + [n for n in enabled if n not in preferred]),
        installed=tuple(sorted(plugins)),
    )


def validate_sections(
    settings: Settings,
    plugins: dict[str, PluginInfo],
    origin: str,
    *,
    only: str | None = None,
) -> dict[str, SourceSettings]:
    """Each configured section checked by its plugin's own settings model.

    `only` checks that one source, with an empty section when none is configured (for one-off
    lookups through a source that needs no keys).
    """
    sections = (
        configured_sections(settings, plugins)
        if only is None
        else {only: settings.sources.get(only, {})}
    )
    unknown = [name for name in settings.source_order if name not in settings.sources]
    if unknown and only is None:
        raise ConfigError(
            f"{origin}: source_order names {', '.join(map(repr, unknown))}, which "
            f"{'has' if len(unknown) == 1 else 'have'} no [sources.<name>] section"
        )
    checked: dict[str, SourceSettings] = {}
    for name, section in sections.items():
        info = plugins.get(name)
        if info is None:
            known = ", ".join(sorted(plugins)) or "none"
            key = f"sources.{name}" if name in settings.sources else "default_sources"
            raise ConfigError(
                f"{origin}: {key}: no source plugin called {name!r} (installed: {known})"
            )
        try:
            checked[name] = info.factory.Settings.model_validate(section)
        except ValidationError as exc:
            raise ConfigError(describe_errors(exc, origin, prefix=("sources", name))) from None
    return checked


def start_sources(
    checked: dict[str, SourceSettings],
    plugins: dict[str, PluginInfo],
    *,
    store: Store,
    clock: Clock,
    http: Callable[[], aiohttp.ClientSession],
    push: Callable[[Sequence[Snapshot]], Awaitable[None]] | None = None,
) -> ActiveSources:
    active: ActiveSources = {}
    for name, source_settings in checked.items():
        if not source_settings.enabled:
            continue
        context = SourceContext(
            clock=clock, http=http, cursors=SourceCursors(store, name), push=push
        )
        try:
            source = plugins[name].factory(source_settings, context)
        except Exception as exc:  # a third-party constructor: any error is the plugin's to name
            raise PluginError(
                f"sources.{name}: the plugin from {plugins[name].origin} failed to start: {exc}"
            ) from exc
        active[name] = (source, source_settings)
    return active


async def close_sources(active: ActiveSources) -> None:
    """Give back what each source holds; one that hangs or raises does not keep the others."""
    for name, (source, _) in active.items():
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await source.aclose()
        except Exception:
            log.exception("monitor.sources.close_failed", source=name)


@asynccontextmanager
async def sources_running(
    checked: dict[str, SourceSettings],
    plugins: dict[str, PluginInfo],
    *,
    store: Store,
    clock: Clock,
) -> AsyncIterator[ActiveSources]:
    """The sources started on their own HTTP session, closed on the way out (one-off lookups;
    the daemon's `Sources` part starts and closes them the same way)."""
    session = SharedSession()
    try:
        active = start_sources(checked, plugins, store=store, clock=clock, http=session)
        try:
            yield active
        finally:
            await close_sources(active)
    finally:
        await session.aclose()


class SharedSession:
    """One aiohttp session for all sources, created on first use inside the running loop."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def __call__(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": "parcel-monitor (+self-hosted order watchdog)"}
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
