"""`list`, `show`, `check` and `demo` speak the buyer's language and show one display zone."""

from __future__ import annotations

from dataclasses import replace
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


def test_demo_headings_are_russian_too(capsys: pytest.CaptureFixture[str]) -> None:
    _, russian, _ = run(capsys, "demo", "--language", "ru")
    _, english, _ = run(capsys, "demo", "--language", "en")
    assert "━━ Оплачено неделю назад" in russian and "━━ Paid a week ago" in english
    headings = [line for line in russian.splitlines() if line.startswith("━━")]
    assert headings and not any(word in h for h in headings for word in ("the ", "The "))


def test_the_cli_lines_around_the_data_speak_russian(
    capsys: pytest.CaptureFixture[str], russian_in_vladivostok: None
) -> None:
    from zoneinfo import ZoneInfo

    from monitor.events import SourceFailed, StatusChanged
    from monitor.notify.report import order_lines, summary
    from monitor.views.terminal import event_line, print_found
    from tests.notify.conftest import ORDER, T0, alert

    failed = event_line(SourceFailed(at=T0, source="cainiao", reason="HTTP 503"), "ru")
    assert failed == "источник cainiao не ответил: HTTP 503"
    moved = StatusChanged(
        at=T0, order_id="82", old=Status.IN_TRANSIT, new=Status.AT_POST_OFFICE, since=T0
    )
    assert event_line(moved, "ru") == "заказ 82: в пути → в почтовом отделении"
    print_found(
        {
            "number": "RA100000001CN",
            "source": "cainiao",
            "status": "in_transit",
            "eta": ["2026-11-01", "2026-11-05"],
            "events": [
                {
                    "at": "2026-10-25T10:00:00+03:00",
                    "status": "in_transit",
                    "text": "Departed",
                    "location": "Shenzhen",
                }
            ],
            "handover": "RR000000001RU",
        },
        "ru",
        ZoneInfo("Asia/Vladivostok"),
    )
    found = capsys.readouterr().out
    assert "в пути, ожидается с 2026-11-01 по 2026-11-05" in found
    assert "2026-10-25 17:00 (местное время 10:00 UTC+03:00)" in found
    assert "T10:00" not in found and "дальше под номером RR000000001RU" in found

    settings, _ = load_settings(None)
    store = Store.open(settings.database)
    try:
        store.add_order(ORDER, now=T0)
        store.record_alert(alert())
        assert summary(store, "ru") == "уведомления: ждут отправки — 1, не доставлены — 0"
        line = order_lines(store, ORDER.id, "ru")[0]
        assert line.split() == ["ждёт", "stalled", "(попыток:", "0)"]
    finally:
        store.close()
    code, out, _ = run(capsys, "notify", "retry")
    assert code == 0 and "снова в очереди: 0" in out and "queued" not in out


def test_nothing_follows_is_said_in_russian(
    capsys: pytest.CaptureFixture[str],
    russian_in_vladivostok: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PARCEL_MONITOR_SOURCES__CAINIAO__ENABLED", "false")
    run(capsys, "add", "83", "--ordered", "2026-01-10", "--track", "RA100000001CN")
    _, table, _ = run(capsys, "list")
    _, shown, _ = run(capsys, "show", "83")
    for out in (table, shown):
        assert "никто не отслеживает" in out and "nothing follows" not in out, out


def test_show_says_where_an_order_came_from_in_russian(
    capsys: pytest.CaptureFixture[str], russian_in_vladivostok: None
) -> None:
    # The QA trial read "откуда: mail: …": the stored prefix is a key, the screen translates it.
    assert run(capsys, "add", "8100000000000078", "--ordered", "2026-01-10")[0] == 0
    settings, _ = load_settings(None)
    store = Store.open(settings.database)
    try:
        view = store.get_view("8100000000000078")
        assert view is not None
        mailed = replace(view.order, origin="mail: Lamp shipped (shop@example.com, 2026-01-11)")
        store.update_order(mailed, now=datetime.fromisoformat("2026-01-11T09:00:00+00:00"))
    finally:
        store.close()
    code, shown, _ = run(capsys, "show", "8100000000000078")
    assert code == 0
    assert "откуда: почта: Lamp shipped (shop@example.com, 2026-01-11)" in shown
    assert "mail:" not in shown
