"""Orders: add, update, close, mute, unmute, remove, list, show, evidence."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from monitor import orderinput
from monitor.cli.common import (
    UserError,
    coverage_of,
    look_up_once,
    open_pipeline,
    settings_of,
)
from monitor.clock import SystemClock
from monitor.config import Settings
from monitor.model import OrderView
from monitor.notify import report as notify_report
from monitor.orders import OrderBook
from monitor.pipeline import Pipeline
from monitor.plugin import discover
from monitor.routing import Coverage
from monitor.sources import validate_sections
from monitor.statelock import daemon_pid
from monitor.store import Store
from monitor.views.data import order_json, timeline, timeline_json
from monitor.views.terminal import doubtful_track_note, print_order_table, print_timeline


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
    settings, path = settings_of(args)
    pipeline = open_pipeline(settings)
    try:
        try:
            done, view = change(pipeline.orders)
        except orderinput.BadInput as exc:
            raise UserError(str(exc)) from None
        print(done)
        typed = getattr(args, "track", None)
        if typed and orderinput.check_digit_doubtful(typed):
            note = doubtful_track_note(orderinput.normalize_track(typed), settings.notify.language)
            print(f"parcel-monitor: note: {note}", file=sys.stderr)
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
        found = look_up_once(number, settings, plugins, checked, pipeline.store)
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


def cmd_mute(args: argparse.Namespace) -> int:
    return _set_muted(args, muted=True)


def cmd_unmute(args: argparse.Namespace) -> int:
    return _set_muted(args, muted=False)


def _set_muted(args: argparse.Namespace, *, muted: bool) -> int:
    def change(book: OrderBook) -> tuple[str, OrderView | None]:
        orderinput.update(book, args.order_id, {"muted": muted})
        if muted:
            return (
                f"muted order {args.order_id}: its warnings are recorded and shown, but not pushed",
                None,
            )
        return f"unmuted order {args.order_id}: its next warnings are pushed again", None

    return _change_orders(args, change)


def cmd_remove(args: argparse.Namespace) -> int:
    def remove(book: OrderBook) -> tuple[str, OrderView | None]:
        orderinput.remove(book, args.order_id)
        return f"removed order {args.order_id}", None

    return _change_orders(args, remove)


def cmd_list(args: argparse.Namespace) -> int:
    settings, _ = settings_of(args)
    store = Store.open(settings.database)
    try:
        views = store.views(include_closed=args.all)
        counts = store.warning_counts()
        unsent, unsent_line = (
            notify_report.counts(store),
            notify_report.summary(store, settings.notify.language),
        )
    finally:
        store.close()
    covered = coverage_of(settings)
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


def cmd_show(args: argparse.Namespace) -> int:
    settings, _ = settings_of(args)
    store = Store.open(settings.database)
    try:
        shown = timeline(store, args.order_id)
        if shown is None:
            raise UserError(f"no order {args.order_id}; `parcel-monitor list` shows the known ones")
        unsent = notify_report.order_json(store, args.order_id)
        unsent_lines = notify_report.order_lines(store, args.order_id, settings.notify.language)
    finally:
        store.close()
    covered, view = coverage_of(settings), shown.view
    if args.json:
        data = timeline_json(shown) | _followers_json(view, covered)
        data["undelivered_notifications"] = unsent
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        lang = settings.notify.language
        print_timeline(shown, lang, settings.zone(), coverage=covered, undelivered=unsent_lines)
    return 0


def cmd_evidence(args: argparse.Namespace) -> int:
    """Rendered from the store itself: no running daemon needed."""
    from monitor.web.pages import EvidenceError, environment, evidence_html, print_pdf

    settings, _ = settings_of(args)
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
            _write_private(out, html.encode("utf-8"))
        else:
            _write_private(out, asyncio.run(print_pdf(html)))
    except EvidenceError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from None
    print(f"wrote {out}")
    return 0


def _write_private(path: Path, data: bytes) -> None:
    """The evidence holds personal data: readable by its owner only, like the database, whatever
    the umask, and also when it replaces an older file that everyone could read."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with open(fd, "wb") as file:
        os.fchmod(fd, 0o600)
        file.write(data)
