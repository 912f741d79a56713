"""The [mqtt] section: when the bridge runs, what is refused, where the password comes from."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import ConfigError, Settings, load_settings
from monitor.mqtt.settings import MqttSettings


def test_off_until_a_url_is_given_then_on_unless_disabled() -> None:
    assert not MqttSettings().active
    assert MqttSettings(url="mqtt://broker").active
    assert not MqttSettings(url="mqtt://broker", enabled=False).active


def test_the_url_gives_host_port_and_tls() -> None:
    plain = MqttSettings(url="mqtt://broker.lan")
    assert (plain.host, plain.port, plain.tls) == ("broker.lan", 1883, False)
    secure = MqttSettings(url="mqtts://broker.lan")
    assert (secure.port, secure.tls) == (8883, True)
    assert MqttSettings(url="mqtt://127.0.0.1:1884").port == 1884


def test_environment_overrides_use_double_underscores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARCEL_MONITOR_MQTT__URL", "mqtt://10.0.0.2:1883")
    monkeypatch.setenv("PARCEL_MONITOR_MQTT__BASE_TOPIC", "home/parcels")
    settings = Settings()
    assert settings.mqtt.host == "10.0.0.2" and settings.mqtt.base_topic == "home/parcels"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('url = "http://broker"', "mqtt://host"),
        ('url = "mqtt://broker:port"', "bad port"),
        ('base_topic = "parcels/#"', "wildcards"),
        ('base_topic = "/parcels"', "must not start or end"),
        ('password = "a"\npassword_file = "b"', "not both"),
        ('colour = "red"', "unknown key"),
    ],
)
def test_mistakes_are_configuration_errors(tmp_path: Path, section: str, message: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"[mqtt]\n{section}\n")
    with pytest.raises(ConfigError, match=message):
        load_settings(config)


def test_the_password_from_a_file_or_a_systemd_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mqtt-password").write_text("hunter2\n")
    settings = MqttSettings(url="mqtt://broker", password_file=tmp_path / "mqtt-password")
    assert settings.resolved_password() == "hunter2"
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    monkeypatch.setenv("PARCEL_MONITOR_MQTT__PASSWORD", "credential:mqtt-password")
    assert Settings().mqtt.resolved_password() == "hunter2"
    assert "hunter2" not in repr(Settings().mqtt)
