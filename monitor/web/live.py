"""The live feed: Server-Sent Events that tell an open page when to fetch itself again."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from monitor.events import (
    Event,
    OrderRemoved,
    OrderStateChanged,
    SourceFailed,
    SourceRecovered,
    WarningRaised,
)
from monitor.web.frame import desk_of, secured, signed_in

KEEPALIVE_S = 20.0
LIVE_EVENTS: tuple[type[Event], ...] = (
    OrderStateChanged,
    OrderRemoved,
    WarningRaised,
    SourceFailed,
    SourceRecovered,
)


async def live_events(request: web.Request) -> web.StreamResponse:
    """One `changed` event per burst of bus events (a poll cycle may publish thousands)."""
    desk = desk_of(request)
    if not signed_in(request):
        return secured(web.Response(status=401, text="sign in first"))
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    changed = asyncio.Event()
    unsubscribe = [desk.bus.subscribe(kind, lambda _: changed.set()) for kind in LIVE_EVENTS]
    try:
        await response.write(b"retry: 3000\n\n")
        while not desk.closing.is_set():
            waiters = [
                asyncio.ensure_future(changed.wait()),
                asyncio.ensure_future(desk.closing.wait()),
            ]
            _, pending = await asyncio.wait(
                waiters, timeout=KEEPALIVE_S, return_when=asyncio.FIRST_COMPLETED
            )
            for waiter in pending:
                waiter.cancel()
            if desk.closing.is_set():
                break
            if changed.is_set():
                changed.clear()
                await response.write(b"event: changed\ndata: 1\n\n")
                await asyncio.sleep(0.5)  # let the rest of a burst arrive before the next one
            else:
                await response.write(b": keep-alive\n\n")
    except ConnectionResetError:  # the browser went away
        pass
    finally:
        for undo in unsubscribe:
            undo()
    with contextlib.suppress(ConnectionResetError):
        await response.write_eof()
    return response
