"""The dashboard's forms: signing in and out, and adding, changing, closing, muting and removing
orders.

Every order form goes through `monitor.orderinput` (the CLI's and the API's checks and messages)
and needs a signed-in session and its CSRF token; without a configured token they are refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

from aiohttp import web

from monitor import orderinput
from monitor.orderinput import BadInput
from monitor.orders import OrderBook
from monitor.store import DuplicateOrder, UnknownOrder
from monitor.web import texts
from monitor.web.api import THROTTLE, client_address
from monitor.web.frame import (
    SESSION,
    desk_of,
    lang_of,
    not_found,
    redirect,
    render,
    secured,
    signed_in,
    to_login,
)
from monitor.web.handlers import order_context, overview_context

# The form fields `orderinput` knows; anything else a browser sends (csrf, buttons) is not input.
ADD_FIELDS = ("id", "ordered", "paid", "title", "shop", "track", "protection_until",
              "protection_days", "promised", "estimate", "notes")  # fmt: skip
UPDATE_FIELDS = ADD_FIELDS[2:]


async def page_login(request: web.Request) -> web.StreamResponse:
    if not desk_of(request).sessions.required:  # nothing to sign in to
        return redirect(request, "/")
    signed_in(request)
    return render(request, "login.html", {"next": _safe_next(request.query.get("next", "/"))})


async def form_login(request: web.Request) -> web.StreamResponse:
    desk = desk_of(request)
    signed_in(request)
    form = await request.post()
    target = _safe_next(str(form.get("next", "/")))
    if not desk.sessions.csrf_ok(request[SESSION], str(form.get("csrf", ""))):
        return render(request, "login.html", {"next": target, "error": "bad_form"}, status=400)
    throttle, address = request.app[THROTTLE], client_address(request)
    if wait := throttle.wait(address):
        response = render(request, "login.html", {"next": target, "error": "throttled"}, status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    session = desk.sessions.sign_in(str(form.get("token", "")))
    if session is None:
        throttle.failed(address, "monitor.http.login_failed")
        return render(request, "login.html", {"next": target, "error": "wrong_token"}, status=401)
    request[SESSION] = session
    return redirect(request, target)


async def form_logout(request: web.Request) -> web.StreamResponse:
    desk = desk_of(request)
    signed_in(request)
    form = await request.post()
    response = web.Response(status=303, headers={"Location": "/login"})
    if desk.sessions.csrf_ok(request[SESSION], str(form.get("csrf", ""))):
        desk.sessions.forget(response)
    return secured(response)


def _safe_next(target: str) -> str:
    """Only a path on this server: never an open redirect to another site.

    Browsers read a backslash as a slash and drop tabs and newlines anywhere in a URL, so
    `/\\evil.example` and `/<TAB>/evil.example` both mean `//evil.example`: such targets, control
    characters and anything with a scheme or a host go to the overview instead.
    """
    decoded = unquote(target)
    if any(c == "\\" or ord(c) < 0x20 or ord(c) == 0x7F for c in target + decoded):
        return "/"
    try:
        parts = urlsplit(target)
    except ValueError:
        return "/"
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return "/"
    if decoded.startswith("//"):  # "///x" has no host for urlsplit, but one for a browser
        return "/"
    return target


async def _form(request: web.Request) -> tuple[dict[str, str], web.StreamResponse | None]:
    """The posted fields, or the response that refuses them (not signed in, read-only, CSRF)."""
    desk = desk_of(request)
    allowed = signed_in(request)
    form = {key: str(value) for key, value in (await request.post()).items()}
    if not allowed:
        return form, to_login(request)
    session = request[SESSION]
    if desk.sessions.token is None or session.read_only:
        text = texts.labels(lang_of(request))[
            "read_only_session" if session.read_only else "read_only"
        ]
        return form, render(request, "missing.html", {"text": text}, status=403)
    if not desk.sessions.csrf_ok(request[SESSION], form.get("csrf", "")):
        text = texts.labels(lang_of(request))["bad_form"]
        return form, render(request, "missing.html", {"text": text}, status=403)
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
        view = orderinput.add(desk_of(request).orders, _payload(form, ADD_FIELDS))
    except (BadInput, DuplicateOrder) as exc:
        context = overview_context(request, error=str(exc), values=form, open_add=True)
        return render(request, "overview.html", context, status=400)
    return redirect(request, f"/orders/{quote(view.order.id, safe='')}?done=added")


async def form_update(request: web.Request) -> web.StreamResponse:
    order_id = request.match_info["id"]
    form, refused = await _form(request)
    if refused is not None:
        return refused
    try:
        orderinput.update(desk_of(request).orders, order_id, _payload(form, UPDATE_FIELDS))
    except UnknownOrder:
        return not_found(request, order_id)
    except BadInput as exc:
        context = order_context(request, order_id, error=str(exc), values=form)
        if context is None:
            return not_found(request, order_id)
        return render(request, "order.html", context, status=400)
    return _back_to(request, order_id, "saved")


async def form_close(request: web.Request) -> web.StreamResponse:
    return await _change(request, lambda book, order_id: book.close(order_id), "closed_done")


async def form_reopen(request: web.Request) -> web.StreamResponse:
    return await _change(
        request, lambda book, order_id: book.update(order_id, closed=False), "saved"
    )


async def form_mute(request: web.Request) -> web.StreamResponse:
    return await _change(
        request, lambda book, order_id: book.update(order_id, muted=True), "muted_done"
    )


async def form_unmute(request: web.Request) -> web.StreamResponse:
    return await _change(
        request, lambda book, order_id: book.update(order_id, muted=False), "unmuted_done"
    )


async def form_remove(request: web.Request) -> web.StreamResponse:
    order_id = request.match_info["id"]
    form, refused = await _form(request)
    if refused is not None:
        return refused
    if form.get("sure") != "yes":
        return _back_to(request, order_id, "")
    try:
        desk_of(request).orders.remove(order_id)
    except UnknownOrder:
        return not_found(request, order_id)
    return redirect(request, "/?" + urlencode({"done": "removed", "id": order_id}))


async def _change(
    request: web.Request, action: Callable[[OrderBook, str], object], done: str
) -> web.StreamResponse:
    order_id = request.match_info["id"]
    _, refused = await _form(request)
    if refused is not None:
        return refused
    try:
        action(desk_of(request).orders, order_id)
    except UnknownOrder:
        return not_found(request, order_id)
    return _back_to(request, order_id, done)


def _back_to(request: web.Request, order_id: str, done: str) -> web.StreamResponse:
    target = f"/orders/{quote(order_id, safe='')}" + (f"?done={done}" if done else "")
    return redirect(request, target)
