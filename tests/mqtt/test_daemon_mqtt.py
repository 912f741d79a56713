"""`parcel-monitor run` as a real process with MQTT on: its last will and its clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from monitor.mqtt.payloads import Topics
from tests.mqtt.broker import Watcher, unique_base
from tests.test_daemon import start, wait_for_log

Broker = tuple[str, int]


def config(tmp_path: Path, broker: Broker) -> tuple[Path, Topics]:
    topics = Topics(base=unique_base(), discovery_prefix=f"ha-test-{uuid.uuid4().hex[:8]}")
    path = tmp_path / "config.toml"
    path.write_text(
        f'[mqtt]\nurl = "mqtt://{broker[0]}:{broker[1]}"\nbase_topic = "{topics.base}"\n'
        f'discovery_prefix = "{topics.discovery_prefix}"\n'
    )
    return path, topics


async def test_the_last_will_says_offline_when_the_daemon_is_killed(
    broker: Broker, tmp_path: Path, isolated_env: Path
) -> None:
    path, topics = config(tmp_path, broker)
    async with Watcher(*broker, topics.status) as watcher:
        proc = start(path)
        try:
            index, _ = await watcher.wait_for(topics.status, "online")
            proc.send_signal(signal.SIGKILL)
            await watcher.wait_for(topics.status, "offline", after=index)
        finally:
            proc.kill()
            proc.wait(timeout=10)


async def test_a_clean_stop_says_offline_and_health_sees_the_broker(
    broker: Broker, tmp_path: Path, isolated_env: Path
) -> None:
    path, topics = config(tmp_path, broker)
    async with Watcher(*broker, topics.status) as watcher:
        proc = start(path)
        try:
            listening = wait_for_log(proc, "monitor.http.listening")[-1]
            index, _ = await watcher.wait_for(topics.status, "online")
            url = f"http://127.0.0.1:{listening['port']}/healthz"
            async with aiohttp.ClientSession() as http, http.get(url) as response:
                health = json.loads(await response.text())
            assert response.status == 200, health
            assert health == {
                "status": "ok",
                "checks": {"store": "ok", "sources": "ok", "notifier": "ok", "broker": "ok"},
            }
            proc.send_signal(signal.SIGTERM)
            await watcher.wait_for(topics.status, "offline", after=index)
            assert proc.wait(timeout=10) == 0
        finally:
            proc.kill()
            proc.wait(timeout=10)


async def test_a_reload_reconnects_the_bridge(
    broker: Broker, tmp_path: Path, isolated_env: Path
) -> None:
    path, topics = config(tmp_path, broker)
    async with Watcher(*broker, topics.status) as watcher:
        proc = start(path)
        try:
            index, _ = await watcher.wait_for(topics.status, "online")
            proc.send_signal(signal.SIGHUP)  # the old bridge leaves cleanly, the new one comes
            index, _ = await watcher.wait_for(topics.status, "offline", after=index)
            await watcher.wait_for(topics.status, "online", after=index)
        finally:
            proc.kill()
            proc.wait(timeout=10)


def cli(config: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), *args],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )


def warnings_of(watcher: Watcher, topics: Topics, order_id: str) -> list[dict[str, Any]]:
    found = [json.loads(payload) for payload in watcher.on(topics.event("warning"))]
    return [warning for warning in found if warning["order"] == order_id]


async def test_warnings_raised_by_the_cli_reach_mqtt_once_in_the_buyers_language(
    broker: Broker, tmp_path: Path, isolated_env: Path
) -> None:
    path, topics = config(tmp_path, broker)
    path.write_text(f'sync_every = "1s"\n{path.read_text()}[notify]\nlanguage = "ru"\n')
    async with Watcher(*broker, f"{topics.base}/#") as watcher:
        proc = start(path)
        try:
            await watcher.wait_for(topics.status, "online")
            # An old order without a track number: `add` itself raises two warnings.
            cli(path, "add", "81001", "--ordered", "2026-01-05", "--promised", "2026-02-01")
            await watcher.wait_until(lambda _: len(warnings_of(watcher, topics, "81001")) == 2)
            # The daemon restarts: what it published stays published.
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
            proc = start(path)
            cli(path, "add", "81002", "--ordered", "2026-01-05")
            await watcher.wait_until(lambda _: len(warnings_of(watcher, topics, "81002")) == 1)
        finally:
            proc.kill()
            proc.wait(timeout=10)
    first = warnings_of(watcher, topics, "81001")
    assert sorted(w["rule"] for w in first) == ["overdue", "track_missing"]  # each once
    assert {w["title"] for w in first} == {
        "Трек-номера всё ещё нет: 81001",
        "Прошла обещанная дата доставки: 81001",
    }
    assert "Что делать" in first[0]["body"]
