"""Run `parcel-monitor run` as systemd would: a real process, a notify socket bound by the test.

Each test gets its own abstract-namespace socket, state, config and log file, so the tests run in
parallel. Every wait is bounded by a timeout; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import itertools
import json
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

PARCEL_MONITOR = Path(sys.executable).with_name("parcel-monitor")
SCENARIOS = Path(__file__).resolve().parents[2] / "monitor" / "scenarios"
# The unit's seccomp and MDWE restrictions, without systemd (see sandbox.py).
SANDBOX = [sys.executable, str(Path(__file__).with_name("sandbox.py"))]
WAIT = 15.0  # seconds: generous for a loaded CI machine, and only ever reached on failure

Message = dict[str, str]


class NotifySocket:
    """The service manager's end of sd_notify: receives and remembers every message."""

    def __init__(self) -> None:
        name = f"parcel-monitor-test-{uuid.uuid4().hex}"
        self.address = "@" + name
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(b"\0" + name.encode())
        self.seen: list[tuple[float, Message]] = []

    def receive(self, timeout: float) -> Message | None:
        self._sock.settimeout(max(timeout, 0.001))
        try:
            data = self._sock.recv(4096)
        except TimeoutError:
            return None
        message = dict(line.split("=", 1) for line in data.decode().splitlines())
        self.seen.append((time.monotonic(), message))
        return message

    def wait_for(self, key: str, value: str | None = None, timeout: float = WAIT) -> Message:
        """The next message carrying `key` (with `value`, if given); fails after `timeout`."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            message = self.receive(left)
            if message is not None and key in message and value in (None, message[key]):
                return message
        raise AssertionError(f"no {key}={value or '…'} within {timeout}s; got {self.seen}")

    def watchdog_gaps(self) -> list[float]:
        """Seconds between consecutive WATCHDOG=1 messages received so far."""
        times = [at for at, message in self.seen if message.get("WATCHDOG") == "1"]
        return [later - earlier for earlier, later in itertools.pairwise(times)]

    def close(self) -> None:
        self._sock.close()


@dataclass
class Daemon:
    process: subprocess.Popen[bytes]
    notify: NotifySocket
    log: Path
    config: Path
    env: dict[str, str] = field(repr=False)

    def send(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = WAIT) -> int:
        return self.process.wait(timeout)

    def log_events(self) -> list[dict[str, object]]:
        """The daemon's JSON log lines so far (a `<N>` journal prefix is kept as `_priority`)."""
        events = []
        for line in self.log.read_text(encoding="utf-8").splitlines():
            priority = None
            if line.startswith("<") and ">" in line:
                priority, line = line[1 : line.index(">")], line[line.index(">") + 1 :]
            if line.startswith("{"):
                events.append({**json.loads(line), "_priority": priority})
        return events

    def wait_for_log(self, event: str, timeout: float = WAIT) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.log_events() if e.get("event") == event]
            if found:
                return found[0]
            # The log is a file, so there is nothing to block on; keep the poll cheap and short.
            self.notify.receive(0.05)
        raise AssertionError(f"no log event {event} within {timeout}s:\n{self.log.read_text()}")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Another `parcel-monitor` command on the same configuration and state."""
        return subprocess.run(
            [str(PARCEL_MONITOR), "--config", str(self.config), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=False,
        )


def toml_config(tmp_path: Path, body: str = "") -> str:
    return f"state_dir = {json.dumps(str(tmp_path / 'state'))}\n{body}"


def replay_section(*scenarios: str) -> str:
    files = ", ".join(json.dumps(str(SCENARIOS / name)) for name in scenarios)
    return f'[sources.replay]\nfiles = [{files}]\npoll_every = "1h"\n'


def add_order(tmp_path: Path, env: dict[str, str], scenario: str) -> str:
    """Add a bundled scenario's order (with its first track number) through the CLI."""
    data = json.loads((SCENARIOS / scenario).read_text(encoding="utf-8"))
    order = data["order"]
    track = next(entry["track"] for entry in data["timeline"] if entry.get("track"))
    config = tmp_path / "config.toml"
    if not config.exists():
        config.write_text(toml_config(tmp_path), encoding="utf-8")
    done = subprocess.run(
        [
            str(PARCEL_MONITOR),
            "--config",
            str(config),
            "add",
            order["id"],
            "--ordered",
            order["ordered_at"],
            "--track",
            track,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return str(order["id"])
