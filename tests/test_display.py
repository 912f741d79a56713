"""`list`, `show`, `check` and `demo` speak the buyer's language and show one display zone."""

from __future__ import annotations

from datetime import datetime

import pytest

from monitor.clock import SystemClock
from monitor.config import load_settings
from monitor.model import Checkpoint, Status
from monitor.pipeline import Pipeline
from monitor.rules.base import RuleSettings
from monitor.store import Store
from monitor.tracking.derive import Snapshot
from tests.test_cli import run


@pytest.fixture
def russian_in_vladivostok(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARCEL_MONITOR_TIMEZONE", "Asia/Vladivostok")  # UTC+10
    monkeypatch.setenv("PARCEL_MONITOR_NOTIFY__LANGUAGE", "ru")


def scans_from_two_zones() -> None:
    """A scan in China (UTC+8) an hour before one in Moscow (UTC+3): by each place's own clock
    the second looks four hours earlier."""
    settings, _ = load_settings(None)
    store = Store.open(settings.database)
    try:
        pipeline = Pipeline.build(
            store=store, clock=SystemClock(), sources={}, rules=RuleSettings()
        )
        china = datetime.fromisoformat("2026-01-12T20:00:00+08:00")
        moscow = datetime.fromisoformat("2026-01-12T16:00:00+03:00")
        pipeline.differ.apply(
            [
                Snapshot(
                    number="RA100000001CN",
                    source="test",
                    status=Status.IN_TRANSIT,
                    fetched_at=moscow,
                    checkpoints=(
                        Checkpoint(
                            at=china, status=Status.IN_TRANSIT, text="Departed", location="Shenzhen"
                        ),
                        Checkpoint(
                            at=moscow, status=Status.IN_TRANSIT, text="Arrived", location="Moscow"
                        ),
                    ),
                )
            ]
        )
    finally:
        store.close()


def test_list_and_show_speak_russian_in_the_display_zone(
    capsys: pytest.CaptureFixture[str], russian_in_vladivostok: None
) -> None:
    code, _, err = run(
        capsys,
        "add",
        "8100000000000077",
        "--ordered",
        "2026-01-10T09:00:00+00:00",
        "--protection-until",
        "2026-03-01T12:00:00+00:00",
        "--track",
        "RA100000001CN",
    )
    assert code == 0, err
    scans_from_two_zones()

    code, table, _ = run(capsys, "list")
    assert code == 0
    assert "ЗАЩИТА ДО" in table and "в пути" in table
    assert "2026-03-01 22:00" in table  # 12:00 UTC in Vladivostok

    code, shown, _ = run(capsys, "show", "8100000000000077")
    assert code == 0
    assert "заказан 2026-01-10 19:00" in shown
    china = shown.index("2026-01-12 22:00 (местное время 20:00 UTC+08:00)")
    moscow = shown.index("2026-01-12 23:00 (местное время 16:00 UTC+03:00)")
    assert china < moscow  # in one zone the journey runs forwards
    assert "События:" in shown and "в пути" in shown


def test_show_in_english_where_zones_agree_adds_no_offset(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARCEL_MONITOR_TIMEZONE", "Asia/Shanghai")
    monkeypatch.setenv("PARCEL_MONITOR_NOTIFY__LANGUAGE", "en")
    assert run(capsys, "add", "81", "--ordered", "2026-01-10", "--track", "RA100000001CN")[0] == 0
    scans_from_two_zones()
    _, shown, _ = run(capsys, "show", "81")
    assert "2026-01-12 20:00  in transit" in shown  # a Chinese scan in the Chinese zone: as it is
    assert "2026-01-12 21:00 (local time 16:00 UTC+03:00)" in shown
    assert "Checkpoints:" in shown


def test_demo_speaks_the_language_asked_for(capsys: pytest.CaptureFixture[str]) -> None:
    _, russian, _ = run(capsys, "demo", "--language", "ru")
    _, english, _ = run(capsys, "demo", "--language", "en")
    assert "Трек-номера всё ещё нет" in russian and "Что делать:" in russian
    assert "No track number yet" in english and "Что делать" not in english
    assert "Hello,\n" not in russian or "Order number:" in russian  # the dispute stays English


def test_check_speaks_the_configured_language(
    capsys: pytest.CaptureFixture[str], russian_in_vladivostok: None
) -> None:
    run(capsys, "add", "82", "--ordered", "2026-01-10")  # raises track_missing when added
    code, out, _ = run(capsys, "check")
    assert code == 0
    assert "изменений нет" in out or "Трек-номера" in out
    assert "nothing changed" not in out
