"""Input a Russian buyer types, at every entrance (CLI, HTTP API, MQTT command): all of it goes
through `monitor.orderinput`, so each entrance accepts and refuses the same things."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.clock import SimulatedClock
from monitor.config import Settings
from monitor.mqtt import commands
from monitor.notify.settings import NotifySettings
from monitor.orderinput import NewOrder, parse, parse_day, parse_when
from monitor.pipeline import Pipeline
from monitor.rules.base import RuleSettings
from monitor.store import Store
from tests.conftest import REPO
from tests.http.test_api import AUTH, TOKEN, Api, serve

VLADIVOSTOK = ZoneInfo("Asia/Vladivostok")
NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    store = Store.open(tmp_path / "parcel-monitor.db")
    pipeline = Pipeline.build(
        store=store,
        clock=SimulatedClock(NOW),
        sources={},
        rules=RuleSettings(),
        zone=VLADIVOSTOK,
    )
    async for running in serve(pipeline, TOKEN):
        yield running


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ | (env or {}),
        cwd=REPO,
    )


def test_dotted_dates_are_dates() -> None:
    assert parse_day("28.11.2026") == parse_day("2026-11-28")
    assert parse_when("8.3.2026", VLADIVOSTOK) == datetime(2026, 3, 8, tzinfo=VLADIVOSTOK)
    with pytest.raises(ValueError, match="is not a date"):
        parse_day("31.02.2026")


@pytest.mark.parametrize(
    "text", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "0001-01-01", "01.01.9999"]
)
def test_dates_at_the_edges_are_refused_naming_the_range(text: str) -> None:
    with pytest.raises(ValueError, match="out of range; dates from 2000-01-01 to 2099-12-31"):
        parse_when(text)
    with pytest.raises(ValueError, match="out of range"):
        parse_day(text)


def test_a_date_without_a_time_is_midnight_in_the_users_zone() -> None:
    order = parse(NewOrder, {"id": "1", "ordered": "2026-11-28"}, zone=VLADIVOSTOK).to_order()
    assert order.ordered_at == datetime(2026, 11, 28, tzinfo=VLADIVOSTOK)
    assert order.ordered_at.utcoffset() == timedelta(hours=10)


async def test_the_api_takes_what_a_buyer_types(api: Api) -> None:
    status, body = await api.call(
        "POST",
        "/api/orders",
        {"id": "8190000000000015", "ordered": "28.11.2026", "track": " ra 1234 5678 5cn "},
        headers=AUTH,
    )
    assert status == 201, body
    order = api.pipeline.orders.get("8190000000000015").order
    assert order.tracks == ("RA123456785CN",)
    assert order.ordered_at == datetime(2026, 11, 28, tzinfo=VLADIVOSTOK)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            {"id": "1", "ordered": "2026-01-10", "protection_until": "9999-12-31T23:59:59-14:00"},
            "protection_until: '9999-12-31T23:59:59-14:00' is out of range",
        ),
        ({"id": "1", "ordered": "0001-01-01"}, "ordered: '0001-01-01' is out of range"),
        ({"id": "1", "ordered": "2026-01-10", "promised": "01.01.0001"}, "promised: "),
        ({"id": "1", "ordered": "2026-01-10", "estimate": "2026-01-20..9999-01-01"}, "estimate"),
        (
            {"id": "1", "ordered": "2026-12-03"},
            "ordered: 2026-12-03T00:00:00+10:00 is in the future",
        ),
        ({"id": "1", "ordered": "2026-11-01", "paid": "2027-01-01"}, "paid: "),
        ({"id": "1", "ordered": "2026-11-01", "track": "RA 123 / 456"}, "not a track number"),
    ],
)
async def test_the_api_answers_400_naming_the_field(api: Api, body: object, reason: str) -> None:
    status, answer = await api.call("POST", "/api/orders", body, headers=AUTH)
    assert status == 400, answer
    assert reason in answer["error"]
    assert api.pipeline.store.views() == []


BAD_IDS = ["a/b", "a#b", "a+b", "a\x00b", "a b", "x" * 65, "a\nb", "", "заказ/1"]


@pytest.mark.parametrize("bad", BAD_IDS)
async def test_order_ids_are_short_and_plain_at_the_api_and_mqtt(api: Api, bad: str) -> None:
    status, answer = await api.call(
        "POST", "/api/orders", {"id": bad, "ordered": "2026-11-01"}, headers=AUTH
    )
    assert status == 400 and answer["error"].startswith("id: "), answer
    assert len(answer["error"]) < 200  # a 70,000-character id is not echoed back
    result = commands.execute(
        api.pipeline.orders, "add", json.dumps({"id": bad, "ordered": "2026-11-01"}).encode()
    )
    assert result["ok"] is False and result["error"].startswith("id: ")
    for command in ("update", "close"):
        result = commands.execute(
            api.pipeline.orders, command, json.dumps({"id": bad, "title": "x"}).encode()
        )
        assert result["ok"] is False and result["error"].startswith("id: ")
    assert api.pipeline.store.views() == []


async def test_good_ids_pass_everywhere(api: Api) -> None:
    for good in ("8190000000000015", "AE-2026_11.28:1", "заказ1", "x" * 64):
        status, answer = await api.call(
            "POST", "/api/orders", {"id": good, "ordered": "2026-11-01"}, headers=AUTH
        )
        assert status == 201, answer


def test_the_cli_takes_the_same_input_in_the_configured_zone(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('timezone = "Asia/Vladivostok"\n')
    base = ("--config", str(config))
    utc = {"TZ": "UTC"}  # the server's zone differs from the user's
    added = cli(
        *base, "add", "42", "--ordered", "28.11.2026", "--track", "ra 1234 5678 5cn", env=utc
    )
    assert added.returncode == 0, added.stderr
    store = Store.open(Path(os.environ["PARCEL_MONITOR_STATE_DIR"]) / "parcel-monitor.db")
    try:
        order = store.get_view("42").order  # type: ignore[union-attr]
    finally:
        store.close()
    assert order.ordered_at == datetime(2026, 11, 28, tzinfo=timezone(timedelta(hours=10)))
    assert order.tracks == ("RA123456785CN",)

    future = (datetime.now(UTC) + timedelta(days=3)).strftime("%d.%m.%Y")
    for args, named in [
        (("add", "43", "--ordered", future), "is in the future"),
        (
            (
                "add",
                "43",
                "--ordered",
                "2026-01-01",
                "--protection-until",
                "9999-12-31T23:59:59-14:00",
            ),
            "--protection-until",
        ),
        (("add", "a/b", "--ordered", "2026-01-01"), "ORDER_ID"),
        (("add", "x" * 70_000, "--ordered", "2026-01-01"), "at most 64 characters"),
        (("close", "a#b"), "ORDER_ID"),
    ]:
        done = cli(*base, *args, env=utc)
        assert done.returncode == 2 and named in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr) < 2000


def test_quiet_hours_take_the_hour_as_people_write_it() -> None:
    quiet = NotifySettings.model_validate({"quiet_hours": {"start": "22:00", "end": "8:00"}})
    assert quiet.quiet_hours is not None and quiet.quiet_hours.end.hour == 8
    settings = Settings(notify={"quiet_hours": {"start": "23:30", "end": "7:15"}})  # type: ignore[arg-type]
    assert settings.notify.quiet_hours is not None
    assert settings.notify.quiet_hours.end.isoformat() == "07:15:00"
