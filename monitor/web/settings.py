"""The `[http]` section."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class HttpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    listen: str = Field(
        "127.0.0.1:8765", description="host:port to bind; port 0 picks a free port (tests)"
    )
    token: SecretStr | None = Field(
        None, description="bearer token for requests that change state; none refuses them all"
    )
    token_file: Path | None = Field(
        None,
        description='a file holding the token (under systemd: token = "credential:NAME")',
    )

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or int(port) > 65535:
            raise ValueError("write the address as host:port, e.g. 127.0.0.1:8765")
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

    def resolved_token(self) -> str | None:
        if self.token is not None:
            return self.token.get_secret_value() or None
        if self.token_file is None:
            return None
        return self.token_file.expanduser().read_text(encoding="utf-8").strip() or None
