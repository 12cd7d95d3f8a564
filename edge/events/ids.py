"""Event ids and event times: unique, sortable, and deliberately coarse in time."""

from datetime import UTC, datetime

from ulid import ULID


def new_event_id() -> str:
    """A ULID: 26 characters, unique, lexicographically sortable by creation time.

    Random per event, so it identifies the message (for de-duplication downstream) and
    never a person or a device session.
    """
    return str(ULID())


def new_random_id() -> str:
    """A fresh random id for an interaction, alert or track: never derived from a person."""
    return str(ULID())


def coarse_utc(epoch_s: float) -> str:
    """UTC time truncated to whole seconds, ISO 8601 with a `Z` suffix."""
    return datetime.fromtimestamp(int(epoch_s), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
