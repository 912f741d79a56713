"""The `[http]` section."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from monitor.durations import Duration

TOKEN_MIN_LENGTH = 16


def check_token(value: str) -> str:
    """A token a client can send in a header and an attacker cannot guess; else ValueError.

    The message never holds the token: it goes to logs and `config check`.
    """
    if not all(" " < c < "\x7f" for c in value):
        raise ValueError("use printable ASCII characters only, no spaces (it is sent in a header)")
    if len(value) < TOKEN_MIN_LENGTH:
        raise ValueError(
            f"at least {TOKEN_MIN_LENGTH} characters are needed, e.g. from `openssl rand -hex 32`"
        )
    return value


class HttpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    listen: str = Field(
        "127.0.0.1:8765", description="host:port to bind; port 0 picks a free port (tests)"
    )
    token: SecretStr | None = Field(
        None,
        description="bearer token for every request (reads too); without one, changes are "
        "refused and reads are served to this machine only",
    )
    token_file: Path | None = Field(
        None,
        description='a file holding the token (under systemd: token = "credential:NAME")',
    )
    read_token: SecretStr | None = Field(
        None, description="a second bearer token that may only read (e.g. for a dashboard)"
    )
    allowed_hosts: tuple[str, ...] = Field(
        (),
        description="names the API may be called by (the Host header), besides the listen "
        "address and localhost; e.g. the name a reverse proxy passes on",
    )
    max_connections: int = Field(
        256, ge=8, le=10_000, description="open connections at most; keep below LimitNOFILE"
    )
    header_timeout: Duration = Field(
        default=timedelta(seconds=10),
        description="a connection must have sent a whole request head within this time",
    )

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or int(port) > 65535:
            raise ValueError("write the address as host:port, e.g. 127.0.0.1:8765")
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for host in value:
            if not host or any(c in host for c in "/ @") or host != host.strip():
                raise ValueError(f"{host!r} is not a host name; write e.g. parcels.example.org")
        return tuple(host.lower() for host in value)

    @field_validator("token", "read_token")
    @classmethod
    def _strong(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value():
            check_token(value.get_secret_value())
        return value

    @field_validator("header_timeout")
    @classmethod
    def _header_timeout(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError(f"at least 1s, got {value.total_seconds():g}s")
        return value

    @model_validator(mode="after")
    def _one_token(self) -> HttpSettings:
        if self.token is not None and self.token_file is not None:
            raise ValueError("give token or token_file, not both")
        return self

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    def resolved_read_token(self) -> str | None:
        return self.read_token.get_secret_value() or None if self.read_token else None

    def resolved_token(self) -> str | None:
        if self.token is not None:
            return self.token.get_secret_value() or None
        if self.token_file is None:
            return None
        token = self.token_file.expanduser().read_text(encoding="utf-8").strip()
        if not token:
            return None
        try:
            return check_token(token)
        except ValueError as exc:
            raise ValueError(f"http.token_file: {exc}") from None
