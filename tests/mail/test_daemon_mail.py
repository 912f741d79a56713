"""The daemon with a `[mail]` section, as a real subprocess against the tests' own Dovecot."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from pathlib import Path

import pytest

from monitor.store import Store
from tests.mail.conftest import append, corpus, flags
from tests.mail.dovecot import PASSWORD, USER, Dovecot
from tests.test_cli import run
from tests.test_daemon import start, stop, wait_for_log


def config(tmp_path: Path, server: Dovecot, password: str = PASSWORD) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[log]
format = "json"

[mail]
host = "{server.host}"
port = {server.port}
tls = "none"
username = "{USER}"
password = "{password}"
retry_max = "2s"
""",
        encoding="utf-8",
    )
    return path


def orders(state: Path) -> list[tuple[str, tuple[str, ...], str]]:
    store = Store.open(state / "parcel-monitor.db")
    try:
        return [(v.order.id, v.order.tracks, v.order.origin) for v in store.views()]
    finally:
        store.close()


def test_idle_in_the_daemon_a_restart_reads_nothing_twice_and_no_flag_changes(
    tmp_path: Path, isolated_env: Path, dovecot: Dovecot
) -> None:
    asyncio.run(append(dovecot, corpus("ali-en-confirmation.eml")))
    before = asyncio.run(flags(dovecot))
    proc = start(config(tmp_path, dovecot))
    try:
        wait_for_log(proc, "monitor.mail.read")
        assert [o[0] for o in orders(isolated_env)] == ["8183924513740321"]
        wait_for_log(proc, "monitor.mail.waiting")  # in IDLE now
        appended = time.monotonic()
        asyncio.run(append(dovecot, corpus("ali-en-shipped.eml")))
        seen = wait_for_log(proc, "monitor.mail.imported", timeout=5)
        assert time.monotonic() - appended < 5
        assert seen[-1]["tracks"] == ["RB123456785CN"]
    finally:
        stop(proc)
    # A restart: the cursor says everything was read; nothing is fetched or imported again.
    proc = start(config(tmp_path, dovecot))
    try:
        seen = wait_for_log(proc, "monitor.mail.waiting")  # a whole pass done, in IDLE again
    finally:
        seen += stop(proc)
    events = [r["event"] for r in seen]
    assert "monitor.mail.read" not in events and "monitor.mail.imported" not in events
    ((_, tracks, origin),) = orders(isolated_env)
    assert tracks == ("RB123456785CN",) and origin.startswith("mail: Order confirmed")
    after = asyncio.run(flags(dovecot))
    assert after[1] == before[1] and "\\Seen" not in after[2]


def test_a_wrong_password_is_a_healthz_entry_without_the_password(
    tmp_path: Path, isolated_env: Path, dovecot: Dovecot
) -> None:
    wrong = "wrong-Pa55word-zz"
    proc = start(config(tmp_path, dovecot, password=wrong))
    try:
        seen = wait_for_log(proc, "monitor.http.listening")
        port = next(r["port"] for r in seen if r["event"] == "monitor.http.listening")
        seen += wait_for_log(proc, "monitor.mail.failed")
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    body = json.loads(r.read())
            except urllib.error.HTTPError as error:  # 503 while degraded
                body = json.loads(error.read())
            if "login refused" in json.dumps(body) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        seen += stop(proc)
    assert "login refused" in json.dumps(body) and "buyer" not in json.dumps(body)
    assert wrong not in json.dumps(body) and wrong not in json.dumps(seen)
    assert [r["event"] for r in seen].count("monitor.mail.failed") == 1


def test_config_check_validates_the_mail_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[mail]\nhost = "imap.example.org"\ntls = "none"\nusername = "u"\npassword = "secret-1"\n'
    )
    code, _, err = run(capsys, "--config", str(path), "config", "check")
    assert code == 2 and "would send the password in clear" in err and "secret-1" not in err
    path.write_text('[mail]\nhost = "imap.example.org"\nusername = "u"\npassword = "secret-1"\n')
    code, out, err = run(capsys, "--config", str(path), "config", "check")
    assert code == 0, err
    shown = json.loads(out)["mail"]
    assert shown["host"] == "imap.example.org" and shown["password"] == "**********"
    assert "secret-1" not in out + err


@pytest.mark.parametrize("host", [None, '""', '"  "'])
def test_config_check_refuses_a_mailbox_without_a_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], host: str | None
) -> None:
    path = tmp_path / "config.toml"
    line = f"host = {host}\n" if host is not None else ""
    path.write_text(f'[mail]\n{line}username = "buyer@example.org"\npassword = "secret-1"\n')
    code, _, err = run(capsys, "--config", str(path), "config", "check")
    assert code == 2 and "mail.host" in err and "secret-1" not in err


def test_the_password_can_be_a_systemd_credential(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "mail-password").write_text("app-pass-123\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    path = tmp_path / "config.toml"
    path.write_text(
        '[mail]\nhost = "imap.yandex.ru"\nusername = "me@yandex.ru"\n'
        'password = "credential:mail-password"\n'
    )
    from monitor.config import load_settings

    settings, _ = load_settings(path)
    assert settings.mail.password is not None
    assert settings.mail.password.get_secret_value() == "app-pass-123"
    code, out, err = run(capsys, "--config", str(path), "config", "check")
    assert code == 0 and "app-pass-123" not in out + err
