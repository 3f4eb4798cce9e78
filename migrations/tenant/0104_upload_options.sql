-- What an upload asks of its load beyond the mode and vendor: the period of a file that
-- carries none (`2025-06` or `2025`), and leave to replace a period's data with an empty load.
ALTER TABLE upload_batches
    ADD COLUMN period_override TEXT,
    ADD COLUMN allow_empty BOOLEAN NOT NULL DEFAULT false;
