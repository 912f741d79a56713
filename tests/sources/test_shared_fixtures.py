"""Replay the real sample payloads in ../shared/fixtures through the sources, when present.

Those files are reference material kept outside the repository; these tests skip without them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from parcel_monitor_plugins.cainiao import CainiaoSettings, CainiaoSource
from parcel_monitor_plugins.russianpost import RussianPostSettings, RussianPostSource
from parcel_monitor_plugins.seventeentrack import SeventeenTrackSettings, SeventeenTrackSource

from monitor.model import Destination, Point, Snapshot, Status
from monitor.plugin import SourceContext, SourceError

from .conftest import Pushes

FIXTURES = Path(__file__).parents[2].parent / "shared" / "fixtures"
pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"no fixtures at {FIXTURES}")


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def static(body: bytes, status: int = 200, content_type: str = "application/json") -> Any:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, status=status, content_type=content_type)

    return handler


async def test_cainiao_samples(serve: Any, context: SourceContext) -> None:
    bodies = {
        "RS0814398526Y": load("cainiao/global_detail_json_RS0814398526Y.dir01-parcels.json"),
        "UZ0556033196Y": load("cainiao/global_detail_json_UZ0556033196Y.dir01-parcels.json"),
        "AE010698498": load("cainiao/global_detail_json_AE010698498.dir01-parcels.body.json"),
    }

    async def detail(request: web.Request) -> web.Response:
        return web.Response(body=bodies[request.query["mailNos"]], content_type="application/json")

    app = web.Application()
    app.router.add_get("/global/detail.json", detail)
    source = CainiaoSource(CainiaoSettings(base_url=await serve(app)), context)
    results = {n: (await source.lookup([n]))[n] for n in bodies}

    customs_done = results["RS0814398526Y"]
    assert isinstance(customs_done, Snapshot)
    assert customs_done.status is Status.IN_TRANSIT  # CC_IM_SUCCESS: released by customs
    assert (len(customs_done.checkpoints), customs_done.carrier) == (14, "Israelpost")
    assert customs_done.eta is not None
    preparing = results["UZ0556033196Y"]
    assert isinstance(preparing, Snapshot)
    assert (preparing.status, preparing.checkpoints) == (Status.INFO_RECEIVED, ())
    long_history = results["AE010698498"]
    assert isinstance(long_history, Snapshot)
    assert len(long_history.checkpoints) == 19
    assert {c.status for c in long_history.checkpoints} >= {Status.INFO_RECEIVED, Status.CUSTOMS}
    # destCountry "Israel" in all three answers, even the one without events.
    assert {r.destination for r in (customs_done, preparing, long_history)} == {Destination("IL")}


async def test_17track_samples(serve: Any, context: SourceContext) -> None:
    push = json.loads(load("17track/v2_webhook_TRACKING_UPDATED_dhl-paket.json"))
    answer = json.dumps({"code": 0, "data": {"accepted": [push["data"]], "rejected": []}})
    app = web.Application()
    app.router.add_post(
        "/track/v2.2/register", static(load("17track/v1_register_existing_response.py17track.json"))
    )
    app.router.add_post("/track/v2.2/gettrackinfo", static(answer.encode()))
    settings = SeventeenTrackSettings(
        api_key="k", base_url=await serve(app), requests_per_second=1000
    )
    snapshot = (await SeventeenTrackSource(settings, context).lookup(["1234567890"]))["1234567890"]

    assert isinstance(snapshot, Snapshot)
    assert (snapshot.status, snapshot.carrier) == (Status.EXCEPTION, "DHL Paket")
    [pickup] = snapshot.checkpoints
    assert pickup.status is Status.AT_POST_OFFICE  # its stage says so
    assert pickup.point is Point.PICKUP_POINT  # "available for pick-up from the retail outlet"
    assert snapshot.destination == Destination("DE", "")  # recipient_address, no postal code
    assert context.cursors.get("registered:1234567890")


async def test_17track_error_sample(serve: Any, context: SourceContext) -> None:
    app = web.Application()
    error = static(load("17track/v1_error_response.py17track.json"), status=401)
    app.router.add_post("/track/v2.2/register", error)
    settings = SeventeenTrackSettings(
        api_key="k", base_url=await serve(app), requests_per_second=1000
    )
    with pytest.raises(SourceError, match="Access token is invalid"):
        await SeventeenTrackSource(settings, context).lookup(["1234567890"])


async def test_17track_webhook_sample(
    serve: Any, context: SourceContext, pushes: Pushes, http: aiohttp.ClientSession
) -> None:
    source = SeventeenTrackSource(SeventeenTrackSettings(api_key="hook-key"), context)
    app = web.Application()
    app.add_routes(source.webhook_routes())
    body = load("17track/v2_webhook_TRACKING_UPDATED_dhl-paket.json")
    sign = hashlib.sha256(body + b"/hook-key").hexdigest()
    async with http.post(await serve(app) + "/", data=body,
                         headers={"sign": sign}) as response:  # fmt: skip
        assert response.status == 200
    [snapshot] = pushes.received
    assert (snapshot.number, snapshot.status) == ("1234567890", Status.EXCEPTION)


async def test_russianpost_samples(serve: Any, context: SourceContext) -> None:
    soap = "application/soap+xml"
    app = web.Application()
    good = load("russianpost/rtm34_getOperationHistory_response.go-russianpost-example.xml")
    app.router.add_post("/rtm34", static(good, content_type=soap))
    settings = RussianPostSettings(login="l", password="p", base_url=await serve(app))
    snapshot = (await RussianPostSource(settings, context).lookup(["44334455667733"]))[
        "44334455667733"
    ]
    assert isinstance(snapshot, Snapshot)
    assert snapshot.status is Status.DELIVERED
    assert len(snapshot.checkpoints) == 8
    arrived = snapshot.checkpoints[-2]
    assert (arrived.status, arrived.point) == (Status.AT_POST_OFFICE, Point.OFFICE)  # 8.2
    assert [c.postcode for c in snapshot.checkpoints] == [
        "443063", "443960", "443960", "140983", "140980", "170000", "170100", "170100"
    ]  # fmt: skip
    # DestinationAddress/Index of the first record, MailDirect's Code2A for the country.
    assert snapshot.destination == Destination("RU", "170971")

    # The specification's own example is not well-formed XML (an unclosed element).
    broken = web.Application()
    doc = load("russianpost/rtm34_getOperationHistory_response.doc.xml")
    broken.router.add_post("/rtm34", static(doc, content_type=soap))
    settings = RussianPostSettings(login="l", password="p", base_url=await serve(broken))
    with pytest.raises(SourceError, match="invalid XML"):
        await RussianPostSource(settings, context).lookup(["EA123456789RU"])
