"""The replay contract of SCENARIOS.md, on the project's own scenarios and the shared ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.replay import replay
from monitor.scenario import ScenarioError, load_scenario, parse_scenario
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
