-- The queue also builds scheduled reports (the job's key names the schedule and its slot).
ALTER TABLE job_queue DROP CONSTRAINT job_queue_kind_check;
ALTER TABLE job_queue ADD CONSTRAINT job_queue_kind_check CHECK (kind IN ('ingest', 'email', 'report'));
