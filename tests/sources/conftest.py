"""Fixtures for the tracking-source tests: real local HTTP servers, a context, a clock."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from monitor.model import Snapshot
from monitor.plugin import SourceContext

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)

# Handlers that must never answer wait on this app key; teardown releases them so the server
# can shut down at once instead of waiting for the handler.
HANG = web.AppKey("hang", asyncio.Event)


class MemoryCursors:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def set(self, key: str, value: str) -> None:
        self.values[key] = value

    def set_many(self, values: dict[str, str]) -> None:
        self.values.update(values)


class FixedClock:
    """Dates stand still at `now`; intervals run on the real monotonic clock."""

    def __init__(self, now: datetime = NOW) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def monotonic(self) -> float:
        return time.monotonic()


class Pushes:
    """A `context.push` that remembers what it was given."""

    def __init__(self) -> None:
        self.received: list[Snapshot] = []

    async def __call__(self, snapshots: Sequence[Snapshot]) -> None:
        self.received.extend(snapshots)


async def hang(request: web.Request) -> web.Response:
    await request.app[HANG].wait()
    return web.Response(status=504)


def new_app() -> web.Application:
    app = web.Application()
    app[HANG] = asyncio.Event()
    return app


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[web.Application], Awaitable[str]]]:
    """Start an app on a free 127.0.0.1 port and return its base URL."""
    servers: list[TestServer] = []

    async def start(app: web.Application) -> str:
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return f"http://127.0.0.1:{server.port}"

    yield start
    for server in servers:
        if HANG in server.app:
            server.app[HANG].set()
        await server.close()


@pytest.fixture
def closed_port_url() -> str:
    """A base URL nobody listens on: the port was free a moment ago and is closed again."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def cursors() -> MemoryCursors:
    return MemoryCursors()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def pushes() -> Pushes:
    return Pushes()


@pytest.fixture
def context(
    http: aiohttp.ClientSession, cursors: MemoryCursors, clock: FixedClock, pushes: Pushes
) -> SourceContext:
    return SourceContext(clock=clock, http=lambda: http, cursors=cursors, push=pushes)
