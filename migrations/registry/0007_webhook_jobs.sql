-- The queue also delivers webhooks (the job's key names the tenant's delivery row).
ALTER TABLE job_queue DROP CONSTRAINT job_queue_kind_check;
ALTER TABLE job_queue ADD CONSTRAINT job_queue_kind_check CHECK (kind IN ('ingest', 'email', 'report', 'webhook'));
