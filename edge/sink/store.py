"""PostgreSQL side of the sink: connection, monthly mood partitions, batched idempotent writes.

A batch is one transaction. Connection errors propagate (the caller retries the same batch,
nothing was acknowledged); a row PostgreSQL refuses despite passing the schema check is moved
to the dead letters one by one, so a single poison message never blocks the queue.
"""

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from edge.sink.migrate import apply_migrations
from edge.sink.rows import DEAD_LETTER_SQL, Row, row_for
from edge.sink.validate import Accepted

logger = logging.getLogger(__name__)

_PARTITION_LOCK_ID = 0x6D6F6F65


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message kept for diagnosis: where it came from, its raw bytes, and why."""

    topic: str
    payload: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class ValidMessage:
    """A message that passed the contract check, with its raw form kept for dead letters."""

    topic: str
    payload: bytes
    event: Accepted


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What one committed batch did."""

    inserted: int
    duplicates: int
    dead_letters: int
    ignored: int


def _month(time_text: str) -> tuple[int, int]:
    return int(time_text[0:4]), int(time_text[5:7])


class EventStore:
    """One database connection owned by the sink's writer thread."""

    def __init__(self, dsn: str, password: str | None, sink: str, connect_timeout_s: int) -> None:
        self._dsn = dsn
        self._password = password
        self._timeout_s = connect_timeout_s
        self.sink = sink
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._partitions: set[tuple[int, int]] = set()

    def connect(self) -> None:
        """(Re)connect and apply pending migrations."""
        self.close()
        self._conn = self._open()

    def _open(self) -> psycopg.Connection[tuple[object, ...]]:
        dsn = self._dsn
        if self._password is not None:
            dsn = make_conninfo(dsn, password=self._password)
        conn = psycopg.connect(
            dsn,
            autocommit=True,
            connect_timeout=self._timeout_s,
            application_name=f"moodsense-sink {self.sink}"[:63],
        )
        self._partitions.clear()  # a new connection may be a restored or failed-over database
        applied = apply_migrations(conn)
        if applied:
            logger.info("Database migrated: %s", ", ".join(applied))
        return conn

    @property
    def conn(self) -> psycopg.Connection[tuple[object, ...]]:
        """The open connection (connects on first use, and again after a failure)."""
        if self._conn is None or self._conn.closed:
            self._conn = self._open()
        return self._conn

    def close(self) -> None:
        """Close the connection, if any."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def ensure_partition(self, year: int, month: int) -> None:
        """Create the monthly mood partition for `year`-`month` unless it exists."""
        if (year, month) in self._partitions:
            return
        upper = (year + 1, 1) if month == 12 else (year, month + 1)
        statement = sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} PARTITION OF mood_events FOR VALUES FROM ({}) TO ({})"
        ).format(
            sql.Identifier(f"mood_events_y{year:04d}m{month:02d}"),
            sql.Literal(f"{year:04d}-{month:02d}-01 00:00:00+00"),
            sql.Literal(f"{upper[0]:04d}-{upper[1]:02d}-01 00:00:00+00"),
        )
        with self.conn.transaction():
            # Serialised: two sinks creating the same partition at once would otherwise race.
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PARTITION_LOCK_ID,))
            self.conn.execute(statement)
        self._partitions.add((year, month))

    def write(self, events: Sequence[ValidMessage], dead: Sequence[DeadLetter]) -> WriteResult:
        """Store one batch of valid messages and dead letters in one transaction."""
        rows = [(message, row_for(message.event, self.sink)) for message in events]
        stored = [(message, row) for message, row in rows if row is not None]
        for month in {_month(m.event.document["time"]) for m in events if m.event.kind == "mood"}:
            self.ensure_partition(*month)
        try:
            with self.conn.transaction():
                inserted, duplicates = self._insert_grouped([row for _t, row in stored])
                self._insert_dead(dead)
        except psycopg.OperationalError:
            raise
        except psycopg.DatabaseError:
            logger.warning("Batch refused by the database; retrying row by row", exc_info=True)
            return self._write_one_by_one(stored, dead, ignored=len(rows) - len(stored))
        return WriteResult(inserted, duplicates, len(dead), len(rows) - len(stored))

    def _insert_grouped(self, rows: Sequence[Row]) -> tuple[int, int]:
        by_sql: dict[str, list[Row]] = defaultdict(list)
        for row in rows:
            by_sql[row.sql].append(row)
        inserted = duplicates = 0
        with self.conn.cursor() as cursor:
            for statement, group in by_sql.items():
                cursor.executemany(statement.encode(), [row.params for row in group])
                if group[0].is_event:
                    # psycopg >= 3.1 sums the row counts of every statement in executemany.
                    inserted += cursor.rowcount
                    duplicates += len(group) - cursor.rowcount
        return inserted, duplicates

    def _insert_dead(self, dead: Sequence[DeadLetter]) -> None:
        if dead:
            with self.conn.cursor() as cursor:
                cursor.executemany(
                    DEAD_LETTER_SQL.encode(),
                    [(d.topic, d.payload, d.reason, self.sink) for d in dead],
                )

    def _write_one_by_one(
        self, stored: Sequence[tuple[ValidMessage, Row]], dead: Sequence[DeadLetter], ignored: int
    ) -> WriteResult:
        refused: list[DeadLetter] = []
        inserted = duplicates = 0
        with self.conn.transaction():
            for message, row in stored:
                try:
                    with self.conn.transaction():  # a savepoint per row
                        done, skipped = self._insert_grouped([row])
                except psycopg.OperationalError:
                    raise
                except psycopg.DatabaseError as exc:
                    reason = f"refused by the database: {exc}"[:500]
                    refused.append(DeadLetter(message.topic, message.payload, reason))
                    continue
                inserted, duplicates = inserted + done, duplicates + skipped
            self._insert_dead([*dead, *refused])
        return WriteResult(inserted, duplicates, len(dead) + len(refused), ignored)
