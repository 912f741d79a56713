"""Garbage in, clean errors out; and a clock that jumps does not cause a flood."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.bus import Bus
from monitor.clock import SimulatedClock
from monitor.config import ConfigError, load_settings
from monitor.events import WarningRaised
from monitor.model import Order
from monitor.pipeline import Pipeline
from monitor.rules.base import RuleSettings
from monitor.scenario import ScenarioError, parse_scenario
from monitor.store import Store
from tests.conftest import at

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
scenario_keys = st.sampled_from(
    ["name", "poll_every", "order", "timeline", "end", "expect", "strict"]
)
order_like = st.fixed_dictionaries(
    {"id": st.text(max_size=5) | st.integers(), "ordered_at": st.text(max_size=30)},
    optional={"track": json_values, "paid_at": json_values, "promised_by": json_values},
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(scenario_keys, json_values | order_like, max_size=7) | json_values)
def test_the_scenario_loader_only_ever_raises_scenario_errors(raw: Any) -> None:
    try:
        parse_scenario(raw, source="fuzz.json")
    except ScenarioError as exc:
        assert str(exc).startswith("fuzz.json: ")


toml_scalars = st.one_of(
    st.booleans(), st.integers(-5, 10**6), st.sampled_from(["6h", "7d", "x", "", "debug", "json"])
)
config_keys = st.sampled_from(
    ["state_dir", "tick_every", "sync_every", "plugin_dirs", "log", "rules", "sources", "oops"]
)
nested_keys = st.sampled_from(
    ["level", "format", "stalled_after", "eta_shift_moves", "replay", "x"]
)


def _toml(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, bool) else str(value).lower()


@settings(
    max_examples=100,
    suppress_health_check=[
        *settings.default.suppress_health_check,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(
    top=st.dictionaries(config_keys, toml_scalars, max_size=3),
    sections=st.dictionaries(
        st.sampled_from(["log", "rules", "sources.replay", "mystery"]),
        st.dictionaries(nested_keys, toml_scalars, max_size=3),
        max_size=3,
    ),
)
def test_the_config_loader_only_ever_raises_config_errors(
    tmp_path: Path, top: dict[str, Any], sections: dict[str, dict[str, Any]]
) -> None:
    lines = [f"{key} = {_toml(value)}" for key, value in top.items()]
    for name, body in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {_toml(value)}" for key, value in body.items()]
    path = tmp_path / "fuzz.toml"
    path.write_text("\n".join(lines) + "\n")
    try:
        load_settings(path)
    except ConfigError as exc:
        assert str(path) in str(exc)


def test_a_wall_clock_jump_raises_each_deadline_once_not_a_flood() -> None:
    """Suspend/resume or an NTP step: the clock leaps past several deadlines at once."""
    start = at("2026-03-01T10:00:00+03:00")
    clock = SimulatedClock(start)
    store = Store.open(":memory:")
    pipeline = Pipeline.build(store=store, clock=clock, sources={}, rules=RuleSettings(), bus=Bus())
    raised: list[str] = []
    pipeline.bus.subscribe(WarningRaised, lambda e: raised.append(e.alert.condition))
    pipeline.orders.add(
        Order(id="1", ordered_at=start, protection_until=start + timedelta(days=30))
    )
    clock.set(start + timedelta(days=29))  # past track_missing and both protection reminders
    for _ in range(5):
        pipeline.tick()
    assert sorted(raised) == ["last@" + (start + timedelta(days=30)).isoformat(), "paid"]
    store.close()


@pytest.mark.parametrize("hours", [1, 6, 24])
def test_ticks_after_the_deadline_never_repeat(hours: int) -> None:
    start = at("2026-03-01T10:00:00+03:00")
    clock = SimulatedClock(start)
    store = Store.open(":memory:")
    pipeline = Pipeline.build(store=store, clock=clock, sources={}, rules=RuleSettings())
    raised: list[str] = []
    pipeline.bus.subscribe(WarningRaised, lambda e: raised.append(e.alert.rule))
    pipeline.orders.add(Order(id="1", ordered_at=start))
    for step in range(1, 24 * 20 // hours):
        clock.set(start + timedelta(hours=hours * step))
        pipeline.tick()
    assert raised == ["track_missing"]
    store.close()


def test_the_suite_runs_hypothesis_with_the_load_tolerant_deterministic_profile() -> None:
    # A busy 2-core machine made "Input generation is slow" fail the suite (issue 10).
    assert settings.default.deadline is None
    assert settings.default.derandomize
    assert HealthCheck.too_slow in settings.default.suppress_health_check
    assert HealthCheck.data_too_large in settings.default.suppress_health_check
