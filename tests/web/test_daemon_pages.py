"""The real daemon process serves the dashboard next to the API, and stops promptly even while a
browser holds the live feed open."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from monitor.cli import main


def test_the_daemon_serves_the_pages_and_stops_with_a_feed_open(tmp_path: Path) -> None:
    assert main(["add", "8100000000000077", "--ordered", "2026-02-01", "--title", "Kettle"]) == 0
    config = tmp_path / "config.toml"
    config.write_text('[notify]\nlanguage = "ru"\n')
    env = {**os.environ, "PARCEL_MONITOR_LOG__FORMAT": "json"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), "run"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    try:
        port = None
        for line in proc.stderr:
            event = json.loads(line)
            if event["event"] == "monitor.http.listening":
                port = event["port"]
                break
        assert port, "the daemon never listened"
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(base + "/") as response:
            html = response.read().decode()
            assert "Content-Security-Policy" in response.headers
        assert "Kettle" in html and "трек-номера пока нет" in html  # the configured language
        feed = urllib.request.urlopen(base + "/events")
        assert feed.readline() == b"retry: 3000\n"
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
        feed.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    assert time.monotonic() - started < 2.5  # not the server's 3 s grace for open requests
