"""The on-disk outbox: SQLite in WAL mode, bounded, ordered, and self-healing.

Every event the publisher accepts is committed here before it is sent, so a broker outage,
`kill -9` or a power cut loses nothing that was accepted. Only the publisher's worker thread
touches an `Outbox`.
"""

import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, NamedTuple

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    -- Set by SQLite itself: saves building a row tuple per event in Python.
    created_s REAL NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0)
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""
_SIDE_FILES = ("-wal", "-shm")
# Rows per multi-row INSERT, largest first. sqlite3 releases the GIL once per statement step,
# so one statement for many rows spares paho's network thread a GIL hand-off per event
# (executemany steps once per row). Power-of-two sizes keep the statement cache to 9 entries.
_INSERT_CHUNKS = (256, 128, 64, 32, 16, 8, 4, 2, 1)
_INSERT_SQL = {
    # Only "?" placeholders are joined in; values are always bound.
    rows: "INSERT INTO events (topic, payload) VALUES " + ",".join(["(?, ?)"] * rows)  # noqa: S608
    for rows in _INSERT_CHUNKS
}


class StoredEvent(NamedTuple):
    """One row of the outbox, in send order (a tuple: thousands are made per second)."""

    seq: int
    topic: str
    payload: bytes


def _insert_all(db: sqlite3.Connection, items: list[tuple[str, bytes]]) -> None:
    """INSERT `items` in order with a few multi-row statements."""
    start = 0
    for rows in _INSERT_CHUNKS:
        while len(items) - start >= rows:
            chunk = items[start : start + rows]
            db.execute(_INSERT_SQL[rows], [value for item in chunk for value in item])
            start += rows


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error. SQLite has already rolled back
    by itself after some errors (a COMMIT that hits a full disk): a second ROLLBACK would
    raise "no transaction is active" and hide the real cause."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _contiguous_ranges(seqs: list[int]) -> list[tuple[int, int]]:
    """[1, 2, 3, 7, 8] -> [(1, 3), (7, 8)]: acknowledgements arrive mostly in order, so
    a handful of range deletes replaces one statement per event."""
    ranges: list[tuple[int, int]] = []
    for seq in sorted(seqs):
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], seq)
        else:
            ranges.append((seq, seq))
    return ranges


class Outbox:
    """Bounded FIFO of (topic, payload) on disk. Not thread-safe: one owner thread."""

    def __init__(
        self, path: Path, max_events: int, sync: Literal["full", "normal"] = "full"
    ) -> None:
        self.path = path
        self.max_events = max_events
        self._sync_full = sync == "full"
        self.recovered_corrupt = False
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._open(path, sync)
        except sqlite3.DatabaseError as exc:
            self._move_aside(path, exc)
            self._db = self._open(path, sync)
            self.recovered_corrupt = True
        self.depth = self._count()
        self.dropped_total = self._counter("dropped_total")
        self.last_seq = 0  # sequence number of the newest event appended by this process

    @staticmethod
    def _open(path: Path, sync: str) -> sqlite3.Connection:
        # Autocommit mode: transactions are explicit (BEGIN/COMMIT) around each batch.
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={'FULL' if sync == 'full' else 'NORMAL'}")
            row = db.execute("PRAGMA quick_check").fetchone()
            if row is None or row[0] != "ok":
                raise sqlite3.DatabaseError(f"quick_check failed: {row}")
            db.executescript(_SCHEMA)
            db.execute("SELECT seq, topic, payload, created_s FROM events LIMIT 1").fetchall()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    @staticmethod
    def _move_aside(path: Path, exc: Exception) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = path.with_name(f"{path.name}.corrupt-{stamp}")
        logger.error(
            "Outbox %s is corrupt (%s); moved it to %s and started a fresh one",
            path,
            exc,
            aside,
        )
        path.rename(aside)
        for suffix in _SIDE_FILES:
            side = path.with_name(path.name + suffix)
            if side.exists():
                side.rename(aside.with_name(aside.name + suffix))

    def _count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def _counter(self, name: str) -> int:
        row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def append(self, items: list[tuple[str, bytes]]) -> int:
        """Commit `items` in one transaction; returns how many old events were dropped.

        The new events get the contiguous sequence numbers ending at `last_seq` (one
        writer, AUTOINCREMENT). When the bound is exceeded the oldest events go first:
        fresh moods matter more to the store than stale ones, and the drop is counted and
        persisted.
        """
        if not items:
            return 0
        db = self._db
        with _transaction(db):
            _insert_all(db, items)
            last_seq = int(db.execute("SELECT last_insert_rowid()").fetchone()[0])
            overflow = self.depth + len(items) - self.max_events
            dropped = 0
            if overflow > 0:
                dropped = db.execute(
                    "DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq LIMIT ?)",
                    (overflow,),
                ).rowcount
                db.execute(
                    "INSERT INTO counters (name, value) VALUES ('dropped_total', ?) "
                    "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                    (dropped,),
                )
        self.depth += len(items) - dropped
        self.dropped_total += dropped
        self.last_seq = last_seq
        return dropped

    def fetch_after(self, seq: int, limit: int) -> list[StoredEvent]:
        """Up to `limit` events with a sequence number above `seq`, oldest first."""
        rows = self._db.execute(
            "SELECT seq, topic, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit),
        ).fetchall()
        return [StoredEvent._make(row) for row in rows]

    def delete(self, seqs: list[int]) -> None:
        """Forget delivered events (missing ones, already dropped, are ignored)."""
        if seqs:
            self._delete_ranges(_contiguous_ranges(seqs))

    def delete_through(self, seq: int) -> None:
        """Forget every event up to and including `seq`: one statement for a whole run of
        acknowledgements, which is what the publisher has as acks arrive in order."""
        self._delete_ranges([(0, seq)])

    def _delete_ranges(self, ranges: list[tuple[int, int]]) -> None:
        db = self._db
        # A lost delete only means a duplicate resend (allowed, same id), so deletes skip
        # the fsync; the next insert's fsync makes them durable too (the WAL is sequential).
        if self._sync_full:
            db.execute("PRAGMA synchronous=NORMAL")
        try:
            with _transaction(db):
                deleted = db.executemany("DELETE FROM events WHERE seq BETWEEN ? AND ?", ranges)
        finally:
            if self._sync_full:
                db.execute("PRAGMA synchronous=FULL")
        self.depth -= max(deleted.rowcount, 0)

    def oldest_created_s(self) -> float | None:
        """Creation time (epoch seconds, system clock) of the oldest stored event, if any."""
        # created_s grows with seq, so the primary key finds the oldest without a scan.
        row = self._db.execute("SELECT created_s FROM events ORDER BY seq LIMIT 1").fetchone()
        return float(row[0]) if row else None

    def close(self) -> None:
        """Checkpoint the WAL and close."""
        self._db.close()
