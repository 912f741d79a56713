"""The pipeline against its floor, in one run.

    python bench/pipeline.py --parcels 10000 --json

Starts bench/fake_seventeentrack.py (a local 17TRACK v2.2 stand-in, in its own process so its
memory and CPU are not counted) holding N parcels, then measures:

- floor: fetching every batch of 40 from that server with aiohttp and parsing the JSON, with the
  same concurrency the source uses — the least any daemon must do;
- first cycle: the real pipeline on an empty store (register, fetch, parse, normalize, diff,
  store, rules, outbox);
- steady cycle: nothing changed (the median of three, as for the floor);
- changed cycle: 10% of parcels gained a checkpoint;
- peak RSS of this process, and CPU seconds per 1,000 parcel checks over the three cycles.

The source's own rate limit (17TRACK allows about 3 requests a second) is lifted here: it is a
property of the remote service, not a cost of the pipeline. The last line printed is one JSON
object with the figures and the ratios against the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from monitor.clock import SystemClock
from monitor.logs import configure
from monitor.model import Order
from monitor.pipeline import Pipeline
from monitor.plugin import SourceContext, load_source_class
from monitor.rules.base import RuleSettings
from monitor.sources import SharedSession
from monitor.store import SourceCursors, Store

HERE = Path(__file__).resolve().parent
KEY = "bench-key"
BATCH = 40


def number_of(i: int) -> str:
    return f"RB{i:09d}CN"


def start_server(parcels: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "fake_seventeentrack.py"), "--parcels", str(parcels)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise SystemExit("the fake 17TRACK server did not start")
    return proc, f"http://127.0.0.1:{int(line.split()[1])}"


async def floor(base: str, numbers: list[str], concurrency: int) -> float:
    gate = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as session:

        async def one(batch: list[str]) -> None:
            async with (
                gate,
                session.post(
                    f"{base}/track/v2.2/gettrackinfo",
                    json=[{"number": n} for n in batch],
                    headers={"17token": KEY},
                ) as response,
            ):
                json.loads(await response.read())

        started = time.perf_counter()
        await asyncio.gather(*(one(numbers[i : i + BATCH]) for i in range(0, len(numbers), BATCH)))
        return time.perf_counter() - started


def fill(store: Store, count: int) -> None:
    now = datetime.now(UTC)
    with store.transaction():
        for i in range(count):
            ordered = now - timedelta(days=25 + i % 10)
            store.add_order(
                Order(
                    id=f"81{i:014d}",
                    ordered_at=ordered,
                    protection_until=ordered + timedelta(days=90),
                    tracks=(number_of(i),),
                ),
                now=now,
            )


async def measure(base: str, parcels: int, database: Path, concurrency: int) -> dict[str, float]:
    numbers = [number_of(i) for i in range(parcels)]
    await floor(base, numbers[: BATCH * 4], concurrency)  # warm up connections and the server
    # Loopback timings wander by tens of percent from run to run: take medians of three.
    floor_s = statistics.median([await floor(base, numbers, concurrency) for _ in range(3)])

    store = Store.open(database)
    fill(store, parcels)
    clock = SystemClock()
    session = SharedSession()
    source_class = load_source_class("seventeentrack")
    settings = source_class.Settings.model_validate(
        {
            "api_key": KEY,
            "base_url": base,
            "requests_per_second": 1_000_000,
            "concurrency": concurrency,
        }
    )
    context = SourceContext(
        clock=clock, http=session, cursors=SourceCursors(store, "seventeentrack")
    )
    pipeline = Pipeline.build(
        store=store,
        clock=clock,
        sources={"seventeentrack": (source_class(settings, context), settings)},
        rules=RuleSettings(),
    )
    pipeline.start()

    async def cycle() -> tuple[float, float, int]:
        wall, cpu = time.perf_counter(), time.process_time()
        report = await pipeline.poller.poll_all()
        return time.perf_counter() - wall, time.process_time() - cpu, report.checked

    first_s, first_cpu, first_n = await cycle()
    steady_runs = [await cycle() for _ in range(3)]
    steady_s, steady_cpu, steady_n = sorted(steady_runs)[1]
    async with aiohttp.ClientSession() as control:
        await control.post(f"{base}/bench/advance", json={"share": 0.1})
    changed_s, changed_cpu, changed_n = await cycle()
    await session.aclose()
    warnings = len(store.alerts())
    store.close()
    checks = first_n + steady_n + changed_n
    return {
        "parcels": parcels,
        "floor_s": round(floor_s, 3),
        "first_cycle_s": round(first_s, 3),
        "steady_cycle_s": round(steady_s, 3),
        "changed_cycle_s": round(changed_s, 3),
        "first_ratio": round(first_s / floor_s, 2),
        "steady_ratio": round(steady_s / floor_s, 2),
        "changed_ratio": round(changed_s / floor_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpu_s_per_1k": round((first_cpu + steady_cpu + changed_cpu) / checks * 1000, 4),
        "first_cpu_s_per_1k": round(first_cpu / max(first_n, 1) * 1000, 4),
        "steady_cpu_s_per_1k": round(steady_cpu / max(steady_n, 1) * 1000, 4),
        "checks": checks,
        "warnings_raised": warnings,
    }


def main() -> None:
    configure("warning")  # a warning per parcel on the terminal would measure the terminal
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parcels", type=int, default=10_000)
    parser.add_argument(
        "--concurrency", type=int, default=2, help="batches in flight (as the source)"
    )
    parser.add_argument("--json", action="store_true", help="print only the JSON result line")
    args = parser.parse_args()
    server, base = start_server(args.parcels)
    try:
        with tempfile.TemporaryDirectory(prefix="pm-bench-") as tmp:
            result = asyncio.run(
                measure(base, args.parcels, Path(tmp) / "bench.db", args.concurrency)
            )
    finally:
        server.terminate()
        server.wait(timeout=10)
    if not args.json:
        for key, value in result.items():
            print(f"{key:>22}: {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
