-- Sessions, API keys and what an upload needs before its job runs.
CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family      TEXT NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);

CREATE TABLE api_keys (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    role        TEXT NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    created_by  BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at  TIMESTAMPTZ
);

ALTER TABLE upload_batches
    ADD COLUMN storage_path    TEXT,
    ADD COLUMN vendor_override TEXT,
    ADD COLUMN uploaded_by     BIGINT REFERENCES users (id) ON DELETE SET NULL;

-- The queue moved to the registry (job_queue); this table was never used.
DROP TABLE IF EXISTS jobs;
