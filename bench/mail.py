"""The mailbox watcher's first scan against its floor, in one run.

    python bench/mail.py --messages 10000 --json

Starts the tests' own Dovecot (tests/mail/dovecot.py: own config, a passwd-file user, a Maildir
in a temp dir, a free loopback port) with N messages in INBOX, made from the synthetic test
corpus (tests/mail/corpus): one in five a shop mail with an order number of its own (AliExpress
ru/en confirmations and shipping notices, another shop), the rest newsletters, bank mail and
other traps. Then, alternating, three times each:

- floor: aioimaplib alone: log in, EXAMINE, UID SEARCH, UID FETCH (UID BODY.PEEK[]) in batches of
  200 — the least any watcher must do to see every message;
- first scan: the real watcher on an empty store: the same fetches, then parse every mail, run
  the readers, create the orders with their track numbers through the order book (rules,
  notices, outbox), and move the cursor.

Dovecot runs in its own processes, so its CPU is not counted in this process. The last line
printed is one JSON object with the medians and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import aioimaplib

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' Dovecot harness

from monitor.clock import SystemClock
from monitor.logs import configure
from monitor.mail.imap import MailWatcher
from monitor.mail.intake import Intake
from monitor.mail.reader import load_readers
from monitor.mail.settings import MailSettings
from monitor.pipeline import Pipeline
from monitor.rules.base import RuleSettings
from monitor.store import SourceCursors, Store
from tests.mail.dovecot import PASSWORD, USER, Dovecot, available

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "mail" / "corpus"
SHOP = [
    "ali-en-confirmation.eml",
    "ali-en-shipped.eml",
    "ali-en-second-shipment.eml",
    "ali-ru-confirmation.eml",
    "ali-ru-shipped.eml",
    "ali-ru-changed-number.eml",
    "ozon-shipped.eml",
    "gadget-store-en.eml",
]
OTHER = [
    "trap-aliexpress-newsletter.eml",
    "trap-bank-statement.eml",
    "trap-forwarded-order-number.eml",
    "trap-wrong-check-digit.eml",
]
ORDER_NUMBERS = ("8183924513740321", "5012345678901234", "12345678-0021")
BATCH = 200


def variant(template: bytes, index: int) -> bytes:
    """The template with a Message-ID and order numbers of its own (bodies re-encoded alike)."""
    msg = message_from_bytes(template, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    msg.replace_header("Message-ID", f"<bench-{index}@bench.invalid>")
    own = f"{81000000000000000 + index}"
    for part in msg.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        assert isinstance(part, EmailMessage)
        text = part.get_content()
        for number in ORDER_NUMBERS:
            text = text.replace(number, own)
        cte = str(part.get("Content-Transfer-Encoding", "7bit"))
        part.set_content(text, subtype=part.get_content_subtype(), cte=cte)
    return bytes(msg)


def fill(server: Dovecot, count: int) -> int:
    """Write the messages straight into the Maildir (APPEND one by one would take minutes)."""
    templates = {name: (CORPUS / name).read_bytes() for name in SHOP + OTHER}
    new = server.folder / "home" / "Maildir" / "new"
    for sub in ("new", "cur", "tmp"):
        (new.parent / sub).mkdir(parents=True, exist_ok=True)
    owner = (server.folder / "home").stat()
    size = 0
    for index in range(count):
        pool = SHOP if index % 5 == 0 else OTHER
        raw = variant(templates[pool[(index // 5) % len(pool)]], index)
        path = new / f"{1700000000 + index}.M{index}P1.bench"
        path.write_bytes(raw.replace(b"\n", b"\r\n") if b"\r\n" not in raw else raw)
        size += len(raw)
    for path in [new.parent, *new.parent.iterdir(), *new.iterdir()]:
        os.chown(path, owner.st_uid, owner.st_gid)
    return size


async def login(server: Dovecot) -> aioimaplib.IMAP4:
    client = aioimaplib.IMAP4(host=server.host, port=server.port, timeout=120)
    await client.wait_hello_from_server()
    assert (await client.login(USER, PASSWORD)).result == "OK"
    return client


async def floor(server: Dovecot) -> tuple[float, float, int]:
    started, cpu = time.perf_counter(), time.process_time()
    client = await login(server)
    assert (await client.examine("INBOX")).result == "OK"
    client.protocol.state = aioimaplib.SELECTED
    found = await client.uid_search("SINCE", "1-Jan-2000", charset=None)
    uids = found.lines[0].split()
    fetched = 0
    for start in range(0, len(uids), BATCH):
        batch = b",".join(uids[start : start + BATCH]).decode()
        answer = await client.uid("fetch", batch, "(UID BODY.PEEK[])")
        fetched += sum(isinstance(line, bytearray) for line in answer.lines)
    await client.logout()
    return time.perf_counter() - started, time.process_time() - cpu, fetched


async def first_scan(server: Dovecot, folder: Path) -> tuple[float, float, int, int]:
    store = Store.open(folder / "parcel-monitor.db")
    pipeline = Pipeline.build(store=store, clock=SystemClock(), sources={}, rules=RuleSettings())
    settings = MailSettings.model_validate(
        {"host": server.host, "port": server.port, "tls": "none", "username": USER}
        | {"password": PASSWORD, "timeout": "120s", "first_scan": "3650d"}
    )
    watcher = MailWatcher(
        settings,
        PASSWORD,
        Intake(pipeline, load_readers()),
        SourceCursors(store, "mail"),
        pipeline.clock,
    )
    started, cpu = time.perf_counter(), time.process_time()
    client = await watcher.connect()
    taken = await watcher.scan(client, "INBOX")
    await client.logout()
    elapsed, used = time.perf_counter() - started, time.process_time() - cpu
    orders = len(store.views())
    pipeline.rules.close()
    store.close()
    return elapsed, used, taken, orders


async def measure(server: Dovecot, runs: int) -> dict[str, object]:
    floors, scans, floor_cpu, scan_cpu = [], [], [], []
    fetched = taken = orders = 0
    client = await login(server)  # Dovecot indexes the new Maildir once, before any timing
    await client.examine("INBOX")
    await client.logout()
    for _ in range(runs):
        seconds, cpu, fetched = await floor(server)
        floors.append(seconds)
        floor_cpu.append(cpu)
        with tempfile.TemporaryDirectory() as folder:
            seconds, cpu, taken, orders = await first_scan(server, Path(folder))
        scans.append(seconds)
        scan_cpu.append(cpu)
    low, high = statistics.median(floors), statistics.median(scans)
    return {
        "messages_fetched_floor": fetched,
        "messages_read_scan": taken,
        "orders_created": orders,
        "floor_s": [round(s, 2) for s in floors],
        "first_scan_s": [round(s, 2) for s in scans],
        "floor_median_s": round(low, 2),
        "first_scan_median_s": round(high, 2),
        "ratio": round(high / low, 2),
        # This process's CPU alone (Dovecot excluded): steadier than wall time on a busy machine.
        "floor_cpu_median_s": round(statistics.median(floor_cpu), 2),
        "first_scan_cpu_median_s": round(statistics.median(scan_cpu), 2),
        "cpu_ratio": round(statistics.median(scan_cpu) / statistics.median(floor_cpu), 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="only the JSON line")
    args = parser.parse_args()
    reason = available()
    if reason is not None:
        print(f"bench/mail.py: {reason}", file=sys.stderr)
        return 1
    configure("warning")  # an info line per imported order would measure the terminal
    server = Dovecot()
    try:
        server.start()
        built = time.perf_counter()
        size = fill(server, args.messages)
        if not args.json:
            print(
                f"{args.messages} messages ({size / 1e6:.1f} MB) written in "
                f"{time.perf_counter() - built:.1f} s; measuring {args.runs} runs each",
                file=sys.stderr,
            )
        result = asyncio.run(measure(server, args.runs))
    finally:
        server.remove()
    result |= {"messages": args.messages, "date": datetime.now(UTC).date().isoformat()}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
