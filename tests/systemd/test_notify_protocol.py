"""monitor.systemd on its own: addresses, the no-op outside systemd, the watchdog interval."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.systemd import Notifier, watchdog_interval


@pytest.fixture
def short_dir() -> Iterator[Path]:
    # sun_path holds 108 bytes; pytest's tmp_path can be longer than that.
    with tempfile.TemporaryDirectory(prefix="pm-", dir="/tmp") as folder:
        yield Path(folder)


def test_a_path_socket_receives_the_message(short_dir: Path) -> None:
    path = short_dir / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        notifier = Notifier(str(path))
        assert notifier.send("READY=1", "STATUS=fine")
        assert server.recv(100) == b"READY=1\nSTATUS=fine"
        notifier.close()


def test_an_abstract_socket_is_written_with_an_at_sign() -> None:
    name = f"pm-test-{os.getpid()}-{id(object())}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(b"\0" + name.encode())
        notifier = Notifier.from_environ({"NOTIFY_SOCKET": "@" + name})
        notifier.stopping()
        assert server.recv(100) == b"STOPPING=1\nSTATUS=stopping"
        notifier.close()


def test_without_notify_socket_nothing_happens() -> None:
    notifier = Notifier.from_environ({})
    assert not notifier.enabled
    assert not notifier.send("READY=1")


def test_a_vanished_manager_does_not_raise(short_dir: Path) -> None:
    notifier = Notifier(str(short_dir / "gone"))
    assert not notifier.send("WATCHDOG=1")


def test_a_relative_socket_path_is_refused() -> None:
    with pytest.raises(ValueError, match="neither a path nor an abstract name"):
        Notifier("relative/notify")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "junk"}, None),
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_usec(
    environ: dict[str, str], expected: float | None
) -> None:
    assert watchdog_interval(environ) == expected
