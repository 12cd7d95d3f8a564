"""Accepted payloads -> parameterised INSERT statements, one per target table.

Every event insert is idempotent (`ON CONFLICT ... DO NOTHING` on the event id); device state
is an upsert that only a newer event id may overwrite.
"""

from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb

from edge.sink.validate import Accepted

MOOD_SQL = (
    "INSERT INTO mood_events (id, time, site_id, device_id, interaction_id, t_rel_s, state, "
    "valence, arousal, confidence, payload, sink) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id, time) DO NOTHING"
)
INTERACTION_SQL = (
    "INSERT INTO interactions (id, time, site_id, device_id, interaction_id, phase, "
    "consent_mode, duration_s, end_reason, end_state, mean_valence, trajectory, payload, sink) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (id) DO NOTHING"
)
ALERT_SQL = (
    "INSERT INTO alerts (id, time, site_id, device_id, alert_id, interaction_id, phase, rule, "
    "state, duration_s, intensity, acknowledged_at, acknowledged_via, end_reason, payload, sink) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (id) DO NOTHING"
)
SURVEY_SQL = (
    "INSERT INTO surveys (id, time, site_id, device_id, interaction_id, scale, answer, payload, "
    "sink) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING"
)
STATE_SQL = (
    "INSERT INTO device_state (site_id, device_id, kind, event_id, time, payload) "
    "VALUES (%s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (site_id, device_id, kind) DO UPDATE SET event_id = EXCLUDED.event_id, "
    "time = EXCLUDED.time, payload = EXCLUDED.payload, received_at = EXCLUDED.received_at "
    "WHERE device_state.event_id < EXCLUDED.event_id"
)
DEAD_LETTER_SQL = "INSERT INTO dead_letters (topic, payload, reason, sink) VALUES (%s, %s, %s, %s)"

# Retained and periodic device state: only the latest value per device is kept.
STATE_KINDS = frozenset({"status", "info", "consent", "health"})


@dataclass(frozen=True, slots=True)
class Row:
    """One statement to execute: the SQL (rows with equal SQL are batched) and its values."""

    sql: str
    params: tuple[Any, ...]
    is_event: bool
    """True for idempotent event inserts (a skipped insert is a duplicate)."""


def _mood(event: Accepted, doc: dict[str, Any], sink: str) -> tuple[Any, ...]:
    return (
        *(doc["id"], doc["time"], event.site_id, event.device_id),
        *(doc["interaction_id"], doc["t_rel_s"], doc["state"], doc["valence"], doc["arousal"]),
        *(doc["confidence"], Jsonb(doc), sink),
    )


def _interaction(event: Accepted, doc: dict[str, Any], sink: str) -> tuple[Any, ...]:
    summary = doc.get("summary") or {}
    return (
        *(doc["id"], doc["time"], event.site_id, event.device_id, doc["interaction_id"]),
        *(doc["phase"], doc["consent_mode"], doc.get("duration_s"), doc.get("end_reason")),
        (summary.get("end") or {}).get("state"),
        *(summary.get("mean_valence"), summary.get("trajectory"), Jsonb(doc), sink),
    )


def _alert(event: Accepted, doc: dict[str, Any], sink: str) -> tuple[Any, ...]:
    ack = doc.get("acknowledged") or {}
    return (
        *(doc["id"], doc["time"], event.site_id, event.device_id, doc["alert_id"]),
        *(doc["interaction_id"], doc["phase"], doc["rule"], doc["state"], doc["duration_s"]),
        *(doc["intensity"], ack.get("time"), ack.get("via"), doc.get("end_reason")),
        *(Jsonb(doc), sink),
    )


def _survey(event: Accepted, doc: dict[str, Any], sink: str) -> tuple[Any, ...]:
    return (
        *(doc["id"], doc["time"], event.site_id, event.device_id, doc["interaction_id"]),
        *(doc["scale"], doc["answer"], Jsonb(doc), sink),
    )


def row_for(event: Accepted, sink: str) -> Row | None:
    """The statement that stores `event`, or None for kinds the sink does not keep
    (commands and their results: the backend sent those itself)."""
    doc = event.document
    if event.kind == "mood":
        return Row(MOOD_SQL, _mood(event, doc, sink), is_event=True)
    if event.kind == "interaction":
        return Row(INTERACTION_SQL, _interaction(event, doc, sink), is_event=True)
    if event.kind == "alert":
        return Row(ALERT_SQL, _alert(event, doc, sink), is_event=True)
    if event.kind == "survey":
        return Row(SURVEY_SQL, _survey(event, doc, sink), is_event=True)
    if event.kind in STATE_KINDS:
        params = (event.site_id, event.device_id, event.kind, doc["id"], doc["time"], Jsonb(doc))
        return Row(STATE_SQL, params, is_event=False)
    return None
