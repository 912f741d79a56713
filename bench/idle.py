"""How much CPU the daemon burns between polls while it watches many orders.

    python bench/idle.py --orders 10000 --seconds 60 --json

Fills a fresh state directory with N open orders (each with a track number and a protection
deadline, so the rule engine has deadlines to schedule), starts `parcel-monitor run` as a real
subprocess with a tick every minute and order sync every 5 s, lets it settle, then reads the
process's CPU time from /proc over the measuring window. Target: under 1 CPU-second per minute.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.model import Order
from monitor.store import Store

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND  # utime + stime


def fill(database: Path, count: int) -> None:
    now = datetime.now(UTC)
    store = Store.open(database)
    with store.transaction():
        for i in range(count):
            ordered = now - timedelta(days=i % 40)
            store.add_order(
                Order(
                    id=f"81{i:014d}",
                    ordered_at=ordered,
                    title=f"item {i}",
                    protection_until=ordered + timedelta(days=90),
                    tracks=(f"RB{i:09d}CN",),
                ),
                now=now,
            )
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60.0, help="measuring window")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds ignored after start")
    parser.add_argument("--json", action="store_true", help="print only the JSON result line")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="pm-idle-") as tmp:
        state = Path(tmp) / "state"
        fill(state / "parcel-monitor.db", args.orders)
        env = {
            **os.environ,
            "PARCEL_MONITOR_STATE_DIR": str(state),
            "PARCEL_MONITOR_LOG__FORMAT": "json",
            "PARCEL_MONITOR_TICK_EVERY": "1m",
            "PARCEL_MONITOR_HTTP__ENABLED": "false",
        }
        env.pop("PARCEL_MONITOR_CONFIG", None)
        config = Path(tmp) / "config.toml"
        config.write_text("")
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stderr is not None
            for line in proc.stderr:
                if '"monitor.daemon.started"' in line:
                    break
            else:
                raise SystemExit(f"the daemon did not start (exit {proc.wait()})")
            started_cpu = cpu_seconds(proc.pid)
            time.sleep(args.settle)
            before = cpu_seconds(proc.pid)
            time.sleep(args.seconds)
            after = cpu_seconds(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    per_minute = (after - before) / args.seconds * 60
    result = {
        "orders": args.orders,
        "window_s": args.seconds,
        "startup_cpu_s": round(started_cpu, 3),
        "idle_cpu_s_per_min": round(per_minute, 4),
    }
    if not args.json:
        print(
            f"{args.orders} orders: {per_minute:.3f} CPU-seconds per minute while idle "
            f"(startup took {started_cpu:.2f} CPU-s)"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
