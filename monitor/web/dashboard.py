"""The buyer's desk: HTML pages on the daemon's HTTP server, mounted next to the API by `mount`.

- `/` the open orders, most urgent first (filters, search, pages of `PER_PAGE`), source health;
  `/orders/<id>` one order: timeline, track numbers, warnings and their next steps, the dispute
  text, the ETA chart, and forms; `/orders/<id>/evidence` (and `.pdf`) the evidence pack.
- `/events` Server-Sent Events: a line whenever the bus says something changed; the page's
  script then fetches itself again and swaps the data in (no reload, forms left alone).
- Security: with `http.token` set, every page asks for it once (`/login`) and keeps a signed
  HttpOnly SameSite=Strict session cookie. Forms carry a CSRF token bound to the session. Without
  a token the pages are read-only, as the API is. Every page has a CSP without inline scripts.
- Forms go through `monitor.orderinput`: the same checks and messages as the CLI and the API.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from datetime import tzinfo
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp_jinja2
import structlog
from aiohttp import web

from monitor import orderinput
from monitor.bus import Bus
from monitor.clock import Clock
from monitor.events import (
    Event,
    OrderRemoved,
    OrderStateChanged,
    SourceFailed,
    SourceRecovered,
    WarningRaised,
)
from monitor.notify.texts import Language
from monitor.orderinput import BadInput
from monitor.orders import OrderBook
from monitor.store import DuplicateOrder, Store, UnknownOrder
from monitor.tracker import SourceHealth
from monitor.views import FILTERS, OrderDetail, detail, overview, source_states
from monitor.web import texts
from monitor.web.pages import (
    STATIC,
    EvidenceError,
    Say,
    chart,
    environment_options,
    evidence_html,
    print_pdf,
)
from monitor.web.session import Session, Sessions

log = structlog.get_logger("monitor.http.dashboard")

PER_PAGE = 100
KEEPALIVE_S = 20.0
LIVE_EVENTS: tuple[type[Event], ...] = (
    OrderStateChanged,
    OrderRemoved,
    WarningRaised,
    SourceFailed,
    SourceRecovered,
)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# The form fields `orderinput` knows; anything else a browser sends (csrf, buttons) is not input.
ADD_FIELDS = ("id", "ordered", "paid", "title", "shop", "track", "protection_until",
              "protection_days", "promised", "estimate", "notes")  # fmt: skip
UPDATE_FIELDS = ADD_FIELDS[2:]
MESSAGES = {"added", "saved", "closed_done", "removed"}


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
        health: Callable[[], Mapping[str, SourceHealth]],
    ) -> None:
        self.store, self.orders, self.bus, self.clock = store, orders, bus, clock
        self.zone, self.language, self.health = zone, language, health
        self.sessions = Sessions(token)
        self.closing = asyncio.Event()
        # One Chromium at a time: a PDF costs a browser start, and nobody needs two at once.
        self.printing = asyncio.Semaphore(1)


DESK: web.AppKey[Desk] = web.AppKey("dashboard", Desk)
SESSION: web.RequestKey[Session] = web.RequestKey("dashboard.session", Session)


def mount(app: web.Application, desk: Desk) -> None:
    """Add the pages, their static files and the live feed to the daemon's application."""
    app[DESK] = desk
    aiohttp_jinja2.setup(app, **environment_options())
    app.add_routes(
        [
            web.get("/", page_overview, name="overview"),
            web.post("/orders", form_add),
            web.get("/orders/{id}", page_order, name="order_page"),
            web.post("/orders/{id}", form_update),
            web.post("/orders/{id}/close", form_close),
            web.post("/orders/{id}/reopen", form_reopen),
            web.post("/orders/{id}/remove", form_remove),
            web.get("/orders/{id}/evidence", page_evidence),
            web.get("/orders/{id}/evidence.pdf", evidence_pdf),
            web.get("/events", live_events),
            web.get("/login", page_login),
            web.post("/login", form_login),
            web.post("/logout", form_logout),
            web.static("/static", STATIC, append_version=False),
        ]
    )

    async def open_streams(app: web.Application) -> None:
        desk.closing.clear()  # serving again after a port that could not be bound

    async def end_streams(app: web.Application) -> None:
        desk.closing.set()

    app.on_startup.append(open_streams)
    app.on_shutdown.append(end_streams)


# --- the frame of every page ---------------------------------------------------------------


def _desk(request: web.Request) -> Desk:
    return request.app[DESK]


def _lang(request: web.Request) -> Language:
    return texts.pick_language(_desk(request).language, request.headers.get("Accept-Language", ""))


def _secured(response: web.StreamResponse) -> web.StreamResponse:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _finish(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    session = request.get(SESSION)
    if session is not None and session.new:
        _desk(request).sessions.keep(response, session, secure=request.secure)
    return _secured(response)


def _signed_in(request: web.Request) -> bool:
    """Reads the session (a new one if none); False when the token is asked for and missing."""
    desk = _desk(request)
    session = desk.sessions.read(request)
    request[SESSION] = session
    return session.signed_in or not desk.sessions.required


def _redirect(request: web.Request, target: str) -> web.StreamResponse:
    return _finish(request, web.Response(status=303, headers={"Location": target}))


def _to_login(request: web.Request) -> web.StreamResponse:
    return _redirect(request, "/login?" + urlencode({"next": request.path_qs}))


def _render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.StreamResponse:
    desk, lang = _desk(request), _lang(request)
    session: Session = request[SESSION]
    base = {
        "t": texts.labels(lang),
        "say": Say(lang, desk.zone),
        "lang": lang,
        "csrf": desk.sessions.csrf(session),
        "can_change": desk.sessions.required and session.signed_in,
        "signed_in": desk.sessions.required and session.signed_in,
        "sources": source_states(desk.health()),
        "message": None,
        "error": None,
        "values": {},
    }
    response = aiohttp_jinja2.render_template(template, request, base | context, status=status)
    return _finish(request, response)


def _message(request: web.Request, order_id: str = "") -> str | None:
    key = request.query.get("done", "")
    return texts.labels(_lang(request))[key].format(id=order_id) if key in MESSAGES else None


def _not_found(request: web.Request, order_id: str) -> web.StreamResponse:
    text = texts.labels(_lang(request))["not_found"].format(id=order_id)
    return _render(request, "missing.html", {"text": text}, status=404)


# --- pages ---------------------------------------------------------------------------------


async def page_overview(request: web.Request) -> web.StreamResponse:
    if not _signed_in(request):
        return _to_login(request)
    return _render(request, "overview.html", _overview_context(request))


def _overview_context(request: web.Request, **extra: Any) -> dict[str, Any]:
    desk = _desk(request)
    show = request.query.get("show", "open")
    show = show if show in FILTERS else "open"
    query = request.query.get("q", "")[:200]
    try:
        number = int(request.query.get("page", "1"))
    except ValueError:
        number = 1
    page = overview(
        desk.store,
        now=desk.clock.now(),
        lang=_lang(request),
        show=show,  # type: ignore[arg-type]
        query=query,
        page=number,
        per_page=PER_PAGE,
    )

    def link(**changes: Any) -> str:
        params = {"show": show, "q": query, "page": page.number} | changes
        return "/?" + urlencode({k: v for k, v in params.items() if v not in ("", 1, "open")})

    message = request.query.get("done", "")
    return {
        "page": page,
        "show": show,
        "query": query,
        "filters": FILTERS,
        "link": link,
        "live": True,
        "message": _message(request, request.query.get("id", "")) if message else None,
        **extra,
    }


async def page_order(request: web.Request) -> web.StreamResponse:
    if not _signed_in(request):
        return _to_login(request)
    order_id = request.match_info["id"]
    context = _order_context(request, order_id)
    if context is None:
        return _not_found(request, order_id)
    context["message"] = _message(request, order_id)
    return _render(request, "order.html", context)


def _order_context(request: web.Request, order_id: str, **extra: Any) -> dict[str, Any] | None:
    desk, lang = _desk(request), _lang(request)
    now = desk.clock.now()
    item: OrderDetail | None = detail(desk.store, order_id, now=now, lang=lang)
    if item is None:
        return None
    return {
        "item": item,
        "chart": chart(item, texts.labels(lang), now, desk.zone),
        "quoted": quote(order_id, safe=""),
        "live": True,
        **extra,
    }


async def page_evidence(request: web.Request) -> web.StreamResponse:
    if not _signed_in(request):
        return _to_login(request)
    desk, lang = _desk(request), _lang(request)
    order_id = request.match_info["id"]
    now = desk.clock.now()
    item = detail(desk.store, order_id, now=now, lang=lang)
    if item is None:
        return _not_found(request, order_id)
    return _render(
        request,
        "evidence.html",
        {
            "item": item,
            "chart": chart(item, texts.labels(lang), now, desk.zone),
            "now": now,
            "css": None,
        },
    )


async def evidence_pdf(request: web.Request) -> web.StreamResponse:
    if not _signed_in(request):
        return _to_login(request)
    desk, lang = _desk(request), _lang(request)
    order_id = request.match_info["id"]
    html = evidence_html(
        aiohttp_jinja2.get_env(request.app),
        desk.store,
        order_id,
        now=desk.clock.now(),
        lang=lang,
        zone=desk.zone,
        inline_css=True,
    )
    if html is None:
        return _not_found(request, order_id)
    try:
        async with desk.printing:
            pdf = await print_pdf(html)
    except EvidenceError as exc:
        log.error("monitor.http.evidence_failed", order_id=order_id, reason=str(exc))
        return _finish(request, web.Response(status=503, text=str(exc)))
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in order_id)
    return _finish(
        request,
        web.Response(
            body=pdf,
            content_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="evidence-{name}.pdf"'},
        ),
    )


async def page_login(request: web.Request) -> web.StreamResponse:
    if not _desk(request).sessions.required:  # nothing to sign in to
        return _redirect(request, "/")
    _signed_in(request)
    return _render(request, "login.html", {"next": _safe_next(request.query.get("next", "/"))})


async def form_login(request: web.Request) -> web.StreamResponse:
    desk = _desk(request)
    _signed_in(request)
    form = await request.post()
    target = _safe_next(str(form.get("next", "/")))
    if not desk.sessions.csrf_ok(request[SESSION], str(form.get("csrf", ""))):
        return _render(request, "login.html", {"next": target, "error": "bad_form"}, status=400)
    session = desk.sessions.sign_in(str(form.get("token", "")))
    if session is None:
        log.warning("monitor.http.login_failed", remote=request.remote)
        return _render(request, "login.html", {"next": target, "error": "wrong_token"}, status=401)
    request[SESSION] = session
    return _redirect(request, target)


async def form_logout(request: web.Request) -> web.StreamResponse:
    desk = _desk(request)
    _signed_in(request)
    form = await request.post()
    response = web.Response(status=303, headers={"Location": "/login"})
    if desk.sessions.csrf_ok(request[SESSION], str(form.get("csrf", ""))):
        desk.sessions.forget(response)
    return _secured(response)


def _safe_next(target: str) -> str:
    """Only a path on this server: never an open redirect to another site."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


# --- forms ---------------------------------------------------------------------------------


async def _form(request: web.Request) -> tuple[dict[str, str], web.StreamResponse | None]:
    """The posted fields, or the response that refuses them (not signed in, read-only, CSRF)."""
    desk = _desk(request)
    allowed = _signed_in(request)
    form = {key: str(value) for key, value in (await request.post()).items()}
    if not allowed:
        return form, _to_login(request)
    if not desk.sessions.required:
        text = texts.labels(_lang(request))["read_only"]
        return form, _render(request, "missing.html", {"text": text}, status=403)
    if not desk.sessions.csrf_ok(request[SESSION], form.get("csrf", "")):
        text = texts.labels(_lang(request))["bad_form"]
        return form, _render(request, "missing.html", {"text": text}, status=403)
    return form, None


def _payload(form: Mapping[str, str], fields: tuple[str, ...]) -> dict[str, Any]:
    """Empty fields are not given; a whole number of days is a number, as in the API's JSON."""
    payload: dict[str, Any] = {}
    for name in fields:
        value = form.get(name, "").strip()
        if value:
            payload[name] = int(value) if name == "protection_days" and value.isdigit() else value
    return payload


async def form_add(request: web.Request) -> web.StreamResponse:
    form, refused = await _form(request)
    if refused is not None:
        return refused
    try:
        view = orderinput.add(_desk(request).orders, _payload(form, ADD_FIELDS))
    except (BadInput, DuplicateOrder) as exc:
        context = _overview_context(request, error=str(exc), values=form, open_add=True)
        return _render(request, "overview.html", context, status=400)
    return _redirect(request, f"/orders/{quote(view.order.id, safe='')}?done=added")


async def form_update(request: web.Request) -> web.StreamResponse:
    order_id = request.match_info["id"]
    form, refused = await _form(request)
    if refused is not None:
        return refused
    try:
        orderinput.update(_desk(request).orders, order_id, _payload(form, UPDATE_FIELDS))
    except UnknownOrder:
        return _not_found(request, order_id)
    except BadInput as exc:
        context = _order_context(request, order_id, error=str(exc), values=form)
        if context is None:
            return _not_found(request, order_id)
        return _render(request, "order.html", context, status=400)
    return _back_to(request, order_id, "saved")


async def form_close(request: web.Request) -> web.StreamResponse:
    return await _change(request, lambda book, order_id: book.close(order_id), "closed_done")


async def form_reopen(request: web.Request) -> web.StreamResponse:
    return await _change(
        request, lambda book, order_id: book.update(order_id, closed=False), "saved"
    )


async def form_remove(request: web.Request) -> web.StreamResponse:
    order_id = request.match_info["id"]
    form, refused = await _form(request)
    if refused is not None:
        return refused
    if form.get("sure") != "yes":
        return _back_to(request, order_id, "")
    try:
        _desk(request).orders.remove(order_id)
    except UnknownOrder:
        return _not_found(request, order_id)
    return _redirect(request, "/?" + urlencode({"done": "removed", "id": order_id}))


async def _change(
    request: web.Request, action: Callable[[OrderBook, str], object], done: str
) -> web.StreamResponse:
    order_id = request.match_info["id"]
    _, refused = await _form(request)
    if refused is not None:
        return refused
    try:
        action(_desk(request).orders, order_id)
    except UnknownOrder:
        return _not_found(request, order_id)
    return _back_to(request, order_id, done)


def _back_to(request: web.Request, order_id: str, done: str) -> web.StreamResponse:
    target = f"/orders/{quote(order_id, safe='')}" + (f"?done={done}" if done else "")
    return _redirect(request, target)


# --- live updates --------------------------------------------------------------------------


async def live_events(request: web.Request) -> web.StreamResponse:
    """One `changed` event per burst of bus events (a poll cycle may publish thousands)."""
    desk = _desk(request)
    if not _signed_in(request):
        return _secured(web.Response(status=401, text="sign in first"))
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
