"""HTTP for sources: calls whose every failure becomes a `SourceError` a person can act on,
answers capped in size, redirects kept within the origin, big answers parsed off the loop,
`Retry-After` read, a rate limiter.

Messages never include request headers or bodies: that is where API keys and passwords travel.
For the same reason redirects are followed only within the origin (scheme, host and port) the
request went to: a source's API key or password must never reach another server.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Annotated, Any, ParamSpec, TypeVar

import aiohttp
import structlog
from pydantic import AfterValidator
from yarl import URL

from monitor.plugin import SourceError

log = structlog.get_logger("monitor.sources")


def validate_base_url(value: str) -> str:
    """Accept `scheme://host[:port]` (http or https) and return it without a trailing slash."""
    hint = "write it as scheme://host[:port], e.g. https://api.example.com"
    try:
        url = URL(value.strip())
        port = url.port  # yarl raises on an out-of-range port only when asked for it
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a URL: {exc}; {hint}") from exc
    if url.scheme not in ("http", "https") or not url.host or port is None:
        raise ValueError(f"{value!r} is not an http(s) URL with a host; {hint}")
    if url.user or url.password or url.path not in ("", "/") or url.query_string or url.fragment:
        raise ValueError(f"{value!r} has more than scheme, host and port; {hint}")
    return str(url.origin())


BaseUrl = Annotated[str, AfterValidator(validate_base_url)]
"""A pydantic field type for a service's base URL; endpoint paths are appended by the source."""


@dataclass(frozen=True, slots=True)
class HttpReply:
    """A complete HTTP answer, read before the connection went back to the pool."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def looks_like_html(self) -> bool:
        """Captcha walls, login pages and proxies' error pages all come as HTML."""
        if "text/html" in self.headers.get("Content-Type", "").lower():
            return True
        start = self.body.lstrip()[:15].lower()
        return start.startswith((b"<!doctype html", b"<html"))


DEFAULT_MAX_ANSWER_BYTES = 5_000_000
MAX_REDIRECTS = 5
OFF_LOOP_BYTES = 256_000  # below this, a thread hand-off costs more than parsing on the loop
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024

answer_limit: contextvars.ContextVar[int] = contextvars.ContextVar(
    "answer_limit", default=DEFAULT_MAX_ANSWER_BYTES
)
"""The most bytes `request` reads of one answer; the poller sets the polled source's limit."""


async def request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    service: str,
    time_limit: timedelta,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    json_body: Any = None,
    data: bytes | None = None,
) -> HttpReply:
    """One HTTP request; network-level failures raise `SourceError`, HTTP errors do not.

    The caller decides about the status code because some services explain errors in the body
    (a SOAP fault comes with HTTP 500, 17TRACK's 401 names the reason).

    Redirects within the origin are followed (at most `MAX_REDIRECTS`); one to another origin
    is refused, because the headers and body carry the source's credentials. An answer longer
    than `answer_limit` is refused as soon as that many bytes arrived.
    """
    seconds = time_limit.total_seconds()
    limit = answer_limit.get()
    target = URL(url)
    if params:
        target = target.update_query(params)
    try:
        for _ in range(MAX_REDIRECTS + 1):
            async with session.request(
                method,
                target,
                headers=headers,
                json=json_body,
                data=data,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=seconds),
            ) as response:
                location = response.headers.get("Location")
                if response.status in _REDIRECTS and location:
                    target = _same_origin(target, location, service)
                    if response.status == 303 or (
                        response.status in (301, 302) and method not in ("GET", "HEAD")
                    ):
                        method, json_body, data = "GET", None, None  # what browsers do
                    continue
                body = await _read_capped(response, limit, service)
                # aiohttp's header mapping is case-insensitive and stays valid after the release.
                return HttpReply(response.status, response.headers, body)
        raise SourceError(f"{service} redirected more than {MAX_REDIRECTS} times ({url})")
    except TimeoutError as exc:
        raise SourceError(f"{service} did not answer within {seconds:g}s ({url})") from exc
    except aiohttp.ClientConnectorError as exc:
        raise SourceError(
            f"cannot connect to {service} at {exc.host}:{exc.port}: {exc.os_error.strerror or exc}"
        ) from exc
    except aiohttp.ClientError as exc:
        raise SourceError(f"request to {service} failed ({url}): {exc}") from exc


def _same_origin(current: URL, location: str, service: str) -> URL:
    try:
        target = current.join(URL(location))
        same = target.origin() == current.origin()
    except ValueError:
        raise SourceError(f"{service} redirected to an invalid address") from None
    if not same:
        # Only the origin is named: the rest of a URL may carry tokens.
        raise SourceError(
            f"{service} redirected to another server ({_origin_text(target)}); refused, so the "
            f"credentials for {_origin_text(current)} stay there. If the service has moved, set "
            "the source's base_url to the new address"
        )
    return target


def _origin_text(url: URL) -> str:
    try:
        return str(url.origin())
    except ValueError:
        return "an address without a host"


async def _read_capped(response: aiohttp.ClientResponse, limit: int, service: str) -> bytes:
    def too_big(size: str) -> SourceError:
        return SourceError(
            f"{service} sent an answer of {size}, over the limit of {_bytes_text(limit)}; refused "
            "(raise max_answer_size for this source if such answers are expected)"
        )

    declared = response.content_length
    if declared is not None and declared > limit:
        raise too_big(_bytes_text(declared))
    body = bytearray()
    async for chunk in response.content.iter_chunked(_CHUNK):
        body += chunk
        if len(body) > limit:
            raise too_big(f"more than {_bytes_text(limit)}")
    return bytes(body)


def _bytes_text(size: int) -> str:
    if size >= 1_000_000:
        return f"{size / 1_000_000:g} MB"
    if size >= 1_000:
        return f"{size / 1_000:g} kB"
    return f"{size} bytes"


P = ParamSpec("P")
T = TypeVar("T")


async def off_loop(size: int, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`func(*args, **kwargs)`, in a worker thread when `size` (the answer's bytes) is large.

    A parser of a multi-megabyte answer runs for seconds; on the event loop that would stall
    every other source, the API and the systemd watchdog ping.
    """
    if size < OFF_LOOP_BYTES:
        return func(*args, **kwargs)
    return await asyncio.to_thread(func, *args, **kwargs)


def retry_after(reply: HttpReply) -> float | None:
    """Seconds from a Retry-After header (delta-seconds, or an HTTP date against `Date`)."""
    value = reply.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    try:
        until = parsedate_to_datetime(value)
        sent = parsedate_to_datetime(reply.headers.get("Date", ""))
    except (TypeError, ValueError):
        return None  # an HTTP date is only meaningful against the server's own clock
    return max(0.0, (until - sent).total_seconds())


def http_error(reply: HttpReply, service: str, *, detail: str = "") -> SourceError:
    """The `SourceError` for a non-2xx answer; `detail` is the service's own explanation."""
    status = reply.status
    suffix = f": {detail}" if detail else ""
    if status in (401, 403):
        reason = f"{service} refused the credentials (HTTP {status}){suffix}"
    elif status == 429:
        reason = f"{service} says too many requests (HTTP 429){suffix}"
    elif status >= 500:
        reason = f"{service} has a server error (HTTP {status}){suffix}"
    else:
        reason = f"{service} answered HTTP {status}{suffix}"
    return SourceError(reason, retry_after=retry_after(reply))


def decode_json(reply: HttpReply, service: str) -> Any:
    if reply.looks_like_html:
        raise SourceError(
            f"{service} sent an HTML page instead of JSON (HTTP {reply.status}); "
            "probably a captcha, a login wall or a maintenance page"
        )
    try:
        return json.loads(reply.body)
    except ValueError as exc:
        raise SourceError(f"{service} sent invalid JSON (HTTP {reply.status}): {exc}") from exc
    except RecursionError:
        raise SourceError(f"{service} sent JSON nested too deeply to read") from None


async def fetch_json(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    service: str,
    time_limit: timedelta,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    json_body: Any = None,
    parse: Callable[[Any], T] | None = None,
) -> Any:
    """`request` for JSON APIs: any non-2xx status or non-JSON body raises `SourceError`.

    With `parse`, returns `parse(decoded answer)`; decoding and parsing a big answer then run
    together in a worker thread (see `off_loop`).
    """
    reply = await request(
        session,
        method,
        url,
        service=service,
        time_limit=time_limit,
        headers=headers,
        params=params,
        json_body=json_body,
    )
    if not reply.ok:
        raise http_error(reply, service)
    if parse is None:
        return await off_loop(len(reply.body), decode_json, reply, service)
    return await off_loop(len(reply.body), lambda: parse(decode_json(reply, service)))


class RateLimiter:
    """Lets calls through at most `rate` per second, spaced evenly (no bursts).

    Time comes from `monotonic` (a source passes `context.clock.monotonic`) and waiting from
    `sleep`, so tests can drive both without real waiting.
    """

    def __init__(
        self,
        rate: float,
        monotonic: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self._interval = 1.0 / rate
        self._monotonic = monotonic
        self._sleep = sleep
        self._next = -math.inf
        self._lock = asyncio.Lock()  # concurrent batches queue up instead of all firing at once

    async def wait(self) -> None:
        async with self._lock:
            now = self._monotonic()
            if now < self._next:
                await self._sleep(self._next - now)
                now = max(self._next, self._monotonic())
            self._next = now + self._interval
