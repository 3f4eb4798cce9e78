-- Scheduled reports: a cron expression in a time zone, the report's filters (relative periods
-- such as last_month are resolved on the slot's date), its format and recipients. `last_slot`
-- is the latest slot turned into a report job: a slot becomes a job once, and after downtime
-- only the latest missed slot runs.
CREATE TABLE report_schedules (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    cron        TEXT NOT NULL,
    timezone    TEXT NOT NULL,
    format      TEXT NOT NULL CHECK (format IN ('pdf', 'xlsx', 'csv')),
    filters     JSONB NOT NULL DEFAULT '{}',
    recipients  TEXT[] NOT NULL CHECK (cardinality(recipients) BETWEEN 1 AND 50),
    enabled     BOOLEAN NOT NULL DEFAULT true,
    created_by  BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_slot   TIMESTAMPTZ,
    last_run_at TIMESTAMPTZ,
    last_status TEXT,
    last_error  TEXT
);

-- An email may carry one file (a scheduled report), kept with the message so a retry after a
-- worker stopped sends the same bytes.
ALTER TABLE email_logs
    ADD COLUMN attachment_name TEXT,
    ADD COLUMN attachment_type TEXT,
    ADD COLUMN attachment      BYTEA;
