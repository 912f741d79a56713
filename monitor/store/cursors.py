"""Per-source cursors: what a plugin keeps between polls (registrations, paging marks)."""

from __future__ import annotations

from collections.abc import Mapping

from monitor.store.db import Database


class Cursors(Database):
    """The `cursors` table."""

    def cursor_get(self, source: str, key: str) -> str | None:
        row = self._conn.execute(
            "SELECT value FROM cursors WHERE source = ? AND key = ?", (source, key)
        ).fetchone()
        return row[0] if row else None

    def cursor_set(self, source: str, values: Mapping[str, str]) -> None:
        with self.transaction() as db:
            db.executemany(
                """INSERT INTO cursors (source, key, value) VALUES (?, ?, ?)
                   ON CONFLICT (source, key) DO UPDATE SET value = excluded.value""",
                [(source, key, value) for key, value in values.items()],
            )


class SourceCursors:
    """One source's view of the cursor table (the `CursorStore` of the plugin contract)."""

    def __init__(self, store: Cursors, source: str) -> None:
        self._store = store
        self._source = source

    def get(self, key: str) -> str | None:
        return self._store.cursor_get(self._source, key)

    def set(self, key: str, value: str) -> None:
        self._store.cursor_set(self._source, {key: value})

    def set_many(self, values: Mapping[str, str]) -> None:
        self._store.cursor_set(self._source, values)
