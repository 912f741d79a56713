"""The buyer's desk: HTML pages on the daemon's HTTP server, mounted next to the API by `mount`.

- `/` the open orders, most urgent first (filters, search, pages of 100), source health;
  `/orders/<id>` one order: timeline, track numbers, warnings and their next steps, the dispute
  text, the ETA chart, and forms; `/orders/<id>/evidence` (and `.pdf`) the evidence pack.
- `/events` Server-Sent Events: a line whenever the bus says something changed; the page's
  script then fetches itself again and swaps the data in (no reload, forms left alone).
- Security: with `http.token` set, every page asks for it once (`/login`) and keeps a signed
  HttpOnly SameSite=Strict session cookie; `http.read_token` signs in read-only. Wrong tokens
  are throttled per address (`throttle`). Forms carry a CSRF token bound to the session. Without
  a token the pages are read-only, as the API is. Every page has a CSP without inline scripts.
- Forms go through `monitor.orderinput`: the same checks and messages as the CLI and the API.

The parts: `frame` (what every page shares), `handlers` (pages), `forms`, `live` (the feed),
`pages` (templates and the evidence document, also used by the CLI), `chart`, `texts`, `session`.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from monitor.web import forms, handlers, live
from monitor.web.frame import DESK, Desk
from monitor.web.pages import STATIC, environment_options

__all__ = ["Desk", "mount"]


def mount(app: web.Application, desk: Desk) -> None:
    """Add the pages, their static files and the live feed to the daemon's application."""
    app[DESK] = desk
    aiohttp_jinja2.setup(app, **environment_options())
    app.add_routes(
        [
            web.get("/", handlers.page_overview, name="overview"),
            web.post("/orders", forms.form_add),
            web.get("/orders/{id}", handlers.page_order, name="order_page"),
            web.post("/orders/{id}", forms.form_update),
            web.post("/orders/{id}/close", forms.form_close),
            web.post("/orders/{id}/reopen", forms.form_reopen),
            web.post("/orders/{id}/mute", forms.form_mute),
            web.post("/orders/{id}/unmute", forms.form_unmute),
            web.post("/orders/{id}/remove", forms.form_remove),
            web.get("/orders/{id}/evidence", handlers.page_evidence),
            web.get("/orders/{id}/evidence.pdf", handlers.evidence_pdf),
            web.get("/events", live.live_events),
            web.get("/login", forms.page_login),
            web.post("/login", forms.form_login),
            web.post("/logout", forms.form_logout),
            web.get("/favicon.ico", _favicon),
            web.static("/static", STATIC, append_version=False),
        ]
    )

    async def open_streams(app: web.Application) -> None:
        desk.closing.clear()  # serving again after a port that could not be bound

    async def end_streams(app: web.Application) -> None:
        desk.closing.set()

    app.on_startup.append(open_streams)
    app.on_shutdown.append(end_streams)


async def _favicon(request: web.Request) -> web.StreamResponse:
    # Browsers ask for /favicon.ico by themselves on pages that do not link one (the JSON API).
    raise web.HTTPMovedPermanently("/static/favicon.svg")
