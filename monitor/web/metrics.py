"""`/metrics` in the Prometheus text format, written by hand.

Every value is read at scrape time from state the daemon keeps anyway (the store, the poller's
source health, the bridge), so there is nothing to register or keep in sync and no global
registry (prometheus_client's default one is process-wide state); the format itself is a few
lines. Source health counts consecutive failures (it resets when a source recovers), so failures
are a gauge here, not a counter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from monitor.store import Store
from monitor.tracking.poller import Poller
from monitor.views.state import state as order_state

Labels = dict[str, str]


@dataclass(slots=True)
class Family:
    name: str
    kind: str  # "gauge" or "counter"
    help: str
    samples: list[tuple[Labels, float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> Family:
        self.samples.append((labels, value))
        return self


def render(families: Iterable[Family]) -> str:
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {family.help}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for labels, value in family.samples:
            lines.append(f"{family.name}{_labels(labels)} {_number(value)}")
    return "\n".join(lines) + "\n"


def collect(store: Store, poller: Poller, *, broker_connected: bool | None) -> list[Family]:
    orders = Family("parcel_monitor_orders", "gauge", "Watched orders by status.")
    closed = 0
    by_status: dict[str, int] = {}
    for view in store.views():
        if view.order.closed:
            closed += 1
        else:
            status = order_state(view)
            by_status[status] = by_status.get(status, 0) + 1
    for status, count in sorted(by_status.items()):
        orders.add(count, status=status)
    families = [
        orders,
        Family("parcel_monitor_orders_closed", "gauge", "Orders closed by the buyer.").add(closed),
        *_source_families(poller),
        _warnings(store),
        _notifications(store),
    ]
    if broker_connected is not None:
        families.append(
            Family(
                "parcel_monitor_mqtt_connected", "gauge", "1 while the MQTT broker is connected."
            ).add(int(broker_connected))
        )
    return families


def _source_families(poller: Poller) -> list[Family]:
    polls = Family("parcel_monitor_polls_total", "counter", "Polls of each source since start.")
    numbers = Family(
        "parcel_monitor_numbers_checked_total", "counter", "Track numbers looked up since start."
    )
    up = Family("parcel_monitor_source_up", "gauge", "1 unless the source's last poll failed.")
    failures = Family(
        "parcel_monitor_source_failures",
        "gauge",
        "Failed polls in a row (0 when the source works).",
    )
    latency = Family(
        "parcel_monitor_poll_duration_seconds", "gauge", "How long the source's last poll took."
    )
    for name, health in sorted(poller.health.items()):
        polls.add(health.polls, source=name)
        numbers.add(health.numbers_checked, source=name)
        up.add(int(health.healthy), source=name)
        failures.add(health.failures, source=name)
        latency.add(health.last_poll_s, source=name)
    return [polls, numbers, up, failures, latency]


def _warnings(store: Store) -> Family:
    family = Family("parcel_monitor_warnings_total", "counter", "Warnings raised, by severity.")
    for severity, count in store.warnings_by_severity().items():
        family.add(count, severity=severity.value)
    return family


def _notifications(store: Store) -> Family:
    """The notifier's outbox by state: pending, sent, failed (given up or not renderable),
    muted, and removed (the order was removed before it went out)."""
    family = Family("parcel_monitor_notifications", "gauge", "Warning notifications by state.")
    for state, count in store.outbox_counts().items():
        family.add(count, state=state.value)
    return family


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
