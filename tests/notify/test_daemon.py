"""`run` starts the sender beside the pipeline and stops it cleanly."""

from __future__ import annotations

import asyncio
from pathlib import Path

from monitor.config import Settings
from monitor.daemon import serve
from monitor.notify.settings import NotifySettings
from monitor.store import Store
from tests.notify.conftest import ORDER, T0, Receiver, alert, states
from tests.notify.test_sender import until


async def test_run_delivers_what_waits_in_the_outbox(
    receiver: Receiver, isolated_env: Path
) -> None:
    store = Store.open(isolated_env / "parcel-monitor.db")
    store.add_order(ORDER, now=T0)
    alert_id = store.record_alert(alert())
    store.close()
    settings = Settings(notify=NotifySettings(urls=(receiver.url,), language="ru"))
    stop = asyncio.Event()
    running = asyncio.create_task(serve(settings, None, stop=stop))
    # At start the rules also raise what fell due meanwhile (not_trackable, on the real clock).
    await until(lambda: any("давно не движется" in m["title"] for m in receiver.messages))
    stop.set()
    await asyncio.wait_for(running, 10)
    store = Store.open(isolated_env / "parcel-monitor.db")
    assert states(store)[alert_id] == "sent"
    store.close()
