"""What parsing a first poll's 17TRACK answers costs, against its floor.

    python bench/parse_17track.py --parcels 10000

Builds the gettrackinfo answers bench/fake_seventeentrack.py serves for N parcels (40 numbers
each, JSON-encoded once), then times `parse_trackinfo` over them: each body is decoded just
before its parse (untimed) and every result is kept, as the source's parse cache keeps them.
The floor reads only `datetime.fromisoformat(event["time_iso"])` and builds a
`Checkpoint(at=..., status=...)` per event. CPU seconds (`time.process_time`), medians of five
interleaved rounds. Garbage-collector pauses (`gc.callbacks`) are shown apart: whether a full
collection falls into a parse or into a decode is luck, so compare `*_excl_gc_s`. The last line
printed is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from fake_seventeentrack import Parcels, number_of
from parcel_monitor_plugins.seventeentrack import parse_trackinfo

from monitor.model import Checkpoint, Status

BATCH = 40
ROUNDS = 5


def answers(parcels: int) -> tuple[list[str], int]:
    """The JSON bodies of the answers for N parcels, and how many events they hold."""
    fake = Parcels(parcels, seed=1)
    numbers = [number_of(i) for i in range(parcels)]
    texts = [
        json.dumps(
            {
                "code": 0,
                "data": {
                    "accepted": [
                        {"number": n, "carrier": 3011, "track_info": fake.track_info(n)}
                        for n in numbers[i : i + BATCH]
                    ],
                    "rejected": [],
                },
            }
        )
        for i in range(0, parcels, BATCH)
    ]
    return texts, sum(len(cast(list[Any], item["events"])) for item in fake.items.values())


def floor(payload: Any, requested: set[str], fetched_at: datetime) -> tuple[dict[str, Any], None]:
    parse = datetime.fromisoformat
    return {
        item["number"]: [
            Checkpoint(at=parse(event["time_iso"]), status=Status.IN_TRANSIT)
            for provider in item["track_info"]["tracking"]["providers"]
            for event in provider["events"]
        ]
        for item in payload["data"]["accepted"]
    }, None


class Pauses:
    """CPU seconds the garbage collector took while `timing`, and in all."""

    def __init__(self) -> None:
        self.timing = False
        self.timed = self.total = 0.0
        self._started = 0.0

    def __enter__(self) -> Pauses:
        gc.callbacks.append(self._note)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._note)

    def _note(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.process_time()
            return
        spent = time.process_time() - self._started
        self.total += spent
        if self.timing:
            self.timed += spent


def run(parse: Callable[..., Any], texts: list[str], requested: set[str]) -> dict[str, float]:
    gc.collect()
    fetched_at = datetime.now(UTC)
    kept: list[Any] = []
    spent = 0.0
    with Pauses() as pauses:
        for text in texts:
            payload = json.loads(text)
            pauses.timing = True
            started = time.process_time()
            kept.append(parse(payload, requested, fetched_at)[0])
            spent += time.process_time() - started
            pauses.timing = False
    return {"cpu_s": spent, "gc_s": pauses.timed, "all_gc_s": pauses.total}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parcels", type=int, default=10_000)
    args = parser.parse_args()
    texts, events = answers(args.parcels)
    requested = {number_of(i) for i in range(args.parcels)}
    runs: dict[str, list[dict[str, float]]] = {"parse": [], "floor": []}
    for round_ in range(ROUNDS):
        order = [("parse", parse_trackinfo), ("floor", floor)]
        for name, parse in order if round_ % 2 == 0 else order[::-1]:
            runs[name].append(run(parse, texts, requested))
    result: dict[str, float] = {"parcels": args.parcels, "events": events}
    for name, figures in runs.items():
        result[f"{name}_cpu_s"] = round(statistics.median(f["cpu_s"] for f in figures), 3)
        result[f"{name}_excl_gc_s"] = round(
            statistics.median(f["cpu_s"] - f["gc_s"] for f in figures), 3
        )
        result[f"{name}_all_gc_s"] = round(statistics.median(f["all_gc_s"] for f in figures), 3)
    result["excl_gc_ratio"] = round(result["parse_excl_gc_s"] / result["floor_excl_gc_s"], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
