"""The `parcel-monitor` command: parse, call, print. The work happens in the modules it calls."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from datetime import tzinfo
from importlib import resources
from pathlib import Path
from typing import Any

from monitor import __version__, orderinput
from monitor.clock import SystemClock
from monitor.config import ConfigError, Settings, effective, load_settings
from monitor.events import Alert, Event
from monitor.logs import configure
from monitor.model import OrderView
from monitor.notify import report as notify_report
from monitor.notify.settings import system_language
from monitor.notify.texts import LANGUAGES, SCREEN, Language
from monitor.orders import OrderBook
from monitor.pipeline import Pipeline
from monitor.plugin import PluginError, discover
from monitor.render import (
    order_json,
    print_order_table,
    print_timeline,
    print_warning,
    timeline_json,
    unfollowed_notes,
    unfollowed_text,
)
from monitor.replay import alert_json, replay
from monitor.routing import Coverage
from monitor.rules.base import RuleSettings
from monitor.scenario import ScenarioError, load_scenario
from monitor.sources import configured_sections, coverage, validate_sections
from monitor.statelock import StateDirBusy, daemon_pid
from monitor.store import Store, StoreError

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


def _settings(args: argparse.Namespace) -> tuple[Settings, Path | None]:
    settings, path = load_settings(args.config)
    configure(settings.log.level, settings.log.format)
    return settings, path


def _open_pipeline(settings: Settings) -> Pipeline:
    store = Store.open(settings.database)
    return Pipeline.build(
        store=store, clock=SystemClock(), sources={}, rules=settings.rules, zone=settings.zone()
    )


def _coverage(settings: Settings, origin: str = "configuration") -> Coverage | None:
    """Which sources would follow which numbers; None when the source configuration is broken
    (`config check` says why; `list` and `show` still work)."""
    plugins = discover(settings.plugin_dirs)
    try:
        return coverage(settings, plugins, validate_sections(settings, plugins, origin))
    except (ConfigError, PluginError):
        return None


def _order_fields_of(args: argparse.Namespace) -> dict[str, Any]:
    """The options of `add`/`update` as an order payload (the HTTP API's and MQTT's too)."""
    names = (
        "paid",
        "title",
        "shop",
        "protection_until",
        "protection_days",
        "promised",
        "estimate",
        "track",
        "notes",
    )
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _change_orders(
    args: argparse.Namespace, change: Callable[[OrderBook], tuple[str, OrderView | None]]
) -> int:
    """Open the store, make one change through the order book, print what was done.

    A new number is looked up at once (DOMAIN.md "First lookup"): by the running daemon, which
    notices the change within `sync_every`, or here when no daemon runs.
    """
    settings, path = _settings(args)
    pipeline = _open_pipeline(settings)
    try:
        try:
            done, view = change(pipeline.orders)
        except orderinput.BadInput as exc:
            raise UserError(str(exc)) from None
        print(done)
        number = view.order.track if view and not view.tracking.track_answered else None
        if number and daemon_pid(settings.resolved_state_dir()) is None:
            _first_lookup(settings, str(path or "configuration"), pipeline, number)
    finally:
        pipeline.store.close()
    return 0


def _first_lookup(settings: Settings, origin: str, pipeline: Pipeline, number: str) -> None:
    """Ask the configured sources about a new number and store their answer like a poll."""
    from monitor.lookup import LookupFailed

    plugins = discover(settings.plugin_dirs)
    checked = validate_sections(settings, plugins, origin)
    try:
        if not checked:
            raise LookupFailed("no tracking source is configured")
        found = _look_up_once(number, settings, plugins, checked, pipeline.store)
    except LookupFailed as exc:
        grace = settings.rules.first_lookup_grace
        print(
            f"parcel-monitor: could not look {number} up now ({exc}); the daemon keeps trying, "
            f"and warnings that depend on tracking wait for its answer (at most {grace})",
            file=sys.stderr,
        )
        return
    pipeline.differ.apply([found.snapshot])
    print(f"looked up {number} with {found.source}: {found.snapshot.status.value}")


def _look_up_once(
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


# --- commands ------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from monitor.daemon import serve

    try:
        settings, path = _settings(args)
        asyncio.run(serve(settings, path))
    except (ConfigError, PluginError) as exc:
        print(f"parcel-monitor: configuration error:\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    except StateDirBusy as exc:
        print(f"parcel-monitor: {exc}", file=sys.stderr)
        return EXIT_BUSY
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    payload = {"id": args.order_id, "ordered": args.ordered, **_order_fields_of(args)}

    def add(book: OrderBook) -> tuple[str, OrderView | None]:
        view = orderinput.add(book, payload)
        title = f" ({view.order.title})" if view.order.title else ""
        return f"added order {view.order.id}{title}", view

    return _change_orders(args, add)


def cmd_update(args: argparse.Namespace) -> int:
    payload = _order_fields_of(args) | ({"reopen": True} if args.reopen else {})
    if not payload:
        raise UserError("nothing to change; see `parcel-monitor update --help`")

    def update(book: OrderBook) -> tuple[str, OrderView | None]:
        view = orderinput.update(book, args.order_id, payload)
        return f"updated order {view.order.id}", view

    return _change_orders(args, update)


def cmd_close(args: argparse.Namespace) -> int:
    def close(book: OrderBook) -> tuple[str, OrderView | None]:
        orderinput.close(book, args.order_id)
        return f"closed order {args.order_id}: no more warnings for it", None

    return _change_orders(args, close)


def cmd_remove(args: argparse.Namespace) -> int:
    def remove(book: OrderBook) -> tuple[str, OrderView | None]:
        orderinput.remove(book, args.order_id)
        return f"removed order {args.order_id}", None

    return _change_orders(args, remove)


def cmd_list(args: argparse.Namespace) -> int:
    settings, _ = _settings(args)
    store = Store.open(settings.database)
    try:
        views = store.views(include_closed=args.all)
        counts = _warning_counts(store)
        unsent, unsent_line = notify_report.counts(store), notify_report.summary(store)
    finally:
        store.close()
    covered = _coverage(settings)
    if args.json:
        print(
            json.dumps(
                [
                    order_json(v, counts.get(v.order.id, 0))
                    | {"notifications": unsent.get(v.order.id, {})}
                    | _followers_json(v, covered)
                    for v in views
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        print_order_table(views, counts, settings.notify.language, settings.zone(), covered)
        if unsent_line:
            print(f"\n{unsent_line}")
    return 0


def _followers_json(view: OrderView, covered: Coverage | None) -> dict[str, Any]:
    """`sources`: the turned-on sources that can follow the current number (empty: none)."""
    if covered is None or view.order.track is None:
        return {}
    return {"sources": covered.followers(view.order.track)}


def _warning_counts(store: Store) -> dict[str, int]:
    counts: dict[str, int] = {}
    for stored in store.alerts():
        counts[stored.alert.order_id] = counts.get(stored.alert.order_id, 0) + 1
    return counts


def cmd_show(args: argparse.Namespace) -> int:
    settings, _ = _settings(args)
    store = Store.open(settings.database)
    try:
        view = store.get_view(args.order_id)
        if view is None:
            raise UserError(f"no order {args.order_id}; `parcel-monitor list` shows the known ones")
        checkpoints = store.checkpoints(view.order.tracks)
        etas = store.eta_history(view.order.id)
        alerts = [s.alert for s in store.alerts(view.order.id)]
        unsent = notify_report.order_json(store, view.order.id)
        unsent_lines = notify_report.order_lines(store, view.order.id)
    finally:
        store.close()
    covered = _coverage(settings)
    if args.json:
        data = timeline_json(view, checkpoints, etas, alerts) | _followers_json(view, covered)
        data["undelivered_notifications"] = unsent
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        lang = settings.notify.language
        print_timeline(view, checkpoints, etas, alerts, lang, settings.zone())
        note = (
            unfollowed_text(view.order.track, covered)
            if covered is not None and view.order.track is not None
            else None
        )
        if note is not None:
            print(f"\n{note}")
        if unsent_lines:
            print(f"\n{SCREEN[lang].undelivered}", *unsent_lines, sep="\n")
    return 0


def cmd_evidence(args: argparse.Namespace) -> int:
    """Rendered from the store itself: no running daemon needed."""
    from monitor.web.pages import EvidenceError, environment, evidence_html, print_pdf

    settings, _ = _settings(args)
    store = Store.open(settings.database)
    try:
        html = evidence_html(
            environment(),
            store,
            args.order_id,
            now=SystemClock().now(),
            lang=settings.notify.language,
            zone=settings.zone(),
            inline_css=True,
        )
    finally:
        store.close()
    if html is None:
        raise UserError(f"no order {args.order_id}; `parcel-monitor list` shows the known ones")
    out: Path = args.out
    try:
        if out.suffix.lower() in (".html", ".htm"):
            out.write_text(html, encoding="utf-8")
        else:
            out.write_bytes(asyncio.run(print_pdf(html)))
    except EvidenceError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from None
    print(f"wrote {out}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from monitor.daemon import assemble

    settings, path = _settings(args)

    async def once() -> tuple[list[Any], Any, list[OrderView]]:
        # Built inside the running loop, as the daemon does: clients (aiomqtt's) bind to it.
        try:
            running = assemble(settings, str(path) if path else "configuration")
        except PluginError as exc:
            raise ConfigError(str(exc)) from None
        pipeline = running.pipeline
        seen: list[Any] = []
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
    covered = _coverage(settings)
    unfollowed = covered.unfollowed(views) if covered is not None else []
    if args.json:
        for view in unfollowed:
            assert covered is not None and view.order.track is not None
            record = {
                "kind": "unfollowed",
                "order_id": view.order.id,
                "number": view.order.track,
                "could_follow": covered.would_follow(view.order.track),
            }
            print(json.dumps(record, ensure_ascii=False))
    else:
        print(*unfollowed_notes(views, covered), sep="\n", end="\n" if unfollowed else "")
    by_id = {view.order.id: view for view in views}
    return _print_check(events, by_id, running, settings, as_json=args.json, quiet=bool(unfollowed))


def _print_check(
    events: Sequence[Any],
    views: dict[str, OrderView],
    running: Any,
    settings: Settings,
    *,
    as_json: bool,
    quiet: bool,
) -> int:
    from monitor.events import WarningRaised

    interesting = [e for e in events if getattr(e, "kind", "") not in ("tick", "order_state")]
    lang, zone = settings.notify.language, settings.zone()
    if as_json:
        for event in interesting:
            print(json.dumps(_event_json(event), ensure_ascii=False))
    else:
        if not interesting and not quiet:
            print(SCREEN[lang].nothing_changed)
        for event in interesting:
            if isinstance(event, WarningRaised):
                alert = event.alert
                print_warning(alert, view=views.get(alert.order_id), lang=lang, zone=zone)
            else:
                print(
                    f"{event.kind}: "
                    + ", ".join(
                        f"{k}={v}" for k, v in _event_json(event).items() if k not in ("kind", "at")
                    )
                )
    failing = [n for n, h in running.pipeline.poller.health.items() if not h.healthy]
    for name in failing:
        print(
            f"source {name} failed: {running.pipeline.poller.health[name].last_error}",
            file=sys.stderr,
        )
    return 1 if failing else 0


def _event_json(event: Any) -> dict[str, Any]:
    from monitor.events import WarningRaised

    if isinstance(event, WarningRaised):
        return {"kind": event.kind, **alert_json(event.alert)}
    data: dict[str, Any] = {"kind": event.kind, "at": event.at.isoformat()}
    for name in event.__dataclass_fields__:
        if name == "at":
            continue
        value = getattr(event, name)
        if isinstance(value, tuple):
            value = [str(v.text if hasattr(v, "text") else v) for v in value]
        data[name] = value if isinstance(value, str | int | float | list | None) else str(value)
    return data


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


def cmd_notify_test(args: argparse.Namespace) -> int:
    from monitor.notify.commands import channels_for, send_test

    settings, _ = _settings(args)
    channels = channels_for(settings.notify, args.url)
    failed = 0
    for delivery in asyncio.run(send_test(channels, settings.notify)):
        failed += not delivery.ok
        outcome = "sent" if delivery.ok else f"FAILED: {delivery.reason}"
        print(f"{delivery.target.name}: {outcome}")
    return 1 if failed else 0


def cmd_notify_retry(args: argparse.Namespace) -> int:
    settings, _ = _settings(args)
    store = Store.open(settings.database)
    try:
        count = notify_report.retry_failed(store, SystemClock(), args.order_id)
    finally:
        store.close()
    print(f"{count} failed notification(s) queued again; the running daemon sends them")
    return 0


def cmd_track(args: argparse.Namespace) -> int:
    from monitor.lookup import LookupFailed, found_json

    settings, path = _settings(args)
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
        found = _look_up_once(args.number, settings, plugins, dict(checked), store)
    except LookupFailed as exc:
        print(f"parcel-monitor: {args.number}: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    data = found_json(found)
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
        return 0
    eta = f", expected {' to '.join(data['eta'])}" if data["eta"] else ""
    print(f"{data['number']} ({data['source']}): {data['status']}{eta}")
    for event in data["events"]:
        place = f" — {event['location']}" if event["location"] else ""
        print(f"  {event['at']}  {event['status']:<16} {event['text']}{place}")
    if data["handover"]:
        print(f"  continues as {data['handover']}")
    return 0


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
        print(f"━━ {scenario.name}")
        dates = {"start": f"{scenario.start:%Y-%m-%d}", "end": f"{scenario.end:%Y-%m-%d}"}
        print(f"   {screen.demo_order.format(order=scenario.order.id, **dates)}")
        if not raised:
            print(f"   {screen.demo_quiet}\n")
        for alert, view in raised:
            print_warning(alert, indent="   ", view=view, lang=lang, zone=zone)
    print(screen.demo_total.format(total=total, orders=len(paths)))
    return 0


def _demo_language(args: argparse.Namespace) -> tuple[Language, tzinfo | None]:
    """`--language`, else the configured one; the demo runs without any configuration too."""
    try:
        settings, _ = load_settings(args.config)
    except ConfigError:
        return args.language or system_language(), None
    return args.language or settings.notify.language, settings.zone()


def cmd_plugins(args: argparse.Namespace) -> int:
    settings, _ = _settings(args)
    found = discover(settings.plugin_dirs)
    if not found:
        print("no source plugins found")
    on = configured_sections(settings, found)
    for name, info in sorted(found.items()):
        if name in settings.sources:
            state = "configured"
        else:
            state = "on by default" if name in on else "not configured"
        print(f"{name:16} {state:15} {info.origin}")
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    from monitor.daemon import validate

    settings, path = load_settings(args.config)
    checked = asyncio.run(validate(settings, str(path) if path else "configuration"))
    print(f"# configuration OK ({path or 'no file: defaults and environment'})", file=sys.stderr)
    print(json.dumps(effective(settings, dict(checked)), ensure_ascii=False, indent=2))
    return 0


def cmd_service_install(args: argparse.Namespace) -> int:
    from monitor.service import InstallError, install, plan

    try:
        the_plan = plan(user=args.user)
        if args.dry_run:
            print(f"# would write {the_plan.target}:", file=sys.stderr)
            print(the_plan.text, end="")
        else:
            install(the_plan)
            print(f"wrote {the_plan.target}")
    except InstallError as exc:
        print(f"parcel-monitor: {exc}", file=sys.stderr)
        return 1
    print("next:", *(f"  {step}" for step in the_plan.next_steps), sep="\n", file=sys.stderr)
    return 0


# --- the parser ------------------------------------------------------------------------------


def _order_fields(p: argparse.ArgumentParser, *, new: bool) -> None:
    p.add_argument(
        "--paid", type=parse_when, metavar="DATE", help="when you paid (default: the order date)"
    )
    p.add_argument("--title", help="what you bought, as you want to see it in warnings")
    p.add_argument("--shop", help="the seller's shop name")
    prot = p.add_mutually_exclusive_group()
    prot.add_argument(
        "--protection-until",
        type=parse_when,
        metavar="DATETIME",
        help="when buyer protection ends (the countdown on the order page)",
    )
    prot.add_argument(
        "--protection-days",
        type=positive_days,
        metavar="N",
        help="buyer protection ends N days after payment",
    )
    p.add_argument(
        "--promised",
        type=parse_day,
        metavar="DATE",
        help="the latest delivery date the shop promised",
    )
    p.add_argument(
        "--estimate",
        type=parse_window_text,
        metavar="DATE[..DATE]",
        help="the delivery estimate the order page shows (until a carrier gives one)",
    )
    p.add_argument(
        "--track",
        metavar="NUMBER",
        help="the track number"
        + ("" if new else " (a new one is added and becomes current)")
        + "; looked up at once (here, when no daemon runs)",
    )
    p.add_argument("--notes", help="free text for yourself")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parcel-monitor",
        description="Watches your online orders and warns you when one is not arriving: "
        "no track number, no movement, customs, the post office, a slipping delivery date, "
        "buyer protection about to end. Each warning says what to do next.",
        epilog="Dates: YYYY-MM-DD or DD.MM.YYYY (midnight in your time zone, the `timezone` "
        "setting) or ISO 8601 with offset (2026-03-01T09:00:00+03:00), years 2000 to 2099. "
        "Track numbers may be typed with spaces or in lower case. "
        "Try `parcel-monitor demo` first.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="configuration file (default: $PARCEL_MONITOR_CONFIG, "
        "~/.config/parcel-monitor/config.toml, /etc/parcel-monitor/config.toml)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(
        name: str, handler: Callable[[argparse.Namespace], int], help_text: str, **kw: Any
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, **kw)
        p.set_defaults(handler=handler)
        return p

    command("run", cmd_run, "run the daemon in the foreground (polls at once, then on schedule)")
    p = command("add", cmd_add, "start watching an order")
    p.add_argument(
        "order_id",
        type=order_id,
        metavar="ORDER_ID",
        help="the shop's order number (up to 64 letters, digits, - _ . :)",
    )
    p.add_argument(
        "--ordered",
        type=parse_when,
        required=True,
        metavar="DATE",
        help="order date (not in the future)",
    )
    _order_fields(p, new=True)
    p = command("update", cmd_update, "change an order: new track number, extended protection, ...")
    p.add_argument("order_id", type=order_id, metavar="ORDER_ID")
    _order_fields(p, new=False)
    p.add_argument("--reopen", action="store_true", help="watch a closed order again")
    p = command("close", cmd_close, "you are done with an order: no more warnings for it")
    p.add_argument("order_id", type=order_id, metavar="ORDER_ID")
    p = command("remove", cmd_remove, "forget an order (its warning history is kept)")
    p.add_argument("order_id", metavar="ORDER_ID")
    p = command("list", cmd_list, "the watched orders as a table")
    p.add_argument("--json", action="store_true", help="a JSON array instead of a table")
    p.add_argument("--all", action="store_true", help="include closed orders")
    p = command("show", cmd_show, "one order's timeline: checkpoints, ETA history, warnings")
    p.add_argument("order_id", metavar="ORDER_ID")
    p.add_argument("--json", action="store_true", help="JSON instead of text")
    p = command(
        "evidence",
        cmd_evidence,
        "an order's evidence for a dispute: history, track numbers, ETA chart, dispute text",
    )
    p.add_argument("order_id", metavar="ORDER_ID")
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="FILE",
        help="where to write it: a PDF (printed by the system's Chromium), or HTML if FILE ends "
        "in .html",
    )
    p = command("check", cmd_check, "poll every source once now and print what changed")
    p.add_argument("--json", action="store_true", help="one JSON object per event")
    p = command("replay", cmd_replay, "replay scenario files on a simulated clock (SCENARIOS.md)")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per warning, nothing else")
    p.add_argument(
        "--notify", metavar="URL", help="also deliver each warning through this Apprise URL"
    )
    p = command("track", cmd_track, "look a track number up once, without watching it")
    p.add_argument("number", metavar="NUMBER")
    p.add_argument("--source", metavar="NAME", help="ask this source only (see `plugins`)")
    p.add_argument(
        "--json",
        action="store_true",
        help='one object: {"number", "source", "status", "eta", "events"}',
    )
    p = command(
        "demo", cmd_demo, "replay the bundled example orders and show their warnings (offline)"
    )
    p.add_argument(
        "--language",
        choices=LANGUAGES,
        help="en or ru (default: [notify] language, else the system's language)",
    )
    command("plugins", cmd_plugins, "the tracking sources found, and where they came from")
    p = command("notify", lambda a: 0, "notification commands")
    notify_sub = p.add_subparsers(dest="notify_command", metavar="ACTION", required=True)
    n = notify_sub.add_parser(
        "test",
        help="send a sample through the configured channels "
        "(or --url) and report each one's result",
    )
    n.add_argument("--url", metavar="URL", help="an Apprise URL to test instead")
    n.set_defaults(handler=cmd_notify_test)
    n = notify_sub.add_parser("retry", help="queue failed notifications again")
    n.add_argument("order_id", nargs="?", metavar="ORDER_ID", help="only this order's")
    n.set_defaults(handler=cmd_notify_retry)
    p = command("config", lambda a: 0, "configuration commands")
    config_sub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    c = config_sub.add_parser(
        "check", help="validate and print the effective configuration (secrets masked)"
    )
    c.set_defaults(handler=cmd_config_check)
    p = command("service", lambda a: 0, "run under systemd (docs/systemd.md)")
    service_sub = p.add_subparsers(dest="service_command", metavar="ACTION", required=True)
    s = service_sub.add_parser("install", help="write the systemd unit for this installation")
    s.add_argument("--user", action="store_true", help="a user service (systemctl --user)")
    s.add_argument("--dry-run", action="store_true", help="print the unit instead of writing it")
    s.set_defaults(handler=cmd_service_install)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except (UserError, ScenarioError) as exc:
        print(f"parcel-monitor: {exc}", file=sys.stderr)
    except (ConfigError, PluginError) as exc:
        print(f"parcel-monitor: configuration error:\n{exc}", file=sys.stderr)
    except StoreError as exc:
        print(f"parcel-monitor: {exc}", file=sys.stderr)
    except sqlite3.DatabaseError as exc:  # damage found while reading, after a clean open
        print(
            f"parcel-monitor: the database is damaged ({exc}); move it aside and start "
            "again, or restore a backup",
            file=sys.stderr,
        )
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: stop quietly, like other Unix tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
