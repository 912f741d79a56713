"""Serving the API: an async context manager that binds on enter and shuts down on exit.

The server protects itself (and the daemon) from many slow or idle clients: at most
`max_connections` are open, and each must send its first request head within
`header_timeout`. When all places are taken, the connection that has waited longest without
sending a whole request head is closed for the newcomer, so a flood of slow connections cannot
keep `/healthz` out. Running out of file descriptors is logged once, not per connection.
"""

from __future__ import annotations

import asyncio
import errno
import os
import resource
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import structlog
from aiohttp import web

log = structlog.get_logger("monitor.http")

SHUTDOWN_TIMEOUT_S = 3.0  # open requests get this long to finish when the daemon stops
MAX_CONNECTIONS = 256
HEADER_TIMEOUT_S = 10.0
RESOURCE_LOG_EVERY_S = 600.0
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class HttpServer:
    """`async with HttpServer(app, host=..., port=...) as server:`; port 0 binds a free port."""

    def __init__(
        self,
        app: web.Application,
        *,
        host: str,
        port: int,
        max_connections: int = MAX_CONNECTIONS,
        header_timeout: float = HEADER_TIMEOUT_S,
    ) -> None:
        self._runner = web.AppRunner(
            app,
            access_log=None,
            shutdown_timeout=SHUTDOWN_TIMEOUT_S,
            keepalive_timeout=header_timeout,  # an idle connection holds a place too
        )
        self._host = host
        self._port = port
        self._max_connections = max_connections
        self._header_timeout = header_timeout
        self._server: asyncio.Server | None = None
        self._restore_handler: Callable[[], None] | None = None
        self.port = port  # the bound port once entered
        self.gate: ConnectionGate | None = None

    async def __aenter__(self) -> Self:
        await self._runner.setup()
        loop = asyncio.get_running_loop()
        assert self._runner.server is not None
        self.gate = ConnectionGate(
            self._runner.server,
            limit=_within_descriptor_limit(self._max_connections),
            header_timeout=self._header_timeout,
        )
        try:
            self._server = await loop.create_server(self.gate, self._host, self._port)
        except OSError:
            await self._runner.cleanup()
            raise
        self._restore_handler = _log_resource_errors_once(loop)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("monitor.http.listening", host=self._host, port=self.port)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
        if self._restore_handler is not None:
            self._restore_handler()
        await self._runner.cleanup()  # closes the open connections after their requests


class ConnectionGate:
    """A protocol factory wrapping aiohttp's: counts connections, times out slow heads."""

    def __init__(
        self, factory: Callable[[], asyncio.Protocol], *, limit: int, header_timeout: float
    ) -> None:
        self._factory = factory
        self.limit = limit
        self.header_timeout = header_timeout
        self.open = 0
        self.evicted = 0
        self._waiting: dict[_Gated, None] = {}  # no whole request head yet, oldest first
        self._full = False

    def __call__(self) -> asyncio.Protocol:
        return _Gated(self)

    def admit(self, connection: _Gated) -> bool:
        if self.open >= self.limit:
            if not self._full:
                self._full = True
                log.warning(
                    "monitor.http.connections_full",
                    limit=self.limit,
                    action="closing the connections that wait longest without a request",
                )
            if not self._waiting:
                return False  # every place serves a request: the newcomer waits outside
            oldest = next(iter(self._waiting))
            oldest.drop()
            self.evicted += 1
        self.open += 1
        self._waiting[connection] = None
        return True

    def started(self, connection: _Gated) -> None:
        self._waiting.pop(connection, None)

    def closed(self, connection: _Gated) -> None:
        self._waiting.pop(connection, None)
        self.open -= 1
        if self._full and self.open <= self.limit // 2:
            self._full = False
            log.info("monitor.http.connections_normal", open=self.open, evicted=self.evicted)

    def inner(self) -> asyncio.Protocol:
        return self._factory()


class _Gated(asyncio.Protocol):
    """One connection: aiohttp's protocol behind a doorman."""

    def __init__(self, gate: ConnectionGate) -> None:
        self._gate = gate
        self._inner: asyncio.Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._tail = b""
        self._counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if not self._gate.admit(self):
            transport.write(_BUSY)
            transport.close()
            return
        self._counted = True
        self._inner = self._gate.inner()
        self._inner.connection_made(transport)
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._gate.header_timeout, self.drop)

    def drop(self) -> None:
        """Close at once (too slow, or evicted for a newcomer)."""
        if self._counted:
            self._counted = False
            self._gate.closed(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None:
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._inner is None:
            return
        if self._timer is not None:
            seen = self._tail + data
            if b"\r\n\r\n" in seen:
                self._timer.cancel()
                self._timer = None
                self._gate.started(self)
            else:
                self._tail = seen[-3:]
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._counted:
            self._counted = False
            self._gate.closed(self)
        if self._inner is not None:
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()


def _within_descriptor_limit(wanted: int) -> int:
    """`wanted`, or half the process's file descriptor limit if that is less.

    Each connection costs a descriptor; the rest (database, sources, MQTT, journal) need theirs.
    Past the limit `accept()` fails and nothing, not even /healthz, gets in.
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or wanted <= soft // 2:
        return wanted
    allowed = max(8, soft // 2)
    log.warning(
        "monitor.http.connections_limited",
        max_connections=wanted,
        allowed=allowed,
        open_files_limit=soft,
        hint="raise LimitNOFILE= in the unit or lower http.max_connections",
    )
    return allowed


def _log_resource_errors_once(loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """Route "out of file descriptors" errors of `accept()` to one log line per 10 minutes.

    asyncio reports each failed accept with a traceback; under a connection flood that is
    thousands of lines a second. Returns a function that puts the previous handler back.
    """
    previous = loop.get_exception_handler()
    last: list[float] = []
    suppressed = [0]

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in _OUT_OF_RESOURCES:
            now = loop.time()
            if last and now - last[0] < RESOURCE_LOG_EVERY_S:
                suppressed[0] += 1
                return
            log.error(
                "monitor.http.out_of_resources",
                reason=os.strerror(exc.errno or 0),
                hint="raise LimitNOFILE= in the unit or lower http.max_connections",
                repeats_since_last_report=suppressed[0],
            )
            last[:] = [now]
            suppressed[0] = 0
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
    return lambda: loop.set_exception_handler(previous)


async def serve_forever(
    app: web.Application,
    *,
    host: str,
    port: int,
    retry_s: float = 30.0,
    max_connections: int = MAX_CONNECTIONS,
    header_timeout: float = HEADER_TIMEOUT_S,
) -> None:
    """Serve until cancelled.

    A port that cannot be bound (another program holds it) is tried again every `retry_s`: the
    API is a convenience, and the warnings must keep flowing without it. Logged once when
    binding fails and once when it works again.
    """
    failing = False
    while True:
        try:
            async with HttpServer(
                app,
                host=host,
                port=port,
                max_connections=max_connections,
                header_timeout=header_timeout,
            ):
                if failing:
                    log.info("monitor.http.bind_recovered", host=host, port=port)
                await asyncio.Event().wait()
        except OSError as exc:
            if not failing:
                log.error(
                    "monitor.http.bind_failed",
                    host=host,
                    port=port,
                    reason=exc.strerror or str(exc),
                    retry_every_s=retry_s,
                )
            failing = True
            await asyncio.sleep(retry_s)
