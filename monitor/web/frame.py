"""The frame every dashboard page shares: what the pages work with (`Desk`), the session read at
the start of a request, the security headers and the session cookie added at its end, and the
rendering of a template with the words, times and source health every page shows."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import tzinfo
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from monitor.bus import Bus
from monitor.clock import Clock
from monitor.notify.texts import Language
from monitor.orders import OrderBook
from monitor.store import Store
from monitor.tracking.poller import SourceHealth
from monitor.views import source_states
from monitor.web import texts
from monitor.web.pages import Say
from monitor.web.session import Session, Sessions

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# The form fields `orderinput` knows; anything else a browser sends (csrf, buttons) is not input.
MESSAGES = {"added", "saved", "closed_done", "removed", "muted_done", "unmuted_done"}


class Desk:
    """What the pages read and change, and how they speak."""

    def __init__(
        self,
        *,
        store: Store,
        orders: OrderBook,
        bus: Bus,
        clock: Clock,
        zone: tzinfo,
        language: Language | None,
        token: str | None,
        read_token: str | None = None,
        health: Callable[[], Mapping[str, SourceHealth]],
    ) -> None:
        self.store, self.orders, self.bus, self.clock = store, orders, bus, clock
        self.zone, self.language, self.health = zone, language, health
        self.sessions = Sessions(token, read_token)
        self.closing = asyncio.Event()
        # One Chromium at a time: a PDF costs a browser start, and nobody needs two at once.
        self.printing = asyncio.Semaphore(1)


DESK: web.AppKey[Desk] = web.AppKey("dashboard", Desk)
SESSION: web.RequestKey[Session] = web.RequestKey("dashboard.session", Session)


def desk_of(request: web.Request) -> Desk:
    return request.app[DESK]


def lang_of(request: web.Request) -> Language:
    return texts.pick_language(
        desk_of(request).language, request.headers.get("Accept-Language", "")
    )


def secured(response: web.StreamResponse) -> web.StreamResponse:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def finish(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    session = request.get(SESSION)
    if session is not None and session.new:
        desk_of(request).sessions.keep(response, session, secure=request.secure)
    return secured(response)


def signed_in(request: web.Request) -> bool:
    """Reads the session (a new one if none); False when the token is asked for and missing."""
    desk = desk_of(request)
    session = desk.sessions.read(request)
    request[SESSION] = session
    return session.signed_in or not desk.sessions.required


def redirect(request: web.Request, target: str) -> web.StreamResponse:
    return finish(request, web.Response(status=303, headers={"Location": target}))


def to_login(request: web.Request) -> web.StreamResponse:
    return redirect(request, "/login?" + urlencode({"next": request.path_qs}))


def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.StreamResponse:
    desk, lang = desk_of(request), lang_of(request)
    session: Session = request[SESSION]
    base = {
        "t": texts.labels(lang),
        "say": Say(lang, desk.zone),
        "lang": lang,
        "csrf": desk.sessions.csrf(session),
        "can_change": desk.sessions.token is not None
        and session.signed_in
        and not session.read_only,
        "reading_only": session.read_only,
        "signed_in": desk.sessions.required and session.signed_in,
        "sources": source_states(desk.health()),
        "message": None,
        "error": None,
        "values": {},
    }
    response = aiohttp_jinja2.render_template(template, request, base | context, status=status)
    return finish(request, response)


def message(request: web.Request, order_id: str = "") -> str | None:
    key = request.query.get("done", "")
    return texts.labels(lang_of(request))[key].format(id=order_id) if key in MESSAGES else None


def not_found(request: web.Request, order_id: str) -> web.StreamResponse:
    text = texts.labels(lang_of(request))["not_found"].format(id=order_id)
    return render(request, "missing.html", {"text": text}, status=404)
