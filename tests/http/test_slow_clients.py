"""Hundreds of slow connections (slowloris): /healthz still answers, the log stays short."""

from __future__ import annotations

import asyncio
import errno
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from structlog.testing import capture_logs

from monitor.health import Health
from monitor.web.api import build_app, metrics_renderer
from monitor.web.server import HttpServer
from tests import builders

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 32
SLOW = 200


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[HttpServer]:
    pipeline = builders.pipeline(tmp_path)
    app = build_app(
        store=pipeline.store,
        orders=pipeline.orders,
        health=Health(),
        metrics_text=metrics_renderer(pipeline.store, pipeline.poller, None),
        token=None,
    )
    async with HttpServer(
        app, host="127.0.0.1", port=0, max_connections=LIMIT, header_timeout=1.0
    ) as running:
        yield running


async def test_slow_connections_do_not_keep_healthz_out(server: HttpServer) -> None:
    port = server.port
    head = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode()  # never finished
    slow: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    with capture_logs() as logs:
        try:
            for _ in range(SLOW):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(head)
                slow.append((reader, writer))
            await asyncio.sleep(0)  # let the server take them in
            started = time.monotonic()
            async with (
                aiohttp.ClientSession() as http,
                asyncio.timeout(5),
                http.get(f"http://127.0.0.1:{port}/healthz") as response,
            ):
                assert response.status == 200
            assert time.monotonic() - started < 1.0
            assert server.gate is not None and server.gate.open <= LIMIT
            # The newest slow ones that kept a place are closed when their head time is up.
            async with asyncio.timeout(5):
                assert await slow[-1][0].read() == b""
        finally:
            for _, writer in slow:
                writer.close()
    http_lines = [entry for entry in logs if entry["event"].startswith("monitor.http")]
    assert len(http_lines) <= 2, http_lines
    assert not [entry for entry in logs if entry["log_level"] in ("error", "critical")]


async def test_more_slow_connections_than_open_files(tmp_path: Path) -> None:
    """The incident: more slow clients than the process may open files (here 128, not 1,024)."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.http.slow_server",
        "128",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert child.stdout is not None
    slow: list[asyncio.StreamWriter] = []
    try:
        async with asyncio.timeout(20):
            while not (line := await child.stdout.readline()).startswith(b"PORT "):
                assert line, "the server did not start"
        port = int(line.split()[1])
        head = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode()
        for _ in range(300):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(head)
            slow.append(writer)
        async with (
            aiohttp.ClientSession() as http,
            asyncio.timeout(5),
            http.get(f"http://127.0.0.1:{port}/healthz") as response,
        ):
            assert response.status == 200
    finally:
        for writer in slow:
            writer.close()
        child.terminate()
        output = (await child.communicate())[0].decode()
    lines = output.splitlines()
    assert "Traceback" not in output
    assert len(lines) <= 3, output[:2000]  # bound port, limited connections, full once


async def test_running_out_of_file_descriptors_is_logged_once(server: HttpServer) -> None:
    loop = asyncio.get_running_loop()
    error = OSError(errno.EMFILE, os.strerror(errno.EMFILE))
    with capture_logs() as logs:
        for _ in range(1000):  # what asyncio reports for each failed accept()
            loop.call_exception_handler(
                {"message": "socket.accept() out of system resource", "exception": error}
            )
    assert [entry["event"] for entry in logs] == ["monitor.http.out_of_resources"]
    assert "LimitNOFILE" in logs[0]["hint"]
