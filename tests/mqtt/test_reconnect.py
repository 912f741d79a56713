"""The broker goes away and comes back: the bridge reconnects, republishes and loses no event
within its buffer bound. Each test owns its Mosquitto, so stopping it disturbs nobody else."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from structlog.testing import capture_logs

from monitor.events import Event, SourceFailed
from monitor.mqtt.bridge import MqttBridge
from monitor.mqtt.payloads import Topics
from monitor.pipeline import Pipeline
from tests import builders
from tests.mqtt.broker import Mosquitto, Watcher
from tests.mqtt.test_bridge import settings_for, watch_all


def bridge_for(pipeline: Pipeline, broker: Mosquitto, **extra: object) -> MqttBridge:
    settings = settings_for(broker.host, broker.port, **extra)
    return MqttBridge(
        settings=settings,
        store=pipeline.store,
        bus=pipeline.bus,
        clock=pipeline.clock,
        orders=pipeline.orders,
    )


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        # The bridge's `connected` flag has no event to await: polling it is the test's only view.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_a_restarted_broker_gets_state_and_discovery_again(
    own_broker: Mosquitto, tmp_path: Path
) -> None:
    pipeline = builders.pipeline(tmp_path)
    bridge = bridge_for(pipeline, own_broker)
    topics = Topics.of(bridge._settings)
    pipeline.orders.add(builders.order("7100001"))
    async with bridge:
        async with watch_all(bridge._settings) as watcher:
            await watcher.wait_for(topics.discovery("7100001"))
        own_broker.stop()  # no persistence: every retained message is gone
        await until(lambda: not bridge.connected)
        own_broker.start()
        async with watch_all(bridge._settings) as watcher:
            await watcher.wait_for(topics.status, "online")
            await watcher.wait_for(f"{topics.order('7100001')}/state", "unknown")
            await watcher.wait_for(topics.discovery("7100001"))


async def test_events_raised_while_the_broker_is_down_arrive_in_order(tmp_path: Path) -> None:
    # Persistence keeps the watcher's session across the restart, so it gets what the bridge
    # publishes after the restart even before the watcher itself has reconnected.
    broker = Mosquitto(tmp_path, persistence=True)
    broker.start()
    try:
        pipeline = builders.pipeline(tmp_path)
        bridge = bridge_for(pipeline, broker, buffer=100)
        topics = Topics.of(bridge._settings)
        raised: list[Event] = []
        pipeline.bus.subscribe(Event, raised.append)
        session = f"watcher-{uuid.uuid4().hex[:8]}"
        async with (
            bridge,
            Watcher(broker.host, broker.port, f"{topics.base}/#", session=session) as watcher,
        ):
            await watcher.wait_for(topics.status, "online")
            broker.stop()
            await until(lambda: not bridge.connected)
            mark = len(watcher.messages)
            raised.clear()
            pipeline.orders.add(builders.order("7200001"))
            pipeline.differ.apply([builders.moved("RA100000001CN")])
            pipeline.orders.update("7200001", title="Renamed lamp")
            assert 5 <= len(raised) < 100  # within the bound
            broker.start()
            expected = [event.kind for event in raised]

            def kinds(messages: list[tuple[str, str, bool]]) -> list[str]:
                return [
                    json.loads(payload)["kind"]
                    for topic, payload, _ in messages[mark:]
                    if topic.startswith(f"{topics.base}/events/")
                ]

            await watcher.wait_until(lambda messages: len(kinds(messages)) >= len(expected))
            assert kinds(watcher.messages) == expected
            await watcher.wait_for(f"{topics.order('7200001')}/state", "in_transit")
    finally:
        broker.stop()


async def test_past_the_bound_the_oldest_events_are_dropped_and_logged(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path, persistence=True)
    broker.start()
    try:
        pipeline = builders.pipeline(tmp_path)
        bridge = bridge_for(pipeline, broker, buffer=3, discovery=False)
        topics = Topics.of(bridge._settings)
        session = f"watcher-{uuid.uuid4().hex[:8]}"
        with capture_logs() as logs:
            async with (
                bridge,
                Watcher(
                    broker.host, broker.port, topics.event("source_failed"), session=session
                ) as watcher,
            ):
                await until(lambda: bridge.connected)
                broker.stop()
                await until(lambda: not bridge.connected)
                for n in range(1, 7):
                    pipeline.bus.publish(
                        SourceFailed(at=datetime.now(UTC), source="test", reason=f"#{n}")
                    )
                broker.start()
                # Events go out in order: once the last has arrived, all the kept ones have.
                await watcher.wait_for(topics.event("source_failed"), containing='"#6"')
        reasons = [json.loads(p)["reason"] for p in watcher.on(topics.event("source_failed"))]
        assert reasons == ["#4", "#5", "#6"]
        full = [e for e in logs if e["event"] == "monitor.mqtt.buffer_full"]
        dropped = [e for e in logs if e["event"] == "monitor.mqtt.events_dropped"]
        assert [e["bound"] for e in full] == [3]
        assert dropped[0]["dropped"] == 3 and dropped[0]["kinds"] == {"source_failed": 3}
    finally:
        broker.stop()


async def test_without_a_broker_the_daemon_works_and_catches_up_later(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path)  # not started yet: nothing answers on its port
    pipeline = builders.pipeline(tmp_path)
    bridge = bridge_for(pipeline, broker)
    topics = Topics.of(bridge._settings)
    try:
        async with bridge:
            view = pipeline.orders.add(builders.order("7300001"))
            assert view.order.id == "7300001" and not bridge.connected
            await until(lambda: bool(bridge.last_error))  # it tried, and keeps trying
            broker.start()
            async with watch_all(bridge._settings) as watcher:
                await watcher.wait_for(f"{topics.order('7300001')}/state", "unknown")
                await watcher.wait_for(topics.discovery("7300001"))
    finally:
        broker.stop()
