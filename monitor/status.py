"""The daemon's one-line summary, for `systemctl status` (sd_notify STATUS=)."""

from __future__ import annotations

from monitor.pipeline import Pipeline
from monitor.store import OutboxState


def summary(pipeline: Pipeline) -> str:
    """E.g. `12 orders watched, sources 2/2 healthy, next poll in 41m, 0 notifications pending`."""
    store = pipeline.store
    orders = store.open_order_count()
    pending = store.outbox_counts()[OutboxState.PENDING]
    poller = pipeline.poller
    healthy = sum(health.healthy for health in poller.health.values())
    return (
        f"{orders} orders watched, sources {healthy}/{len(poller.health)} healthy, "
        f"next poll {_next_poll(pipeline)}, {pending} notifications pending"
    )


def _next_poll(pipeline: Pipeline) -> str:
    poller, now = pipeline.poller, pipeline.clock.monotonic()
    if not poller.sources:
        return "never (no sources)"
    # A source whose task has not run yet polls as soon as it does.
    seconds = max(0.0, min(poller.next_poll.get(name, now) for name in poller.sources) - now)
    if seconds < 60:
        return f"in {seconds:.0f}s"
    if seconds < 3600:
        return f"in {seconds / 60:.0f}m"
    return f"in {seconds / 3600:.1f}h"
