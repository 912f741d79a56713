"""Talking to systemd: the sd_notify protocol and the watchdog, without libsystemd.

The protocol is one datagram of `KEY=value` lines sent to the AF_UNIX socket named by
`$NOTIFY_SOCKET` (a path, or an abstract-namespace name written with a leading `@`). Outside
systemd the variable is unset and every call here does nothing, so the daemon never needs to know
how it was started. See sd_notify(3) and systemd.service(5) (Type=notify, WatchdogSec=).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Mapping

import structlog

log = structlog.get_logger("monitor.systemd")


class Notifier:
    """Sends state changes to the service manager; a no-op when there is none."""

    def __init__(self, address: str | None) -> None:
        self._address = _socket_address(address) if address else None
        self._sock: socket.socket | None = None
        if self._address is not None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> Notifier:
        return cls(environ.get("NOTIFY_SOCKET") or None)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, *fields: str) -> bool:
        """Send one message (e.g. `"READY=1", "STATUS=…"`); False if it could not be delivered.

        Never raises: a service manager that went away must not take the daemon down with it.
        """
        if self._sock is None or self._address is None:
            return False
        try:
            self._sock.sendto("\n".join(fields).encode(), self._address)
        except OSError as exc:
            log.warning("monitor.systemd.notify_failed", error=str(exc), message=fields[0])
            return False
        return True

    def ready(self, status: str) -> None:
        self.send("READY=1", f"STATUS={status}")

    def reloading(self) -> None:
        # MONOTONIC_USEC lets systemd (v253+) tell this reload from an older, finished one.
        now_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.send("RELOADING=1", f"MONOTONIC_USEC={now_usec}", "STATUS=reloading the configuration")

    def stopping(self) -> None:
        self.send("STOPPING=1", "STATUS=stopping")

    def status(self, text: str) -> None:
        self.send(f"STATUS={text}")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _socket_address(address: str) -> str | bytes:
    if address.startswith("@"):
        # Abstract namespace: the kernel wants a leading NUL byte instead of the '@'.
        return b"\0" + address[1:].encode()
    if not address.startswith("/"):
        raise ValueError(f"NOTIFY_SOCKET={address!r} is neither a path nor an abstract name")
    return address


def watchdog_interval(environ: Mapping[str, str] = os.environ) -> float | None:
    """Seconds between WATCHDOG=1 pings (half of WatchdogSec=), or None when none is wanted.

    `WATCHDOG_PID` names the process the watchdog is meant for; a child that inherited the
    variables must not ping on its parent's behalf.
    """
    usec = environ.get("WATCHDOG_USEC", "")
    pid = environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 2 / 1_000_000


async def keep_alive(notifier: Notifier, interval: float) -> None:
    """Ping the watchdog from the event loop itself.

    A thread would keep pinging while the loop is blocked; as a task, a loop that stops turning
    stops the pings and systemd kills and restarts the daemon.
    """
    while True:
        notifier.send("WATCHDOG=1")
        await asyncio.sleep(interval)
