"""Another program holding the API's port must not take the daemon (and its warnings) down."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path


def test_a_taken_port_is_logged_once_and_the_daemon_keeps_running(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        config = tmp_path / "config.toml"
        config.write_text(f'[http]\nlisten = "127.0.0.1:{port}"\n')
        env = {**os.environ, "PARCEL_MONITOR_LOG__FORMAT": "json"}
        env.pop("PARCEL_MONITOR_HTTP__LISTEN", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run"],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert proc.stderr is not None
        events = []
        try:
            for line in proc.stderr:
                events.append(json.loads(line)["event"])
                if "monitor.http.bind_failed" in events and "monitor.daemon.started" in events:
                    break
            assert proc.poll() is None, "the daemon died of a taken port"
        finally:
            proc.send_signal(signal.SIGTERM)
            rest = proc.communicate(timeout=20)[1]
        assert proc.returncode == 0
        events += [json.loads(line)["event"] for line in rest.splitlines()]
        assert events.count("monitor.http.bind_failed") == 1
