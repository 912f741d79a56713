"""The daemon as a real subprocess: first poll at start, clean stop on SIGTERM, no repeats."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.model import Order
from monitor.store import Store
from tests.conftest import REPO

SCENARIO = REPO / "monitor" / "scenarios" / "07-no-movement.json"


def start(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


def wait_for_log(
    proc: subprocess.Popen[str], event: str, timeout: float = 20
) -> list[dict[str, Any]]:
    """Read JSON log lines until `event` appears; return everything read so far."""
    assert proc.stderr is not None
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        record = json.loads(line)
        seen.append(record)
        if record["event"] == event:
            return seen
    raise AssertionError(f"{event} not logged; saw {[r['event'] for r in seen]}")


def stop(proc: subprocess.Popen[str]) -> list[dict[str, Any]]:
    proc.send_signal(signal.SIGTERM)
    seen = wait_for_log(proc, "monitor.daemon.stopped")
    assert proc.wait(timeout=10) == 0
    return seen


def test_run_polls_at_once_warns_once_and_stops_cleanly(tmp_path: Path, isolated_env: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[sources.replay]\nfiles = ["{SCENARIO}"]\npoll_every = "1h"\n')
    # The order as `add` leaves it when a daemon is to look its number up (`add` alone would
    # look it up itself and raise the warning before the daemon starts).
    store = Store.open(isolated_env / "parcel-monitor.db")
    store.add_order(
        Order(
            id="5004417700000107",
            ordered_at=datetime(2020, 9, 1, tzinfo=UTC),
            tracks=("RA998877665CN",),
        ),
        now=datetime.now(UTC),
    )
    store.close()
    proc = start(config)
    try:
        seen = wait_for_log(proc, "monitor.warning")
        assert any(r["event"] == "monitor.daemon.started" for r in seen)
        assert seen[-1]["rule"] == "stalled"
    finally:
        seen = stop(proc)
    assert not any(r["event"] == "monitor.warning" for r in seen)

    proc = start(config)  # a restart must not repeat the warning
    try:
        wait_for_log(proc, "monitor.daemon.started")
    finally:
        seen = stop(proc)
    assert not any(r["event"] == "monitor.warning" for r in seen)
    store = Store.open(isolated_env / "parcel-monitor.db")
    try:
        assert [s.alert.rule for s in store.alerts()] == ["stalled"]
        assert store.integrity_check() == "ok"
    finally:
        store.close()


def test_run_with_a_bad_config_exits_78_naming_the_problem(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[sources.replay]\npoll_every = 'sometimes'\n")
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), "run"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 78
    assert f"{config}: sources.replay.poll_every" in proc.stderr and "'sometimes'" in proc.stderr
