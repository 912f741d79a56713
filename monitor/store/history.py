"""What the sources said: the last snapshot per number and source, the checkpoints, the ETA
history of each order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor.model import Action, Checkpoint, EtaWindow, Point, SnapshotRow, Status
from monitor.store.codec import chunks, day, destination, eta, iso, marks
from monitor.store.db import Database


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One stored checkpoint of a number, with the source that reported it."""

    number: str
    source: str
    checkpoint: Checkpoint


class History(Database):
    """The `snapshots`, `checkpoints` and `eta_history` tables."""

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
        """Every stored checkpoint of these numbers, oldest first."""
        numbers = list(numbers)
        result: dict[str, list[Checkpoint]] = {n: [] for n in numbers}
        if not numbers:
            return result
        for row in self._conn.execute(
            f"""SELECT number, at, status, text, location, code, point, storage_until, action,
                postcode FROM checkpoints WHERE number IN ({marks(numbers)}) ORDER BY ts, rowid""",
            numbers,
        ):
            result[row[0]].append(
                Checkpoint(
                    at=datetime.fromisoformat(row[1]),
                    status=Status(row[2]),
                    text=row[3],
                    location=row[4],
                    code=row[5],
                    point=Point(row[6]) if row[6] else None,
                    storage_until=day(row[7]),
                    action=Action(row[8]) if row[8] else None,
                    postcode=row[9],
                )
            )
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
        """Store new checkpoints; with `keep`, only the number's newest `keep` remain."""
        seen = now.isoformat()
        rows = []
        for cp in checkpoints:
            at, point, until, action = cp.at, cp.point, cp.storage_until, cp.action
            rows.append(
                (
                    number,
                    at.timestamp(),
                    at.isoformat(),
                    cp.status.value,
                    cp.text,
                    cp.location,
                    cp.code,
                    source,
                    seen,
                    None if point is None else point.value,
                    None if until is None else until.isoformat(),
                    None if action is None else action.value,
                    cp.postcode,
                )
            )
        self._conn.executemany(
            """INSERT OR IGNORE INTO checkpoints (number, ts, at, status, text, location, code,
               source, seen_at, point, storage_until, action, postcode)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            rows,
        )
        if keep is not None:
            self._conn.execute(
                """DELETE FROM checkpoints WHERE number = ? AND rowid NOT IN (
                       SELECT rowid FROM checkpoints WHERE number = ?
                       ORDER BY ts DESC, rowid DESC LIMIT ?)""",
                (number, number, keep),
            )

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
        first (the timeline of an order across its hand-overs)."""
        numbers = list(numbers)
        rows: list[HistoryRow] = []
        for chunk in chunks(numbers):
            rows += [
                HistoryRow(
                    number=row[0],
                    source=row[6],
                    checkpoint=Checkpoint(
                        at=datetime.fromisoformat(row[1]),
                        status=Status(row[2]),
                        text=row[3],
                        location=row[4],
                        code=row[5],
                    ),
                )
                for row in self._conn.execute(
                    f"""SELECT number, at, status, text, location, code, source
                        FROM checkpoints WHERE number IN ({marks(chunk)}) ORDER BY ts, rowid""",
                    chunk,
                )
            ]
        rows.sort(key=lambda row: row.checkpoint.at)
        return rows
