from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mqtt.broker import MOSQUITTO, Mosquitto


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A real Mosquitto started for this test worker, without persistence.

    Never the machine's broker on 1883: what the tests retain there would stay behind for the
    machine's other clients (a Home Assistant would show test sensors).
    """
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
        pytest.fail(f"no mosquitto binary at {MOSQUITTO} (the tests start their own brokers)")
    return Mosquitto(folder)
