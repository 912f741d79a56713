"""The `parcel-monitor` command, run in-process against a real state directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config import load_settings
from monitor.rules.engine import RULES
from monitor.store import Store
from tests import builders
from tests.conftest import REPO


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = main(list(args))
    except SystemExit as exit_:  # argparse rejects bad arguments this way
        code = int(exit_.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list_json_is_an_empty_array_at_first(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list", "--json")
    assert code == 0 and json.loads(out) == []


def test_add_update_show_close_remove(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys,
        "add",
        "8100000000000009",
        "--ordered",
        "2026-03-01",
        "--paid",
        "2026-03-01T10:05:00+03:00",
        "--title",
        "Lamp",
        "--protection-days",
        "60",
        "--track",
        "RB123456785CN",
    )
    assert code == 0, err
    code, out, _ = run(capsys, "list", "--json")
    (order,) = json.loads(out)
    assert order["id"] == "8100000000000009" and order["track"] == "RB123456785CN"
    assert order["protection_until"] == "2026-04-30T10:05:00+03:00"
    code, _, err = run(
        capsys,
        "update",
        "8100000000000009",
        "--protection-until",
        "2026-05-15T10:00:00+03:00",
        "--track",
        "80097612345670",
    )
    assert code == 0, err
    code, out, _ = run(capsys, "show", "8100000000000009", "--json")
    shown = json.loads(out)
    assert shown["tracks"] == ["RB123456785CN", "80097612345670"]
    assert shown["protection_until"] == "2026-05-15T10:00:00+03:00"
    code, out, _ = run(capsys, "show", "8100000000000009")
    assert "Order 8100000000000009 — Lamp" in out
    assert run(capsys, "close", "8100000000000009")[0] == 0
    assert json.loads(run(capsys, "list", "--json")[1]) == []
    assert json.loads(run(capsys, "list", "--json", "--all")[1])[0]["closed"] is True
    assert run(capsys, "remove", "8100000000000009")[0] == 0
    assert json.loads(run(capsys, "list", "--json", "--all")[1]) == []


def test_mute_and_unmute_an_order(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "add", "M-1", "--ordered", "2026-03-01", "--title", "Lamp")[0] == 0
    code, out, err = run(capsys, "mute", "M-1")
    assert code == 0, err
    assert "muted order M-1" in out
    (order,) = json.loads(run(capsys, "list", "--json")[1])
    assert order["muted"] is True
    table = run(capsys, "list")[1]
    assert "(muted)" in next(line for line in table.splitlines() if line.startswith("M-1"))
    assert "muted: warnings are recorded but not pushed" in run(capsys, "show", "M-1")[1]
    assert json.loads(run(capsys, "show", "M-1", "--json")[1])["muted"] is True

    code, out, err = run(capsys, "unmute", "M-1")
    assert code == 0 and "unmuted order M-1" in out, err
    assert json.loads(run(capsys, "list", "--json")[1])[0]["muted"] is False
    assert "(muted)" not in run(capsys, "list")[1]
    assert "muted:" not in run(capsys, "show", "M-1")[1]

    code, _, err = run(capsys, "mute", "NOPE")
    assert code != 0 and "no order NOPE" in err
    code, out, _ = run(capsys, "mute", "--help")
    assert code == 0 and "recorded and shown" in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["add", "1", "--ordered", "2026-02-30"], "'2026-02-30' is not a date"),
        (["add", "1", "--ordered", "2026-03-01T10:00:00"], "no UTC offset"),
        (["add", "1", "--ordered", "2026-03-05", "--paid", "2026-03-01"], "paid_at"),
        (["add", "1", "--ordered", "2026-03-05", "--promised", "2026-02-01"], "promised_by"),
        (["add", "1", "--ordered", "2026-03-05", "--protection-days", "0"], "at least one day"),
        (["update", "nope", "--title", "x"], "no order nope"),
        (["show", "nope"], "no order nope"),
        (["remove", "nope"], "no order nope"),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    code, _, err = run(capsys, *args)
    assert code == 2 and needle in err and "Traceback" not in err
    assert json.loads(run(capsys, "list", "--json", "--all")[1]) == []


def test_adding_the_same_order_twice_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "add", "1", "--ordered", "2026-03-01", "--title", "first")[0] == 0
    code, _, err = run(capsys, "add", "1", "--ordered", "2026-03-01", "--title", "second")
    assert code == 2 and "already exists" in err
    assert json.loads(run(capsys, "list", "--json")[1])[0]["title"] == "first"


def test_config_errors_name_the_file_the_key_and_the_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[rules]\nstalled_after = "fortnight"\n[log]\nlevl = "debug"\n')
    code, _, err = run(capsys, "--config", str(config), "config", "check")
    assert code == 2
    assert f"{config}: rules.stalled_after" in err and "'fortnight'" in err
    assert "log.levl: unknown key" in err and "Traceback" not in err
    config.write_text("[rules\n")
    code, _, err = run(capsys, "--config", str(config), "config", "check")
    assert code == 2 and "not valid TOML" in err
    monkeypatch.setenv("PARCEL_MONITOR_RULES__CUSTOMS_AFTER", "soon")
    code, _, err = run(capsys, "config", "check")
    assert code == 2 and "PARCEL_MONITOR_RULES__CUSTOMS_AFTER" in err and "'soon'" in err


def test_config_check_prints_the_effective_config_with_env_overrides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[rules]\nstalled_after = "10d"\ncustoms_after = "5d"\n')
    monkeypatch.setenv("PARCEL_MONITOR_RULES__CUSTOMS_AFTER", "9d")
    code, out, err = run(capsys, "--config", str(config), "config", "check")
    assert code == 0, err
    data = json.loads(out)
    assert data["rules"]["stalled_after"] == "10d" and data["rules"]["customs_after"] == "9d"


def test_unknown_source_section_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[sources.nosuch]\nenabled = true\n")
    code, _, err = run(capsys, "--config", str(config), "config", "check")
    assert code == 2 and "sources.nosuch" in err and "replay" in err


def test_a_missing_named_config_file_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--config", str(tmp_path / "nope.toml"), "list")
    assert code == 2 and "nope.toml: configuration file not found" in err


def test_check_twice_never_repeats_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = REPO / "monitor" / "scenarios" / "07-no-movement.json"
    config = tmp_path / "config.toml"
    config.write_text(f'[sources.replay]\nfiles = ["{scenario}"]\n')
    code, out, _ = run(
        capsys,
        "--config",
        str(config),
        "add",
        "5004417700000107",
        "--ordered",
        "2020-09-01",
        "--track",
        "RA998877665CN",
    )
    # No daemon runs: `add` looks the new number up itself, and what it found warns at once.
    assert code == 0 and "looked up RA998877665CN with replay: in_transit" in out
    code, out, _ = run(capsys, "--config", str(config), "show", "5004417700000107", "--json")
    assert [w["rule"] for w in json.loads(out)["warnings"]] == ["stalled"]
    for _ in range(2):
        code, out, err = run(capsys, "--config", str(config), "check", "--json")
        assert code == 0 and out == "", err


def test_demo_runs_offline_and_shows_every_rule(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "demo")
    assert code == 0
    for rule in RULES:
        assert f"[{rule}]" in out


def test_plugins_lists_the_builtin_replay_source(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plugins")
    assert code == 0 and "replay" in out and "entry point" in out


def test_the_example_configuration_is_valid_with_its_sources_turned_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = (REPO / "config" / "parcel-monitor.example.toml").read_text()
    assert (
        run(
            capsys,
            "--config",
            str(REPO / "config" / "parcel-monitor.example.toml"),
            "config",
            "check",
        )[0]
        == 0
    )
    # Uncomment the built-in sources' sections (not replay: it needs real files).
    lines, uncomment = [], False
    for line in example.splitlines():
        if line.startswith("# [sources."):
            uncomment = "replay" not in line
        elif not line.strip():
            uncomment = False
        lines.append(line[2:] if uncomment and line.startswith("# ") else line)
    config = tmp_path / "config.toml"
    config.write_text("\n".join(lines))
    code, out, err = run(capsys, "--config", str(config), "config", "check")
    assert code == 0, err
    sources = json.loads(out)["sources"]
    assert set(sources) == {"cainiao", "seventeentrack", "russianpost"}
    assert sources["seventeentrack"]["api_key"] == "********"


def test_errors_and_config_check_never_show_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[notify]\nurls = "tgram://123456789:AAHsecretbottoken/987654321"\n'
        '[mqtt]\nurl = "mqtt://user:hunter2@broker"\n'
    )
    code, _, err = run(capsys, "--config", str(config), "config", "check")
    assert code == 2 and "notify.urls" in err and "mqtt.url" in err
    assert "AAHsecretbottoken" not in err and "hunter2" not in err


def test_the_shops_estimate_is_kept_and_checked(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys, "add", "42", "--ordered", "2026-03-01", "--estimate", "2026-03-20..03-25"
    )
    assert code == 2 and "--estimate" in err and "YYYY-MM-DD..YYYY-MM-DD" in err
    assert run(capsys, "add", "42", "--ordered", "2026-03-01", "--estimate", "2026-03-25")[0] == 0
    assert run(capsys, "update", "42", "--estimate", "2026-03-20..2026-03-28")[0] == 0
    (order,) = json.loads(run(capsys, "list", "--json")[1])
    assert order["estimate"] == ["2026-03-20", "2026-03-28"]
    assert order["eta"] == ["2026-03-20", "2026-03-28"]  # no carrier estimate yet


def test_check_json_gives_events_in_the_shape_mqtt_publishes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An order written straight into the store: no first lookup, so `check` sees it all new.
    scenario = REPO / "monitor" / "scenarios" / "07-no-movement.json"
    config = tmp_path / "config.toml"
    config.write_text(f'[sources.replay]\nfiles = ["{scenario}"]\n')
    settings, _ = load_settings(config)
    store = Store.open(settings.database)
    try:
        store.add_order(
            builders.order("5004417700000107", track="RA998877665CN"), now=builders.ORDERED
        )
    finally:
        store.close()
    code, out, err = run(capsys, "--config", str(config), "check", "--json")
    assert code == 0, err
    events = {record["kind"]: record for record in map(json.loads, out.splitlines())}
    added = events["checkpoints_added"]
    # MQTT's `<base>/events/checkpoints_added`: each checkpoint an object, not its text alone.
    first = {
        "at": "2026-09-03T11:00:00+03:00",
        "status": "info_received",
        "text": "Shipment information received",
        "location": "Hangzhou",
    }
    assert first.items() <= added["checkpoints"][0].items()
    assert added["order_ids"] == ["5004417700000107"] and added["number"] == "RA998877665CN"


def test_a_track_number_with_a_wrong_check_digit_is_kept_with_a_note(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The QA trial typed RB123456784CN (the S10 check digit is 5) and heard nothing. Carriers do
    # issue odd numbers, so it is kept; the buyer is told it may be a typo.
    note = "RB123456784CN: its check digit does not match — a typo?"
    code, out, err = run(
        capsys, "add", "8100000000000010", "--ordered", "2026-03-01", "--track", "rb 123456784 cn"
    )
    assert code == 0 and note in err, err
    assert json.loads(run(capsys, "list", "--json")[1])[0]["track"] == "RB123456784CN"
    code, out, err = run(capsys, "update", "8100000000000010", "--track", "RB123456785CN")
    assert code == 0 and "check digit" not in out + err  # the right one: no note
    monkeypatch.setenv("PARCEL_MONITOR_NOTIFY__LANGUAGE", "ru")
    code, out, err = run(capsys, "update", "8100000000000010", "--track", "RA123456784CN")
    assert code == 0 and "RA123456784CN: контрольная цифра не сходится — опечатка?" in err, err
    # A number of another format (a Cainiao one) is not an S10 number at all: no note.
    code, out, err = run(capsys, "update", "8100000000000010", "--track", "LP00123456789012")
    assert code == 0 and "контрольная" not in out + err
