-- Outbound email: every message is a row before it is sent (the outbox), keyed by the event it
-- tells of, so an event is never emailed twice; the durable job queue delivers it.
DROP TABLE email_logs;
CREATE TABLE email_logs (
    id          BIGSERIAL PRIMARY KEY,
    event_key   TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    recipients  TEXT[] NOT NULL CHECK (cardinality(recipients) > 0),
    subject     TEXT NOT NULL,
    html        TEXT NOT NULL,
    text        TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed', 'not_sent')),
    attempts    INT NOT NULL DEFAULT 0,
    error       TEXT,
    message_id  TEXT NOT NULL,
    smtp_reply  TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at     TIMESTAMPTZ
);
CREATE INDEX email_logs_created ON email_logs (created_at DESC);

-- A person's choice: an email when one of their uploads ends.
ALTER TABLE users ADD COLUMN notify_uploads BOOLEAN NOT NULL DEFAULT true;
