"""Reading what a carrier answered: tolerant access to decoded JSON, a cache of parsed answers,
dates kept within sane years, shared tzinfo objects, and the rows of carriers' code tables."""

from __future__ import annotations

import hashlib
import marshal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from typing import Any

import structlog

from monitor.model import SANE_YEARS, Action, Checkpoint, Point, Snapshot, Status, sane_date

log = structlog.get_logger("monitor.sources")


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
        fingerprinting the whole answer); by default the answer is fingerprinted. A parser that
        already gives its snapshot `mark` as the fingerprint saves making a copy of it.
        """
        mark = mark or fingerprint(raw)
        cached = self._last.get(number)
        if cached is not None and cached[0] == mark:
            return replace(cached[1], fetched_at=fetched_at)
        snapshot = parser(number, raw, fetched_at)
        if snapshot.fingerprint != mark:
            snapshot = replace(snapshot, fingerprint=mark)
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
