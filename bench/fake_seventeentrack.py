"""A local stand-in for 17TRACK API v2.2 holding N parcels with realistic histories.

    python bench/fake_seventeentrack.py --parcels 10000 [--port 0] [--seed 1]

Prints `PORT <n>` once it listens. Speaks `POST /track/v2.2/register` and `/gettrackinfo`
(header `17token`, at most 40 numbers) in the documented v2.2 shapes. `POST /bench/advance` with
`{"share": 0.1}` gives that share of parcels one new checkpoint (the "10% changed" cycle).

Parcels carry 10 to 30 events, an ETA window and a mix of non-final statuses (in transit,
customs, at the post office, out for delivery, ...), so every cycle checks every parcel.
"""

from __future__ import annotations

import argparse
import asyncio
import random
from datetime import UTC, datetime, timedelta, timezone

from aiohttp import web

_STATES = [  # (latest status, sub status, share)
    ("InTransit", "InTransit_Other", 0.5),
    ("InTransit", "InTransit_CustomsProcessing", 0.15),
    ("AvailableForPickup", "AvailableForPickup_Other", 0.15),
    ("OutForDelivery", "OutForDelivery_Other", 0.1),
    ("InfoReceived", "InfoReceived", 0.1),
]
_PLACES = ["Shenzhen", "Guangzhou", "Urumqi", "Almaty", "Moscow", "Podolsk", "Kazan", "Tver"]
_TEXTS = [
    "Departed from sorting center",
    "Arrived at sorting center",
    "Handed over to airline",
    "Customs clearance",
    "Arrived at delivery office",
    "Accepted by carrier",
]


MOSCOW = timezone(timedelta(hours=3))


def number_of(i: int) -> str:
    return f"RB{i:09d}CN"


def _event(at: datetime, rng: random.Random, sub_status: str) -> dict[str, object]:
    return {
        "time_iso": at.astimezone(MOSCOW).isoformat(),
        "time_utc": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "description": rng.choice(_TEXTS),
        "location": rng.choice(_PLACES),
        "stage": "",
        "sub_status": sub_status,
    }


class Parcels:
    def __init__(self, count: int, seed: int) -> None:
        self.rng = random.Random(seed)
        # Histories end in the last few days, as a watched, moving parcel's would.
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        self.items: dict[str, dict[str, object]] = {}
        weights = [share for *_, share in _STATES]
        for i in range(count):
            status, sub, _ = self.rng.choices(_STATES, weights)[0]
            steps = [
                timedelta(hours=self.rng.randint(3, 30)) for _ in range(self.rng.randint(10, 30))
            ]
            at = now - timedelta(hours=self.rng.randint(1, 72)) - sum(steps, timedelta())
            events = []
            for step in steps:
                at += step
                events.append(_event(at, self.rng, "InTransit_Other"))
            events[-1]["sub_status"] = sub
            eta_from = (at + timedelta(days=self.rng.randint(2, 10))).date()
            self.items[number_of(i)] = {
                "latest_status": {"status": status, "sub_status": sub, "sub_status_descr": None},
                "events": events,
                "eta": [eta_from.isoformat(), (eta_from + timedelta(days=5)).isoformat()],
            }

    def advance(self, share: float) -> int:
        chosen = self.rng.sample(sorted(self.items), int(len(self.items) * share))
        for number in chosen:
            events = self.items[number]["events"]
            last = datetime.fromisoformat(events[-1]["time_iso"])  # type: ignore[index]
            events.append(_event(last + timedelta(hours=6), self.rng, "InTransit_Other"))  # type: ignore[attr-defined]
        return len(chosen)

    def track_info(self, number: str) -> dict[str, object]:
        item = self.items[number]
        events = list(reversed(item["events"]))  # type: ignore[call-overload]
        eta_from, eta_to = item["eta"]  # type: ignore[misc]
        return {
            "latest_status": item["latest_status"],
            "latest_event": events[0],
            "time_metrics": {
                "days_after_order": 20,
                "days_of_transit": 18,
                "estimated_delivery_date": {
                    "source": "Official",
                    "from": f"{eta_from}T00:00:00+03:00",
                    "to": f"{eta_to}T00:00:00+03:00",
                },
            },
            "tracking": {
                "providers_hash": 1,
                "providers": [
                    {
                        "provider": {
                            "key": 3011,
                            "name": "China Post",
                            "alias": "China Post",
                            "country": "CN",
                        },
                        "service_type": None,
                        "latest_sync_status": "Success",
                        "events_hash": len(events),
                        "events": events,
                    }
                ],
            },
            "misc_info": {"local_number": None, "local_provider": None},
        }


def app(parcels: Parcels) -> web.Application:
    async def register(request: web.Request) -> web.Response:
        body = await request.json()
        accepted = [{"number": item["number"], "carrier": 3011} for item in body]
        return web.json_response({"code": 0, "data": {"accepted": accepted, "rejected": []}})

    async def gettrackinfo(request: web.Request) -> web.Response:
        body = await request.json()
        if len(body) > 40:
            return web.json_response(
                {
                    "code": 0,
                    "data": {"errors": [{"code": -18010014, "message": "more than 40 numbers"}]},
                }
            )
        accepted, rejected = [], []
        for item in body:
            number = item["number"]
            if number in parcels.items:
                accepted.append(
                    {
                        "number": number,
                        "carrier": 3011,
                        "param": None,
                        "tag": "",
                        "track_info": parcels.track_info(number),
                    }
                )
            else:
                rejected.append(
                    {"number": number, "error": {"code": -18019902, "message": "not registered"}}
                )
        return web.json_response({"code": 0, "data": {"accepted": accepted, "rejected": rejected}})

    async def advance(request: web.Request) -> web.Response:
        share = float((await request.json())["share"])
        return web.json_response({"changed": parcels.advance(share)})

    application = web.Application()
    application.router.add_post("/track/v2.2/register", register)
    application.router.add_post("/track/v2.2/gettrackinfo", gettrackinfo)
    application.router.add_post("/bench/advance", advance)
    return application


async def serve(parcels: Parcels, port: int) -> None:
    runner = web.AppRunner(app(parcels), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    print(f"PORT {runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()  # until the benchmark terminates this process


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parcels", type=int, default=10_000)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(serve(Parcels(args.parcels, args.seed), args.port))


if __name__ == "__main__":
    main()
