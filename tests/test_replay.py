"""The replay contract of SCENARIOS.md, on the project's own scenarios and the shared ones."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.clock import SimulatedClock
from monitor.events import Alert, WarningRaised
from monitor.pipeline import Pipeline
from monitor.plugin import SourceContext
from monitor.replay import _no_http, replay
from monitor.rules.base import RuleSettings
from monitor.scenario import Scenario, ScenarioError, load_scenario, parse_scenario
from monitor.store import SourceCursors, Store
from plugins.replay import ReplaySource
from tests.conftest import REPO, SHARED_SCENARIOS, unmet_expectations

OWN = sorted((REPO / "monitor" / "scenarios").glob("*.json")) + sorted(
    (REPO / "tests" / "scenarios").glob("*.json")
)
SHARED = sorted(SHARED_SCENARIOS.glob("*.json")) if SHARED_SCENARIOS.is_dir() else []


@pytest.mark.parametrize("path", OWN, ids=lambda p: p.stem)
async def test_own_scenarios_meet_their_expectations(path: Path) -> None:
    scenario = load_scenario(path)
    alerts = await replay(scenario)
    assert unmet_expectations(scenario, alerts) == []


@pytest.mark.skipif(not SHARED, reason="../shared/scenarios is not here (only in the dev/CI tree)")
@pytest.mark.parametrize("path", SHARED, ids=lambda p: p.stem)
async def test_shared_scenarios_meet_their_expectations(path: Path) -> None:
    scenario = load_scenario(path)
    alerts = await replay(scenario)
    assert unmet_expectations(scenario, alerts) == []


def test_every_rule_is_exercised_by_the_bundled_scenarios() -> None:
    from monitor.rules.engine import RULES

    expected = {e.rule for path in OWN for e in load_scenario(path).expect}
    assert expected == set(RULES)


def test_replay_json_is_deterministic_and_only_json(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(p) for p in OWN[:4]]
    assert main(["replay", *files, "--json"]) == 0
    first = capsys.readouterr()
    assert main(["replay", *files, "--json"]) == 0
    second = capsys.readouterr()
    assert first.out == second.out
    lines = [json.loads(line) for line in first.out.splitlines()]
    assert lines and all({"at", "rule", "order", "severity"} <= set(line) for line in lines)


def test_replay_leaves_the_users_state_alone(isolated_env: Path) -> None:
    assert main(["replay", str(OWN[0]), "--json"]) == 0
    assert not isolated_env.exists()


def _scenario(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "order": {"id": "1", "ordered_at": "2026-01-01T10:00:00+03:00"},
        "timeline": [],
        "end": "2026-01-05T00:00:00+03:00",
    }
    base.update(overrides)
    return base


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (_scenario(end="yesterday"), "end"),
        (_scenario(order={"ordered_at": "2026-01-01T10:00:00+03:00"}), "order.id"),
        (_scenario(order={"id": "1", "ordered_at": "2026-01-01T10:00:00"}), "order.ordered_at"),
        (
            _scenario(timeline=[{"at": "2026-01-02T00:00:00+03:00", "status": "lost"}]),
            "timeline[0].status",
        ),
        (
            _scenario(timeline=[{"at": "2026-01-02T00:00:00+03:00", "eta": [1, 2, 3]}]),
            "timeline[0].eta",
        ),
        (_scenario(poll_every="often"), "poll_every"),
        (_scenario(poll_evry="1d"), "poll_evry"),
        (
            _scenario(expect=[{"rule": "late", "due": "2026-01-02T00:00:00+03:00"}]),
            "expect[0].rule",
        ),
        (
            _scenario(
                timeline=[{"at": "2026-01-03T00:00:00+03:00"}, {"at": "2026-01-02T00:00:00+03:00"}]
            ),
            "sorted",
        ),
        (
            _scenario(
                order={
                    "id": "1",
                    "ordered_at": "2026-01-01T10:00:00+03:00",
                    "paid_at": "2025-12-01T10:00:00+03:00",
                }
            ),
            "paid_at",
        ),
    ],
)
def test_a_malformed_scenario_names_the_file_and_the_field(
    raw: dict[str, object], needle: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(raw, source="bad.json")
    assert str(caught.value).startswith("bad.json: ")
    assert needle in str(caught.value)


def test_replay_command_rejects_a_broken_file_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text('{"order": {"id": "1", ', encoding="utf-8")
    assert main(["replay", str(bad), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert str(bad) in captured.err and "not valid JSON" in captured.err
    assert "Traceback" not in captured.err


async def test_every_rule_threshold_is_a_setting() -> None:
    from monitor.rules.base import RuleSettings

    scenario = load_scenario(REPO / "monitor" / "scenarios" / "01-no-track-number.json")
    later = RuleSettings.model_validate({"track_missing_after": "10d"})
    alerts = await replay(scenario, rules=later)
    assert alerts == []  # the scenario ends before day 10


# --- the first lookup (DOMAIN.md): nothing but track_missing before the first answer -------------
# A scenario's clock starts at its order date, so "added long after" is built here from the same
# parts `replay` uses: the replay source serving a scenario, the pipeline, a simulated clock.

OLD_ORDER = {
    "id": "8190000000000015",
    "ordered_at": "2026-10-20T10:00:00+03:00",
    "promised_by": "2026-10-25",
    "protection_until": "2026-11-10T10:00:00+03:00",
    "track": "RB900000015CN",
}
ADDED = datetime.fromisoformat("2026-11-28T10:00:00+03:00")


def _late_pipeline(scenario: Scenario, rules: RuleSettings) -> tuple[Pipeline, SimulatedClock]:
    clock = SimulatedClock(ADDED)
    store = Store.open(":memory:")
    settings = ReplaySource.Settings()
    context = SourceContext(
        clock=clock,
        http=_no_http,
        cursors=SourceCursors(store, "replay"),
        extra={"scenarios": [scenario]},
    )
    pipeline = Pipeline.build(
        store=store,
        clock=clock,
        sources={"replay": (ReplaySource(settings, context), settings)},
        rules=rules,
        enqueue=False,
    )
    return pipeline, clock


def _raised(pipeline: Pipeline) -> list[Alert]:
    raised: list[Alert] = []
    pipeline.bus.subscribe(WarningRaised, lambda event: raised.append(event.alert))
    return raised


async def test_an_old_order_added_after_delivery_only_says_delivered() -> None:
    scenario = parse_scenario(
        _scenario(
            order=OLD_ORDER,
            timeline=[
                {
                    "at": "2026-10-24T12:00:00+03:00",
                    "events": [
                        {"at": "2026-10-24T12:00:00+03:00", "status": "delivered", "text": "Got it"}
                    ],
                }
            ],
            end="2026-11-29T10:00:00+03:00",
        )
    )
    pipeline, clock = _late_pipeline(scenario, RuleSettings())
    raised = _raised(pipeline)
    pipeline.orders.add(scenario.order.order())  # the dates passed long ago: nothing yet
    assert raised == []
    await pipeline.poller.poll_all()
    clock.set(ADDED + timedelta(days=3))
    pipeline.tick()
    assert [a.rule for a in raised] == ["delivered"]
    pipeline.store.close()


async def test_warnings_resume_once_the_grace_passes_without_an_answer() -> None:
    """No source handles this number: after `first_lookup_grace` the order speaks again."""
    scenario = parse_scenario(
        _scenario(order={**OLD_ORDER, "track": None}, end="2026-11-29T10:00:00+03:00")
    )
    order = replace(scenario.order.order(), tracks=("LP00000000016",))
    pipeline, clock = _late_pipeline(scenario, RuleSettings(first_lookup_grace=timedelta(hours=2)))
    raised = _raised(pipeline)
    pipeline.orders.add(order)
    for _ in range(3):
        await pipeline.poller.poll_all()
        clock.set(clock.now() + timedelta(minutes=50))
        pipeline.tick()
        if clock.now() < ADDED + timedelta(hours=2):
            assert raised == []
    assert [(a.rule, a.at) for a in raised] == [("overdue", ADDED + timedelta(minutes=150))]
    pipeline.store.close()
