"""The [http] section, and a daemon that cannot read its token refusing to start."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from monitor.config import ConfigError, Settings, load_settings
from monitor.daemon import serve
from monitor.web.settings import HttpSettings


def test_listen_defaults_to_localhost_8765_and_takes_port_0() -> None:
    default = HttpSettings()
    assert (default.enabled, default.host, default.port) == (True, "127.0.0.1", 8765)
    assert HttpSettings(listen="[::1]:0").host == "::1"


def test_listen_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARCEL_MONITOR_HTTP__LISTEN", "0.0.0.0:9000")
    assert Settings().http.port == 9000


@pytest.mark.parametrize("listen", ["8765", "localhost", "host:99999", ":80"])
def test_a_bad_address_is_a_configuration_error(
    tmp_path: Path, listen: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PARCEL_MONITOR_HTTP__LISTEN")  # the environment would win over the file
    config = tmp_path / "config.toml"
    config.write_text(f'[http]\nlisten = "{listen}"\n')
    with pytest.raises(ConfigError, match="host:port"):
        load_settings(config)


def test_the_token_comes_from_the_config_or_a_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(" abcdefgh-12345678 \n")
    assert HttpSettings(token_file=tmp_path / "token").resolved_token() == "abcdefgh-12345678"
    assert HttpSettings(token="xyz-0123456789abcdef").resolved_token() == "xyz-0123456789abcdef"
    assert HttpSettings().resolved_token() is None


async def test_an_unreadable_token_file_stops_the_daemon_at_start(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[http]\ntoken_file = "{tmp_path / "missing"}"\n')
    settings, path = load_settings(config)
    with pytest.raises(ConfigError, match=r"http\.token_file: cannot read"):
        await asyncio.wait_for(serve(settings, path, stop=asyncio.Event()), 10)


def test_allowed_hosts_and_connection_limits() -> None:
    settings = HttpSettings(allowed_hosts=["Parcels.Example.org", "nas:8443"], header_timeout="5s")
    assert settings.allowed_hosts == ("parcels.example.org", "nas:8443")
    assert settings.header_timeout.total_seconds() == 5
    for bad in ({"allowed_hosts": ["http://x/"]}, {"header_timeout": "0s"}, {"max_connections": 1}):
        with pytest.raises(ValueError):
            HttpSettings(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["token", "read_token"])
@pytest.mark.parametrize(
    ("value", "why"),
    [("x", "at least 16"), ("short-secret", "at least 16"),
     ("пароль-пароль-пароль", "printable ASCII"), ("tab\tinside-a-token-1234", "printable ASCII")],
)  # fmt: skip
def test_a_weak_or_unsendable_token_is_refused_without_showing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str, value: str, why: str
) -> None:
    monkeypatch.delenv("PARCEL_MONITOR_HTTP__LISTEN", raising=False)
    config = tmp_path / "config.toml"
    escaped = value.replace("\t", "\\t")
    config.write_text(f'[http]\n{key} = "{escaped}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"http\.{key}: .*{why}") as caught:
        load_settings(config)
    if len(value) > 1:  # "x" is in every other word
        assert value not in str(caught.value)


def test_a_weak_token_in_a_token_file_is_refused_at_start(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("short\n")
    with pytest.raises(ValueError, match=r"http\.token_file: .*at least 16") as caught:
        HttpSettings(token_file=tmp_path / "token").resolved_token()
    assert "short" not in str(caught.value)
