"""Real Apprise delivering to a local aiohttp receiver: once, later, after restarts, or failed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from monitor import orderinput
from monitor.bus import Bus
from monitor.cli import main
from monitor.clock import SimulatedClock
from monitor.health import notifier_check
from monitor.model import Order, Severity
from monitor.notify.settings import QuietHours
from monitor.orders import OrderBook
from monitor.store import OutboxState, Store
from monitor.web import metrics
from tests.notify.conftest import ORDER, T0, Receiver, alert, sender, settings, states


async def until(check: Callable[[], bool]) -> None:
    """Poll a condition on the store or the receiver; they have no event to wait on."""
    async with asyncio.timeout(10):
        while not check():  # noqa: ASYNC110 - the store and the receiver offer no event
            await asyncio.sleep(0.02)


async def test_one_warning_is_one_message_naming_order_and_track(
    store: Store, receiver: Receiver
) -> None:
    store.record_alert(alert("protection_expiring", Severity.CRITICAL))
    async with sender(store, settings(urls=(receiver.url,)), SimulatedClock(T0)):
        await until(lambda: len(receiver.messages) == 1)
    message = receiver.messages[0]["message"]
    assert ORDER.id in message and "RB123456785CN" in message
    assert "I request a full refund" in message
    assert set(states(store).values()) == {OutboxState.SENT}


async def test_receiver_down_then_up_is_delivered_later_exactly_once(
    store: Store, receiver: Receiver
) -> None:
    await receiver.stop()
    alert_id = store.record_alert(alert())
    async with sender(store, settings(urls=(receiver.url,)), SimulatedClock(T0)):
        await until(lambda: _attempts(store, alert_id) >= 2)  # retried with backoff
        assert states(store)[alert_id] == OutboxState.PENDING
        await receiver.start()
        await until(lambda: states(store)[alert_id] == OutboxState.SENT)
        await asyncio.sleep(0.3)  # several more passes: nothing is sent again
    assert len(receiver.messages) == 1


async def test_restart_in_between_neither_repeats_nor_loses(
    tmp_path: Path, store: Store, receiver: Receiver
) -> None:
    config = settings(urls=(receiver.url,))
    clock = SimulatedClock(T0)
    first = store.record_alert(alert(condition="a"))
    async with sender(store, config, clock):
        await until(lambda: states(store)[first] == OutboxState.SENT)
    await receiver.stop()
    second = store.record_alert(alert(condition="b"))
    async with sender(store, config, clock):  # the receiver is down for this whole lifetime
        await until(lambda: _attempts(store, second) >= 1)
    store.close()

    reopened = Store.open(tmp_path / "state.db")  # the daemon starts again on the same file
    await receiver.start()
    async with sender(reopened, config, clock):
        await until(lambda: states(reopened)[second] == OutboxState.SENT)
        await asyncio.sleep(0.3)
    assert [m["message"].count(ORDER.id) > 0 for m in receiver.messages] == [True, True]
    assert len(receiver.messages) == 2
    reopened.close()


async def test_after_the_give_up_time_it_is_failed_until_retried(
    store: Store, receiver: Receiver
) -> None:
    await receiver.stop()
    clock = SimulatedClock(T0)
    alert_id = store.record_alert(alert())
    config = settings(urls=(receiver.url,), give_up_after=timedelta(hours=1))
    async with sender(store, config, clock):
        await until(lambda: _attempts(store, alert_id) >= 1)
        clock.set(T0 + timedelta(hours=2))
        await until(lambda: states(store)[alert_id] == OutboxState.FAILED)
    rows = store.outbox_undelivered()
    assert rows[0].state == OutboxState.FAILED and "127.0.0.1" in rows[0].last_error

    await receiver.start()
    assert store.outbox_requeue_failed(clock.now()) == 1
    async with sender(store, config, clock):
        await until(lambda: states(store)[alert_id] == OutboxState.SENT)
    assert len(receiver.messages) == 1


async def test_each_channel_gets_it_once_even_when_another_failed(
    store: Store, receiver: Receiver
) -> None:
    other = Receiver()  # down at first
    alert_id = store.record_alert(alert())
    config = settings(urls=(receiver.url, other.url))
    async with sender(store, config, SimulatedClock(T0)):
        await until(lambda: _attempts(store, alert_id) >= 2)
        await other.start()
        await until(lambda: states(store)[alert_id] == OutboxState.SENT)
    await other.stop()
    assert len(receiver.messages) == 1 and len(other.messages) == 1


async def test_routing_by_severity_and_rule(store: Store, receiver: Receiver) -> None:
    sms = Receiver()
    await sms.start()
    try:
        config = settings(
            urls=(f"push={receiver.url}", f"sms, pager={sms.url}"),
            tags=("push",),
            severity_tags={Severity.CRITICAL: ("sms",)},
        )
        store.record_alert(alert("stalled", condition="w"))
        store.record_alert(alert("protection_expiring", Severity.CRITICAL, condition="c"))
        async with sender(store, config, SimulatedClock(T0)):
            await until(lambda: set(states(store).values()) == {OutboxState.SENT})
        assert len(receiver.messages) == 2 and len(sms.messages) == 1
        assert "protection" in sms.messages[0]["title"].lower()
    finally:
        await sms.stop()


async def test_quiet_hours_hold_non_critical_but_not_critical(
    store: Store, receiver: Receiver
) -> None:
    night = T0.replace(hour=23)  # Moscow time
    clock = SimulatedClock(night)
    calm = store.record_alert(alert(at=night, condition="w"))
    urgent = store.record_alert(alert("protection_expiring", Severity.CRITICAL, at=night))
    config = settings(urls=(receiver.url,), quiet_hours=QuietHours(start=time(22), end=time(8)))
    async with sender(store, config, clock) as running:
        await until(lambda: states(store)[urgent] == OutboxState.SENT)
        await asyncio.sleep(0.2)
        assert states(store)[calm] == OutboxState.PENDING
        clock.set(night + timedelta(hours=9))  # 08:00 the next morning
        running.wake()
        await until(lambda: states(store)[calm] == OutboxState.SENT)
    assert len(receiver.messages) == 2


async def test_morning_digest_gathers_info_into_one_message(
    store: Store, receiver: Receiver
) -> None:
    clock = SimulatedClock(T0)
    store.record_alert(alert("delivered", Severity.INFO, condition="1"))
    store.record_alert(alert("delivered", Severity.INFO, condition="2"))
    config = settings(urls=(receiver.url,), digest_at=time(9))
    async with sender(store, config, clock) as running:
        await asyncio.sleep(0.2)
        assert receiver.messages == []
        clock.set(T0 + timedelta(hours=21))  # 09:00 Moscow the next day
        running.wake()
        await until(lambda: set(states(store).values()) == {OutboxState.SENT})
    assert len(receiver.messages) == 1 and "2 updates" in receiver.messages[0]["title"]


async def test_muted_orders_are_never_sent(store: Store, receiver: Receiver) -> None:
    alert_id = store.record_alert(alert())
    async with sender(
        store, settings(urls=(receiver.url,), muted_orders=(ORDER.id,)), SimulatedClock(T0)
    ):
        await until(lambda: states(store)[alert_id] == OutboxState.MUTED)
    assert receiver.messages == []


async def test_a_muted_order_is_not_sent_and_unmuting_lets_the_next_one_through(
    store: Store, receiver: Receiver
) -> None:
    clock = SimulatedClock(T0)
    book = OrderBook(store=store, bus=Bus(), clock=clock, refresh=lambda ids: None)
    assert orderinput.update(book, ORDER.id, {"muted": True}).order.muted
    config = settings(urls=(receiver.url,))
    first = store.record_alert(alert(condition="a"))
    async with sender(store, config, clock):
        await until(lambda: states(store)[first] == OutboxState.MUTED)
        assert receiver.messages == []
        assert [a.alert.condition for a in store.alerts(ORDER.id)] == ["a"]  # still recorded

        assert not orderinput.update(book, ORDER.id, {"muted": False}).order.muted
        second = store.record_alert(alert(condition="b"))
        await until(lambda: states(store)[second] == OutboxState.SENT)
    assert len(receiver.messages) == 1 and states(store)[first] == OutboxState.MUTED


async def test_stop_leaves_unsent_messages_in_the_outbox(store: Store, receiver: Receiver) -> None:
    await receiver.stop()
    alert_id = store.record_alert(alert())
    async with sender(
        store, settings(urls=(receiver.url,), retry_first=60, retry_max=60), SimulatedClock(T0)
    ):
        await until(lambda: _attempts(store, alert_id) == 1)
    assert states(store)[alert_id] == OutboxState.PENDING


def _attempts(store: Store, alert_id: int | None) -> int:
    row = store._conn.execute(
        "SELECT attempts FROM outbox WHERE alert_id = ?", (alert_id,)
    ).fetchone()
    return int(row[0])


async def test_severity_reaches_the_channel_as_apprises_type_and_critical_says_so(
    store: Store, receiver: Receiver
) -> None:
    for severity in Severity:
        store.record_alert(alert("stalled", severity, condition=severity.value))
    async with sender(store, settings(urls=(receiver.url,)), SimulatedClock(T0)):
        await until(lambda: len(receiver.messages) == 3)
    by_type = {message["type"]: message["title"] for message in receiver.messages}
    assert set(by_type) == {"info", "warning", "failure"}
    assert by_type["failure"].startswith("CRITICAL: ")
    assert not by_type["warning"].startswith("CRITICAL") and not by_type["info"].startswith("CRIT")


async def test_pushes_show_times_in_the_one_display_zone(store: Store, receiver: Receiver) -> None:
    from monitor.config import Settings

    display = Settings(timezone="Asia/Vladivostok", notify={"timezone": "Europe/Moscow"}).zone()
    store.record_alert(alert("protection_expiring", Severity.CRITICAL))
    async with sender(store, settings(urls=(receiver.url,)), SimulatedClock(T0), display):
        await until(lambda: len(receiver.messages) == 1)
    # ORDER's protection ends 2026-03-25 12:00 +03:00: 19:00 in Vladivostok, not Moscow's 12:00.
    assert "2026-03-25 19:00" in receiver.messages[0]["message"]


# --- issue 10: one bad message never blocks the others; a removed order's warning stays unsent ---


async def test_a_message_that_cannot_be_rendered_fails_alone_and_the_rest_go_out(
    store: Store, receiver: Receiver
) -> None:
    # Dates at the very edge of what datetime holds: shown in the user's zone, they overflow.
    poisoned = Order(
        id="8100000000000666",
        ordered_at=T0 - timedelta(days=3),
        protection_until=datetime.fromisoformat("9999-12-31T23:59:59-14:00"),
    )
    store.add_order(poisoned, now=T0)
    bad = store.record_alert(alert(order_id=poisoned.id, condition="bad"))
    good = [store.record_alert(alert(condition=str(n))) for n in range(3)]
    async with sender(store, settings(urls=(receiver.url,)), SimulatedClock(T0)):
        await until(lambda: len(receiver.messages) == 3)
        await until(lambda: states(store)[bad] == OutboxState.FAILED)
    assert all(states(store)[alert_id] == OutboxState.SENT for alert_id in good)
    assert all(poisoned.id not in m["title"] for m in receiver.messages)
    reason = notifier_check(store)()
    assert reason is not None and "1 notifications failed" in reason
    assert "cannot render the message: OverflowError" in reason
    scraped = metrics.render([metrics._notifications(store)])
    assert 'parcel_monitor_notifications{state="failed"} 1' in scraped


async def test_a_removed_orders_queued_warning_is_not_sent(
    isolated_env: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    """add (an old order: track_missing is due at once), remove, then the daemon's sender."""
    assert main(["add", "8100000000000777", "--ordered", "2026-01-02"]) == 0
    assert main(["remove", "8100000000000777"]) == 0
    store = Store.open(isolated_env / "parcel-monitor.db")
    queued = list(states(store))
    assert len(queued) == 1  # the warning was raised and queued before the removal
    async with sender(store, settings(urls=(receiver.url,)), SimulatedClock(datetime.now(UTC))):
        await until(lambda: states(store)[queued[0]] == OutboxState.REMOVED)
        await asyncio.sleep(0.3)  # several more passes
    assert receiver.messages == []
    store.close()


async def test_a_plain_webhook_gets_the_carriers_words_without_markdown_escapes(
    store: Store, receiver: Receiver
) -> None:
    """A JSON webhook passes any format on: the receiver is a program or a plain display, so it
    gets the plain body, not Markdown with backslashes before every `>` and `*`."""
    facts = {"action": "other", "text": "<b>ok</b> *now*", "at": T0.isoformat()}
    store.record_alert(alert("action_required", Severity.CRITICAL, facts=facts))
    async with sender(store, settings(urls=(receiver.url,)), SimulatedClock(T0)):
        await until(lambda: len(receiver.messages) == 1)
    message = receiver.messages[0]["message"]
    assert "<b>ok</b> *now*" in message and "\\" not in message and "**" not in message
