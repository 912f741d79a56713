"""What every command group shares: exit codes, argument types, loading the settings, opening
the pipeline, asking the sources once."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from monitor import orderinput
from monitor.clock import SystemClock
from monitor.config import ConfigError, Settings, load_settings
from monitor.logs import configure
from monitor.pipeline import Pipeline
from monitor.plugin import PluginError, discover
from monitor.routing import Coverage
from monitor.sources import coverage, validate_sections
from monitor.store import Store

EXIT_USAGE = 2
EXIT_CONFIG = 78  # EX_CONFIG: systemd's RestartPreventExitStatus keeps a bad config from looping
EXIT_BUSY = 75  # EX_TEMPFAIL: another daemon runs on this state directory; try again once it stops


class UserError(Exception):
    """Bad input from the person at the keyboard: printed without a traceback, exit 2."""


# --- argument types ------------------------------------------------------------------------


def _checked_by(parse: Callable[[str], object]) -> Callable[[str], str]:
    """An argparse type that checks the text with `monitor.orderinput`'s parser and keeps it.

    Checked here so that argparse names the option; `monitor.orderinput` reads the value later.
    """

    def check(text: str) -> str:
        try:
            parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text

    return check


parse_when = _checked_by(orderinput.parse_when)  # a date, or ISO 8601 with an offset
parse_day = _checked_by(orderinput.parse_day)
parse_window_text = _checked_by(orderinput.parse_window)  # DATE or DATE..DATE
order_id = _checked_by(orderinput.check_order_id)


def positive_days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if days < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: protection lasts at least one day")
    return days


# --- helpers -------------------------------------------------------------------------------


def settings_of(args: argparse.Namespace) -> tuple[Settings, Path | None]:
    settings, path = load_settings(args.config)
    configure(settings.log.level, settings.log.format)
    return settings, path


def open_pipeline(settings: Settings) -> Pipeline:
    store = Store.open(settings.database)
    return Pipeline.build(
        store=store, clock=SystemClock(), sources={}, rules=settings.rules, zone=settings.zone()
    )


def coverage_of(settings: Settings, origin: str = "configuration") -> Coverage | None:
    """Which sources would follow which numbers; None when the source configuration is broken
    (`config check` says why; `list` and `show` still work)."""
    plugins = discover(settings.plugin_dirs)
    try:
        return coverage(settings, plugins, validate_sections(settings, plugins, origin))
    except (ConfigError, PluginError):
        return None


def look_up_once(
    number: str,
    settings: Settings,
    plugins: dict[str, Any],
    checked: dict[str, Any],
    store: Store,
) -> Any:
    """One number through these sources, first answer wins (`track`, and `add` without a
    daemon); the sources' cursors live in `store`."""
    from monitor.lookup import look_up
    from monitor.routing import Routing
    from monitor.sources import sources_running

    async def lookup() -> Any:
        async with sources_running(checked, plugins, store=store, clock=SystemClock()) as sources:
            routing = Routing(
                {n: s for n, (s, _) in sources.items()},
                preference=settings.source_order,
                per_number=len(sources),
            )
            return await look_up(number, sources, routing)

    return asyncio.run(lookup())
