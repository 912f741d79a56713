"""The `parcel-monitor` command line: the parser and `main`; each group's commands live in
their own module, and what they print in `monitor.views.terminal`."""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from monitor import __version__
from monitor.cli.admin import cmd_config_check, cmd_plugins, cmd_service_install
from monitor.cli.common import (
    EXIT_USAGE,
    UserError,
    order_id,
    parse_day,
    parse_when,
    parse_window_text,
    positive_days,
)
from monitor.cli.mail import cmd_import_mail
from monitor.cli.notify import cmd_notify_retry, cmd_notify_test
from monitor.cli.orders import (
    cmd_add,
    cmd_close,
    cmd_evidence,
    cmd_list,
    cmd_mute,
    cmd_remove,
    cmd_show,
    cmd_unmute,
    cmd_update,
)
from monitor.cli.replay import cmd_demo, cmd_replay
from monitor.cli.watch import cmd_check, cmd_run, cmd_track
from monitor.config import ConfigError
from monitor.notify.languages import LANGUAGES
from monitor.plugin import PluginError
from monitor.scenario import ScenarioError
from monitor.store import StoreError


def order_fields(p: argparse.ArgumentParser, *, new: bool) -> None:
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
    order_fields(p, new=True)
    p = command("update", cmd_update, "change an order: new track number, extended protection, ...")
    p.add_argument("order_id", type=order_id, metavar="ORDER_ID")
    order_fields(p, new=False)
    p.add_argument("--reopen", action="store_true", help="watch a closed order again")
    p = command("close", cmd_close, "you are done with an order: no more warnings for it")
    p.add_argument("order_id", type=order_id, metavar="ORDER_ID")
    p = command(
        "mute",
        cmd_mute,
        "no pushes about an order: its warnings are still recorded and shown "
        "(list, show, MQTT, dashboard); `unmute` undoes it",
    )
    p.add_argument("order_id", type=order_id, metavar="ORDER_ID")
    p = command("unmute", cmd_unmute, "push an order's warnings again (from the next one on)")
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
    p = command(
        "import-mail",
        cmd_import_mail,
        "read shop mails from .eml files, mbox files or Maildir folders and add the orders and "
        "track numbers they name, like the [mail] watcher does (its 'found in your mail' notices "
        "are queued for the daemon to send)",
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help=".eml, mbox or Maildir")
    p.add_argument(
        "-v", "--verbose", action="store_true", help="also list the mails that added nothing"
    )
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
