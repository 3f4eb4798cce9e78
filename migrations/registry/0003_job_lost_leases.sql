-- How often a job was taken over because its worker stopped renewing the lease (it died, or
-- was killed by the file it was loading). Counted apart from attempts, which failures that were
-- reported use: a file that kills its worker is set aside after two such losses.
ALTER TABLE job_queue ADD COLUMN lost_leases INT NOT NULL DEFAULT 0 CHECK (lost_leases >= 0);
