-- moodsense sink schema v1. Applied once, in one transaction, recorded in schema_migrations.
-- Event tables de-duplicate on the event id (a ULID): devices deliver at least once, and a
-- redelivered event always carries the same id and bytes.

-- Smoothed mood samples: the high-volume table, partitioned by month of the event time.
-- PostgreSQL requires the partition key in the primary key; `time` comes from the same
-- payload as `id`, so (id, time) de-duplicates exactly like id alone.
CREATE TABLE mood_events (
    id              text        NOT NULL,
    time            timestamptz NOT NULL,
    site_id         text        NOT NULL,
    device_id       text        NOT NULL,
    interaction_id  text        NOT NULL,
    t_rel_s         real        NOT NULL,
    state           text        NOT NULL,
    valence         real        NOT NULL,
    arousal         real        NOT NULL,
    confidence      real        NOT NULL,
    payload         jsonb       NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    sink            text        NOT NULL,
    PRIMARY KEY (id, time)
) PARTITION BY RANGE (time);
CREATE INDEX mood_events_site_time ON mood_events (site_id, time);
CREATE INDEX mood_events_interaction ON mood_events (interaction_id);

-- Interaction start and end events; the end row carries the peak-end summary.
CREATE TABLE interactions (
    id              text PRIMARY KEY,
    time            timestamptz NOT NULL,
    site_id         text        NOT NULL,
    device_id       text        NOT NULL,
    interaction_id  text        NOT NULL,
    phase           text        NOT NULL CHECK (phase IN ('start', 'end')),
    consent_mode    text        NOT NULL,
    duration_s      real,
    end_reason      text,
    end_state       text,
    mean_valence    real,
    trajectory      text,
    payload         jsonb       NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    sink            text        NOT NULL
);
CREATE INDEX interactions_site_time ON interactions (site_id, time);
CREATE INDEX interactions_interaction ON interactions (interaction_id);

-- Alert lifecycle events (new / update / end), one row per event.
CREATE TABLE alerts (
    id              text PRIMARY KEY,
    time            timestamptz NOT NULL,
    site_id         text        NOT NULL,
    device_id       text        NOT NULL,
    alert_id        text        NOT NULL,
    interaction_id  text        NOT NULL,
    phase           text        NOT NULL CHECK (phase IN ('new', 'update', 'end')),
    rule            text        NOT NULL,
    state           text        NOT NULL,
    duration_s      real        NOT NULL,
    intensity       real        NOT NULL,
    acknowledged_at timestamptz,
    acknowledged_via text,
    end_reason      text,
    payload         jsonb       NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    sink            text        NOT NULL
);
CREATE INDEX alerts_site_time ON alerts (site_id, time);
CREATE INDEX alerts_alert ON alerts (alert_id);

-- Latest state per device and kind (status, info, consent, health): newer ULIDs win, so a
-- late redelivery never overwrites a fresher value.
CREATE TABLE device_state (
    site_id         text        NOT NULL,
    device_id       text        NOT NULL,
    kind            text        NOT NULL,
    event_id        text        COLLATE "C" NOT NULL,
    time            timestamptz NOT NULL,
    payload         jsonb       NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (site_id, device_id, kind)
);

-- Messages that could not be stored as events: raw bytes kept for diagnosis and replay.
CREATE TABLE dead_letters (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    topic           text        NOT NULL,
    payload         bytea       NOT NULL,
    reason          text        NOT NULL,
    sink            text        NOT NULL
);
