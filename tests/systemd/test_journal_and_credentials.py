"""Journal priority prefixes, and secrets read from systemd's credentials directory."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
import structlog

from monitor.config import ConfigError, load_settings
from monitor.logs import configure, on_journal


def test_the_journal_stream_is_recognised_by_device_and_inode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "log"
    with log.open("w") as stream:
        info = os.fstat(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{info.st_dev}:{info.st_ino}")
        assert on_journal(stream)
        monkeypatch.setenv("JOURNAL_STREAM", f"{info.st_dev}:{info.st_ino + 1}")
        assert not on_journal(stream)
        monkeypatch.setenv("JOURNAL_STREAM", "garbage")
        assert not on_journal(stream)
    assert not on_journal(io.StringIO())  # no file descriptor at all


def test_journal_lines_carry_the_syslog_priority(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "log"
    with log.open("w") as stream:
        info = os.fstat(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{info.st_dev}:{info.st_ino}")
        monkeypatch.setattr("sys.stderr", stream)
        configure("debug", "auto")
        logger = structlog.get_logger("test")
        logger.debug("a.debug")
        logger.info("an.info")
        logger.warning("a.warning")
        logger.error("an.error", reason="bad")
    structlog.reset_defaults()
    prefixes = [line[:3] for line in log.read_text().splitlines()]
    assert prefixes == ["<7>", "<6>", "<4>", "<3>"]
    assert '"event": "an.error"' in log.read_text().splitlines()[3]


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("PARCEL_MONITOR_") or name.endswith("_DIRECTORY"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "replay_files").write_text("/srv/scenario.json\n")
    return credentials


def test_credential_values_are_read_from_the_directory(
    tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[sources.replay]\nfiles = ["credential:replay_files"]\n')
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(clean_env))
    monkeypatch.setenv("PARCEL_MONITOR_SOURCES__OTHER__TOKEN", "credential:replay_files")
    settings, _ = load_settings(config)
    assert settings.sources["replay"]["files"] == ["/srv/scenario.json"]  # newline dropped
    assert settings.sources["other"]["token"] == "/srv/scenario.json"  # from the environment


def test_a_missing_credential_names_the_key_and_the_fix(
    tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[sources.replay]\napi_key = "credential:nope"\n')
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(clean_env))
    with pytest.raises(
        ConfigError,
        match=r"sources\.replay\.api_key: credential 'nope'.*"
        r"LoadCredential=nope",
    ):
        load_settings(config)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    with pytest.raises(ConfigError, match=r"CREDENTIALS_DIRECTORY is not set"):
        load_settings(config)


def test_a_credential_name_cannot_leave_the_directory(
    tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[sources.replay]\napi_key = "credential:../credentials/replay_files"\n')
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(clean_env))
    with pytest.raises(ConfigError, match="not a credential name"):
        load_settings(config)
