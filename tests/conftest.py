"""Shared test helpers: an isolated state/config per test, and a scenario expectation checker."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from monitor.events import Alert
from monitor.scenario import Scenario

REPO = Path(__file__).resolve().parents[1]
SHARED_SCENARIOS = REPO.parent / "shared" / "scenarios"

# The suite runs beside other work on small machines: slow input generation is not a failure, and
# the same examples every run keep a red test reproducible.
settings.register_profile(
    "parcel-monitor",
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("parcel-monitor")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never touch the developer's real state or config: every test gets its own."""
    for name in list(__import__("os").environ):
        if name.startswith("PARCEL_MONITOR_") or name in ("STATE_DIRECTORY", "NOTIFY_SOCKET"):
            monkeypatch.delenv(name, raising=False)
    state = tmp_path / "state"
    monkeypatch.setenv("PARCEL_MONITOR_STATE_DIR", str(state))
    # Daemons run in parallel under xdist: never the default API port, always a free one.
    monkeypatch.setenv("PARCEL_MONITOR_HTTP__LISTEN", "127.0.0.1:0")
    # Without any [sources] section Cainiao is on by default; tests never reach the internet.
    monkeypatch.setenv("PARCEL_MONITOR_DEFAULT_SOURCES", "[]")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    return state


def unmet_expectations(scenario: Scenario, alerts: list[Alert]) -> list[str]:
    """SCENARIOS.md's tolerance: due T is met by a warning raised in [T, T + 2 x poll + 1h]."""
    tolerance = 2 * scenario.poll_every + timedelta(hours=1)
    used = [False] * len(alerts)
    problems = []
    for expected in scenario.expect:
        hit = next(
            (
                i
                for i, alert in enumerate(alerts)
                if not used[i]
                and alert.rule == expected.rule
                and expected.due <= alert.at <= expected.due + tolerance
                and (expected.severity is None or expected.severity == alert.severity.value)
            ),
            None,
        )
        if hit is None:
            seen = [f"{a.rule}@{a.at.isoformat()}" for a in alerts if a.rule == expected.rule]
            problems.append(f"missing {expected.rule} due {expected.due.isoformat()} (got {seen})")
        else:
            used[hit] = True
    if scenario.strict:
        problems += [
            f"unexpected {a.rule}@{a.at.isoformat()}"
            for a, u in zip(alerts, used, strict=True)
            if not u
        ]
    return problems


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)
