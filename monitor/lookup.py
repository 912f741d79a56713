"""One-off lookups of a track number (`parcel-monitor track`): no order, no store, no warnings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monitor.model import LookupFailure, Snapshot
from monitor.plugin import SourceError
from monitor.routing import Routing
from monitor.sourcekit import answer_limit, bounded
from monitor.sources import ActiveSources


class LookupFailed(Exception):
    """No source could answer; the message lists each one's reason."""


@dataclass(frozen=True, slots=True)
class Found:
    source: str
    snapshot: Snapshot


async def look_up(number: str, sources: ActiveSources, routing: Routing) -> Found:
    """Ask the sources that suit this number, in order, until one answers.

    A source that does not know the number answers `not_found`: that is an answer, not a failure.
    """
    names = routing.sources_for(number)
    if not names:
        raise LookupFailed(f"no configured source handles {number!r}")
    reasons = []
    for name in names:
        source, settings = sources[name]
        limit = answer_limit.set(settings.max_answer_size)
        try:
            answer = await source.lookup([number])
        except SourceError as exc:
            reasons.append(f"{name}: {exc.reason}")
            continue
        finally:
            answer_limit.reset(limit)
        result = answer.get(number)
        if isinstance(result, Snapshot):
            return Found(name, bounded(result))
        if isinstance(result, LookupFailure):
            reasons.append(f"{name}: {result.reason}")
        else:
            reasons.append(f"{name}: no answer about {number}")
    raise LookupFailed("; ".join(reasons))


def found_json(found: Found) -> dict[str, Any]:
    snapshot = found.snapshot
    eta = snapshot.eta
    return {
        "number": snapshot.number,
        "source": found.source,
        "status": snapshot.status.value,
        "eta": [eta.earliest.isoformat(), eta.latest.isoformat()] if eta else None,
        "events": [
            {
                "at": cp.at.isoformat(),
                "status": cp.status.value,
                "text": cp.text,
                "location": cp.location,
            }
            for cp in sorted(snapshot.checkpoints, key=lambda cp: cp.at)
        ],
        "handover": snapshot.handover,
    }
