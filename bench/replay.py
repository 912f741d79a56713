"""How fast the replay runs the real pipeline on a simulated clock: order-days per second.

    python bench/replay.py --scenarios 200 --json

Generates scenarios in the SCENARIOS.md format (each one order over 30 to 90 days, with a track
number, checkpoints every few days, an ETA that sometimes slips and protection that ends), replays
every one through `monitor.replay` (in-memory store, hourly ticks, polls every 6 hours) and
reports simulated order-days per wall-clock second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from datetime import date, datetime, timedelta, timezone
from typing import Any

from monitor.logs import configure
from monitor.replay import replay
from monitor.scenario import Scenario, parse_scenario

MSK = timezone(timedelta(hours=3))
STATUSES = ["in_transit", "in_transit", "in_transit", "customs", "at_post_office"]


def generate(i: int, rng: random.Random) -> Scenario:
    start = datetime(2026, 1, 1, 10, tzinfo=MSK) + timedelta(days=rng.randrange(0, 200))
    days = rng.randint(30, 90)
    eta = (start + timedelta(days=rng.randint(20, 40))).date()
    timeline: list[dict[str, Any]] = []
    at = start + timedelta(days=rng.randint(1, 5))
    timeline.append(
        {
            "at": at.isoformat(),
            "track": f"RB{i:09d}CN",
            "eta": [str(eta - timedelta(days=4)), str(eta)],
        }
    )
    while (at := at + timedelta(days=rng.randint(2, 9))) < start + timedelta(days=days - 1):
        entry: dict[str, Any] = {
            "at": at.isoformat(),
            "events": [
                {
                    "at": (at - timedelta(hours=2)).isoformat(),
                    "status": rng.choice(STATUSES),
                    "text": "scan",
                    "location": "somewhere",
                }
            ],
        }
        if rng.random() < 0.2:
            eta = eta + timedelta(days=rng.randint(1, 4))
            entry["eta"] = [str(eta - timedelta(days=4)), str(eta)]
        timeline.append(entry)
    return parse_scenario(
        {
            "name": f"generated {i}",
            "order": {
                "id": f"9{i:015d}",
                "ordered_at": start.isoformat(),
                "protection_until": (start + timedelta(days=rng.randint(40, 80))).isoformat(),
                "promised_by": str(date.fromordinal(eta.toordinal() + 5)),
            },
            "timeline": timeline,
            "end": (start + timedelta(days=days)).isoformat(),
        },
        source=f"generated-{i}",
    )


async def run(scenarios: list[Scenario]) -> int:
    warnings = 0
    for scenario in scenarios:
        warnings += len(await replay(scenario))
    return warnings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenarios", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print only the JSON result line")
    args = parser.parse_args()
    configure("warning")
    rng = random.Random(args.seed)
    scenarios = [generate(i, rng) for i in range(args.scenarios)]
    order_days = sum((s.end - s.start).total_seconds() / 86400 for s in scenarios)
    started = time.perf_counter()
    warnings = asyncio.run(run(scenarios))
    elapsed = time.perf_counter() - started
    result = {
        "scenarios": len(scenarios),
        "order_days": round(order_days),
        "wall_s": round(elapsed, 3),
        "order_days_per_s": round(order_days / elapsed),
        "warnings": warnings,
    }
    if not args.json:
        print(
            f"{result['order_days']} simulated order-days in {elapsed:.2f} s: "
            f"{result['order_days_per_s']} order-days per second, {warnings} warnings"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
