"""What a read mail does: its findings become orders and track numbers, through the order book.

The one path for every mail, whether it came over IMAP or from a file. Each step is idempotent:
a mail already recorded is skipped by its Message-ID, an order that exists is joined, a number
the order has is not added again, and the "found in your mail" notice fires once per order and
number (the ledger's key). So a crash between two steps, or a rescan, never makes a duplicate.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from email.utils import parseaddr
from typing import Any

import structlog

from monitor.events import Alert, OrderImported, WarningRaised
from monitor.mail.message import Mail, parse_mail
from monitor.mail.reader import Finding, MailReader, slug
from monitor.model import Order, Severity
from monitor.notify.texts import describe
from monitor.orders import EDITABLE
from monitor.pipeline import Pipeline
from monitor.rules.ids import MAIL_IMPORT
from monitor.store import MailRecord, StoreError

log = structlog.get_logger("monitor.mail")

GENERIC = "generic"  # the reader of last resort: any sender, so never trusted by name


@dataclass(slots=True)
class Outcome:
    """What one mail did."""

    message_id: str
    reader: str = ""
    created: list[str] = field(default_factory=list)  # order ids
    tracks: list[tuple[str, str]] = field(default_factory=list)  # (order id, number) added
    skipped: str = ""  # why nothing was done: "already read", "nothing found", "unreadable: ..."

    @property
    def changed(self) -> bool:
        return bool(self.created or self.tracks)


# The sender in what `origin_of` wrote: "mail: <subject> (<address>, <date>)".
_ORIGIN_SENDER = re.compile(r"\(([^()\s,]+@[^()\s,]+)(?:, [\d-]+)?\)$")


def origin_of(mail: Mail) -> str:
    when = f", {mail.date:%Y-%m-%d}" if mail.date else ""
    subject = mail.subject if len(mail.subject) <= 80 else mail.subject[:79] + "…"
    return f"mail: {subject} ({mail.sender_address or mail.sender}{when})"


@dataclass(frozen=True, slots=True)
class Reading:
    """What the readers made of one raw mail, before anything is written."""

    mail: Mail | None  # None: not a mail at all
    reader: str = ""
    findings: tuple[Finding, ...] = ()
    problem: str = ""  # "not a mail: ...", "no reader for it", "unreadable: ..."


def read_mail(raw: bytes, readers: Sequence[MailReader]) -> Reading:
    """Parse one mail and let the first reader that wants it read it. Never raises."""
    try:
        mail = parse_mail(raw)
    except Exception as exc:  # the email package is lenient; anything left is a broken mail
        return Reading(None, problem=f"not a mail: {type(exc).__name__}: {exc}")
    reader: MailReader | None = None
    try:
        reader = next((r for r in readers if r.reads(mail)), None)
        if reader is None:
            return Reading(mail, problem="no reader for it")
        return Reading(mail, reader.name, tuple(reader.read(mail)))
    except Exception as exc:  # a plugin's bug or a changed template: skip this mail only
        name = reader.name if reader is not None else "?"
        return Reading(mail, name, problem=f"unreadable: {type(exc).__name__}: {exc}")


class Intake:
    def __init__(self, pipeline: Pipeline, readers: Sequence[MailReader]) -> None:
        self._pipeline = pipeline
        self._readers = list(readers)

    def known(self, message_ids: Sequence[str]) -> set[str]:
        return self._pipeline.store.mails_known(message_ids)

    def transaction(self) -> AbstractContextManager[object]:
        """Several mails' writes in one store transaction (a batch of a scan)."""
        return self._pipeline.store.transaction()

    def take(self, raw: bytes) -> Outcome:
        """Read one raw mail and apply what it says. Never raises for a bad mail."""
        return self.take_batch([raw])[0]

    def take_batch(self, raws: Sequence[bytes]) -> list[Outcome]:
        """Read several mails and apply them together (one outcome per mail, in their order).

        What the mails say is merged per order, oldest mail first, and each order is written
        once: the rules see an order as the whole batch leaves it, never the confirmation
        without the shipping notice that came with it (a false "no track number").
        """
        readings = [read_mail(raw, self._readers) for raw in raws]
        outcomes: list[Outcome] = [Outcome(message_id="") for _ in readings]
        usable: list[tuple[int, Mail, Reading]] = []
        seen: set[str] = set()
        for index, reading in enumerate(readings):
            outcome = outcomes[index] = self._vet(reading, seen)
            if reading.mail is not None and not outcome.skipped:
                usable.append((index, reading.mail, reading))
        # Oldest mail first; a mail without a date keeps its place among its neighbours.
        usable.sort(key=lambda item: (item[1].date is None, item[1].date or 0, item[0]))
        plans: dict[str, _Plan] = {}
        records: list[MailRecord] = []
        for index, mail, reading in usable:
            order_ids = [
                self._plan(finding, mail, reading.reader, plans, outcomes[index])
                for finding in reading.findings
            ]
            records.append(
                MailRecord(
                    message_id=mail.message_id,
                    sender=mail.sender,
                    sent_at=mail.date,
                    subject=mail.subject,
                    reader=reading.reader,
                    extracted=[f.summary() for f in reading.findings],
                    order_ids=list(dict.fromkeys(order_ids)),
                    read_at=self._pipeline.clock.now(),
                )
            )
        for plan in plans.values():
            self._write(plan)
        # Recorded once the orders are written: a crash before leaves them unread, to read again.
        for record in records:
            self._pipeline.store.record_mail(record)
        for index, _, _ in usable:
            if not outcomes[index].changed:
                outcomes[index].skipped = "already known"
        return outcomes

    def _vet(self, reading: Reading, seen: set[str]) -> Outcome:
        """The outcome of a mail that is skipped (`skipped` set), else an empty one."""
        mail = reading.mail
        if mail is None:
            log.warning("monitor.mail.unparsable", error=reading.problem)
            return Outcome(message_id="", skipped=reading.problem)
        outcome = Outcome(message_id=mail.message_id, reader=reading.reader)
        if mail.message_id in seen or self.known([mail.message_id]):
            outcome.skipped = "already read"
            return outcome
        seen.add(mail.message_id)
        problem = reading.problem
        if not problem:
            try:
                for finding in reading.findings:
                    self._check(finding, mail)
            except ValueError as exc:
                problem = f"unreadable: {type(exc).__name__}: {exc}"
        if problem:
            if reading.reader:
                log.warning(
                    "monitor.mail.unreadable",
                    message_id=mail.message_id,
                    reader=reading.reader,
                    error=problem.removeprefix("unreadable: "),
                )
            outcome.skipped = problem
        elif not reading.findings:
            log.debug(
                "monitor.mail.nothing_found", message_id=mail.message_id, reader=reading.reader
            )
            outcome.skipped = "nothing found"
        return outcome

    def _check(self, finding: Finding, mail: Mail) -> None:
        """Raise ValueError for a finding that cannot make a valid order (before any write)."""
        if finding.order_id is None and not finding.tracks:
            raise ValueError("a finding with neither an order number nor a track number")
        self._new_order(finding, mail, finding.order_id or "check")

    def _new_order(self, finding: Finding, mail: Mail, order_id: str) -> Order:
        ordered_at = finding.ordered_at or mail.date or self._pipeline.clock.now()
        return Order(
            id=order_id,
            ordered_at=ordered_at,
            title=finding.title,
            shop=finding.shop,
            protection_until=finding.protection_until,
            promised_by=finding.promised_by,
            tracks=tuple(dict.fromkeys(t.number for t in finding.tracks)),
            origin=origin_of(mail),
        )

    def _order_id(
        self, finding: Finding, mail: Mail, reader: str, plans: dict[str, _Plan]
    ) -> tuple[str, bool]:
        """The order this finding is about, and whether this mail may change it (its own shop's)."""
        if finding.order_id is not None:
            # An order number is only unique within its shop: another sender naming it gets an
            # order of its own (else anyone could slip a track number into any order).
            # Tied to the sender's domain, not its display name (which anyone can set).
            own = f"{slug(_base_domain(mail.sender_domain))}-{finding.order_id}"
            for order_id in (finding.order_id, own):
                if self._same_shop(order_id, finding, mail, reader, plans) is not False:
                    return order_id, True
            return own, True
        numbers = [t.number for t in finding.tracks]
        owner = None
        for number in numbers:  # a number an earlier mail of this batch brought
            owner = owner or next((i for i, p in plans.items() if number in p.order.tracks), None)
        if owner is None:
            owners = self._pipeline.store.orders_of_numbers(numbers)
            # The order that already has the number: never a duplicate.
            owner = next((sorted(owners[n])[0] for n in numbers if owners.get(n)), None)
        if owner is not None:
            return owner, bool(self._same_shop(owner, finding, mail, reader, plans))
        return f"{slug(finding.shop)}-{numbers[0]}", True

    def _same_shop(
        self, order_id: str, finding: Finding, mail: Mail, reader: str, plans: dict[str, _Plan]
    ) -> bool | None:
        """Whether the order came from the shop that sent this mail; None: no such order.

        The same sender domain as a mail that made or changed it, or the same shop's own reader
        (a shop's reader reads only its sender domains); an order typed in by hand is joined by
        its shop's reader, or by a mail from its shop's domain.
        """
        senders: list[tuple[str, str]] = []  # (sender's domain, reader)
        if order_id in plans:
            plan = plans[order_id]
            order = plan.order
            senders += [(m.sender_domain, plan.reader) for m in plan.mails]
        else:
            view = self._pipeline.store.get_view(order_id)
            if view is None:
                return None
            order = view.order
        if reader != GENERIC and order.shop and order.shop == finding.shop:
            return True  # a shop's reader reads only that shop's senders: no need to look further
        domain = _base_domain(mail.sender_domain)
        made_by = _ORIGIN_SENDER.search(order.origin)
        if made_by and _base_domain(made_by[1].rpartition("@")[2]) == domain:
            return True  # the mail that made it came from this domain (the common case, cheap)
        senders += [
            (parseaddr(r.sender)[1].rpartition("@")[2].lower(), r.reader)
            for r in self._pipeline.store.mails_of_order(order_id)
        ]
        if not senders:
            # Typed in by hand: a generic mail joins only from the domain of the order's shop
            # (shop "Ozon", mail from sender.ozon.ru), never by a display name anyone can set.
            return reader != GENERIC or slug(order.shop) == slug(domain.partition(".")[0])
        return any(_base_domain(d) == domain or (r == reader and r != GENERIC) for d, r in senders)

    def _plan(
        self, finding: Finding, mail: Mail, reader: str, plans: dict[str, _Plan], outcome: Outcome
    ) -> str:
        """Merge one finding into what the batch will write to its order."""
        order_id, trusted = self._order_id(finding, mail, reader, plans)
        if not trusted:  # another shop's order that has this number: it stays as it is
            return order_id
        plan = plans.get(order_id)
        if plan is None:
            view = self._pipeline.store.get_view(order_id)
            if view is None:
                order = self._new_order(finding, mail, order_id)
                plan = plans[order_id] = _Plan(None, order, mail, reader, created=True)
                plan.mails.append(mail)
                outcome.created.append(order_id)
                outcome.tracks += [(order_id, n) for n in order.tracks]
                plan.added += [(n, mail, reader) for n in order.tracks]
                return order_id
            plan = plans[order_id] = _Plan(view.order, view.order, mail, reader)
        plan.mails.append(mail)
        changes = _fill(plan.order, finding)
        try:
            plan.order = replace(plan.order, **changes)
        except ValueError as exc:  # the buyer's own dates contradict the mail's
            log.info("monitor.mail.kept_order_fields", order=order_id, reason=str(exc))
        for number in dict.fromkeys(t.number for t in finding.tracks):
            if number not in plan.order.tracks:
                plan.order = replace(plan.order, tracks=(*plan.order.tracks, number))
                plan.added.append((number, mail, reader))
                outcome.tracks.append((order_id, number))
        return order_id

    def _write(self, plan: _Plan) -> None:
        """Write one order as the batch leaves it, then say what the mails brought."""
        book = self._pipeline.orders
        order = plan.order
        if plan.before is None:
            book.add(order)
        else:
            # The numbers first, one by one (each becomes the current one in turn), then the
            # fields, so no rule sees new dates without the numbers that came with them.
            for number, _, _ in plan.added:
                book.update(order.id, track=number)
            changes = {
                name: getattr(order, name)
                for name in EDITABLE
                if getattr(order, name) != getattr(plan.before, name)
            }
            if changes:
                book.update(order.id, **changes)
        if plan.created:
            numbers = tuple(n for n, _, _ in plan.added)
            self._announce(order.id, plan.mail, plan.reader, created=True, added=numbers)
            return
        for number, mail, reader in plan.added:
            self._announce(order.id, mail, reader, created=False, added=(number,))

    def _announce(
        self, order_id: str, mail: Mail, reader: str, *, created: bool, added: tuple[str, ...]
    ) -> None:
        pipeline = self._pipeline
        now = pipeline.clock.now()
        log.info(
            "monitor.mail.imported",
            order=order_id,
            created=created,
            tracks=list(added),
            message_id=mail.message_id,
            reader=reader,
        )
        pipeline.bus.publish(
            OrderImported(
                at=now,
                order_id=order_id,
                created=created,
                tracks=added,
                message_id=mail.message_id,
                reader=reader,
            )
        )
        if MAIL_IMPORT in pipeline.rules.settings.disabled:
            return
        view = pipeline.store.get_view(order_id)
        if view is None:
            return
        facts: dict[str, str] = {"found": "a new order" if created else "a new track number"}
        if added:
            facts["track numbers"] = ", ".join(added)
        facts["mail"] = mail.subject
        facts["from"] = mail.sender_address or mail.sender
        facts["order_id"] = order_id
        title, body = describe(MAIL_IMPORT, view, facts)
        alert = Alert(
            order_id=order_id,
            rule=MAIL_IMPORT,
            condition="order" if created else f"track:{added[-1]}",
            severity=Severity.INFO,
            at=now,
            due=now,
            title=title,
            body=body,
            track=view.order.track,
            facts=facts,
        )
        try:
            if pipeline.store.record_alert(alert) is not None:
                pipeline.bus.publish(WarningRaised(at=now, alert=alert))
        except StoreError as exc:
            log.error("monitor.mail.notice_failed", order=order_id, error=str(exc))


@dataclass(slots=True)
class _Plan:
    """What a batch will write to one order: the order as it was, as it will be, and by whom."""

    before: Order | None  # None: the batch creates it
    order: Order
    mail: Mail  # the mail that created it (or first touched it)
    reader: str
    created: bool = False
    added: list[tuple[str, Mail, str]] = field(default_factory=list)  # (number, mail, reader)
    mails: list[Mail] = field(default_factory=list)  # the batch's mails about it


def _base_domain(domain: str) -> str:
    """`notice.aliexpress.com` -> `aliexpress.com`: a shop sends from its subdomains."""
    return ".".join(domain.lower().split(".")[-2:])


def _fill(order: Order, finding: Finding) -> dict[str, Any]:
    """The fields a mail may set on an order that exists: what is missing, an earlier order date
    (a shipping notice read before the confirmation), a later protection end (an extension)."""
    changes: dict[str, Any] = {}
    if finding.title and not order.title:
        changes["title"] = finding.title
    if finding.shop and not order.shop:
        changes["shop"] = finding.shop
    if finding.promised_by and order.promised_by is None:
        changes["promised_by"] = finding.promised_by
    if finding.protection_until and (
        order.protection_until is None or finding.protection_until > order.protection_until
    ):
        changes["protection_until"] = finding.protection_until
    if finding.ordered_at and order.origin and finding.ordered_at < order.ordered_at:
        changes["ordered_at"] = finding.ordered_at
    try:
        replace(order, **changes)
    except ValueError:
        changes.pop("ordered_at", None)
    return changes
