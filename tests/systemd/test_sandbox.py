"""The unit's restrictions hold for the real daemon: seccomp filter, address families, MDWE.

sandbox.py applies them as systemd would (see its docstring); these tests skip, with the reason,
where the kernel or libseccomp cannot.
"""

from __future__ import annotations

import ctypes.util
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from harness import SANDBOX, WAIT, Daemon, add_order, replay_section, toml_config


def sandbox_or_skip() -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed: no syscall group lists to filter by")
    if ctypes.util.find_library("seccomp") is None:
        pytest.skip("libseccomp is not installed: cannot build the system call filter")
    probe = subprocess.run(
        [*SANDBOX, "/bin/true"], capture_output=True, text=True, timeout=WAIT, check=False
    )
    if probe.returncode != 0:
        pytest.skip(f"this kernel or container refuses the sandbox: {probe.stderr.strip()}")


@pytest.fixture(autouse=True)
def _sandbox_works() -> None:
    sandbox_or_skip()


def in_sandbox(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SANDBOX, sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )


def test_the_sandbox_really_restricts() -> None:
    done = in_sandbox(
        "import mmap, os, socket\n"
        "def refused(call):\n"
        "    try: call()\n"
        "    except OSError: return True\n"
        "    return False\n"
        "print(refused(lambda: mmap.mmap(-1, 4096, prot=7)),\n"
        "      refused(lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM)),\n"
        "      refused(lambda: os.setuid(0)))\n"
    )
    assert done.stdout.split() == ["True", "True", "True"], done.stderr


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_http_by_name_and_the_notifier_library_work_in_the_sandbox(http_port: int) -> None:
    # aiohttp resolves with AI_ADDRCONFIG, which asks netlink (refused here, as in the unit) and
    # falls back; apprise is the notifier's library and must import under MDWE.
    done = in_sandbox(
        "import asyncio, aiohttp, apprise\n"
        "async def get():\n"
        "    async with aiohttp.ClientSession() as s:\n"
        f"        async with s.get('http://localhost:{http_port}/') as r:\n"
        "            return await r.text()\n"
        "print(asyncio.run(get()))\n"
    )
    assert done.returncode == 0 and done.stdout.strip() == "hello", done.stderr


def test_the_daemon_runs_its_whole_life_in_the_sandbox(
    start_daemon: Callable[..., Daemon], tmp_path: Path, base_env: dict[str, str]
) -> None:
    add_order(tmp_path, base_env, "07-no-movement.json")
    daemon = start_daemon(
        toml_config(tmp_path, replay_section("07-no-movement.json")),
        sandboxed=True,
        env={"WATCHDOG_USEC": "400000"},
    )
    daemon.notify.wait_for("READY", "1")
    daemon.wait_for_log("monitor.warning")
    daemon.notify.wait_for("WATCHDOG", "1")
    daemon.send(signal.SIGHUP)
    daemon.notify.wait_for("RELOADING", "1")
    daemon.notify.wait_for("READY", "1")
    daemon.send(signal.SIGTERM)
    daemon.notify.wait_for("STOPPING", "1")
    assert daemon.wait() == 0, daemon.log.read_text()
