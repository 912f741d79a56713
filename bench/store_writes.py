"""What storing a first cycle's checkpoints costs the store alone, without fetching or parsing.

    python bench/store_writes.py --parcels 10000

Writes 20 checkpoints for each of N numbers into a fresh database file through
`Store.add_checkpoints`, in transactions of 40 numbers as the tracker does, and prints the CPU
seconds it took (`cpu_s`, the median of three fresh databases) as one JSON line. Compare it with
the first cycle's CPU in `bench/pipeline.py` (`first_cpu_s_per_1k` × N / 1000) to see the store's
share. Each number's checkpoints are one row (`histories`), so the line also shows what the later
cycles cost on such rows: `append_cpu_s` adds one more checkpoint to every tenth number (as
`bench/pipeline.py`'s changed cycle), `read_cpu_s` reads every number's checkpoints back through
`Store.checkpoints`, 40 numbers at a time, as the differ does (medians too).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import replace
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


def one_run(history: dict[str, list[Checkpoint]]) -> tuple[float, float, float]:
    """CPU seconds to write `history`, to append a checkpoint to a tenth of it, to read it all."""
    with tempfile.TemporaryDirectory(prefix="pm-bench-") as tmp:
        store = Store.open(Path(tmp) / "bench.db")
        now = datetime.now(UTC)
        numbers = list(history)
        started = time.process_time()
        for first in range(0, len(numbers), BATCH):
            with store.transaction():
                for number in numbers[first : first + BATCH]:
                    store.add_checkpoints(number, "bench", history[number], now=now)
        wrote = time.process_time() - started
        changed = numbers[::10]
        started = time.process_time()
        for first in range(0, len(changed), BATCH):
            with store.transaction():
                for number in changed[first : first + BATCH]:
                    newest = history[number][-1]
                    later = replace(newest, at=newest.at + timedelta(hours=1), text="Arrived")
                    store.add_checkpoints(number, "bench", [later], now=now)
        appended = time.process_time() - started
        started = time.process_time()
        for first in range(0, len(numbers), BATCH):
            store.checkpoints(numbers[first : first + BATCH])
        read = time.process_time() - started
        store.close()
    return wrote, appended, read


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parcels", type=int, default=10_000)
    args = parser.parse_args()
    history = checkpoints(args.parcels)
    runs = [one_run(history) for _ in range(3)]
    cpu, append, read = (statistics.median(figures) for figures in zip(*runs, strict=True))
    print(
        json.dumps(
            {
                "parcels": args.parcels,
                "checkpoints": args.parcels * PER_NUMBER,
                "cpu_s": round(cpu, 3),
                "cpu_s_per_1k_parcels": round(cpu / args.parcels * 1000, 4),
                "append_cpu_s": round(append, 3),
                "read_cpu_s": round(read, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
