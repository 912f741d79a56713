"""Who may reach the API: the token for reads, the read token, the Host check against DNS
rebinding, loopback-only without a token; hostile input gives 4xx, never a 500."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from parcel_monitor_plugins.seventeentrack import SeventeenTrackSettings, SeventeenTrackSource
from structlog.testing import capture_logs

from monitor.clock import SimulatedClock
from monitor.health import Health
from monitor.pipeline import Pipeline
from monitor.plugin import SourceContext
from monitor.web.api import build_app, metrics_renderer
from monitor.web.server import HttpServer
from monitor.web.throttle import Throttle
from tests import builders

TOKEN, READ = "s3cret-token-0123456789", "read-only-token-0123"
NEW = {"id": "5001", "ordered": "2026-01-10"}


def app_for(pipeline: Pipeline, **options: object):  # type: ignore[no-untyped-def]
    return build_app(
        store=pipeline.store,
        orders=pipeline.orders,
        health=Health(),
        metrics_text=metrics_renderer(pipeline.store, pipeline.poller, None),
        **options,  # type: ignore[arg-type]
    )


async def raw(port: int, head: bytes, body: bytes = b"", host: str = "127.0.0.1") -> int:
    """Send exactly these bytes; the status code of the answer."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(head + b"\r\n" + body)
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    writer.close()
    return status


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[Pipeline, int]]:
    pipeline = builders.pipeline(tmp_path)
    app = app_for(pipeline, token=TOKEN, read_token=READ, allowed_hosts=("Parcels.Example.org",))
    async with HttpServer(app, host="127.0.0.1", port=0) as running:
        yield pipeline, running.port


async def test_the_read_token_reads_and_cannot_change(server: tuple[Pipeline, int]) -> None:
    pipeline, port = server
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/api/orders", headers={"Authorization": f"Bearer {READ}"}) as r:
            assert r.status == 200
        async with http.post(
            f"{base}/api/orders", json=NEW, headers={"Authorization": f"Bearer {READ}"}
        ) as r:
            assert r.status == 403 and "read token" in (await r.json())["error"]
        async with http.post(
            f"{base}/api/orders", json=NEW, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as r:
            assert r.status == 201
    assert [v.order.id for v in pipeline.store.views()] == ["5001"]


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("evil.example:{port}", 421),  # a rebound name pointing at 127.0.0.1
        ("evil.example", 421),
        ("", 400),  # HTTP/1.1 without Host: aiohttp refuses it itself
        ("127.0.0.1:{port}", 200),
        ("localhost:{port}", 200),
        ("LOCALHOST:{port}", 200),
        ("[::1]:{port}", 200),
        ("localhost:1", 421),  # another port: another origin
        ("parcels.example.org", 200),  # allowed_hosts, as a reverse proxy passes it
        ("parcels.example.org:443", 200),
        ("PARCELS.Example.ORG", 200),  # host names are case-insensitive
        ("LocalHost:{port}", 200),
        ("parcels.example.org.evil.example", 421),
    ],
)
async def test_only_our_own_names_are_answered(
    server: tuple[Pipeline, int], host: str, status: int
) -> None:
    _, port = server
    head = b"GET /api/orders HTTP/1.1\r\nAuthorization: Bearer " + TOKEN.encode() + b"\r\n"
    if host:
        head += f"Host: {host.format(port=port)}\r\n".encode()
    assert await raw(port, head) == status


async def test_hostile_requests_get_4xx_and_no_traceback(server: tuple[Pipeline, int]) -> None:
    pipeline, port = server
    host = f"Host: 127.0.0.1:{port}\r\n".encode()
    with capture_logs() as logs:
        # A bearer token that is not ASCII (and one that is not even UTF-8).
        for token in ("Bearer токен".encode(), b"Bearer \xff\xfe"):
            head = b"GET /api/orders HTTP/1.1\r\n" + host + b"Authorization: " + token + b"\r\n"
            assert await raw(port, head) == 401
        auth = f"Authorization: Bearer {TOKEN}\r\n".encode()
        deep = b"[" * 100_000 + b"]" * 100_000
        for body in (
            deep,
            b'{"id": "5001", "ordered": "2026-01-10", "title": "' + b"x" * 100 + b'"' * 2 + b"}",
        ):
            head = (
                b"POST /api/orders HTTP/1.1\r\n"
                + host
                + auth
                + f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n".encode()
            )
            assert await raw(port, head, body) == 400
    assert not [entry for entry in logs if entry["log_level"] in ("error", "critical")]
    assert pipeline.store.views() == []


async def test_without_a_token_reads_are_served_to_this_machine_only(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks an interface
            address = probe.getsockname()[0]
        except OSError:
            address = "127.0.0.1"
    if address.startswith("127."):
        pytest.skip("this machine has no address besides loopback")
    app = app_for(builders.pipeline(tmp_path), token=None)
    async with HttpServer(app, host="0.0.0.0", port=0) as running:
        port = running.port
        head = b"GET /api/orders HTTP/1.1\r\n"
        assert await raw(port, head + f"Host: 127.0.0.1:{port}\r\n".encode()) == 200
        remote = head + f"Host: {address}:{port}\r\n".encode()
        assert await raw(port, remote, host=address) == 403


async def test_the_17track_webhook_has_one_short_path(tmp_path: Path) -> None:
    pipeline = builders.pipeline(tmp_path)

    async def push(snapshots: object) -> None:
        raise AssertionError("an unsigned push must not get through")

    settings = SeventeenTrackSettings(api_key="hook-key")
    context = SourceContext(
        clock=pipeline.clock,
        http=lambda: None,
        cursors=None,
        push=push,  # type: ignore[arg-type]
    )
    app = app_for(
        pipeline, token=TOKEN, sources={"seventeentrack": SeventeenTrackSource(settings, context)}
    )
    async with HttpServer(app, host="127.0.0.1", port=0) as running:
        base = f"http://127.0.0.1:{running.port}"
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/hooks/seventeentrack", data=b"{}") as response:
                assert response.status == 401  # there, and checking the signature
            old = f"{base}/hooks/seventeentrack/webhooks/seventeentrack"
            async with http.post(old, data=b"{}") as response:
                assert response.status == 404


async def test_guessing_the_bearer_token_is_slowed_down(tmp_path: Path) -> None:
    pipeline = builders.pipeline(tmp_path)
    clock = SimulatedClock(datetime(2026, 3, 1, tzinfo=UTC))
    app = app_for(pipeline, token=TOKEN, read_token=READ, throttle=Throttle(clock))
    async with (
        HttpServer(app, host="127.0.0.1", port=0) as running,
        aiohttp.ClientSession() as http,
    ):
        base = f"http://127.0.0.1:{running.port}/api/orders"
        statuses = []
        with capture_logs() as logs:
            for attempt in range(300):
                wrong = {"Authorization": f"Bearer guess-{attempt:04d}-abcdefgh"}
                async with http.get(base, headers=wrong) as r:
                    statuses.append(r.status)
        assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}
        assert len(logs) <= 2 and all(line["remote"] == "127.0.0.1" for line in logs)
        async with http.get(base, headers={"Authorization": f"Bearer {TOKEN}"}) as r:
            assert r.status == 429 and 0 < int(r.headers["Retry-After"]) <= 60
        clock.set(clock.now() + timedelta(seconds=61))
        async with http.get(base, headers={"Authorization": f"Bearer {TOKEN}"}) as r:
            assert r.status == 200
