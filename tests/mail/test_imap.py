"""The mailbox watcher against a real Dovecot the tests start (tests/mail/dovecot.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import structlog

from monitor.events import OrderImported
from monitor.mail.imap import MailWatcher, folder_name, stop_task
from monitor.mail.intake import Intake
from monitor.mail.reader import load_readers
from monitor.mail.settings import MailSettings
from monitor.pipeline import Pipeline
from monitor.store import SourceCursors
from tests.mail.conftest import append, corpus, flags
from tests.mail.dovecot import PASSWORD, USER, Dovecot, free_port
from tests.notify.test_sender import until

ALI_EN = "8183924513740321"
WAIT_S = 10.0  # the bound on any wait; a healthy run needs milliseconds


def settings_for(server: Dovecot, **changes: object) -> MailSettings:
    values: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "tls": "none",
        "username": USER,
        "password": PASSWORD,
        "retry_max": "2s",
    }
    return MailSettings.model_validate(values | changes)


def watcher_for(
    pipeline: Pipeline, settings: MailSettings, password: str = PASSWORD
) -> MailWatcher:
    return MailWatcher(
        settings,
        password,
        Intake(pipeline, load_readers()),
        SourceCursors(pipeline.store, "mail"),
        pipeline.clock,
    )


@contextlib.asynccontextmanager
async def running(watcher: MailWatcher) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(watcher.run())
    try:
        yield task
    finally:
        await stop_task(task)


async def test_first_scan_makes_orders_and_leaves_every_flag_as_it_was(
    dovecot: Dovecot, pipeline: Pipeline
) -> None:
    await append(
        dovecot,
        corpus("ali-en-confirmation.eml"),
        corpus("ali-en-shipped.eml"),
        corpus("trap-aliexpress-newsletter.eml"),
    )
    before = await flags(dovecot)
    assert before and all("\\Seen" not in f for f in before.values())
    watcher = watcher_for(pipeline, settings_for(dovecot, idle=False, poll_every="1h"))
    async with running(watcher):
        await asyncio.wait_for(watcher.wait_for_pass(0), WAIT_S)
        assert watcher.problem() is None
    assert pipeline.orders.get(ALI_EN).order.tracks == ("RB123456785CN",)
    # One batch: the confirmation never stood alone before the rules, so no "no track number".
    assert [a.alert.rule for a in pipeline.store.alerts()] == ["mail_import"]
    # EXAMINE, BODY.PEEK: not even \Recent was taken away (a SELECT would have claimed it).
    assert await flags(dovecot) == before
    assert all("\\Recent" in f for f in before.values())


async def test_a_restart_reads_nothing_twice(dovecot: Dovecot, pipeline: Pipeline) -> None:
    await append(dovecot, corpus("ali-en-confirmation.eml"), corpus("ozon-shipped.eml"))
    settings = settings_for(dovecot, idle=False, poll_every="1h")
    first = watcher_for(pipeline, settings)
    client = await first.connect()
    assert await first.scan(client, "INBOX") == 2
    assert await first.scan(client, "INBOX") == 0
    await append(dovecot, corpus("ali-en-shipped.eml"))
    # A new watcher (a restart) resumes from the stored cursor: only the new mail is fetched.
    again = watcher_for(pipeline, settings)
    client = await again.connect()
    assert await again.scan(client, "INBOX") == 1
    assert await again.scan(client, "INBOX") == 0
    assert len(pipeline.store.views()) == 2


async def test_a_renumbered_folder_is_read_again_without_duplicates(
    dovecot: Dovecot, pipeline: Pipeline
) -> None:
    await append(dovecot, corpus("ali-en-confirmation.eml"), corpus("ali-en-shipped.eml"))
    watcher = watcher_for(pipeline, settings_for(dovecot))
    client = await watcher.connect()
    assert await watcher.scan(client, "INBOX") == 2
    alerts = len(pipeline.store.alerts())
    # What a server's new UIDVALIDITY looks like from here: the stored one no longer matches.
    cursors = SourceCursors(pipeline.store, "mail")
    cursors.set(f"{USER}@{dovecot.host}/INBOX:uidvalidity", "1")
    with structlog.testing.capture_logs() as logs:
        assert await watcher.scan(client, "INBOX") == 2  # fetched again ...
    assert "monitor.mail.folder_renumbered" in [e["event"] for e in logs]
    assert len(pipeline.store.views()) == 1  # ... and de-duplicated by Message-ID
    assert len(pipeline.store.alerts()) == alerts


async def test_idle_turns_a_new_mail_into_an_order_within_five_seconds(
    dovecot: Dovecot, pipeline: Pipeline
) -> None:
    imported = asyncio.Event()
    pipeline.bus.subscribe(OrderImported, lambda e: imported.set())
    watcher = watcher_for(pipeline, settings_for(dovecot, poll_every="1h"))
    async with running(watcher):
        await asyncio.wait_for(watcher.wait_for_pass(0), WAIT_S)
        await until(lambda: watcher.idling)
        assert not imported.is_set()
        await append(dovecot, corpus("ali-ru-shipped.eml"))
        await asyncio.wait_for(imported.wait(), 5)
    assert pipeline.orders.get("5012345678901234").order.track == "LP00123456789012"


async def test_without_idle_the_folder_is_polled(dovecot: Dovecot, pipeline: Pipeline) -> None:
    watcher = watcher_for(pipeline, settings_for(dovecot, idle=False, poll_every="1s"))
    async with running(watcher):
        await asyncio.wait_for(watcher.wait_for_pass(0), WAIT_S)
        assert not watcher.idling
        await append(dovecot, corpus("gadget-store-en.eml"))
        await until(lambda: pipeline.store.views() != [])


async def test_more_folders_each_with_its_own_cursor_cyrillic_names_too(
    dovecot: Dovecot, pipeline: Pipeline
) -> None:
    await append(dovecot, corpus("ali-en-confirmation.eml"))
    client = await watcher_for(pipeline, settings_for(dovecot)).connect()
    assert (await client.create(folder_name("Заказы"))).result == "OK"
    await client.logout()
    await append(dovecot, corpus("ozon-shipped.eml"), folder=folder_name("Заказы"))
    watcher = watcher_for(pipeline, settings_for(dovecot, folders=["INBOX", "Заказы"]))
    async with running(watcher):
        await asyncio.wait_for(watcher.wait_for_pass(0), WAIT_S)
    assert sorted(v.order.id for v in pipeline.store.views()) == ["12345678-0021", ALI_EN]
    cursors = SourceCursors(pipeline.store, "mail")
    assert cursors.get(f"{USER}@{dovecot.host}/Заказы:last_uid") == "1"
    assert (dovecot.folder / "home" / "Maildir" / ".&BBcEMAQ6BDAENwRL-").is_dir()


async def test_a_wrong_password_is_one_clear_error_retried_with_backoff(
    dovecot: Dovecot, pipeline: Pipeline
) -> None:
    wrong = "not-the-password-x9"
    watcher = watcher_for(pipeline, settings_for(dovecot, password=wrong), password=wrong)
    with structlog.testing.capture_logs() as logs:
        async with running(watcher):
            await until(lambda: watcher.failures >= 2)
    problem = watcher.problem()
    assert problem is not None and "login refused" in problem
    # /healthz answers anyone: the reason, never whose mailbox it is.
    assert "buyer" not in problem
    failed = [e for e in logs if e["event"] == "monitor.mail.failed"]
    assert len(failed) == 1 and failed[0]["retry_in_s"] == 1.0
    assert [e for e in logs if e["event"] == "monitor.mail.still_failing"]
    assert wrong not in repr(logs) and wrong not in problem


async def test_an_unreachable_server_is_named(pipeline: Pipeline) -> None:
    settings = MailSettings(
        host="127.0.0.1",
        port=free_port(),
        tls="none",
        username=USER,
        password=PASSWORD,  # type: ignore[arg-type]
        timeout=timedelta(seconds=2),
    )
    watcher = watcher_for(pipeline, settings)
    async with running(watcher):
        await until(lambda: watcher.failures >= 1)
    problem = watcher.problem()
    assert problem is not None and f"cannot reach 127.0.0.1:{settings.port}" in problem


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tls": "none", "host": "imap.example.org"}, "would send the password in clear"),
        ({"password": None}, "mail.username and mail.password are needed"),
        ({"folders": []}, "name at least one folder"),
    ],
)
def test_settings_refuse_what_cannot_work(changes: dict[str, object], message: str) -> None:
    values = {"host": "127.0.0.1", "username": "u", "password": "p", "tls": "none"} | changes
    with pytest.raises(ValueError, match=message):
        MailSettings.model_validate(values)


@pytest.mark.parametrize(("tls", "port"), [("implicit", "tls_port"), ("starttls", "port")])
async def test_tls_implicit_and_starttls(
    dovecot_tls: Dovecot, pipeline: Pipeline, tls: str, port: str
) -> None:
    await append(dovecot_tls, corpus("ali-en-confirmation.eml"))
    settings = settings_for(
        dovecot_tls, tls=tls, port=getattr(dovecot_tls, port), ca_file=dovecot_tls.certificate
    )
    watcher = watcher_for(pipeline, settings)
    client = await watcher.connect()
    assert await watcher.scan(client, "INBOX") == 1
    await client.logout()


async def test_an_untrusted_certificate_is_refused(
    dovecot_tls: Dovecot, pipeline: Pipeline
) -> None:
    watcher = watcher_for(
        pipeline, settings_for(dovecot_tls, tls="starttls", port=dovecot_tls.port)
    )
    async with running(watcher):
        await until(lambda: watcher.failures >= 1)
    problem = watcher.problem()
    assert problem is not None and "CERTIFICATE_VERIFY_FAILED" in problem
