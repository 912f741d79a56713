from __future__ import annotations

from datetime import UTC, datetime

from monitor.bus import Bus
from monitor.events import Event, SourceFailed, Tick

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_failing_subscriber_does_not_stop_the_others() -> None:
    bus = Bus()
    seen: list[Event] = []

    def broken(event: Tick) -> None:
        raise RuntimeError("boom")

    bus.subscribe(Tick, broken)
    bus.subscribe(Tick, seen.append)
    bus.publish(Tick(at=NOW))
    assert seen == [Tick(at=NOW)]


def test_subscribing_to_the_base_class_sees_every_event_and_unsubscribe_stops_it() -> None:
    bus = Bus()
    seen: list[Event] = []
    unsubscribe = bus.subscribe(Event, seen.append)
    bus.publish(Tick(at=NOW))
    bus.publish(SourceFailed(at=NOW, source="x", reason="down"))
    unsubscribe()
    bus.publish(Tick(at=NOW))
    assert [e.kind for e in seen] == ["tick", "source_failed"]


def test_events_are_frozen() -> None:
    event = Tick(at=NOW)
    try:
        event.at = NOW  # type: ignore[misc]
    except AttributeError:
        return
    raise AssertionError("events must be immutable")
