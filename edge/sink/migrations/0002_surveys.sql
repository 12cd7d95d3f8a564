-- moodsense sink schema v2: kiosk self-reports (survey/1), "How do you feel now?" answered
-- after an interaction, so dashboards can compare sensed mood with stated mood.
-- Idempotent by event id like every event table. Linked to its interaction by the
-- interaction_id as published (random per interaction), not by a foreign key: the survey and
-- the interaction's end event travel separately and may reach different sinks in either order.
CREATE TABLE surveys (
    id              text PRIMARY KEY,
    time            timestamptz NOT NULL,
    site_id         text        NOT NULL,
    device_id       text        NOT NULL,
    interaction_id  text        NOT NULL,
    scale           text        NOT NULL,
    answer          smallint    NOT NULL CHECK (answer BETWEEN 1 AND 5),
    payload         jsonb       NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    sink            text        NOT NULL
);
CREATE INDEX surveys_site_time ON surveys (site_id, time);
CREATE INDEX surveys_interaction ON surveys (interaction_id);
