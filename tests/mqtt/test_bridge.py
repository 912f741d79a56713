"""The bridge against a real broker: retained state, discovery, events, commands, clean stop."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import aiomqtt
from structlog.testing import capture_logs

from monitor.events import OrderRemoved, WarningRaised
from monitor.mqtt import bridge as bridge_module
from monitor.mqtt.bridge import MqttBridge
from monitor.mqtt.payloads import Message, Topics
from monitor.mqtt.settings import MqttSettings
from monitor.pipeline import Pipeline
from tests import builders
from tests.mqtt.broker import Watcher, unique_base

Broker = tuple[str, int]


def settings_for(host: str, port: int, **extra: Any) -> MqttSettings:
    return MqttSettings(
        url=f"mqtt://{host}:{port}",
        base_topic=unique_base(),
        discovery_prefix=f"ha-test-{uuid.uuid4().hex[:8]}",
        reconnect_min=0.05,
        reconnect_max=0.5,
        **extra,
    )


@asynccontextmanager
async def running(
    pipeline: Pipeline, settings: MqttSettings
) -> AsyncIterator[tuple[MqttBridge, Watcher, Topics]]:
    """The bridge, and a watcher on everything it may publish (subscribed before it starts)."""
    bridge = MqttBridge(
        settings=settings,
        store=pipeline.store,
        bus=pipeline.bus,
        clock=pipeline.clock,
        orders=pipeline.orders,
    )
    async with watch_all(settings) as watcher, bridge:
        topics = Topics.of(settings)
        await watcher.wait_for(topics.status, "online")
        yield bridge, watcher, topics


def watch_all(settings: MqttSettings) -> Watcher:
    return Watcher(
        settings.host, settings.port, f"{settings.base_topic}/#", f"{settings.discovery_prefix}/#"
    )


async def test_order_state_attributes_and_discovery_are_retained(
    broker: Broker, tmp_path: Path
) -> None:
    pipeline = builders.pipeline(tmp_path)
    settings = settings_for(*broker)
    async with running(pipeline, settings) as (_, watcher, topics):
        pipeline.orders.add(builders.order("8100001"))
        pipeline.differ.apply([builders.moved("RA100000001CN")])
        order = topics.order("8100001")
        await watcher.wait_for(f"{order}/state", "in_transit")
        await watcher.wait_for(topics.discovery("8100001"))

    # A subscriber that comes later gets all of it from the broker's retained messages.
    async with watch_all(settings) as late:
        await late.wait_for(topics.status, "offline")  # the clean stop said so
        _, state = await late.wait_for(f"{order}/state")
        _, attributes = await late.wait_for(f"{order}/attributes")
        _, config = await late.wait_for(topics.discovery("8100001"))
        assert all(retained for _, _, retained in late.messages)
    assert state == "in_transit"
    attrs = json.loads(attributes)
    assert attrs["title"] == "Desk lamp"
    assert attrs["tracks"] == ["RA100000001CN"]
    assert attrs["last_checkpoint"] == "Departed from sorting center"
    assert attrs["last_checkpoint_place"] == "Shenzhen"
    assert attrs["last_checkpoint_at"].startswith("2026-01-13")
    assert (attrs["eta_earliest"], attrs["eta_latest"]) == ("2026-02-01", "2026-02-10")
    assert attrs["protection_until"].startswith("2026-03-11")
    assert attrs["days_in_transit"] > 0
    # The rules ran on the real clock: a January parcel silent since then is stalled.
    assert "stalled" in {w["rule"] for w in attrs["warnings"]}
    ha = json.loads(config)
    assert ha["state_topic"] == f"{order}/state"
    assert ha["json_attributes_topic"] == f"{order}/attributes"
    assert ha["availability_topic"] == topics.status
    assert ha["unique_id"] == f"{topics.node}_order_8100001"
    assert ha["device"]["identifiers"] == [topics.node]
    assert ha["name"] == "Desk lamp"


async def test_closing_or_removing_an_order_removes_its_sensor(
    broker: Broker, tmp_path: Path
) -> None:
    pipeline = builders.pipeline(tmp_path)
    async with running(pipeline, settings_for(*broker)) as (_, watcher, topics):
        pipeline.orders.add(builders.order("A-1"))
        pipeline.orders.add(builders.order("B/2", track="RA200000002CN"))
        index, _ = await watcher.wait_for(topics.discovery("B/2"))
        pipeline.orders.close("A-1")
        pipeline.orders.remove("B/2")
        await watcher.wait_for(topics.discovery("A-1"), "", after=index)
        await watcher.wait_for(topics.discovery("B/2"), "", after=index)
        await watcher.wait_for(f"{topics.order('B/2')}/state", "", after=index)
    assert topics.discovery("B/2").endswith("/config")
    assert "/B_2--" in topics.discovery("B/2")  # ids are made topic-safe


async def test_every_event_and_warning_is_published_as_json(broker: Broker, tmp_path: Path) -> None:
    pipeline = builders.pipeline(tmp_path)
    async with running(pipeline, settings_for(*broker)) as (_, watcher, topics):
        pipeline.orders.add(builders.order("8100002"))
        _, added = await watcher.wait_for(topics.event("order_added"))
        _, state = await watcher.wait_for(topics.event("order_state"))
        warning = builders.alert("8100002", title="Test warning")
        mark = len(watcher.messages)
        pipeline.store.record_alert(warning)
        pipeline.bus.publish(WarningRaised(at=warning.at, alert=warning))
        _, raised = await watcher.wait_for(topics.event("warning"), after=mark)
        _, attributes = await watcher.wait_for(  # the attributes list the order's warnings
            f"{topics.order('8100002')}/attributes", after=mark, containing=warning.title
        )
        pipeline.bus.publish(OrderRemoved(at=warning.at, order_id="nothing"))
        await watcher.wait_for(topics.event("order_removed"))
        assert not any(
            retained
            for topic, _, retained in watcher.messages
            if topic.startswith(f"{topics.base}/events/")
        )
    assert json.loads(added)["order"]["id"] == "8100002"
    assert json.loads(state)["view"]["status"] is None
    assert json.loads(raised)["title"].startswith("No movement for a long time: 8100002")
    assert json.loads(raised)["order"] == "8100002"
    assert warning.title in [w["title"] for w in json.loads(attributes)["warnings"]]


async def test_home_assistant_coming_online_gets_discovery_again(
    broker: Broker, tmp_path: Path
) -> None:
    pipeline = builders.pipeline(tmp_path)
    settings = settings_for(*broker)
    async with running(pipeline, settings) as (_, watcher, topics):
        pipeline.orders.add(builders.order("8100003"))
        index, _ = await watcher.wait_for(topics.discovery("8100003"))
        async with aiomqtt.Client(*broker) as home_assistant:
            await home_assistant.publish(topics.ha_status, "online")
        await watcher.wait_for(topics.discovery("8100003"), after=index + 1)


async def test_commands_are_validated_like_the_cli_and_answered(
    broker: Broker, tmp_path: Path
) -> None:
    pipeline = builders.pipeline(tmp_path)
    settings = settings_for(*broker, commands=True)
    async with (
        running(pipeline, settings) as (_, watcher, topics),
        aiomqtt.Client(*broker) as phone,
    ):

        async def ask(command: str, payload: str) -> dict[str, Any]:
            mark = len(watcher.messages)
            await phone.publish(f"{topics.base}/cmd/{command}", payload, qos=1)
            _, answer = await watcher.wait_for(topics.command_result, after=mark)
            return json.loads(answer)  # type: ignore[no-any-return]

        bad_date = await ask(
            "add", json.dumps({"id": "9001", "ordered": "10/01/2026", "request_id": "r1"})
        )
        assert bad_date["ok"] is False and bad_date["request_id"] == "r1"
        assert "is not a date; write YYYY-MM-DD" in bad_date["error"]
        naive = await ask("add", json.dumps({"id": "9001", "ordered": "2026-01-10T09:00:00"}))
        assert "has no UTC offset" in naive["error"]
        assert (
            "unknown field"
            in (await ask("add", '{"id": "9001", "ordered": "2026-01-10", "colour": "red"}'))[
                "error"
            ]
        )
        assert "not JSON" in (await ask("add", "{nope"))["error"]
        assert pipeline.store.views() == []  # nothing changed by any of them

        added = await ask(
            "add",
            json.dumps(
                {"id": "9001", "ordered": "2026-01-10", "protection_days": 30, "title": "Kettle"}
            ),
        )
        assert added == {"command": "add", "ok": True, "id": "9001"}
        updated = await ask("update", json.dumps({"id": "9001", "track": "RA300000003CN"}))
        assert updated["ok"] is True
        assert pipeline.orders.get("9001").order.track == "RA300000003CN"
        mark = len(watcher.messages)
        assert (await ask("update", json.dumps({"id": "9001", "muted": True})))["ok"] is True
        assert pipeline.orders.get("9001").order.muted
        _, attrs = await watcher.wait_for(
            f"{topics.order('9001')}/attributes", after=mark, containing='"muted": true'
        )
        assert json.loads(attrs)["muted"] is True
        refused = await ask("update", json.dumps({"id": "9001", "muted": "yes"}))
        assert refused["ok"] is False and "muted" in refused["error"]
        unknown = await ask("update", json.dumps({"id": "nope", "title": "x"}))
        assert unknown["ok"] is False and "no order nope" in unknown["error"]
        assert (await ask("close", json.dumps({"id": "9001"})))["ok"] is True
        assert pipeline.orders.get("9001").order.closed


async def test_commands_are_ignored_unless_enabled(broker: Broker, tmp_path: Path) -> None:
    pipeline = builders.pipeline(tmp_path)
    async with (
        running(pipeline, settings_for(*broker)) as (_, watcher, topics),
        aiomqtt.Client(*broker) as phone,
    ):
        await phone.publish(
            f"{topics.base}/cmd/add", json.dumps({"id": "9002", "ordered": "2026-01-10"}), qos=1
        )
        # An event that the bridge publishes after it would have seen the command:
        pipeline.orders.add(builders.order("marker"))
        await watcher.wait_for(topics.event("order_added"))
    assert watcher.on(topics.command_result) == []
    assert [v.order.id for v in pipeline.store.views()] == ["marker"]


async def test_discovery_names_the_entity_and_offers_the_statuses(
    broker: Broker, tmp_path: Path
) -> None:
    pipeline = builders.pipeline(tmp_path)
    async with running(pipeline, settings_for(*broker)) as (_, watcher, topics):
        pipeline.orders.add(builders.order("8100001"))
        _, config = await watcher.wait_for(topics.discovery("8100001"), containing="8100001")
        _, attributes = await watcher.wait_for(
            f"{topics.order('8100001')}/attributes", containing="8100001"
        )
    discovery = json.loads(config)
    assert "object_id" not in discovery  # ignored by Home Assistant since 2026.4
    assert discovery["default_entity_id"] == "sensor.parcel_8100001"  # the docs' automation
    assert discovery["device_class"] == "enum"
    assert {"unknown", "awaiting_track", "in_transit", "at_post_office"} <= set(
        discovery["options"]
    )
    assert json.loads(attributes)["status_text"] == "not checked yet"


async def test_home_assistant_coming_online_gets_availability_again(
    broker: Broker, tmp_path: Path
) -> None:
    pipeline = builders.pipeline(tmp_path)
    async with running(pipeline, settings_for(*broker)) as (_, watcher, topics):
        async with aiomqtt.Client(*broker) as other:
            # A restarted broker without persistence, or a stray client, lost `online`.
            await other.publish(topics.status, "offline", qos=1, retain=True)
            index, _ = await watcher.wait_for(topics.status, "offline")
            await other.publish(topics.ha_status, "online", qos=1)
        await watcher.wait_for(topics.status, "online", after=index)


async def test_order_notes_stay_private_unless_asked(broker: Broker, tmp_path: Path) -> None:
    secret = "ул. Ленина 1, +7 900 000-00-00"
    for publish_notes in (False, True):
        pipeline = builders.pipeline(tmp_path / str(publish_notes))
        settings = settings_for(*broker, publish_notes=publish_notes)
        async with running(pipeline, settings) as (_, watcher, topics):
            pipeline.orders.add(replace(builders.order("8100005"), notes=secret))
            await watcher.wait_for(topics.event("order_added"))
            await watcher.wait_for(topics.event("order_state"))
            await watcher.wait_for(f"{topics.order('8100005')}/attributes", containing="8100005")
        leaked = [topic for topic, payload, _ in watcher.messages if "Ленина" in payload]
        if publish_notes:
            assert f"{topics.order('8100005')}/attributes" in leaked
        else:
            assert leaked == []


async def test_odd_ids_get_their_own_short_topics_and_never_break_the_bridge(
    broker: Broker, tmp_path: Path
) -> None:
    pipeline = builders.pipeline(tmp_path)
    odd = ["x" * 70_000, "a/b", "a\0b", "a_b", "+#", "заказ 1"]
    for order_id in odd:  # as an old database may hold them: no entrance checks on this path
        pipeline.store.add_order(builders.order(order_id), now=builders.ORDERED)
    pipeline.store.add_order(builders.order("8100009"), now=builders.ORDERED)
    topics_of = {order_id: Topics.of(settings_for(*broker)).order(order_id) for order_id in odd}
    assert len({topic.rsplit("/", 1)[1] for topic in topics_of.values()}) == len(odd)
    async with running(pipeline, settings_for(*broker)) as (_, watcher, topics):
        await watcher.wait_for(f"{topics.order('8100009')}/state", "unknown")
        for order_id in odd:
            await watcher.wait_for(topics.discovery(order_id), containing='"device_class"')
            topic = topics.order(order_id)
            assert len(topic) < 120 and "\0" not in topic and "+" not in topic
            await watcher.wait_for(f"{topic}/state", "unknown")
        assert topics.order("a/b") != topics.order("a\0b") != topics.order("a_b")


async def test_a_message_the_client_refuses_is_logged_and_skipped(broker: Broker) -> None:
    base = unique_base()
    async with Watcher(*broker, f"{base}/#") as watcher, aiomqtt.Client(*broker) as client:
        with capture_logs() as logs:
            await bridge_module._publish(client, Message(f"{base}/{'x' * 70_000}", "too long"))
        await bridge_module._publish(client, Message(f"{base}/next", "still going"))
        await watcher.wait_for(f"{base}/next", "still going")
    skipped = [entry for entry in logs if entry["event"] == "monitor.mqtt.message_skipped"]
    assert len(skipped) == 1 and skipped[0]["topic_length"] > 70_000


def test_attributes_show_local_times_in_the_display_zone_and_the_status_in_the_language() -> None:
    from zoneinfo import ZoneInfo

    from monitor.model import OrderView
    from monitor.views.data import Presentation, attributes

    view = OrderView(order=builders.order("8100010"))
    shown = Presentation(language="ru", zone=ZoneInfo("Asia/Vladivostok"))
    data = attributes(view, [], builders.ORDERED, shown)
    assert data["protection_until"] == "2026-03-11T19:00:00+10:00"  # 09:00 UTC
    assert data["status"] == "unknown" and data["status_text"] == "ещё не проверен"
    assert "notes" not in data


async def test_a_warning_that_cannot_be_rendered_goes_out_plain_and_the_next_follows(
    broker: Broker, tmp_path: Path
) -> None:
    from datetime import timedelta, timezone
    from zoneinfo import ZoneInfo

    pipeline = builders.pipeline(tmp_path)
    edge = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14)))
    bad = replace(builders.order("8100011"), protection_until=edge)  # an old database's date
    pipeline.store.add_order(bad, now=builders.ORDERED)
    pipeline.store.add_order(builders.order("8100012"), now=builders.ORDERED)
    settings = settings_for(*broker)
    bridge = MqttBridge(
        settings=settings,
        store=pipeline.store,
        bus=pipeline.bus,
        clock=pipeline.clock,
        orders=pipeline.orders,
        zone=ZoneInfo("Asia/Vladivostok"),  # 9999-12-31 -14:00 is past year 9999 there
        ledger_every_s=0.05,
    )
    async with watch_all(settings) as watcher, bridge:
        topics = Topics.of(settings)
        await watcher.wait_for(topics.status, "online")
        pipeline.store.record_alert(builders.alert("8100011", title="stored title"))
        pipeline.store.record_alert(builders.alert("8100012"))
        await watcher.wait_until(lambda _: len(watcher.on(topics.event("warning"))) == 2)
    first, second = (json.loads(p) for p in watcher.on(topics.event("warning")))
    assert first["order"] == "8100011" and first["title"] == "stored title"
    assert second["order"] == "8100012" and second["title"].startswith("No movement")


async def test_last_mile_warnings_and_the_stay_reach_the_attributes(
    broker: Broker, tmp_path: Path
) -> None:
    pipeline = builders.pipeline(tmp_path)
    settings = settings_for(*broker)
    async with running(pipeline, settings) as (_, watcher, topics):
        pipeline.orders.add(builders.order("8100002"))
        pipeline.differ.apply([builders.in_locker("RA100000001CN")])
        order = topics.order("8100002")
        await watcher.wait_for(f"{order}/state", "at_post_office")
        _, raised = await watcher.wait_for(topics.event("warning"), containing="storage_ending")
        _, attributes = await watcher.wait_for(f"{order}/attributes", containing="storage_ending")
    assert json.loads(raised)["severity"] == "critical"
    attrs = json.loads(attributes)
    assert (attrs["pickup_point"], attrs["pickup_postcode"]) == ("locker", "190013")
    assert attrs["storage_until"] is None and attrs["pickup_since"].startswith("2026-01-20")
    assert (attrs["destination_country"], attrs["destination_postcode"]) == ("RU", "190013")
    (warning,) = [w for w in attrs["warnings"] if w["rule"] == "storage_ending"]
    assert warning["severity"] == "critical"
    assert warning["facts"]["storage_ends"].startswith("2026-01-23")  # a locker keeps it 3 days


async def test_a_handover_is_an_order_update_for_home_assistant(
    broker: Broker, tmp_path: Path
) -> None:
    # The order book writes the hand-over like any other change of the order, so MQTT hears it.
    pipeline = builders.pipeline(tmp_path)
    async with running(pipeline, settings_for(*broker)) as (_, watcher, topics):
        pipeline.orders.add(builders.order("8100009"))
        mark = len(watcher.messages)
        handed = replace(builders.moved("RA100000001CN"), handover="80012345678901")
        pipeline.differ.apply([handed])
        _, updated = await watcher.wait_for(topics.event("order_updated"), after=mark)
        _, attributes = await watcher.wait_for(
            f"{topics.order('8100009')}/attributes", after=mark, containing="80012345678901"
        )
    assert json.loads(updated)["order"]["tracks"] == ["RA100000001CN", "80012345678901"]
    assert json.loads(attributes)["tracks"] == ["RA100000001CN", "80012345678901"]


async def test_a_removed_orders_warnings_are_not_published(broker: Broker, tmp_path: Path) -> None:
    """Warnings a CLI raised while no daemon ran, for an order removed before the daemon came
    back: the push is dropped, and so is the MQTT event (nothing to act on)."""
    pipeline = builders.pipeline(tmp_path)
    settings = settings_for(*broker)

    def bridge() -> MqttBridge:
        return MqttBridge(
            settings=settings,
            store=pipeline.store,
            bus=pipeline.bus,
            clock=pipeline.clock,
            orders=pipeline.orders,
            ledger_every_s=0.05,
        )

    async with watch_all(settings) as watcher, bridge():  # the daemon ran once: cursor set
        await watcher.wait_for(Topics.of(settings).status, "online")
    pipeline.orders.add(builders.order("RM1"))
    pipeline.orders.add(builders.order("KEPT1"))
    pipeline.store.record_alert(builders.alert("RM1"))
    pipeline.orders.remove("RM1")
    pipeline.store.record_alert(builders.alert("KEPT1"))
    async with watch_all(settings) as watcher, bridge():
        topics = Topics.of(settings)
        await watcher.wait_until(lambda _: len(watcher.on(topics.event("warning"))) >= 1)
    orders = [json.loads(p)["order"] for p in watcher.on(topics.event("warning"))]
    assert orders == ["KEPT1"]
