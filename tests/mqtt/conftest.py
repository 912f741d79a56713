from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mqtt.broker import MOSQUITTO, SYSTEM_BROKER, Mosquitto, reachable


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """The machine's broker on 1883, or one started for this test worker."""
    if reachable(*SYSTEM_BROKER):
        yield SYSTEM_BROKER
        return
    own = _own(tmp_path_factory.mktemp("mosquitto"))
    own.start()
    try:
        yield own.host, own.port
    finally:
        own.stop()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A broker only this test uses (to stop and start it); persistence off: restarts forget."""
    folder = tmp_path / "mosquitto"
    folder.mkdir()
    own = _own(folder)
    own.start()
    try:
        yield own
    finally:
        own.stop()


def _own(folder: Path) -> Mosquitto:
    if not os.access(MOSQUITTO, os.X_OK):
        pytest.fail(f"no MQTT broker on {SYSTEM_BROKER} and no mosquitto binary at {MOSQUITTO}")
    return Mosquitto(folder)
