"""Replaying: scenario files (`replay`) and the bundled examples (`demo`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from datetime import tzinfo
from importlib import resources
from pathlib import Path

from monitor.config import ConfigError, load_settings
from monitor.events import Alert
from monitor.logs import configure
from monitor.model import OrderView
from monitor.notify.languages import Language
from monitor.notify.settings import system_language
from monitor.notify.texts import SCREEN
from monitor.replay import replay
from monitor.rules.base import RuleSettings
from monitor.scenario import load_scenario
from monitor.views.data import alert_json
from monitor.views.terminal import print_demo_scenario, print_warning


def cmd_replay(args: argparse.Namespace) -> int:
    configure("warning", "json" if args.json else "auto")
    scenarios = [load_scenario(path) for path in args.files]
    rules = RuleSettings()
    notify = _replay_notifier(args.notify)
    undelivered = 0
    for scenario in scenarios:
        raised: list[tuple[Alert, OrderView | None]] = []
        alerts = asyncio.run(replay(scenario, rules=rules, on_warning=_collect(raised)))
        if notify is not None:
            undelivered += notify(raised)
        if args.json:
            for alert in alerts:
                print(json.dumps(alert_json(alert), ensure_ascii=False))
        else:
            print(f"== {scenario.name or scenario.order.id}")
            for alert in alerts:
                print_warning(alert)
    return 1 if undelivered else 0


def _collect(
    into: list[tuple[Alert, OrderView | None]],
) -> Callable[[Alert, OrderView | None], None]:
    return lambda alert, view: into.append((alert, view))


def _replay_notifier(
    url: str | None,
) -> Callable[[list[tuple[Alert, OrderView | None]]], int] | None:
    """`replay --notify URL`: deliver each warning through Apprise; failures go to stderr."""
    if url is None:
        return None
    from monitor.notify.commands import channels_for, send_now
    from monitor.notify.settings import NotifySettings

    settings = NotifySettings()
    channels = channels_for(settings, url)

    def deliver(warnings: list[tuple[Alert, OrderView | None]]) -> int:
        failures = asyncio.run(send_now(channels, warnings, settings))
        for failure in failures:
            print(
                f"parcel-monitor: notification failed: {failure.target.name}: {failure.reason}",
                file=sys.stderr,
            )
        return len(failures)

    return deliver


def cmd_demo(args: argparse.Namespace) -> int:
    configure("warning", "auto")
    lang, zone = _demo_language(args)
    screen = SCREEN[lang]
    folder = resources.files("monitor") / "scenarios"
    paths = sorted((p for p in folder.iterdir() if p.name.endswith(".json")), key=lambda p: p.name)
    print(screen.demo_intro)
    total = 0
    for path in paths:
        scenario = load_scenario(Path(str(path)))
        raised: list[tuple[Alert, OrderView | None]] = []
        asyncio.run(replay(scenario, on_warning=_collect(raised)))
        total += len(raised)
        print_demo_scenario(scenario, raised, lang, zone)
    print(screen.demo_total.format(total=total, orders=len(paths)))
    return 0


def _demo_language(args: argparse.Namespace) -> tuple[Language, tzinfo | None]:
    """`--language`, else the configured one; the demo runs without any configuration too."""
    try:
        settings, _ = load_settings(args.config)
    except ConfigError:
        return args.language or system_language(), None
    return args.language or settings.notify.language, settings.zone()
