"""Notifications: send a test, queue failed ones again."""

from __future__ import annotations

import argparse
import asyncio

from monitor.cli.common import settings_of
from monitor.clock import SystemClock
from monitor.notify import report as notify_report
from monitor.store import Store


def cmd_notify_test(args: argparse.Namespace) -> int:
    from monitor.notify.commands import channels_for, send_test

    settings, _ = settings_of(args)
    channels = channels_for(settings.notify, args.url)
    failed = 0
    for delivery in asyncio.run(send_test(channels, settings.notify)):
        failed += not delivery.ok
        outcome = "sent" if delivery.ok else f"FAILED: {delivery.reason}"
        print(f"{delivery.target.name}: {outcome}")
    return 1 if failed else 0


def cmd_notify_retry(args: argparse.Namespace) -> int:
    settings, _ = settings_of(args)
    store = Store.open(settings.database)
    try:
        count = notify_report.retry_failed(store, SystemClock(), args.order_id)
    finally:
        store.close()
    print(notify_report.requeued_line(count, settings.notify.language))
    return 0
