"""From what the sources said about an order's numbers to one conclusion about the order.

Pure functions: the differ feeds them stored snapshots and checkpoints, they return the new
`TrackingState`. Kept apart from I/O so the rules of the derivation are testable on plain data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime

from monitor.model import (
    Checkpoint,
    Destination,
    EtaWindow,
    Order,
    Point,
    Snapshot,
    SnapshotRow,
    Status,
    Stay,
    TrackingState,
    postcode_key,
)

_NEVER = float("-inf")
_UNSCANNED = (Status.NOT_FOUND, Status.INFO_RECEIVED)
# Where a scan's postcode is the place the parcel is handed over: the buyer's own area.
_LAST_MILE = (
    Status.AT_POST_OFFICE,
    Status.OUT_FOR_DELIVERY,
    Status.DELIVERY_FAILED,
    Status.DELIVERED,
)


def snapshot_digest(snapshot: Snapshot) -> str:
    """A fingerprint of everything in a snapshot except when it was fetched.

    Equal digests mean nothing changed, which lets a steady poll cycle skip all store work.
    A source's own fingerprint of the raw answer stands in for it when present.
    """
    if snapshot.fingerprint:
        return snapshot.fingerprint
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{snapshot.status}|{snapshot.eta}|{snapshot.handover}".encode())
    if snapshot.destination is not None:
        h.update(f"|{snapshot.destination.country}|{snapshot.destination.postcode}".encode())
    for cp in sorted(snapshot.checkpoints, key=lambda c: (c.at.timestamp(), c.status, c.text)):
        h.update(f"\0{cp.at.isoformat()}|{cp.status}|{cp.text}|{cp.location}|{cp.code}".encode())
        h.update(f"|{cp.point}|{cp.storage_until}|{cp.action}|{cp.postcode}".encode())
    return h.hexdigest()


def new_checkpoints(
    incoming: Sequence[Checkpoint], known: Sequence[Checkpoint]
) -> tuple[Checkpoint, ...]:
    """The incoming checkpoints not stored yet, oldest first, each once.

    Two reports are the same checkpoint when time, status and text agree; another source's report
    of the same scan (same time and status, other wording) is the same checkpoint too.
    """
    fresh: dict[tuple[datetime, str, str], Checkpoint] = {}
    if not known:  # a number seen for the first time: only repeats within the answer to drop
        for cp in incoming:
            fresh.setdefault(cp.key, cp)
    else:
        seen = {cp.key for cp in known}
        seen_scans = {(cp.at, cp.status) for cp in known}
        for cp in incoming:
            key = cp.key
            if key in seen or key in fresh or (cp.at, cp.status) in seen_scans:
                continue
            fresh[key] = cp
    return tuple(sorted(fresh.values(), key=_time_of))


def _time_of(checkpoint: Checkpoint) -> datetime:
    return checkpoint.at


def _status_run_start(checkpoints: Sequence[Checkpoint]) -> datetime | None:
    """When the trailing run of the newest checkpoint's status began."""
    if not checkpoints:
        return None
    status = checkpoints[-1].status
    start = checkpoints[-1].at
    for cp in reversed(checkpoints):
        if cp.status != status:
            break
        start = cp.at
    return start


def derive(
    order: Order,
    previous: TrackingState,
    snapshots: Sequence[SnapshotRow],
    checkpoints: Mapping[str, Sequence[Checkpoint]],
    track_added_at: Mapping[str, datetime],
) -> TrackingState:
    """The order's tracking state from its numbers' latest snapshots and checkpoint histories.

    The number whose newest checkpoint is newest speaks for the order (after a hand-over that is
    the last-mile number as soon as it moves); a number nobody scanned yet counts as oldest, and
    among equals the most recently assigned number wins.
    """
    position = {number: i for i, number in enumerate(order.tracks)}
    by_number: dict[str, SnapshotRow] = {}
    for row in snapshots:
        if row.number not in position:
            continue
        best = by_number.get(row.number)
        if best is None or (row.newest_ts or _NEVER, row.fetched_at) > (
            best.newest_ts or _NEVER,
            best.fetched_at,
        ):
            by_number[row.number] = row

    current = order.track
    track_since = track_added_at.get(current) if current else None
    answered = current is not None and current in by_number
    if not by_number:
        first, last, moves = _eta_history(previous, order.estimate)
        return TrackingState(
            status=None,
            eta=order.estimate,
            eta_first_latest=first,
            eta_last_latest=last,
            eta_later_moves=moves,
            track_since=track_since,
        )

    def rank(number: str) -> tuple[float, int]:
        cps = checkpoints.get(number, ())
        if cps:
            return (cps[-1].at.timestamp(), position[number])
        reported = by_number[number]
        if reported.status not in _UNSCANNED:  # a status without a scan yet, e.g. after a
            return (reported.status_seen_at.timestamp(), position[number])  # hand-over
        return (_NEVER, position[number])

    speaker = max(by_number, key=rank)
    row = by_number[speaker]
    cps = checkpoints.get(speaker, ())
    status = row.status
    if cps and cps[-1].status == status:
        since = _status_run_start(cps)
    elif previous.status == status and previous.status_since is not None:
        since = previous.status_since
    else:
        since = row.status_seen_at

    newest = max(
        (cp_list[-1] for cp_list in checkpoints.values() if cp_list),
        key=lambda cp: cp.at,
        default=None,
    )
    # The newest number's estimate: after a hand-over the last-mile carrier knows best.
    eta = _latest_eta(order, by_number) or order.estimate
    first, last, moves = _eta_history(previous, eta)
    return TrackingState(
        status=status,
        status_since=since,
        last_checkpoint=newest,
        eta=eta,
        eta_first_latest=first,
        eta_last_latest=last,
        eta_later_moves=moves,
        track_since=track_since,
        stay=current_stay(cps, since) if status is Status.AT_POST_OFFICE else None,
        destination=_destination(order, snapshots),
        asks=_trailing(cps, lambda cp: cp.action is not None),
        failed_attempts=_trailing(cps, lambda cp: cp.status is Status.DELIVERY_FAILED)
        if status is Status.DELIVERY_FAILED
        else (),
        places=_places(checkpoints[n] for n in order.tracks if n in checkpoints),
        track_answered=answered,
    )


def current_stay(checkpoints: Sequence[Checkpoint], since: datetime | None) -> Stay | None:
    """The parcel's current stay at a pick-up point, from a number's checkpoints (oldest first).

    A stay starts at the first `at_post_office` scan after a scan of another status, or at one
    naming another point (another postcode or kind of point: the parcel was forwarded). With no
    such scan at the end of the history, the stay starts when the status began.
    """
    run: list[Checkpoint] = []
    for cp in reversed(checkpoints):
        if cp.status is not Status.AT_POST_OFFICE:
            break
        run.append(cp)
    run.reverse()
    if not run:
        return Stay(since=since) if since is not None else None
    start = 0
    postcode, point = run[0].postcode, run[0].point
    for i, cp in enumerate(run[1:], 1):
        if (cp.postcode and postcode and postcode_key(cp.postcode) != postcode_key(postcode)) or (
            cp.point and point and cp.point != point
        ):
            start = i
            postcode, point = cp.postcode, cp.point
        postcode, point = postcode or cp.postcode, point or cp.point
    stay = run[start:]
    until = next((cp.storage_until for cp in reversed(stay) if cp.storage_until), None)
    return Stay(
        since=stay[0].at,
        point=next((cp.point for cp in stay if cp.point), Point.OFFICE),
        storage_until=until,
        postcode=next((cp.postcode for cp in stay if cp.postcode), ""),
        location=stay[0].location,
    )


def _trailing(
    checkpoints: Sequence[Checkpoint], matches: Callable[[Checkpoint], bool]
) -> tuple[Checkpoint, ...]:
    """The newest checkpoints that all match, oldest first: what is still the case now.

    An older match followed by other news is over (an action done, an attempt followed by
    another): an order added late must not be told about it.
    """
    run: list[Checkpoint] = []
    for cp in reversed(checkpoints):
        if not matches(cp):
            break
        run.append(cp)
    return tuple(reversed(run))


def _places(histories: Iterable[Sequence[Checkpoint]]) -> tuple[Checkpoint, ...]:
    first: dict[str, Checkpoint] = {}
    for cps in histories:
        for cp in cps:
            if cp.status in _LAST_MILE and cp.postcode:
                key = postcode_key(cp.postcode)
                if key not in first or cp.at < first[key].at:
                    first[key] = cp
    return tuple(sorted(first.values(), key=_time_of))


def _destination(order: Order, snapshots: Sequence[SnapshotRow]) -> Destination | None:
    """The newest number's destination, as its most recent answer that gives one says."""
    for number in reversed(order.tracks):
        rows = [r for r in snapshots if r.number == number and r.destination]
        if rows:
            return max(rows, key=lambda r: r.fetched_at).destination
    return None


def _latest_eta(order: Order, rows: Mapping[str, SnapshotRow]) -> EtaWindow | None:
    for number in reversed(order.tracks):
        row = rows.get(number)
        if row is not None and row.eta is not None:
            return row.eta
    return None


def _eta_history(
    previous: TrackingState, eta: EtaWindow | None
) -> tuple[date | None, date | None, int]:
    first, last, moves = (
        previous.eta_first_latest,
        previous.eta_last_latest,
        previous.eta_later_moves,
    )
    if eta is not None and eta.latest != last:
        if last is not None and eta.latest > last:
            moves += 1
        last = eta.latest
        if first is None:
            first = eta.latest
    return first, last, moves
