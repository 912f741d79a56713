"""Serving the API: an async context manager that binds on enter and shuts down on exit."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self

import structlog
from aiohttp import web

log = structlog.get_logger("monitor.http")

SHUTDOWN_TIMEOUT_S = 3.0  # open requests get this long to finish when the daemon stops


class HttpServer:
    """`async with HttpServer(app, host=..., port=...) as server:`; port 0 binds a free port."""

    def __init__(self, app: web.Application, *, host: str, port: int) -> None:
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
        self._host = host
        self._port = port
        self.port = port  # the bound port once entered

    async def __aenter__(self) -> Self:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            raise
        self.port = self._runner.addresses[0][1]
        log.info("monitor.http.listening", host=self._host, port=self.port)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._runner.cleanup()


async def serve_forever(
    app: web.Application, *, host: str, port: int, retry_s: float = 30.0
) -> None:
    """Serve until cancelled.

    A port that cannot be bound (another program holds it) is tried again every `retry_s`: the
    API is a convenience, and the warnings must keep flowing without it. Logged once when
    binding fails and once when it works again.
    """
    failing = False
    while True:
        try:
            async with HttpServer(app, host=host, port=port):
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
