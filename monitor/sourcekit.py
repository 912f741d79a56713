"""Building blocks for tracking sources (public plugin API, stable like `monitor.plugin`).

- `request` / `fetch_json`: HTTP calls whose every failure (timeout, refused connection, HTTP
  error, an HTML page where JSON was due, an answer over the size limit, a redirect to another
  origin) becomes a `SourceError` with a reason a person can act on;
- `answer_limit`: the most bytes one answer may have (the poller sets it per source);
- `off_loop`: runs a parser in a worker thread when the answer is big, so the event loop (and the
  systemd watchdog ping) does not wait for it;
- `BaseUrl`: a settings field type for `scheme://host[:port]`;
- `RateLimiter`: spaces requests out to a carrier's allowed rate;
- `as_object` / `as_list` / `as_text`: tolerant access to decoded JSON, raising `PayloadError`
  (a `ValueError`) when the shape is wrong, so a parser has one exception type to catch;
- `ParseCache`: skips parsing an answer identical to the last one for the same number;
- `shared_zone`: one tzinfo object per UTC offset, for parsers that keep many checkpoints;
- `Meaning` / `UnknownCodes`: a row of a carrier's code table, and the reading of a code no table
  knows (`in_transit`, logged once per process and code).
- `bounded`: drops dates outside sane years (the differ applies it to every snapshot).

Messages never include request headers or bodies: that is where API keys and passwords travel.
For the same reason redirects are followed only within the origin (scheme, host and port) the
request went to: a source's API key or password must never reach another server.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import marshal
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from email.utils import parsedate_to_datetime
from typing import Annotated, Any, ParamSpec, TypeVar

import aiohttp
import structlog
from pydantic import AfterValidator
from yarl import URL

from monitor.model import SANE_YEARS, Action, Checkpoint, Point, Snapshot, Status, sane_date
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


class PayloadError(ValueError):
    """A decoded answer does not have the shape the parser expects."""


def as_object(value: Any, what: str) -> Mapping[str, Any]:
    if type(value) is dict:  # the common case, without the cost of an ABC check
        return value
    if not isinstance(value, Mapping):
        raise PayloadError(f"{what} should be an object, got {type(value).__name__}")
    return value


def as_list(value: Any, what: str) -> list[Any]:
    """A JSON array; `null` counts as empty because services send it for "nothing yet"."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{what} should be a list, got {type(value).__name__}")
    return value


def as_text(value: Any) -> str:
    """A display string: strings stripped, numbers written out, anything else (null) empty."""
    if type(value) is str or isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def fingerprint(raw: Any) -> str:
    """A fingerprint of decoded JSON (or raw bytes): the same answer, the same value.

    marshal serializes decoded JSON five times faster than json.dumps; its format is stable
    within a Python version, and a new version only costs one round of parsing again.
    """
    data = raw if isinstance(raw, bytes) else marshal.dumps(raw)
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class ParseCache:
    """The last snapshot parsed for each number, with the fingerprint of the answer it came from.

    Most answers, most of the time, are exactly what the carrier said last time; turning them
    into checkpoints again would cost more than fetching them. One entry per watched number.
    """

    def __init__(self) -> None:
        self._last: dict[str, tuple[str, Snapshot]] = {}

    def parse(
        self,
        number: str,
        raw: Any,
        fetched_at: datetime,
        parser: Callable[[str, Any, datetime], Snapshot],
        mark: str | None = None,
    ) -> Snapshot:
        """`parser(number, raw, fetched_at)`, unless `raw` is what was parsed last time.

        `mark` is the service's own change marker for `raw` when it has one (cheaper than
        fingerprinting the whole answer); by default the answer is fingerprinted.
        """
        mark = mark or fingerprint(raw)
        cached = self._last.get(number)
        if cached is not None and cached[0] == mark:
            return replace(cached[1], fetched_at=fetched_at)
        snapshot = replace(parser(number, raw, fetched_at), fingerprint=mark)
        self._last[number] = (mark, snapshot)
        return snapshot


def bounded(snapshot: Snapshot) -> Snapshot:
    """The snapshot without the dates no carrier means (`monitor.model.SANE_YEARS`).

    A checkpoint dated 0001-01-01 or 9999-12-31 is dropped, an ETA with such a day too, a
    keep-until day is forgotten; one log line says what went. The differ applies this to every
    snapshot it is given (polled or pushed), so a plugin need not; a plugin may call it earlier.
    """
    eta = snapshot.eta
    bad_eta = eta is not None and not (sane_date(eta.earliest) and sane_date(eta.latest))
    kept: list[Checkpoint] = []
    dropped: list[str] = []
    for cp in snapshot.checkpoints:
        if not sane_date(cp.at):
            dropped.append(cp.at.isoformat())
        elif cp.storage_until is not None and not sane_date(cp.storage_until):
            dropped.append(f"storage until {cp.storage_until.isoformat()}")
            kept.append(replace(cp, storage_until=None))
        else:
            kept.append(cp)
    if not dropped and not bad_eta:
        return snapshot
    if bad_eta:
        dropped.append(f"ETA {eta}")
    log.warning(
        "monitor.sources.dates_dropped",
        source=snapshot.source,
        number=snapshot.number,
        dates=dropped[:5],
        count=len(dropped),
        reason=f"outside the years {SANE_YEARS.start}..{SANE_YEARS.stop - 1}",
    )
    return replace(snapshot, checkpoints=tuple(kept), eta=None if bad_eta else eta)


_ZONES: dict[timedelta | None, tzinfo] = {}


def shared_zone(at: datetime) -> datetime:
    """`at` with a tzinfo shared by every datetime of the same offset.

    `datetime.fromisoformat` makes a new timezone object per call; a cache of parsed histories
    (thousands of parcels times dozens of scans) would keep every one of them.
    """
    offset = at.utcoffset()
    zone = _ZONES.get(offset)
    if zone is None:
        zone = _ZONES.setdefault(offset, at.tzinfo)  # type: ignore[arg-type]
    return at if at.tzinfo is zone else at.replace(tzinfo=zone)


@dataclass(frozen=True, slots=True)
class Meaning:
    """What one carrier code says: our status, the kind of pick-up point, what the buyer must do."""

    status: Status
    point: Point | None = None
    action: Action | None = None


class UnknownCodes:
    """The reading of codes a carrier's table does not know: `in_transit`, never dropped.

    Each unknown code is logged once per process (not once per poll), so a carrier that starts
    sending a new code shows up in the log without flooding it.
    """

    IN_TRANSIT = Meaning(Status.IN_TRANSIT)

    def __init__(self, source: str) -> None:
        self.source = source
        self._seen: set[str] = set()
        self._log = structlog.get_logger("monitor.sources")

    def read(self, code: str, fallback: Meaning = IN_TRANSIT) -> Meaning:
        """`fallback` (by default in_transit) for `code`, logging the code the first time."""
        if code not in self._seen:
            self._seen.add(code)
            self._log.warning(
                "unknown carrier code, read as " + fallback.status.value,
                source=self.source,
                code=code,
            )
        return fallback
