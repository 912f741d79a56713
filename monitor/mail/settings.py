"""The `[mail]` section: the mailbox the daemon watches, read-only."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from monitor.durations import Duration

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def _loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class MailSettings(BaseModel):
    """The watcher runs when `host` is set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field("", description="IMAP server, e.g. imap.gmail.com (empty: no watcher)")
    port: int | None = Field(
        None, ge=1, le=65535, description="default: 993 (implicit TLS), 143 (starttls/none)"
    )
    tls: Literal["implicit", "starttls", "none"] = Field(
        "implicit", description="implicit TLS (993), STARTTLS, or none (loopback servers only)"
    )
    ca_file: Path | None = Field(None, description="CA bundle (default: the system's)")
    username: str = ""
    password: SecretStr | None = Field(
        None, description='an app password; better "credential:NAME" (docs/systemd.md)'
    )
    folders: tuple[str, ...] = Field(("INBOX",), description="folders to read, read-only")
    first_scan: Duration = Field(
        timedelta(days=90), description="how far back the very first scan of a folder reads"
    )
    idle: bool = Field(True, description="wait for new mail with IMAP IDLE where supported")
    poll_every: Duration = Field(timedelta(minutes=5), description="how often to look without IDLE")
    timeout: Duration = Field(timedelta(seconds=30), description="per IMAP command")
    retry_max: Duration = Field(
        timedelta(minutes=30), description="longest wait between reconnects after errors"
    )
    readers: tuple[str, ...] = Field(
        (), description="mail readers to use, in any order (default: every installed one)"
    )

    @property
    def active(self) -> bool:
        return bool(self.host.strip())

    @property
    def resolved_port(self) -> int:
        if self.port is not None:
            return self.port
        return 993 if self.tls == "implicit" else 143

    @field_validator("folders")
    @classmethod
    def _some_folder(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or any(not f.strip() for f in value):
            raise ValueError('name at least one folder, e.g. ["INBOX"]')
        return value

    @model_validator(mode="after")
    def _complete(self) -> MailSettings:
        if not self.host.strip():
            if self.username or self.password is not None:
                # A mailbox half set up must not pass as fine while no watcher ever runs.
                raise ValueError(
                    "mail.username/mail.password are set but mail.host is empty: set mail.host "
                    "to the IMAP server (e.g. imap.gmail.com), or remove them to leave the "
                    "mailbox watcher off"
                )
            return self
        if not self.username or self.password is None:
            raise ValueError("mail.host is set: mail.username and mail.password are needed too")
        if self.tls == "none" and not _loopback(self.host):
            raise ValueError(
                f'tls = "none" would send the password in clear to {self.host}; it is allowed '
                'for a loopback server only: use "implicit" or "starttls"'
            )
        if self.ca_file is not None and not self.ca_file.is_file():
            raise ValueError(f"mail.ca_file {self.ca_file} is not a file")
        return self
