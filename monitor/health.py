"""Is the daemon well? Named checks, each saying nothing when fine and the reason when not.

The daemon registers one check per part (store, sources, broker, notifier); `/healthz` reports
them. Checks are cheap reads of state the parts keep anyway: asking never does I/O beyond one
small SQLite query.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from monitor.store import Store
from monitor.tracking.poller import Poller

Check = Callable[[], str | None]
"""Returns None when the part is fine, else what is wrong in one line."""


class Health:
    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}

    def add(self, name: str, check: Check) -> None:
        self._checks[name] = check

    def report(self) -> dict[str, str | None]:
        """Each check's reason (None for ok); a check that raises is itself a reason."""
        results: dict[str, str | None] = {}
        for name, check in self._checks.items():
            try:
                results[name] = check()
            except Exception as exc:
                results[name] = f"check failed: {type(exc).__name__}"
        return results


class BrokerLink(Protocol):
    """What the MQTT bridge tells about its connection."""

    connected: bool
    last_error: str


def broker_check(link: BrokerLink) -> Check:
    def check() -> str | None:
        if link.connected:
            return None
        return f"broker unreachable: {link.last_error or 'not connected yet'}"

    return check


def store_check(store: Store) -> Check:
    def check() -> str | None:
        return store.problem()

    return check


def sources_check(poller: Poller) -> Check:
    def check() -> str | None:
        failing = [
            f"{name}: {health.last_error} ({health.failures} failed polls in a row)"
            for name, health in sorted(poller.health.items())
            if not health.healthy
        ]
        return "; ".join(failing) or None

    return check


def notifier_check(store: Store) -> Check:
    """Warnings given up on, or being retried after a failed send (read from the outbox)."""

    def check() -> str | None:
        trouble = store.outbox_trouble()
        failed, retrying, error = trouble.failed, trouble.retrying, trouble.last_error
        problems = [f"{failed} notifications failed"] if failed else []
        problems += [f"{retrying} notifications being retried"] if retrying else []
        if not problems:
            return None
        return ", ".join(problems) + (f" (last error: {error})" if error else "")

    return check
