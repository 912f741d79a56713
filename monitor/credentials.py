"""Secrets kept in files: a path in the config, or a name under systemd's credentials folder."""

from __future__ import annotations

import os
from pathlib import Path


def read_secret(path: Path) -> str:
    """The file's text without surrounding whitespace.

    A relative path is looked up in `$CREDENTIALS_DIRECTORY` when systemd set it
    (`LoadCredential=`), so a unit can say `password_file = "mqtt-password"`.
    """
    path = path.expanduser()
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    if not path.is_absolute() and credentials:
        path = Path(credentials) / path
    return path.read_text(encoding="utf-8").strip()
