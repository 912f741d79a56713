"""A real Mosquitto for tests, started by the tests themselves (never the machine's on 1883)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiomqtt

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
WAIT_S = 15.0  # the bound on any wait for a message; a healthy run needs milliseconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reachable(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def unique_base() -> str:
    return f"pm-test/{uuid.uuid4().hex[:12]}"


@dataclass
class Mosquitto:
    """A broker process we own: `start()` and `stop()` as often as a test needs (same port)."""

    folder: Path
    persistence: bool = False
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> None:
        config = self.folder / "mosquitto.conf"
        config.write_text(
            f"listener {self.port} {self.host}\nallow_anonymous true\n"
            f"persistence {'true' if self.persistence else 'false'}\n"
            f"persistence_location {self.folder}/\n"
            "user root\n"  # running as root: keep root so the tmp folder stays writable
        )
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while not reachable(self.host, self.port):  # nothing to wait on but the port itself
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


class Watcher:
    """A test's MQTT client: subscribes to topics and records every message it receives.

    With `session` set it keeps a persistent session under that client id and reconnects by
    itself, so messages published while it was cut off (broker restart) still reach it.
    """

    def __init__(self, host: str, port: int, *topics: str, session: str | None = None) -> None:
        self._client = aiomqtt.Client(
            host, port, identifier=session, clean_session=False if session else None
        )
        self._topics = topics
        self.messages: list[tuple[str, str, bool]] = []
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def __aenter__(self) -> Watcher:
        self._task = asyncio.create_task(self._run())
        async with asyncio.timeout(10):
            await self._subscribed.wait()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        while True:
            try:
                async with self._client:
                    for topic in self._topics:
                        await self._client.subscribe(topic, qos=1)
                    self._subscribed.set()
                    async for message in self._client.messages:
                        payload = message.payload
                        text = payload.decode() if isinstance(payload, bytes) else str(payload)
                        async with self._changed:
                            self.messages.append((str(message.topic), text, message.retain))
                            self._changed.notify_all()
            except aiomqtt.MqttError:
                await asyncio.sleep(0.05)

    async def wait_for(
        self,
        topic: str,
        payload: str | None = None,
        *,
        after: int = 0,
        containing: str | None = None,
    ) -> tuple[int, str]:
        """The index and payload of the first message on `topic` past `after` that is `payload`
        (or contains `containing`)."""
        found: list[tuple[int, str]] = []

        def arrived(messages: list[tuple[str, str, bool]]) -> bool:
            for index in range(after, len(messages)):
                got_topic, got, _ = messages[index]
                if (
                    got_topic == topic
                    and (payload is None or got == payload)
                    and (containing is None or containing in got)
                ):
                    found.append((index, got))
                    return True
            return False

        await self.wait_until(arrived)
        return found[0]

    async def wait_until(self, done: Callable[[list[tuple[str, str, bool]]], bool]) -> None:
        """Until `done(messages)` holds (checked at each new message), at most WAIT_S."""
        async with asyncio.timeout(WAIT_S), self._changed:
            await self._changed.wait_for(lambda: done(self.messages))

    def on(self, topic: str) -> list[str]:
        return [payload for got, payload, _ in self.messages if got == topic]
