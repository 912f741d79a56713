"""The HTTP API served for real on a free port: auth, validation, the timeline, health, metrics,
and the webhook routes of source plugins."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from monitor.health import Health, notifier_check, sources_check, store_check
from monitor.pipeline import Pipeline
from monitor.plugin import BaseSource
from monitor.tracking.poller import SourceHealth
from monitor.web.api import build_app, metrics_renderer
from monitor.web.server import HttpServer
from tests import builders

TOKEN = "s3cret-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class HookedSource(BaseSource):
    """A source that takes pushes from its carrier and has a handler that fails."""

    name = "hooked"

    def webhook_routes(self) -> list[web.RouteDef]:
        async def push(request: web.Request) -> web.Response:
            return web.json_response({"got": await request.json()})

        async def broken(request: web.Request) -> web.Response:
            raise RuntimeError("secret internals /etc/passwd")

        return [web.post("/push", push), web.get("/broken", broken)]


@dataclass
class Api:
    pipeline: Pipeline
    session: aiohttp.ClientSession
    base: str

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        raw: str | None = None,
    ) -> tuple[int, Any]:
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        async with self.session.request(
            method, self.base + path, data=data, headers=headers
        ) as response:
            text = await response.text()
            if response.content_type == "application/json":
                return response.status, json.loads(text)
            return response.status, text


async def serve(pipeline: Pipeline, token: str | None) -> AsyncIterator[Api]:
    health = Health()
    health.add("store", store_check(pipeline.store))
    health.add("sources", sources_check(pipeline.poller))
    health.add("notifier", notifier_check(pipeline.store))
    source = HookedSource(HookedSource.Settings(), None)  # type: ignore[arg-type]
    app = build_app(
        store=pipeline.store,
        orders=pipeline.orders,
        health=health,
        metrics_text=metrics_renderer(pipeline.store, pipeline.poller, None),
        token=token,
        sources={"hooked": source},
    )
    async with HttpServer(app, host="127.0.0.1", port=0) as server, aiohttp.ClientSession() as s:
        yield Api(pipeline, s, f"http://127.0.0.1:{server.port}")


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async for running in serve(builders.pipeline(tmp_path), TOKEN):
        yield running


NEW = {
    "id": "5001",
    "ordered": "2026-01-10",
    "title": "Kettle",
    "track": "RA100000001CN",
    "protection_days": 60,
}


async def test_with_a_token_reads_and_changes_need_it(api: Api) -> None:
    for path in ("/api/orders", "/api/orders/5001", "/metrics"):
        status, body = await api.call("GET", path)
        assert status == 401 and body == {"error": "a valid bearer token is required"}
    assert (await api.call("GET", "/api/orders", headers=AUTH)) == (200, [])
    assert (await api.call("GET", "/healthz"))[0] == 200  # liveness checks carry no token
    status, body = await api.call("POST", "/api/orders", NEW)
    assert status == 401 and body == {"error": "a valid bearer token is required"}
    status, _ = await api.call(
        "POST", "/api/orders", NEW, headers={"Authorization": "Bearer wrong"}
    )
    assert status == 401
    for method, path in (
        ("PATCH", "/api/orders/5001"),
        ("DELETE", "/api/orders/5001"),
        ("POST", "/api/orders/5001/close"),
    ):
        assert (await api.call(method, path, {"title": "x"}))[0] == 401
    assert api.pipeline.store.views() == []
    status, body = await api.call("POST", "/api/orders", NEW, headers=AUTH)
    assert status == 201 and body["id"] == "5001" and body["tracks"] == ["RA100000001CN"]


async def test_without_a_configured_token_nothing_can_be_changed(tmp_path: Path) -> None:
    async for api in serve(builders.pipeline(tmp_path), None):
        status, body = await api.call("POST", "/api/orders", NEW, headers=AUTH)
        assert status == 403 and "http.token" in body["error"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"id": "5001", "ordered": "10/01/2026"}, "ordered: '10/01/2026' is not a date; write"),
        ({"id": "5001", "ordered": "2026-01-10T09:00:00"}, "has no UTC offset"),
        ({"id": "5001"}, "ordered: Field required"),
        ({"id": "5001", "ordered": "2026-01-10", "colour": "red"}, "colour: unknown field"),
        ({"id": "5001", "ordered": "2026-01-10", "protection_days": 0}, "protection_days: Input "),
        ({"id": "5001", "ordered": "2026-01-10", "paid": "2026-01-01"}, "is before ordered_at"),
        (
            {
                "id": "5001",
                "ordered": "2026-01-10",
                "protection_days": 5,
                "protection_until": "2026-03-01",
            },
            "not both",
        ),
        ({"id": "5001", "ordered": 20260110}, "expected a date as a string"),
        ([1, 2], "expected a JSON object"),
        ({"id": "5001", "ordered": "2026-01-10", "protection_days": 3_000_000}, "protection_days"),
        ({"id": "5001", "ordered": "2026-01-10", "track": "   "}, "it has spaces"),
        ({"id": " 5001 ", "ordered": "2026-01-10"}, "has spaces around it"),
        ({"id": "5001", "ordered": "2026-01-10", "promised": "2026-01-20junk"}, "is not a date"),
    ],
)
async def test_bad_fields_are_400_with_the_reason_and_change_nothing(
    api: Api, body: Any, reason: str
) -> None:
    status, answer = await api.call("POST", "/api/orders", body, headers=AUTH)
    assert status == 400, answer
    assert reason in answer["error"]
    assert api.pipeline.store.views() == []


async def test_bad_json_unknown_ids_and_duplicates(api: Api) -> None:
    status, body = await api.call("POST", "/api/orders", raw="{nope", headers=AUTH)
    assert status == 400 and body["error"].startswith("the body is not JSON")
    assert (await api.call("GET", "/api/orders/none", headers=AUTH))[0] == 404
    assert (await api.call("PATCH", "/api/orders/none", {"title": "x"}, headers=AUTH))[0] == 404
    assert (await api.call("DELETE", "/api/orders/none", headers=AUTH))[0] == 404
    assert (await api.call("POST", "/api/orders/none/close", headers=AUTH))[0] == 404
    assert (await api.call("GET", "/nowhere", headers=AUTH)) == (404, {"error": "Not Found"})
    assert (await api.call("POST", "/api/orders", NEW, headers=AUTH))[0] == 201
    status, body = await api.call("POST", "/api/orders", NEW, headers=AUTH)
    assert status == 409 and "already exists" in body["error"]


async def test_update_close_remove_and_the_timeline(api: Api) -> None:
    await api.call("POST", "/api/orders", NEW, headers=AUTH)
    status, body = await api.call("PATCH", "/api/orders/5001", {"paid": "2026-01-09"}, headers=AUTH)
    assert status == 400 and "is before ordered_at" in body["error"]
    status, body = await api.call("PATCH", "/api/orders/5001", {}, headers=AUTH)
    assert status == 400 and body["error"] == "nothing to change"
    status, body = await api.call(
        "PATCH", "/api/orders/5001", {"title": "Red kettle", "promised": "2026-02-20"}, headers=AUTH
    )
    assert status == 200 and body["title"] == "Red kettle" and body["promised_by"] == "2026-02-20"
    assert body["muted"] is False
    status, body = await api.call("PATCH", "/api/orders/5001", {"muted": True}, headers=AUTH)
    assert status == 200 and body["muted"] is True and api.pipeline.orders.get("5001").order.muted
    status, body = await api.call("PATCH", "/api/orders/5001", {"muted": "yes"}, headers=AUTH)
    assert status == 400 and body["error"].startswith("muted:")
    status, body = await api.call("PATCH", "/api/orders/5001", {"muted": False}, headers=AUTH)
    assert status == 200 and body["muted"] is False

    api.pipeline.differ.apply([builders.moved("RA100000001CN")])
    status, timeline = await api.call("GET", "/api/orders/5001", headers=AUTH)
    assert status == 200
    assert timeline["status"] == "in_transit"
    assert [(c["status"], c["location"]) for c in timeline["checkpoints"]] == [
        ("info_received", ""),
        ("in_transit", "Shenzhen"),
    ]
    assert timeline["eta_history"][-1]["eta"] == ["2026-02-01", "2026-02-10"]
    assert "stalled" in {w["rule"] for w in timeline["warnings"]}  # January, on the real clock

    assert (await api.call("POST", "/api/orders/5001/close", headers=AUTH))[1]["closed"] is True
    assert (await api.call("GET", "/api/orders", headers=AUTH))[1] == []
    _, everything = await api.call("GET", "/api/orders?all=1", headers=AUTH)
    assert [o["id"] for o in everything] == ["5001"]
    assert (await api.call("DELETE", "/api/orders/5001", headers=AUTH))[0] == 204
    assert (await api.call("GET", "/api/orders/5001", headers=AUTH))[0] == 404


async def test_health_reports_what_is_wrong(api: Api) -> None:
    assert await api.call("GET", "/healthz") == (
        200,
        {"status": "ok", "checks": {"store": "ok", "sources": "ok", "notifier": "ok"}},
    )
    api.pipeline.poller.set_health(
        "17track", SourceHealth(failing_since=0.0, failures=3, last_error="HTTP 503")
    )
    status, body = await api.call("GET", "/healthz")
    assert status == 503 and body["status"] == "degraded"
    assert body["checks"]["sources"] == "17track: HTTP 503 (3 failed polls in a row)"
    assert body["checks"]["store"] == "ok"


async def test_health_reports_notifications_that_failed(api: Api) -> None:
    await api.call("POST", "/api/orders", NEW, headers=AUTH)
    alert_id = api.pipeline.store.record_alert(builders.alert("5001", title="Test"))
    api.pipeline.store._conn.execute(
        "UPDATE outbox SET state = 'failed', attempts = 5, last_error = 'SMTP 550' "
        "WHERE alert_id = ?",
        (alert_id,),
    )
    status, body = await api.call("GET", "/healthz")
    assert status == 503
    assert body["checks"]["notifier"] == "1 notifications failed (last error: SMTP 550)"


async def test_metrics_in_prometheus_text(api: Api) -> None:
    await api.call("POST", "/api/orders", NEW, headers=AUTH)
    await api.call("POST", "/api/orders", {"id": "5002", "ordered": "2026-01-10"}, headers=AUTH)
    api.pipeline.differ.apply([builders.moved("RA100000001CN")])
    api.pipeline.poller.set_health("test", SourceHealth(polls=4, last_poll_s=0.25))
    async with api.session.get(api.base + "/metrics", headers=AUTH) as response:
        assert response.content_type == "text/plain"
        text = await response.text()
    samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    assert samples['parcel_monitor_orders{status="in_transit"}'] == "1"
    assert samples['parcel_monitor_orders{status="awaiting_track"}'] == "1"
    assert samples["parcel_monitor_orders_closed"] == "0"
    assert samples['parcel_monitor_polls_total{source="test"}'] == "4"
    assert samples['parcel_monitor_poll_duration_seconds{source="test"}'] == "0.25"
    assert samples['parcel_monitor_source_up{source="test"}'] == "1"
    assert int(samples['parcel_monitor_warnings_total{severity="warning"}']) >= 1
    assert samples['parcel_monitor_notifications{state="pending"}'] != "0"
    assert samples['parcel_monitor_notifications{state="sent"}'] == "0"
    assert samples['parcel_monitor_notifications{state="muted"}'] == "0"
    assert "# TYPE parcel_monitor_polls_total counter" in text


async def test_source_webhooks_are_mounted_and_failures_hide_their_details(api: Api) -> None:
    status, body = await api.call("POST", "/hooks/hooked/push", {"number": "RA1"})
    assert (status, body) == (200, {"got": {"number": "RA1"}})  # no bearer: the source checks
    status, body = await api.call("GET", "/hooks/hooked/broken")
    assert (status, body) == (500, {"error": "internal error"})


async def test_a_body_claiming_an_unknown_charset_is_read_as_utf8_json(api: Api) -> None:
    status, answer = await api.call(
        "POST",
        "/api/orders",
        raw='{"id": "5002", "ordered": "2026-01-10"}',
        headers={**AUTH, "Content-Type": "application/json; charset=bogus"},
    )
    assert status == 201, answer


async def test_an_order_at_a_pick_up_point_shows_its_stay_destination_and_warning(
    api: Api,
) -> None:
    assert (await api.call("POST", "/api/orders", NEW, headers=AUTH))[0] == 201
    api.pipeline.differ.apply([builders.in_locker("RA100000001CN")])
    status, body = await api.call("GET", "/api/orders/5001", headers=AUTH)
    assert status == 200
    assert body["stay"] == {
        "since": "2026-01-20T09:00:00+00:00",
        "point": "locker",
        "storage_until": None,
        "postcode": "190013",
        "location": "Saint Petersburg",
    }
    assert body["destination"] == {"country": "RU", "postcode": "190013"}
    assert {w["rule"] for w in body["warnings"]} == {"storage_ending", "stuck_at_post_office"}
    status, listed = await api.call("GET", "/api/orders", headers=AUTH)
    assert listed[0]["stay"]["point"] == "locker"
