"""The mailbox watcher: reads new mail over IMAP, read-only, and hands it to the intake.

Read-only by construction: folders are opened with EXAMINE (the server then refuses any change),
bodies are fetched with BODY.PEEK[] (which sets no \\Seen flag), and no command that stores,
copies, moves or expunges is ever sent. A cursor per folder (UIDVALIDITY and the last UID read)
lives in the store's cursor table, so a restart reads only what is new; a changed UIDVALIDITY
means the server renumbered the folder: it is read again from the first-scan window, and the
intake skips every mail it has read before by its Message-ID.

New mail is awaited with IDLE where the server offers it (the first folder; the others are
looked at every `poll_every`), else by polling. Any failure (refused login, unreachable server,
a dropped connection) is one clear log line and the health check's reason, and the watcher
tries again after a growing pause (`monitor.backoff`, capped at `retry_max`); the pause starts
again from one second once a pass over the folders works.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import ssl
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aioimaplib
import structlog

from monitor.backoff import Backoff
from monitor.clock import Clock
from monitor.mail.intake import Intake
from monitor.mail.settings import MailSettings
from monitor.plugin import CursorStore

log = structlog.get_logger("monitor.mail")
# Its debug lines carry whole mails (and the folder names): never let them reach the journal.
logging.getLogger("aioimaplib").setLevel(logging.WARNING)

BATCH = 200  # messages per UID FETCH: few round trips, bounded memory
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_FETCH_UID = re.compile(rb"\bUID (\d+)\b")
_FETCH_START = re.compile(rb"\d+ FETCH \(")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class MailboxError(Exception):
    """The mailbox cannot be read; the message says why in words fit for the log and /healthz."""


def _text(lines: Sequence[Any]) -> str:
    return " ".join(
        line.decode(errors="replace") for line in lines if isinstance(line, bytes | bytearray)
    )[:200]


def folder_name(folder: str) -> str:
    """A folder as IMAP names it: RFC 3501's modified UTF-7 (`Заказы` is `&BBcEMAQ6BDAENwRL-`),
    quoted. People write folder names as their mail program shows them."""
    out: list[str] = []
    wide: list[str] = []

    def flush() -> None:
        if wide:
            encoded = base64.b64encode("".join(wide).encode("utf-16-be")).decode()
            out.append("&" + encoded.rstrip("=").replace("/", ",") + "-")
            wide.clear()

    for char in folder:
        if " " <= char <= "~":
            flush()
            out.append("&-" if char == "&" else char)
        else:
            wide.append(char)
    flush()
    return '"' + "".join(out).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _imap_date(when: datetime) -> str:
    return f"{when.day}-{_MONTHS[when.month - 1]}-{when.year}"


def parse_fetch(lines: Sequence[Any]) -> list[tuple[int, bytes]]:
    """(uid, raw message) pairs of a `UID FETCH ... (UID BODY.PEEK[])` answer, in server order.

    The UID may stand before the literal (`1 FETCH (UID 5 BODY[] {n}`) or after it (` UID 5)`).
    """
    found: list[tuple[int, bytes]] = []
    uid: int | None = None
    body: bytes | None = None
    for line in lines:
        if isinstance(line, bytearray):
            body = bytes(line)
            continue
        if _FETCH_START.match(line):
            if uid is not None and body is not None:
                found.append((uid, body))
            uid, body = None, None
        if match := _FETCH_UID.search(line):
            uid = int(match[1])
    if uid is not None and body is not None:
        found.append((uid, body))
    return found


async def stop_task(task: asyncio.Task[None]) -> None:
    """Cancel until it is done: on Python 3.11 `asyncio.wait_for`, which aioimaplib uses for
    every command, swallows a cancellation that arrives as the command completes."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.5)
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("monitor.mail.stopped_with_error", error=_reason(error))


class MailWatcher:
    def __init__(
        self,
        settings: MailSettings,
        password: str,
        intake: Intake,
        cursors: CursorStore,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._password = password
        self._intake = intake
        self._cursors = cursors
        self._clock = clock
        self._account = f"{settings.username}@{settings.host}"
        self.connected = False
        self.last_error = ""
        self.failures = 0
        self.idling = False
        self.scans = 0  # completed passes over every folder (what `wait_for_pass` counts)
        self._pass_done = asyncio.Event()

    # --- health -------------------------------------------------------------------------------

    def problem(self) -> str | None:
        """None when the last pass over the folders worked, else why it did not."""
        if self.failures:
            # /healthz answers without a token: the reason, never whose mailbox it is (the logs,
            # the owner's, name the account).
            return f"{self.last_error} ({self.failures} failed attempts in a row)"
        if not self.connected and not self.scans:
            return "not connected yet"
        return None

    async def wait_for_pass(self, after: int) -> None:
        """Until more than `after` passes over the folders are complete."""
        while self.scans <= after:
            self._pass_done.clear()
            await self._pass_done.wait()

    # --- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        # One server, one client: nobody to stampede with, so no jitter.
        retries = Backoff(base=1.0, cap=self._settings.retry_max.total_seconds(), jitter=0.0)
        while True:
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # whatever broke, the daemon keeps going and retries
                reason = _reason(exc)
                self.connected = False
                self.failures += 1
                delay = retries.delay(self.failures)
                if reason != self.last_error or self.failures == 1:
                    log.error(
                        "monitor.mail.failed",
                        account=self._account,
                        error=reason,
                        retry_in_s=round(delay, 1),
                    )
                else:
                    log.info("monitor.mail.still_failing", account=self._account, error=reason)
                self.last_error = reason
                await asyncio.sleep(delay)

    async def _session(self) -> None:
        client = await self.connect()
        try:
            idle = self._settings.idle and client.has_capability("IDLE")
            log.info(
                "monitor.mail.connected",
                account=self._account,
                folders=list(self._settings.folders),
                waits_with="IDLE" if idle else f"polling every {self._settings.poll_every}",
            )
            while True:
                for folder in self._settings.folders:
                    await self.scan(client, folder)
                if self.failures:
                    log.info("monitor.mail.recovered", account=self._account)
                self.connected, self.failures, self.last_error = True, 0, ""
                self.scans += 1
                self._pass_done.set()
                if idle:
                    await self._idle(client, self._settings.folders[0])
                else:
                    await asyncio.sleep(self._settings.poll_every.total_seconds())
        finally:
            self.connected = False
            await _logout(client)

    async def connect(self) -> aioimaplib.IMAP4:
        """A logged-in client (raises MailboxError with the reason)."""
        settings = self._settings
        timeout = settings.timeout.total_seconds()
        host, port = settings.host, settings.resolved_port
        context = None
        if settings.tls != "none":
            context = ssl.create_default_context(
                cafile=str(settings.ca_file) if settings.ca_file else None
            )
        client: aioimaplib.IMAP4
        if settings.tls == "implicit":
            client = aioimaplib.IMAP4_SSL(
                host=host, port=port, timeout=timeout, ssl_context=context
            )
        else:
            client = aioimaplib.IMAP4(host=host, port=port, timeout=timeout)
        try:
            await asyncio.wait_for(client.wait_hello_from_server(), timeout)
        except (OSError, TimeoutError) as exc:
            await _logout(client)
            raise MailboxError(f"cannot reach {host}:{port}: {_reason(exc)}") from None
        if client.protocol.state == aioimaplib.NONAUTH and settings.tls == "starttls":
            assert context is not None
            await _starttls(client, context, host, timeout)
        response = await client.login(settings.username, self._password)
        if response.result != "OK":
            await _logout(client)
            # The server's words, never ours with the password in them.
            reason = _text(response.lines) or "no reason"
            if settings.username:  # a server that echoes the login back
                reason = reason.replace(settings.username, "…")
            raise MailboxError(f"login refused: {reason}")
        return client

    async def scan(self, client: aioimaplib.IMAP4, folder: str) -> int:
        """Read what is new in one folder; returns how many mails were handed to the intake."""
        response = await client.examine(folder_name(folder))
        if response.result != "OK":
            raise MailboxError(f"cannot open folder {folder!r}: {_text(response.lines)}")
        # aioimaplib only counts SELECT as selecting; EXAMINE selects too (read-only).
        client.protocol.state = aioimaplib.SELECTED
        found = _UIDVALIDITY.search(b" ".join(x for x in response.lines if isinstance(x, bytes)))
        validity = found[1].decode() if found else ""
        key = f"{self._account}/{folder}"
        last_uid = int(self._cursors.get(f"{key}:last_uid") or 0)
        if self._cursors.get(f"{key}:uidvalidity") != validity:
            if last_uid:
                log.warning(
                    "monitor.mail.folder_renumbered",
                    folder=folder,
                    detail="UIDVALIDITY changed: reading the first-scan window again; "
                    "mails read before are skipped by their Message-ID",
                )
            since = self._clock.now() - self._settings.first_scan
            criteria = ("SINCE", _imap_date(since))
            last_uid = 0
        else:
            criteria = ("UID", f"{last_uid + 1}:*")
        answer = await client.uid_search(*criteria, charset=None)
        if answer.result != "OK":
            raise MailboxError(f"search in {folder!r} failed: {_text(answer.lines)}")
        uids = sorted(
            uid
            for line in answer.lines[:1]
            if isinstance(line, bytes)
            for uid in map(int, line.split())
            if uid > last_uid  # `n:*` answers with the last message even when it is older
        )
        batches = [uids[start : start + BATCH] for start in range(0, len(uids), BATCH)]
        taken = 0
        # The next batch is asked for before this one is read: the server (another process)
        # prepares and sends it while the intake works.
        fetching = self._fetch(client, folder, batches[0]) if batches else None
        try:
            for number, batch in enumerate(batches):
                assert fetching is not None
                messages = await fetching
                fetching = None
                if number + 1 < len(batches):
                    fetching = self._fetch(client, folder, batches[number + 1])
                    await asyncio.sleep(0)  # let the request go out before the work starts
                # One transaction per batch, its cursor included: a crash loses the batch's
                # writes and its cursor together, and the next start reads it again.
                with self._intake.transaction():
                    self._intake.take_batch([raw for _, raw in messages])
                    self._cursors.set_many(
                        {f"{key}:uidvalidity": validity, f"{key}:last_uid": str(batch[-1])}
                    )
                taken += len(messages)
        finally:
            if fetching is not None:
                fetching.cancel()
        if not uids:
            self._cursors.set_many(
                {f"{key}:uidvalidity": validity, f"{key}:last_uid": str(last_uid)}
            )
        if uids:
            log.info("monitor.mail.read", folder=folder, mails=len(uids))
        return taken

    def _fetch(
        self, client: aioimaplib.IMAP4, folder: str, uids: Sequence[int]
    ) -> asyncio.Task[list[tuple[int, bytes]]]:
        async def fetch() -> list[tuple[int, bytes]]:
            answer = await client.uid("fetch", ",".join(map(str, uids)), "(UID BODY.PEEK[])")
            if answer.result != "OK":
                raise MailboxError(f"fetching mail from {folder!r} failed: {_text(answer.lines)}")
            return parse_fetch(answer.lines)

        return asyncio.ensure_future(fetch())

    async def _idle(self, client: aioimaplib.IMAP4, folder: str) -> None:
        """Wait in IDLE on `folder` until the server says something, or `poll_every` passes."""
        response = await client.examine(folder_name(folder))
        if response.result != "OK":
            raise MailboxError(f"cannot open folder {folder!r}: {_text(response.lines)}")
        client.protocol.state = aioimaplib.SELECTED
        # Servers drop an IDLE after 30 minutes; the other folders want a look now and then.
        wait = min(self._settings.poll_every.total_seconds(), 25 * 60)
        if len(self._settings.folders) == 1:
            wait = 25 * 60
        idle = await client.idle_start(timeout=wait)
        self.idling = True
        log.info("monitor.mail.waiting", folder=folder, how="IDLE", up_to_s=wait)
        try:
            while True:
                pushed = await client.wait_server_push(timeout=wait + 5)
                if pushed == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    break
                if any(b"EXISTS" in line for line in pushed if isinstance(line, bytes)):
                    break
        finally:
            self.idling = False
            client.idle_done()
            await asyncio.wait_for(idle, self._settings.timeout.total_seconds())


async def _starttls(
    client: aioimaplib.IMAP4, context: ssl.SSLContext, host: str, wait_s: float
) -> None:
    """aioimaplib has no STARTTLS of its own: ask, then upgrade the transport in place."""
    protocol = client.protocol
    if "STARTTLS" not in protocol.capabilities:
        raise MailboxError(f'{host} does not offer STARTTLS; use tls = "implicit"')
    command = aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
    response = await asyncio.wait_for(protocol.execute(command), wait_s)
    if response.result != "OK":
        raise MailboxError(f"{host} refused STARTTLS: {_text(response.lines)}")
    loop = asyncio.get_running_loop()
    transport = await asyncio.wait_for(
        loop.start_tls(protocol.transport, protocol, context, server_hostname=host), wait_s
    )
    if transport is None:
        raise MailboxError(f"TLS with {host} could not be started")
    protocol.transport = transport
    await asyncio.wait_for(protocol.capability(), wait_s)  # must be asked again after TLS


async def _logout(client: aioimaplib.IMAP4) -> None:
    try:
        if client.protocol.state in (aioimaplib.AUTH, aioimaplib.SELECTED):
            await asyncio.wait_for(client.logout(), 5)
    except Exception:  # the connection is gone anyway
        pass
    transport = getattr(client.protocol, "transport", None)
    if transport is not None:
        transport.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, MailboxError):
        return str(exc)
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "the server did not answer in time"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"
