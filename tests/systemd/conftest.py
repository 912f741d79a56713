"""Fixtures for the systemd tests; the helpers themselves are in harness.py."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from harness import PARCEL_MONITOR, SANDBOX, WAIT, Daemon, NotifySocket


@pytest.fixture
def notify() -> Iterator[NotifySocket]:
    sock = NotifySocket()
    yield sock
    sock.close()


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a service: nothing of the developer's leaks in."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PARCEL_MONITOR_", "WATCHDOG_", "XDG_"))
        and name
        not in (
            "NOTIFY_SOCKET",
            "JOURNAL_STREAM",
            "CREDENTIALS_DIRECTORY",
            "STATE_DIRECTORY",
            "CONFIGURATION_DIRECTORY",
        )
    }
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    env["XDG_STATE_HOME"] = str(tmp_path / "xdg-state")
    env["PARCEL_MONITOR_HTTP__LISTEN"] = "127.0.0.1:0"  # daemons run in parallel here
    env["PARCEL_MONITOR_DEFAULT_SOURCES"] = "[]"  # no Cainiao by default: never the internet
    return env


@pytest.fixture
def start_daemon(
    tmp_path: Path, notify: NotifySocket, base_env: dict[str, str]
) -> Iterator[Callable[..., Daemon]]:
    started: list[Daemon] = []

    def start(
        config: str,
        *,
        env: dict[str, str] | None = None,
        journal: bool = False,
        sandboxed: bool = False,
    ) -> Daemon:
        config_path = tmp_path / "config.toml"
        config_path.write_text(config, encoding="utf-8")
        log = tmp_path / "daemon.log"
        log.touch()
        full_env = {**base_env, "NOTIFY_SOCKET": notify.address, **(env or {})}
        if journal:
            # What systemd does for StandardError=journal: name the stream so we can recognise it.
            info = log.stat()
            full_env["JOURNAL_STREAM"] = f"{info.st_dev}:{info.st_ino}"
        with log.open("ab") as stderr:
            process = subprocess.Popen(
                [
                    *(SANDBOX if sandboxed else []),
                    str(PARCEL_MONITOR),
                    "--config",
                    str(config_path),
                    "run",
                ],
                env=full_env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        daemon = Daemon(process=process, notify=notify, log=log, config=config_path, env=full_env)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        if daemon.process.poll() is None:
            daemon.process.kill()
            daemon.process.wait(WAIT)
