"""What the sources said: the last snapshot per number and source, the checkpoints, the ETA
history of each order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor.model import Checkpoint, EtaWindow, SnapshotRow, Status
from monitor.store.codec import (
    chunks,
    destination,
    entry_time,
    eta,
    history_checkpoint,
    history_entries,
    history_parse,
    history_text,
    iso,
    marks,
)
from monitor.store.db import Database


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One stored checkpoint of a number, with the source that reported it."""

    number: str
    source: str
    checkpoint: Checkpoint


class History(Database):
    """The `snapshots`, `histories` (each number's checkpoints, one row per number) and
    `eta_history` tables."""

    def newest_scans(self, source: str) -> dict[str, float]:
        """Number -> time (epoch) of its newest checkpoint as this source last reported it."""
        return {
            row[0]: row[1] if row[1] is not None else float("-inf")
            for row in self._conn.execute(
                "SELECT number, newest_ts FROM snapshots WHERE source = ?", (source,)
            )
        }

    def snapshot_digests(self) -> dict[tuple[str, str], str]:
        return {
            (row[0], row[1]): row[2]
            for row in self._conn.execute("SELECT number, source, digest FROM snapshots")
        }

    def snapshot_rows(self, numbers: Iterable[str]) -> list[SnapshotRow]:
        numbers = list(numbers)
        if not numbers:
            return []
        return [
            SnapshotRow(
                number=row["number"],
                source=row["source"],
                status=Status(row["status"]),
                status_seen_at=datetime.fromisoformat(row["status_seen_at"]),
                eta=eta(row["eta_from"], row["eta_to"]),
                handover=row["handover"],
                newest_ts=row["newest_ts"],
                digest=row["digest"],
                fetched_at=datetime.fromisoformat(row["fetched_at"]),
                destination=destination(row["dest_country"], row["dest_postcode"]),
            )
            for row in self._conn.execute(
                f"SELECT * FROM snapshots WHERE number IN ({marks(numbers)})", numbers
            )
        ]

    def write_snapshot(self, row: SnapshotRow) -> None:
        self._conn.execute(
            """INSERT INTO snapshots (number, source, status, status_seen_at, eta_from, eta_to,
               handover, newest_ts, digest, fetched_at, dest_country, dest_postcode)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (number, source) DO UPDATE SET status = excluded.status,
               status_seen_at = excluded.status_seen_at, eta_from = excluded.eta_from,
               eta_to = excluded.eta_to, handover = excluded.handover,
               newest_ts = excluded.newest_ts, digest = excluded.digest,
               fetched_at = excluded.fetched_at, dest_country = excluded.dest_country,
               dest_postcode = excluded.dest_postcode""",
            (
                row.number,
                row.source,
                row.status.value,
                row.status_seen_at.isoformat(),
                iso(row.eta.earliest) if row.eta else None,
                iso(row.eta.latest) if row.eta else None,
                row.handover,
                row.newest_ts,
                row.digest,
                row.fetched_at.isoformat(),
                row.destination.country if row.destination is not None else None,
                row.destination.postcode if row.destination is not None else None,
            ),
        )

    def checkpoints(self, numbers: Iterable[str]) -> dict[str, list[Checkpoint]]:
        """Every stored checkpoint of these numbers, oldest first (ties in the order added)."""
        numbers = list(numbers)
        result: dict[str, list[Checkpoint]] = {n: [] for n in numbers}
        for number, text in self._histories(numbers).items():
            cps = [history_checkpoint(entry) for entry in history_parse(text)]
            cps.sort(key=_time)
            result[number] = cps
        return result

    def add_checkpoints(
        self,
        number: str,
        source: str,
        checkpoints: Sequence[Checkpoint],
        *,
        now: datetime,
        keep: int | None = None,
    ) -> None:
        """Store new checkpoints (the differ has dropped those already stored); with `keep`,
        only the number's newest `keep` remain."""
        if keep is not None:
            self._trim(number, history_entries(source, checkpoints), now=now, keep=keep)
        elif checkpoints:
            # Appended as text: what is stored is neither read nor encoded again.
            self._conn.execute(
                """INSERT INTO histories (number, body, changed_at) VALUES (?, ?, ?)
                   ON CONFLICT (number) DO UPDATE SET body = body || ',' || excluded.body,
                   changed_at = excluded.changed_at""",
                (number, history_text(history_entries(source, checkpoints)), now.isoformat()),
            )

    def _trim(
        self, number: str, added: list[tuple[str | None, ...]], *, now: datetime, keep: int
    ) -> None:
        """Rewrite the number's history as its newest `keep` checkpoints (rare: only when the
        number outgrows what its source keeps)."""
        stored = self._histories([number])
        entries = [*history_parse(stored[number]), *added] if stored else added
        entries.sort(key=entry_time)
        del entries[:-keep]
        if entries:
            self._conn.execute(
                """INSERT INTO histories (number, body, changed_at) VALUES (?, ?, ?)
                   ON CONFLICT (number) DO UPDATE SET body = excluded.body,
                   changed_at = excluded.changed_at""",
                (number, history_text(entries), now.isoformat()),
            )

    def _histories(self, numbers: list[str]) -> dict[str, str]:
        """Number -> its stored history's text, for the numbers that have one."""
        found: dict[str, str] = {}
        for chunk in chunks(numbers):
            found.update(
                self._conn.execute(
                    f"SELECT number, body FROM histories WHERE number IN ({marks(chunk)})", chunk
                ).fetchall()
            )
        return found

    def eta_history(self, order_id: str) -> list[tuple[datetime, EtaWindow | None]]:
        return [
            (datetime.fromisoformat(row[0]), eta(row[1], row[2]))
            for row in self._conn.execute(
                "SELECT seen_at, eta_from, eta_to FROM eta_history WHERE order_id = ? "
                "ORDER BY rowid",
                (order_id,),
            )
        ]

    def history(self, numbers: Iterable[str]) -> list[HistoryRow]:
        """Every stored checkpoint of these numbers with the source that reported it, oldest
        first (the timeline of an order across its hand-overs). At the same time: one number's
        in the order they were added, different numbers' in the order of `numbers`."""
        numbers = list(dict.fromkeys(numbers))
        stored = self._histories(numbers)
        rows = [
            HistoryRow(number=number, source=entry[5], checkpoint=history_checkpoint(entry))
            for number in numbers
            if number in stored
            for entry in history_parse(stored[number])
        ]
        rows.sort(key=lambda row: row.checkpoint.at)
        return rows


def _time(cp: Checkpoint) -> datetime:
    return cp.at
