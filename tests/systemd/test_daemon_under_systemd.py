"""`parcel-monitor run` speaks sd_notify: ready, watchdog, reload, stop, exit codes, journal."""

from __future__ import annotations

import signal
import sqlite3
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from harness import WAIT, Daemon, NotifySocket, add_order, replay_section, toml_config

EXIT_CONFIG = 78

BLOCKING_SOURCE = '''
import time
from monitor.plugin import BaseSource

class Blocker(BaseSource):
    """Blocks the event loop like a buggy plugin doing synchronous I/O would."""
    name = "blocker"

    async def lookup(self, numbers):
        time.sleep(1.5)
        return {}

SOURCE = Blocker
'''


def blocker_config(tmp_path: Path) -> str:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "blocker.py").write_text(BLOCKING_SOURCE, encoding="utf-8")
    return toml_config(tmp_path, f'plugin_dirs = ["{plugins}"]\n[sources.blocker]\n')


def test_ready_comes_with_a_status_summary(
    start_daemon: Callable[..., Daemon], tmp_path: Path
) -> None:
    daemon = start_daemon(toml_config(tmp_path))
    ready = daemon.notify.wait_for("READY", "1")
    assert ready["STATUS"] == (
        "0 orders watched, sources 0/0 healthy, next poll never (no sources), "
        "0 notifications pending"
    )
    daemon.send(signal.SIGTERM)
    assert daemon.wait() == 0


def test_ready_does_not_wait_for_the_first_poll(
    start_daemon: Callable[..., Daemon], tmp_path: Path, base_env: dict[str, str]
) -> None:
    # The blocking source holds the loop for 1.5 s on its first poll, so the pings stop for that
    # long. READY must come before that gap: it does not wait for any source.
    add_order(tmp_path, base_env, "07-no-movement.json")
    daemon = start_daemon(blocker_config(tmp_path), env={"WATCHDOG_USEC": "200000"})
    ready = daemon.notify.wait_for("READY", "1")
    ready_at = time.monotonic()
    assert ready["STATUS"].startswith("1 orders watched, sources 1/1 healthy, next poll in 0s")
    daemon.notify.wait_for("WATCHDOG", "1")
    daemon.notify.wait_for("WATCHDOG", "1")
    assert time.monotonic() - ready_at > 1.0
    daemon.send(signal.SIGTERM)
    assert daemon.wait() == 0


def test_watchdog_pings_at_half_the_interval(
    start_daemon: Callable[..., Daemon], tmp_path: Path
) -> None:
    daemon = start_daemon(toml_config(tmp_path), env={"WATCHDOG_USEC": "400000"})
    daemon.notify.wait_for("READY", "1")
    pings = [daemon.notify.wait_for("WATCHDOG", "1", timeout=2) for _ in range(8)]
    assert len(pings) == 8
    gaps = daemon.notify.watchdog_gaps()
    assert 0.15 <= statistics.median(gaps) <= 0.3, gaps
    assert max(gaps) < 0.4, f"a ping came later than WatchdogSec: {gaps}"
    daemon.send(signal.SIGTERM)
    assert daemon.wait() == 0


def test_no_watchdog_for_another_pid(start_daemon: Callable[..., Daemon], tmp_path: Path) -> None:
    daemon = start_daemon(
        toml_config(tmp_path), env={"WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"}
    )
    daemon.notify.wait_for("READY", "1")
    daemon.send(signal.SIGTERM)
    daemon.notify.wait_for("STOPPING", "1")
    assert daemon.wait() == 0
    assert not [m for _, m in daemon.notify.seen if "WATCHDOG" in m]


def test_a_blocked_event_loop_stops_the_pings(
    start_daemon: Callable[..., Daemon], tmp_path: Path, base_env: dict[str, str]
) -> None:
    add_order(tmp_path, base_env, "07-no-movement.json")  # gives the blocker a number to poll
    daemon = start_daemon(blocker_config(tmp_path), env={"WATCHDOG_USEC": "200000"})
    daemon.notify.wait_for("READY", "1")
    for _ in range(5):
        daemon.notify.wait_for("WATCHDOG", "1", timeout=3)
    gaps = daemon.notify.watchdog_gaps()
    # systemd would have killed this daemon: the gap exceeds WATCHDOG_USEC by far.
    assert max(gaps) > 1.0, gaps
    daemon.send(signal.SIGTERM)
    assert daemon.wait() == 0


def test_reload_applies_a_valid_config_and_keeps_state(
    start_daemon: Callable[..., Daemon], tmp_path: Path, base_env: dict[str, str]
) -> None:
    add_order(tmp_path, base_env, "07-no-movement.json")
    daemon = start_daemon(toml_config(tmp_path))
    ready = daemon.notify.wait_for("READY", "1")
    assert ready["STATUS"].startswith("1 orders watched, sources 0/0 healthy")

    daemon.config.write_text(
        toml_config(tmp_path, replay_section("07-no-movement.json")), encoding="utf-8"
    )
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    daemon.send(signal.SIGHUP)
    reloading = daemon.notify.wait_for("RELOADING", "1")
    assert before <= int(reloading["MONOTONIC_USEC"]) <= before + WAIT * 1_000_000
    ready = daemon.notify.wait_for("READY", "1")
    assert ready["STATUS"].startswith("1 orders watched, sources 1/1 healthy")
    assert daemon.wait_for_log("monitor.daemon.reloaded")["sources"] == ["replay"]
    # The new source really polls: its warnings arrive after the reload.
    daemon.wait_for_log("monitor.warning")

    daemon.send(signal.SIGTERM)
    assert daemon.wait() == 0


def test_reload_with_an_invalid_config_keeps_the_old_one(
    start_daemon: Callable[..., Daemon], tmp_path: Path
) -> None:
    daemon = start_daemon(
        toml_config(tmp_path, 'tick_every = "1h"\n'), journal=True, env={"WATCHDOG_USEC": "400000"}
    )
    daemon.notify.wait_for("READY", "1")

    daemon.config.write_text(toml_config(tmp_path, 'tick_every = "soon"\n'), encoding="utf-8")
    daemon.send(signal.SIGHUP)
    daemon.notify.wait_for("RELOADING", "1")
    daemon.notify.wait_for("READY", "1")
    rejected = daemon.wait_for_log("monitor.daemon.reload_rejected")
    assert "tick_every" in str(rejected["error"]) and "'soon'" in str(rejected["error"])
    assert rejected["_priority"] == "3", "journalctl -p err must find it"
    assert daemon.log_events()[0]["_priority"] == "6"
    # Still alive and still watched over.
    daemon.notify.wait_for("WATCHDOG", "1", timeout=2)
    assert daemon.process.poll() is None

    daemon.send(signal.SIGTERM)
    assert daemon.wait() == 0


def test_sigterm_stops_cleanly_without_losing_a_warning(
    start_daemon: Callable[..., Daemon], tmp_path: Path, base_env: dict[str, str]
) -> None:
    order_id = add_order(tmp_path, base_env, "07-no-movement.json")
    daemon = start_daemon(toml_config(tmp_path, replay_section("07-no-movement.json")))
    daemon.notify.wait_for("READY", "1")
    daemon.wait_for_log("monitor.warning")

    daemon.send(signal.SIGTERM)
    daemon.notify.wait_for("STOPPING", "1")
    assert daemon.wait() == 0
    logged = {
        (e["order"], e["rule"]) for e in daemon.log_events() if e.get("event") == "monitor.warning"
    }
    with sqlite3.connect(tmp_path / "state" / "parcel-monitor.db") as db:
        stored = set(db.execute("SELECT order_id, rule FROM alerts").fetchall())
        queued = db.execute(
            "SELECT count(*) FROM outbox JOIN alerts ON alerts.id = outbox.alert_id "
            "WHERE outbox.state = 'pending'"
        ).fetchone()[0]
    assert logged and logged <= stored
    assert all(order == order_id for order, _ in stored)
    assert queued == len(stored), "every warning waits in the outbox for the notifier"
    assert daemon.log_events()[-1]["event"] == "monitor.daemon.stopped"


def test_sigint_stops_like_sigterm(start_daemon: Callable[..., Daemon], tmp_path: Path) -> None:
    daemon = start_daemon(toml_config(tmp_path))
    daemon.notify.wait_for("READY", "1")
    daemon.send(signal.SIGINT)
    daemon.notify.wait_for("STOPPING", "1")
    assert daemon.wait() == 0


def test_invalid_config_at_start_exits_78_without_ready(
    start_daemon: Callable[..., Daemon], tmp_path: Path, notify: NotifySocket
) -> None:
    daemon = start_daemon(toml_config(tmp_path, "[sources.nonexistent]\n"))
    assert daemon.wait() == EXIT_CONFIG
    assert "sources.nonexistent" in daemon.log.read_text(encoding="utf-8")
    assert notify.receive(0.01) is None, "a daemon that never started must not say READY"


def test_no_memory_is_writable_and_executable(
    start_daemon: Callable[..., Daemon], tmp_path: Path
) -> None:
    """What MemoryDenyWriteExecute=yes forbids: the daemon, fully started, maps none."""
    daemon = start_daemon(toml_config(tmp_path, replay_section("07-no-movement.json")))
    daemon.notify.wait_for("READY", "1")
    maps = Path(f"/proc/{daemon.process.pid}/maps").read_text(encoding="utf-8").splitlines()
    wx = [line for line in maps if "w" in line.split()[1] and "x" in line.split()[1]]
    assert not wx
    daemon.send(signal.SIGTERM)
    assert daemon.wait() == 0
