-- An upload made by re-processing an earlier one's stored file after the catalog changed:
-- which upload, and why. It takes that upload's place like any replacing load.
ALTER TABLE upload_batches
    ADD COLUMN reprocess_of     TEXT,
    ADD COLUMN reprocess_reason TEXT;
