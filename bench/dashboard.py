"""Server time of the dashboard's overview at N open orders with histories.

    python bench/dashboard.py [--orders 1000] [--runs 15] [--db PATH]

Fills a fresh store (in a temp dir unless --db) with N open orders, each with 20 checkpoints, four
ETA windows seen over time and two warnings, then serves the daemon's HTTP application with the
dashboard mounted on 127.0.0.1 and times `GET /` (and `GET /?show=all&q=...`, a search) from a
client on the same machine: the median of --runs requests after two warm-ups. The overview shows
100 orders a page; the time covers reading and sorting all N.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiohttp

from monitor.clock import SimulatedClock
from monitor.events import Alert
from monitor.health import Health
from monitor.model import Checkpoint, EtaWindow, Order, Severity, Status, TrackingState
from monitor.pipeline import Pipeline
from monitor.rules.base import RuleSettings
from monitor.store import Store
from monitor.web import dashboard
from monitor.web.api import build_app
from monitor.web.server import HttpServer

START = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
NOW = START + timedelta(days=40)


def fill(store: Store, orders: int) -> None:
    with store.transaction():
        for i in range(orders):
            number = f"RB{i:09d}CN"
            order = Order(
                id=f"81{i:014d}",
                ordered_at=START,
                title=f"Item {i}",
                tracks=(number,),
                protection_until=START + timedelta(days=30 + i % 60),
            )
            store.add_order(order, now=START)
            cps = [
                Checkpoint(
                    at=START + timedelta(days=1 + day),
                    status=Status.IN_TRANSIT,
                    text="Departed from sorting center",
                    location="Shenzhen",
                )
                for day in range(20)
            ]
            store.add_checkpoints(number, "bench", cps, now=START + timedelta(days=21))
            for step in range(4):
                eta = EtaWindow(
                    date(2026, 2, 1) + timedelta(days=5 * step),
                    date(2026, 2, 10) + timedelta(days=5 * step),
                )
                state = TrackingState(
                    status=Status.IN_TRANSIT,
                    status_since=START + timedelta(days=1),
                    last_checkpoint=cps[-1],
                    eta=eta,
                )
                store.write_tracking(order.id, state, now=START + timedelta(days=5 + 7 * step))
            for rule, severity in (("stalled", Severity.WARNING), ("eta_shifted", Severity.INFO)):
                store.record_alert(
                    Alert(
                        order_id=order.id,
                        rule=rule,
                        condition=f"bench-{i}",
                        severity=severity,
                        at=START + timedelta(days=30),
                        due=START + timedelta(days=30),
                        title=rule,
                        body="",
                        track=number,
                    ),
                    enqueue=False,
                )


async def measure(store: Store, runs: int) -> dict[str, float]:
    clock = SimulatedClock(NOW)
    pipeline = Pipeline.build(store=store, clock=clock, sources={}, rules=RuleSettings())
    app = build_app(
        store=store, orders=pipeline.orders, health=Health(), metrics_text=lambda: "", token=None
    )
    dashboard.mount(
        app,
        dashboard.Desk(
            store=store,
            orders=pipeline.orders,
            bus=pipeline.bus,
            clock=clock,
            zone=UTC,
            language="en",
            token=None,
            health=lambda: pipeline.poller.health,
        ),
    )
    results = {}
    async with HttpServer(app, host="127.0.0.1", port=0) as server, aiohttp.ClientSession() as s:
        for name, path in (("overview", "/"), ("search", "/?show=all&q=item+99")):
            times = []
            for run in range(runs + 2):
                started = time.perf_counter()
                async with s.get(f"http://127.0.0.1:{server.port}{path}") as response:
                    assert response.status == 200
                    await response.read()
                if run >= 2:
                    times.append(time.perf_counter() - started)
            results[name] = statistics.median(times) * 1000
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--db", type=Path, help="keep the store here (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(args.db or Path(tmp) / "bench.db")
        started = time.perf_counter()
        fill(store, args.orders)
        print(f"filled {args.orders} orders in {time.perf_counter() - started:.1f} s")
        results = asyncio.run(measure(store, args.runs))
        store.close()
    for name, ms in results.items():
        print(f"{name}: median {ms:.1f} ms over {args.runs} requests ({args.orders} open orders)")


if __name__ == "__main__":
    main()
