"""What ingest remembers across restarts, in SQLite under WIREWATCH_HOME.

For each source: the fingerprint and version last sent of every story id,
and a feed's ETag and Last-Modified.  A batch is written in one transaction
only after Kafka acknowledged its stories, so a crash loses at most the
record of a batch whose stories are on Kafka (they are sent once more, with
the same version, after the restart), never a story.  SQLite in WAL mode
with full sync: a transaction is on disk or not at all.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from .identity import Seen

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    source TEXT NOT NULL,
    item_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    version INTEGER NOT NULL,
    last_seen REAL NOT NULL,
    PRIMARY KEY (source, item_id)
);
CREATE TABLE IF NOT EXISTS parked (
    source TEXT NOT NULL,
    key TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (source, key)
);
CREATE TABLE IF NOT EXISTS http_cache (
    source TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT
);
"""


class State:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def seen(self, source: str, item_id: str) -> Seen | None:
        row = self._db.execute(
            "SELECT fingerprint, version FROM items WHERE source = ? AND item_id = ?", (source, item_id)
        ).fetchone()
        return Seen(row[0], row[1]) if row else None

    def record(
        self,
        source: str,
        items: list[tuple[str, Seen]],
        http: tuple[str, str | None, str | None] | None = None,
    ) -> None:
        """Remember what was sent (and, for a feed, the validators of the response it came in), all at once."""
        now = time.time()
        with self._transaction():
            self._db.executemany(
                "INSERT INTO items (source, item_id, fingerprint, version, last_seen) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (source, item_id) DO UPDATE SET fingerprint = excluded.fingerprint, "
                "version = excluded.version, last_seen = excluded.last_seen",
                [(source, item_id, s.fingerprint, s.version, now) for item_id, s in items],
            )
            if http is not None:
                url, etag, modified = http
                self._db.execute(
                    "INSERT OR REPLACE INTO http_cache (source, url, etag, last_modified) VALUES (?, ?, ?, ?)",
                    (source, url, etag, modified),
                )

    def touch(self, source: str, item_ids: list[str]) -> None:
        """Items read again unchanged: they stay remembered while a feed still lists them."""
        now = time.time()
        with self._transaction():
            self._db.executemany(
                "UPDATE items SET last_seen = ? WHERE source = ? AND item_id = ?", [(now, source, i) for i in item_ids]
            )

    def touch_source(self, source: str) -> None:
        """A feed answered 304: everything it listed is still listed, and must not be forgotten as gone."""
        with self._transaction():
            self._db.execute("UPDATE items SET last_seen = ? WHERE source = ?", (time.time(), source))

    def validators(self, source: str, url: str) -> tuple[str | None, str | None]:
        """The ETag and Last-Modified of the feed's last complete fetch (none if its URL changed since)."""
        row = self._db.execute("SELECT url, etag, last_modified FROM http_cache WHERE source = ?", (source,)).fetchone()
        if not row or row[0] != url:
            return None, None
        return row[1], row[2]

    def parked(self, source: str, key: str) -> bool:
        """Whether this bad item was parked on the dead-letter topic already (a feed lists it on every poll)."""
        return self._db.execute("SELECT 1 FROM parked WHERE source = ? AND key = ?", (source, key)).fetchone() is not None

    def record_parked(self, source: str, key: str) -> None:
        with self._transaction():
            self._db.execute("INSERT OR IGNORE INTO parked (source, key, at) VALUES (?, ?, ?)", (source, key, time.time()))

    def forget_older_than(self, seconds: float) -> int:
        """Drop items not read for `seconds` (long out of their feed); how many."""
        with self._transaction():
            cur = self._db.execute("DELETE FROM items WHERE last_seen < ?", (time.time() - seconds,))
            self._db.execute("DELETE FROM parked WHERE at < ?", (time.time() - seconds,))
        return cur.rowcount

    def count(self, source: str) -> int:
        return self._db.execute("SELECT COUNT(*) FROM items WHERE source = ?", (source,)).fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def _transaction(self):
        db = self._db

        class _Tx:
            def __enter__(self):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, exc_type, *_):
                db.execute("ROLLBACK" if exc_type else "COMMIT")

        return _Tx()
