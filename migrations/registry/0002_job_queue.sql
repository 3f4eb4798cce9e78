-- The durable job queue. It lives in the registry so that one worker pool serves every tenant
-- and can cap concurrency per tenant; a tenant database only holds the batches the jobs load.
-- (The demo tenant shares this database, hence a name other than the tenant table `jobs`.)
CREATE TABLE job_queue (
    id            BIGSERIAL PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('ingest')),
    batch_id      TEXT NOT NULL,
    payload       JSONB NOT NULL DEFAULT '{}',
    status        TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    attempts      INT NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts  INT NOT NULL DEFAULT 5 CHECK (max_attempts > 0),
    run_after     TIMESTAMPTZ NOT NULL DEFAULT now(),
    locked_by     TEXT,
    locked_until  TIMESTAMPTZ,
    progress_rows BIGINT NOT NULL DEFAULT 0,
    last_error    TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at   TIMESTAMPTZ,
    UNIQUE (tenant_id, batch_id)
);
CREATE INDEX job_queue_ready ON job_queue (run_after, id) WHERE status IN ('queued', 'running');
CREATE INDEX job_queue_tenant_running ON job_queue (tenant_id) WHERE status = 'running';
