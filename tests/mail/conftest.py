"""A real store file and the real pipeline for the intake; the corpus as raw bytes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import aioimaplib
import pytest

from monitor.clock import SimulatedClock
from monitor.pipeline import Pipeline
from monitor.rules.base import RuleSettings
from monitor.store import Store
from tests.mail.dovecot import PASSWORD, USER, Dovecot, available

CORPUS = Path(__file__).parent / "corpus"


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    store = Store.open(tmp_path / "state" / "parcel-monitor.db")
    clock = SimulatedClock(datetime(2026, 11, 16, 9, 0, tzinfo=UTC))
    built = Pipeline.build(store=store, clock=clock, sources={}, rules=RuleSettings())
    yield built
    built.rules.close()
    store.close()


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    reason = available()
    if reason is not None:
        pytest.skip(reason)
    server = Dovecot()
    server.start()
    yield server
    server.remove()


async def append(server: Dovecot, *raws: bytes, folder: str = "INBOX") -> None:
    """Deliver mails the way a mail server would: APPEND, unread, as another client."""
    client = aioimaplib.IMAP4(host=server.host, port=server.port, timeout=10)
    await client.wait_hello_from_server()
    assert (await client.login(USER, PASSWORD)).result == "OK"
    for raw in raws:
        assert (await client.append(raw, mailbox=folder)).result == "OK"
    await client.logout()


async def flags(server: Dovecot, folder: str = "INBOX") -> dict[int, str]:
    """UID -> FLAGS as a fresh read-only session sees them."""
    client = aioimaplib.IMAP4(host=server.host, port=server.port, timeout=10)
    await client.wait_hello_from_server()
    await client.login(USER, PASSWORD)
    assert (await client.examine(folder)).result == "OK"
    client.protocol.state = aioimaplib.SELECTED
    answer = await client.uid("fetch", "1:*", "(FLAGS)")
    await client.logout()
    found = {}
    for line in answer.lines:
        if isinstance(line, bytes) and b"FETCH" in line:
            text = line.decode()
            uid = int(text.split("UID ")[1].split()[0].rstrip(")"))
            found[uid] = text.split("FLAGS (")[1].split(")")[0]
    return found


@pytest.fixture
def dovecot_tls() -> Iterator[Dovecot]:
    reason = available() or (None if shutil.which("openssl") else "openssl is not installed")
    if reason is not None:
        pytest.skip(reason)
    server = Dovecot(tls=True)
    server.start()
    yield server
    server.remove()
