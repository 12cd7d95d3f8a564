"""Schema migrations: numbered SQL files shipped in the package, applied once each, in order.

All pending files run in one transaction under an advisory lock, so several sinks starting at
the same moment apply them exactly once and a failed file leaves the database unchanged.
"""

import logging
from importlib import resources

import psycopg

logger = logging.getLogger(__name__)

# Any constant works; it only has to be the same for every sink on one database.
_MIGRATION_LOCK_ID = 0x6D6F6F64  # "mood"

_CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
)


def migration_files() -> list[tuple[str, str]]:
    """(version, SQL text) of every shipped migration, sorted by file name (`0001_init`)."""
    folder = resources.files("edge.sink") / "migrations"
    found = [
        (entry.name.removesuffix(".sql"), entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    return sorted(found)


def apply_migrations(conn: psycopg.Connection[tuple[object, ...]]) -> list[str]:
    """Apply the migrations this database lacks; returns the versions applied now."""
    applied_now: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK_ID,))
        conn.execute(_CREATE_TABLE)
        done = {str(row[0]) for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, sql in migration_files():
            if version in done:
                continue
            logger.info("Applying database migration %s", version)
            conn.execute(sql.encode("utf-8"))
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            applied_now.append(version)
    return applied_now
