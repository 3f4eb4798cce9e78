-- The queue also delivers email (the tenant's outbox row is named by the job's key).
ALTER TABLE job_queue DROP CONSTRAINT job_queue_kind_check;
ALTER TABLE job_queue ADD CONSTRAINT job_queue_kind_check CHECK (kind IN ('ingest', 'email'));
