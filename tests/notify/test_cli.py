"""The notification commands and the config checks, as a user meets them."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config import ConfigError, load_settings
from monitor.notify.channels import ChannelError, Channels
from monitor.notify.masking import mask_url
from monitor.store import Store
from tests.conftest import REPO
from tests.notify.conftest import Receiver, alert

DISPUTE = "I request a full refund"
SCENARIOS = REPO / "monitor" / "scenarios"  # the project's own: tests pass without ../shared


async def cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitor",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=os.environ.copy(),
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


@pytest.mark.parametrize(
    "name", ["04-protection-running-out", "05-waiting-at-post-office", "02-never-scanned"]
)
async def test_replay_notify_delivers_one_message_per_warning(
    receiver: Receiver, name: str
) -> None:
    scenario = SCENARIOS / f"{name}.json"
    code, out, err = await cli("replay", str(scenario), "--json", "--notify", receiver.url)
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]  # stdout stays pure JSON lines
    assert lines and len(receiver.messages) == len(lines)
    for line, sent in zip(lines, receiver.messages, strict=True):
        assert line["order"] in sent["message"] and line["track"] in sent["message"]
        assert (DISPUTE in sent["message"]) == (line["rule"] != "stuck_at_post_office")


async def test_replay_notify_to_a_dead_receiver_says_so_on_stderr(receiver: Receiver) -> None:
    await receiver.stop()
    scenario = SCENARIOS / "01-no-track-number.json"
    code, out, err = await cli("replay", str(scenario), "--json", "--notify", receiver.url)
    assert code == 1 and len(out.splitlines()) == 1 and "notification failed" in err


async def test_notify_test_reports_success_and_failure(receiver: Receiver) -> None:
    code, out, _ = await cli("notify", "test", "--url", receiver.url)
    assert code == 0 and "sent" in out and len(receiver.messages) == 1
    await receiver.stop()
    code, out, _ = await cli("notify", "test", "--url", receiver.url)
    assert code == 1 and "FAILED" in out and "127.0.0.1" in out


def test_a_bad_url_stops_the_daemon_naming_it_with_secrets_masked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[notify]\nurls = ["json://127.0.0.1:1/", "nosuch://user:hunter22@host"]\n')
    assert main(["--config", str(config), "run"]) == 78
    err = capsys.readouterr().err
    assert "nosuch://user:****@host" in err and "hunter22" not in err


def test_unmatched_tags_are_a_configuration_error() -> None:
    with pytest.raises(ChannelError, match="no service matched the tag 'sms'"):
        Channels.build(["push=json://127.0.0.1:1/"], required_tags=["sms"])


def test_an_apprise_config_file_with_tags(tmp_path: Path) -> None:
    path = tmp_path / "apprise.yml"
    path.write_text("urls:\n  - json://127.0.0.1:1/:\n      tag: push\n")
    channels = Channels.build([], path, required_tags=["push"])
    assert [sorted(t.tags) for t in channels.targets] == [["push"]]
    path.write_text("urls:\n  - nosuch://secrettoken123456:\n      tag: push\n")
    with pytest.raises(ChannelError) as raised:
        Channels.build([], path)
    assert "secrettoken123456" not in str(raised.value) and str(path) in str(raised.value)


def test_masking_hides_passwords_tokens_and_query_values() -> None:
    assert mask_url("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/12345") == (
        "tgram://123****:AAH****/12345"
    )
    assert (
        mask_url("mailtos://me:pw@example.org?to=a@b.c") == "mailtos://me:****@example.org?to=****"
    )


def test_urls_from_the_environment_as_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARCEL_MONITOR_NOTIFY__URLS", '["json://127.0.0.1:1/"]')
    monkeypatch.setenv("PARCEL_MONITOR_NOTIFY__LANGUAGE", "ru")
    settings, _ = load_settings()
    assert settings.notify.urls == ("json://127.0.0.1:1/",) and settings.notify.language == "ru"


def test_unknown_keys_and_rules_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[notify]\nurl = "json://x"\n[notify.rule_tags]\nnosuch = ["a"]\n')
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    assert "notify.url: unknown key" in str(raised.value)
    assert "notify.rule_tags" in str(raised.value) and "nosuch" in str(raised.value)


def test_list_show_and_retry_show_undelivered_notifications(
    capsys: pytest.CaptureFixture[str], isolated_env: Path
) -> None:
    assert main(["add", "8100000000000042", "--ordered", "2026-02-18", "--track", "RB1"]) == 0
    store = Store.open(isolated_env / "parcel-monitor.db")
    pending = store.record_alert(alert(condition="1"))
    failed = store.record_alert(alert(condition="2"))
    store._conn.execute(
        "UPDATE outbox SET state = 'failed', last_error = 'boom' WHERE alert_id = ?", (failed,)
    )
    store.close()
    capsys.readouterr()
    assert main(["list"]) == 0
    assert "1 waiting to be sent, 1 failed" in capsys.readouterr().out
    assert main(["list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["notifications"] == {"pending": 1, "failed": 1}
    assert main(["show", "8100000000000042"]) == 0
    out = capsys.readouterr().out
    assert "Notifications not delivered yet" in out and "boom" in out
    assert main(["notify", "retry"]) == 0
    assert "1 failed notification(s) queued again" in capsys.readouterr().out
    assert main(["list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["notifications"] == {"pending": 2, "failed": 0}
    assert pending is not None
