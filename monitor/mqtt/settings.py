"""The `[mqtt]` section."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from monitor.durations import Duration

_TOPIC_FORBIDDEN = ("+", "#", "\x00")


def _plain_topic(value: str, what: str) -> str:
    if not value or value.startswith("/") or value.endswith("/"):
        raise ValueError(f"{what} must be non-empty and must not start or end with '/'")
    if any(mark in value for mark in _TOPIC_FORBIDDEN):
        raise ValueError(f"{what} must not contain the wildcards + or #")
    return value


class MqttSettings(BaseModel):
    """The bridge runs when `url` is set and `enabled` is true (the default once a url is given)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="false keeps the bridge off even with a url")
    url: str | None = Field(None, description="mqtt://host:1883 or mqtts://host:8883 (TLS)")
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = Field(
        None,
        description='a file holding the password (systemd: password = "credential:NAME")',
    )
    ca_file: Path | None = Field(None, description="CA bundle for mqtts:// (default: system's)")
    client_id: str | None = Field(None, description="MQTT client id (default: a random one)")
    base_topic: str = "parcel-monitor"
    discovery: bool = Field(True, description="publish Home Assistant discovery configs")
    discovery_prefix: str = "homeassistant"
    commands: bool = Field(False, description="accept add/update/close on <base>/cmd/#")
    publish_notes: bool = Field(
        False, description="include order notes (often an address or phone) in what is published"
    )
    buffer: int = Field(1000, ge=1, description="events kept while the broker is unreachable")
    reconnect_min: Duration = Field(timedelta(seconds=1), description="first reconnect delay")
    reconnect_max: Duration = Field(timedelta(minutes=1), description="reconnect delay cap")
    keepalive: int = Field(60, ge=5, description="seconds between pings")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("write the broker as mqtt://host[:port] or mqtts://host[:port]")
        if parts.username or parts.password:
            # Credentials here would be ignored (and printed in logs); they have their own keys.
            raise ValueError(
                "put the user name in `username` and the password in `password` or "
                "`password_file`, not in the URL"
            )
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError as exc:
            raise ValueError(f"bad port: {exc}") from None
        return value

    @field_validator("ca_file")
    @classmethod
    def _readable(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a file")
        return value

    @field_validator("base_topic")
    @classmethod
    def _base(cls, value: str) -> str:
        return _plain_topic(value, "base_topic")

    @field_validator("discovery_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return _plain_topic(value, "discovery_prefix")

    @model_validator(mode="after")
    def _one_password(self) -> MqttSettings:
        if self.password is not None and self.password_file is not None:
            raise ValueError("give password or password_file, not both")
        if self.reconnect_min > self.reconnect_max:
            raise ValueError("reconnect_min is longer than reconnect_max")
        return self

    @property
    def active(self) -> bool:
        return self.enabled and self.url is not None

    @property
    def host(self) -> str:
        return urlsplit(self.url or "").hostname or ""

    @property
    def tls(self) -> bool:
        return urlsplit(self.url or "").scheme == "mqtts"

    @property
    def port(self) -> int:
        return urlsplit(self.url or "").port or (8883 if self.tls else 1883)

    def resolved_password(self) -> str | None:
        """The password, read from `password_file` at each start (a rotated file is picked up)."""
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_file is None:
            return None
        return self.password_file.expanduser().read_text(encoding="utf-8").strip()
