"""Watching: run the daemon, check once, look one number up."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from monitor.cli.common import (
    EXIT_BUSY,
    EXIT_CONFIG,
    UserError,
    coverage_of,
    look_up_once,
    settings_of,
)
from monitor.config import ConfigError
from monitor.events import Event
from monitor.model import OrderView
from monitor.notify.texts import LINES
from monitor.plugin import PluginError, discover
from monitor.sources import validate_sections
from monitor.statelock import StateDirBusy
from monitor.store import Store
from monitor.views.data import event_json, unfollowed_json
from monitor.views.terminal import print_events, print_found, unfollowed_notes


def cmd_run(args: argparse.Namespace) -> int:
    from monitor.daemon import serve

    try:
        settings, path = settings_of(args)
        asyncio.run(serve(settings, path))
    except (ConfigError, PluginError) as exc:
        print(f"parcel-monitor: configuration error:\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    except StateDirBusy as exc:
        print(f"parcel-monitor: {exc}", file=sys.stderr)
        return EXIT_BUSY
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from monitor.daemon import assemble

    settings, path = settings_of(args)

    async def once() -> tuple[list[Event], Any, list[OrderView]]:
        # Built inside the running loop, as the daemon does: clients (aiomqtt's) bind to it.
        try:
            running = assemble(settings, str(path) if path else "configuration")
        except PluginError as exc:
            raise ConfigError(str(exc)) from None
        pipeline = running.pipeline
        seen: list[Event] = []
        pipeline.bus.subscribe(Event, seen.append)
        try:
            pipeline.start()
            await pipeline.poller.poll_all()
            pipeline.tick()
            views = pipeline.store.views(include_closed=False)
        finally:
            await running.aclose()
        return seen, running, views

    events, running, views = asyncio.run(once())
    covered = coverage_of(settings)
    unfollowed = covered.unfollowed(views) if covered is not None else []
    interesting = [e for e in events if e.kind not in ("tick", "order_state")]
    if args.json:
        records = [unfollowed_json(view, covered) for view in unfollowed if covered is not None]
        records += [event_json(event) for event in interesting]
        for record in records:
            print(json.dumps(record, ensure_ascii=False))
    lang, zone = settings.notify.language, settings.zone()
    if not args.json:
        notes = unfollowed_notes(views, covered, lang)
        print(*notes, sep="\n", end="\n" if unfollowed else "")
        by_id = {view.order.id: view for view in views}
        print_events(interesting, by_id, lang, zone, quiet=bool(unfollowed))
    health = running.pipeline.poller.health
    failing = [name for name, state in health.items() if not state.healthy]
    for name in failing:
        line = LINES[lang]["source_failed"].format(source=name, reason=health[name].last_error)
        print(line, file=sys.stderr)
    return 1 if failing else 0


def cmd_track(args: argparse.Namespace) -> int:
    from monitor.lookup import LookupFailed, found_json

    settings, path = settings_of(args)
    plugins = discover(settings.plugin_dirs)
    if args.source is not None and args.source not in plugins:
        raise UserError(
            f"no source plugin called {args.source!r} (installed: {', '.join(sorted(plugins))})"
        )
    checked = validate_sections(settings, plugins, str(path or "configuration"), only=args.source)
    if not checked:
        raise UserError(
            "no tracking source is configured; add a [sources.<name>] section "
            "(see `parcel-monitor plugins`) or name one with --source"
        )
    store = Store.open(":memory:")  # cursors of a one-off lookup are not worth keeping
    try:
        found = look_up_once(args.number, settings, plugins, dict(checked), store)
    except LookupFailed as exc:
        print(f"parcel-monitor: {args.number}: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    data = found_json(found)
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
    else:
        print_found(data, settings.notify.language, settings.zone())
    return 0
