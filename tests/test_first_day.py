"""Issue 10, as a new user meets it: real `parcel-monitor` subprocesses, real files, real broker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.mqtt.broker import SYSTEM_BROKER, reachable, unique_base

SCENARIO = REPO / "monitor" / "scenarios" / "07-no-movement.json"


def cli(
    *args: str, config: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`parcel-monitor ARGS` in a child process with the test's environment."""
    return subprocess.run(
        [sys.executable, "-m", "monitor", *(["--config", str(config)] if config else []), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
        cwd=REPO,
    )


@pytest.mark.skipif(not reachable(*SYSTEM_BROKER), reason="needs the machine's Mosquitto")
def test_check_works_with_mqtt_configured(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[sources.replay]\nfiles = ["{SCENARIO}"]\n'
        f'[mqtt]\nurl = "mqtt://{SYSTEM_BROKER[0]}:{SYSTEM_BROKER[1]}"\n'
        f'base_topic = "{unique_base()}"\ndiscovery = false\n'
    )
    added = cli(
        "add",
        "5004417700000107",
        "--ordered",
        "2020-09-01",
        "--track",
        "RA998877665CN",
        config=config,
    )
    assert added.returncode == 0, added.stderr
    done = cli("check", "--json", config=config)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "no running event loop" not in done.stderr
    assert '"rule": "stalled"' in done.stdout
