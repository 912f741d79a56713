"""What storing a first cycle's checkpoints costs the store alone, without fetching or parsing.

    python bench/store_writes.py --parcels 10000

Writes 20 checkpoints for each of N numbers into a fresh database file through
`Store.add_checkpoints`, in transactions of 40 numbers as the tracker does, and prints the CPU
seconds it took (the median of three fresh databases) as one JSON line. Compare it with the first
cycle's CPU in `bench/pipeline.py` (`first_cpu_s_per_1k` × N / 1000) to see the store's share.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from monitor.model import Checkpoint, Status
from monitor.store import Store

PER_NUMBER = 20
BATCH = 40


def checkpoints(parcels: int) -> dict[str, list[Checkpoint]]:
    start = datetime(2026, 5, 1, tzinfo=timezone(timedelta(hours=8)))
    return {
        f"RB{i:09d}CN": [
            Checkpoint(
                at=start + timedelta(hours=j * 7 + i % 5),
                status=Status.IN_TRANSIT,
                text=f"Departed from sorting center {j}",
                location="Guangzhou",
                code="",
            )
            for j in range(PER_NUMBER)
        ]
        for i in range(parcels)
    }


def one_run(history: dict[str, list[Checkpoint]]) -> float:
    with tempfile.TemporaryDirectory(prefix="pm-bench-") as tmp:
        store = Store.open(Path(tmp) / "bench.db")
        now = datetime.now(UTC)
        numbers = list(history)
        started = time.process_time()
        for first in range(0, len(numbers), BATCH):
            with store.transaction():
                for number in numbers[first : first + BATCH]:
                    store.add_checkpoints(number, "bench", history[number], now=now)
        took = time.process_time() - started
        store.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parcels", type=int, default=10_000)
    args = parser.parse_args()
    history = checkpoints(args.parcels)
    cpu = statistics.median(one_run(history) for _ in range(3))
    print(
        json.dumps(
            {
                "parcels": args.parcels,
                "checkpoints": args.parcels * PER_NUMBER,
                "cpu_s": round(cpu, 3),
                "cpu_s_per_1k_parcels": round(cpu / args.parcels * 1000, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
