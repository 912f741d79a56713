"""Mails the e-mail intake has read: their headers and what was extracted, never their text."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from monitor.store.codec import chunks, dt, iso, marks
from monitor.store.db import Database


@dataclass(frozen=True, slots=True)
class MailRecord:
    """A mail the intake has read: its headers, what was extracted, the orders it touched."""

    message_id: str
    sender: str
    sent_at: datetime | None
    subject: str
    reader: str
    extracted: list[dict[str, object]]
    order_ids: list[str]
    read_at: datetime


class Mails(Database):
    """The `mail_messages` table."""

    def mails_known(self, message_ids: Iterable[str]) -> set[str]:
        """Which of these Message-IDs were read already (one query per 500)."""
        known: set[str] = set()
        for chunk in chunks(list(message_ids)):
            known.update(
                row[0]
                for row in self._conn.execute(
                    f"SELECT message_id FROM mail_messages WHERE message_id IN ({marks(chunk)})",
                    chunk,
                )
            )
        return known

    def record_mail(self, record: MailRecord) -> None:
        with self.transaction() as db:
            db.execute(
                """INSERT OR IGNORE INTO mail_messages (message_id, sender, sent_at, subject,
                   reader, extracted, order_ids, read_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    record.message_id,
                    record.sender,
                    iso(record.sent_at),
                    record.subject,
                    record.reader,
                    json.dumps(record.extracted, ensure_ascii=False),
                    json.dumps(record.order_ids),
                    record.read_at.isoformat(),
                ),
            )

    def mails_of_order(self, order_id: str) -> list[MailRecord]:
        """The mails that created or changed this order, oldest first."""
        rows = self._conn.execute(
            """SELECT * FROM mail_messages WHERE EXISTS
               (SELECT 1 FROM json_each(order_ids) WHERE value = ?) ORDER BY read_at, rowid""",
            (order_id,),
        )
        return [
            MailRecord(
                message_id=row["message_id"],
                sender=row["sender"],
                sent_at=dt(row["sent_at"]),
                subject=row["subject"],
                reader=row["reader"],
                extracted=json.loads(row["extracted"]),
                order_ids=json.loads(row["order_ids"]),
                read_at=datetime.fromisoformat(row["read_at"]),
            )
            for row in rows
        ]
