"""The dashboard's pages: the overview, an order, its evidence (HTML and PDF)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import aiohttp_jinja2
import structlog
from aiohttp import web

from monitor.orderinput import check_digit_doubtful
from monitor.views import FILTERS, OrderDetail, detail, overview
from monitor.views.terminal import doubtful_track_note
from monitor.web import texts
from monitor.web.frame import (
    desk_of,
    finish,
    lang_of,
    message,
    not_found,
    render,
    signed_in,
    to_login,
)
from monitor.web.pages import EvidenceError, chart, evidence_html, print_pdf

log = structlog.get_logger("monitor.http.dashboard")

PER_PAGE = 100


async def page_overview(request: web.Request) -> web.StreamResponse:
    if not signed_in(request):
        return to_login(request)
    return render(request, "overview.html", overview_context(request))


def overview_context(request: web.Request, **extra: Any) -> dict[str, Any]:
    desk = desk_of(request)
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
        lang=lang_of(request),
        show=show,  # type: ignore[arg-type]
        query=query,
        page=number,
        per_page=PER_PAGE,
        zone=desk.zone,
    )

    def link(**changes: Any) -> str:
        params = {"show": show, "q": query, "page": page.number} | changes
        return "/?" + urlencode({k: v for k, v in params.items() if v not in ("", 1, "open")})

    done = request.query.get("done", "")
    return {
        "page": page,
        "show": show,
        "query": query,
        "filters": FILTERS,
        "link": link,
        "live": True,
        "message": message(request, request.query.get("id", "")) if done else None,
        **extra,
    }


async def page_order(request: web.Request) -> web.StreamResponse:
    if not signed_in(request):
        return to_login(request)
    order_id = request.match_info["id"]
    context = order_context(request, order_id)
    if context is None:
        return not_found(request, order_id)
    context["message"] = message(request, order_id)
    track = context["item"].summary.track
    if request.query.get("done") in ("added", "saved") and track and check_digit_doubtful(track):
        context["doubt"] = doubtful_track_note(track, lang_of(request))
    return render(request, "order.html", context)


def order_context(request: web.Request, order_id: str, **extra: Any) -> dict[str, Any] | None:
    desk, lang = desk_of(request), lang_of(request)
    now = desk.clock.now()
    item: OrderDetail | None = detail(desk.store, order_id, now=now, lang=lang, zone=desk.zone)
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
    if not signed_in(request):
        return to_login(request)
    desk, lang = desk_of(request), lang_of(request)
    order_id = request.match_info["id"]
    now = desk.clock.now()
    item = detail(desk.store, order_id, now=now, lang=lang, zone=desk.zone)
    if item is None:
        return not_found(request, order_id)
    return render(
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
    if not signed_in(request):
        return to_login(request)
    desk, lang = desk_of(request), lang_of(request)
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
        return not_found(request, order_id)
    try:
        async with desk.printing:
            pdf = await print_pdf(html)
    except EvidenceError as exc:
        log.error("monitor.http.evidence_failed", order_id=order_id, reason=str(exc))
        return finish(request, web.Response(status=503, text=str(exc)))
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in order_id)
    return finish(
        request,
        web.Response(
            body=pdf,
            content_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="evidence-{name}.pdf"'},
        ),
    )
