"""The HTTP API as an aiohttp application; `build_app` wires it to the running daemon.

Who may ask what:
- `Host` must name this server: the listen address, localhost/127.0.0.1/[::1] with the port, or
  one of `http.allowed_hosts`. Anything else is refused (421), so a web page cannot reach a
  loopback API through a name it controls (DNS rebinding).
- With `http.token` (or `http.read_token`) set, every request but `/healthz` and the webhooks
  needs `Authorization: Bearer <token>`; the read token allows only reads. Changes need
  `http.token`; with none set they are refused, and reads are served to this machine only.

Errors are JSON objects `{"error": "..."}`: 400 for bad JSON or fields, 401/403 for auth, 404 for
unknown orders, 409 for a duplicate id, 421 for a foreign Host, 429 after too many wrong tokens
from one address (`monitor.web.throttle`); a bug is a bare 500 (the details
go to the log only).

Source plugins may expose `webhook_routes()` (`monitor.plugin.WebhookSource`) returning aiohttp
route definitions; each source's routes are mounted under `/hooks/<source name>` (a route for "/"
is `/hooks/<source name>` itself) and authenticate their callers themselves (a carrier cannot know
our token), so the bearer check does not apply there.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from aiohttp import web

from monitor import orderinput
from monitor.clock import SystemClock
from monitor.health import Health
from monitor.orderinput import BadInput
from monitor.orders import OrderBook
from monitor.plugin import TrackingSource, WebhookSource
from monitor.store import DuplicateOrder, Store, StoreError, UnknownOrder
from monitor.tracking.poller import Poller
from monitor.views.data import order_json, timeline, timeline_json
from monitor.web import metrics
from monitor.web.throttle import Throttle

log = structlog.get_logger("monitor.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Metrics = Callable[[], str]

HOOKS = "/hooks"
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
_TRUE = frozenset({"1", "true", "yes"})

STORE: web.AppKey[Store] = web.AppKey("store", Store)
ORDERS: web.AppKey[OrderBook] = web.AppKey("orders", OrderBook)
HEALTH: web.AppKey[Health] = web.AppKey("health", Health)
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
TOKEN: web.AppKey[str | None] = web.AppKey("token")
READ_TOKEN: web.AppKey[str | None] = web.AppKey("read_token")
ALLOWED_HOSTS: web.AppKey[frozenset[str]] = web.AppKey("allowed_hosts")
THROTTLE: web.AppKey[Throttle] = web.AppKey("throttle", Throttle)
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
OPEN_PATHS = frozenset({"/healthz"})


def build_app(
    *,
    store: Store,
    orders: OrderBook,
    health: Health,
    metrics_text: Metrics,
    token: str | None,
    read_token: str | None = None,
    allowed_hosts: tuple[str, ...] = (),
    sources: Mapping[str, TrackingSource] | None = None,
    throttle: Throttle | None = None,
) -> web.Application:
    """
    store, orders: where orders are read and changed (always through the order book).
    health: the checks `/healthz` reports.
    metrics_text: renders `/metrics` at scrape time.
    token: the bearer token for everything; None refuses every change.
    read_token: a bearer token for reads only.
    allowed_hosts: further names accepted in the Host header (`name` or `name:port`).
    sources: running sources; those with `webhook_routes()` get them mounted.
    throttle: slows down wrong tokens per address (bearer and the dashboard's login form).
    """
    app = web.Application(middlewares=[_errors, _known_host, _auth])
    app[STORE], app[ORDERS], app[HEALTH] = store, orders, health
    app[METRICS], app[TOKEN], app[READ_TOKEN] = metrics_text, token, read_token
    app[ALLOWED_HOSTS] = frozenset(host.lower() for host in allowed_hosts)
    app[THROTTLE] = throttle if throttle is not None else Throttle(SystemClock())
    app.add_routes(
        [
            web.get("/healthz", healthz),
            web.get("/metrics", metrics_endpoint),
            web.get("/api/orders", list_orders),
            web.post("/api/orders", add_order),
            web.get("/api/orders/{id}", get_order, name="order"),
            web.patch("/api/orders/{id}", update_order),
            web.delete("/api/orders/{id}", remove_order),
            web.post("/api/orders/{id}/close", close_order),
        ]
    )
    for name, source in sorted((sources or {}).items()):
        if not isinstance(source, WebhookSource):
            continue
        for route in source.webhook_routes():
            if not isinstance(route, web.RouteDef):
                raise TypeError(f"{name}: webhook_routes() must return web.RouteDef items")
            path = f"{HOOKS}/{name}" + ("" if route.path == "/" else route.path)
            web.RouteDef(route.method, path, route.handler, route.kwargs).register(app.router)
            log.info("monitor.http.webhook_mounted", source=name, path=path)
    return app


def metrics_renderer(store: Store, poller: Poller, broker: Callable[[], bool] | None) -> Metrics:
    def render() -> str:
        connected = broker() if broker is not None else None
        return metrics.render(metrics.collect(store, poller, broker_connected=connected))

    return render


# --- middlewares ---------------------------------------------------------------------------


def _problem(status: int, reason: str, **headers: str) -> web.Response:
    return web.json_response({"error": reason}, status=status, headers=headers)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except UnknownOrder as exc:
        return _problem(404, str(exc))
    except DuplicateOrder as exc:
        return _problem(409, str(exc))
    except StoreError as exc:
        log.error("monitor.http.store_failed", path=request.path, reason=str(exc))
        return _problem(503, "the database is not usable right now")
    except (ValueError, OverflowError) as exc:
        # Bad input from the client: orderinput's BadInput, pydantic's errors, a date beyond
        # what datetime can hold. Their messages name the field and value, never a secret.
        return _problem(400, str(exc) or type(exc).__name__)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _problem(exc.status, exc.reason)
    except Exception:
        log.exception("monitor.http.failed", method=request.method, path=request.path)
        return _problem(500, "internal error")


@web.middleware
async def _known_host(request: web.Request, handler: Handler) -> web.StreamResponse:
    host = request.headers.get("Host", "").strip().lower()
    name, colon, port = host.rpartition(":")
    if not (colon and port.isdigit()):
        name = host  # no port given
    allowed = request.app[ALLOWED_HOSTS]
    if host in allowed or name in allowed or host in _own_names(request):
        return await handler(request)
    return _problem(421, "this server does not answer to that name; add it to http.allowed_hosts")


def _own_names(request: web.Request) -> set[str]:
    """`host:port` forms that name this server: the address the client reached, localhost."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if not sockname:
        return set()
    address, port = sockname[0], sockname[1]
    own = f"[{address}]" if ":" in address else address
    return {f"{name}:{port}" for name in (*LOOPBACK_NAMES, own)}


@web.middleware
async def _auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in OPEN_PATHS or request.path.startswith(f"{HOOKS}/"):
        return await handler(request)
    token, read_token = request.app[TOKEN], request.app[READ_TOKEN]
    signs_in = token is not None or read_token is not None
    if _is_page(request.path) and (signs_in or _from_loopback(request)):
        # The dashboard signs in with a token itself (a session cookie and CSRF tokens,
        # monitor.web.dashboard; the read token opens it read-only); without any token it is
        # read-only and for this machine only.
        return await handler(request)
    reading = request.method in _READS
    if token is None and read_token is None:
        if not reading:
            return _problem(403, "changes over HTTP are disabled: set http.token to allow them")
        if not _from_loopback(request):
            return _problem(403, "set http.token or http.read_token to serve other machines")
        return await handler(request)
    given = _bearer(request)
    if given is not None and (wait := request.app[THROTTLE].wait(client_address(request))):
        return too_many(wait)
    if given is not None and _matches(given, token):
        return await handler(request)
    if given is not None and reading and _matches(given, read_token):
        return await handler(request)
    if given is not None and _matches(given, read_token):
        return _problem(403, "the read token cannot change anything; use http.token")
    if token is None and not reading:
        return _problem(403, "changes over HTTP are disabled: set http.token to allow them")
    if given is not None:
        request.app[THROTTLE].failed(client_address(request), "monitor.http.bad_token")
    return _problem(
        401,
        "a valid bearer token is required",
        **{"WWW-Authenticate": 'Bearer realm="parcel-monitor"'},
    )


def client_address(request: web.Request) -> str:
    """Whom wrong tokens are counted for: the peer (behind a proxy, the proxy itself)."""
    return request.remote or "unknown"


def too_many(wait: int) -> web.Response:
    return _problem(429, "too many wrong tokens; try again later", **{"Retry-After": str(wait)})


def _is_page(path: str) -> bool:
    return not (path.startswith("/api/") or path == "/metrics")


def _bearer(request: web.Request) -> bytes | None:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    # Header bytes that are not UTF-8 arrive as surrogates; they never equal a real token.
    return given.strip().encode("utf-8", "surrogatepass")


def _matches(given: bytes, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(given, expected.encode("utf-8"))


def _from_loopback(request: web.Request) -> bool:
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False  # a Unix socket or an unknown peer: not provably this machine


# --- handlers ------------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    checks = request.app[HEALTH].report()
    reasons = {name: reason for name, reason in checks.items() if reason}
    body = {
        "status": "degraded" if reasons else "ok",
        "checks": {name: reason or "ok" for name, reason in checks.items()},
    }
    return web.json_response(body, status=503 if reasons else 200)


async def metrics_endpoint(request: web.Request) -> web.Response:
    return web.Response(text=request.app[METRICS](), headers={"Content-Type": PROMETHEUS_TEXT})


async def list_orders(request: web.Request) -> web.Response:
    store = request.app[STORE]
    include_closed = request.query.get("all", "").lower() in _TRUE
    counts = store.warning_counts()
    views = store.views(include_closed=include_closed)
    return web.json_response([order_json(v, counts.get(v.order.id, 0)) for v in views])


async def get_order(request: web.Request) -> web.Response:
    return web.json_response(_timeline(request.app[STORE], request.match_info["id"]))


async def add_order(request: web.Request) -> web.Response:
    view = orderinput.add(request.app[ORDERS], await _body(request))
    location = request.app.router["order"].url_for(id=view.order.id)
    return web.json_response(
        _timeline(request.app[STORE], view.order.id),
        status=201,
        headers={"Location": str(location)},
    )


async def update_order(request: web.Request) -> web.Response:
    order_id = request.match_info["id"]
    orderinput.update(request.app[ORDERS], order_id, await _body(request))
    return web.json_response(_timeline(request.app[STORE], order_id))


async def close_order(request: web.Request) -> web.Response:
    view = orderinput.close(request.app[ORDERS], request.match_info["id"])
    return web.json_response(_timeline(request.app[STORE], view.order.id))


async def remove_order(request: web.Request) -> web.Response:
    orderinput.remove(request.app[ORDERS], request.match_info["id"])
    return web.Response(status=204)


async def _body(request: web.Request) -> Any:
    try:
        # JSON is UTF-8 (RFC 8259) whatever charset the client claims.
        return json.loads((await request.read()).decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"the body is not JSON: {exc}") from None
    except RecursionError:
        raise BadInput("the body is JSON nested too deeply") from None


def _timeline(store: Store, order_id: str) -> dict[str, Any]:
    shown = timeline(store, order_id)
    if shown is None:
        raise UnknownOrder(f"no order {order_id}")
    return timeline_json(shown)
