-- Loads write millions of rows in one COPY; every per-row check or index entry is paid a million
-- times. What each row had to pass is now checked once per batch or not paid at all
-- (benches/README.md, "Loading into PostgreSQL", has the measurements).

-- The batch reference: a row is only ever written by the load or repair that holds its batch's
-- upload_batches row in the same transaction (so the batch exists and cannot be deleted under
-- it), and deleting batches deletes their rows once per statement instead of once per row.
ALTER TABLE sellout_entries DROP CONSTRAINT sellout_entries_batch_id_fkey;
ALTER TABLE ecommerce_orders DROP CONSTRAINT ecommerce_orders_batch_id_fkey;

CREATE FUNCTION delete_rows_of_deleted_batches() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM sellout_entries WHERE batch_id IN (SELECT id FROM gone);
    DELETE FROM ecommerce_orders WHERE batch_id IN (SELECT id FROM gone);
    RETURN NULL;
END
$$;
CREATE TRIGGER upload_batches_delete_rows AFTER DELETE ON upload_batches
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
    EXECUTE FUNCTION delete_rows_of_deleted_batches();

-- Value checks the engine already guarantees (an EAN is 8 to 14 digits with a valid check digit,
-- a currency three capitals) keep a cheap guard instead of a regular expression per row.
ALTER TABLE sellout_entries DROP CONSTRAINT sellout_entries_product_ean_check,
    ADD CONSTRAINT sellout_entries_product_ean_check CHECK (octet_length(product_ean) BETWEEN 8 AND 14);
ALTER TABLE sellout_entries DROP CONSTRAINT sellout_entries_currency_check,
    ADD CONSTRAINT sellout_entries_currency_check CHECK (octet_length(currency) = 3);
ALTER TABLE ecommerce_orders DROP CONSTRAINT ecommerce_orders_product_ean_check,
    ADD CONSTRAINT ecommerce_orders_product_ean_check CHECK (octet_length(product_ean) BETWEEN 8 AND 14);

-- A batch's rows arrive together in one COPY, so they sit on neighbouring pages: a block-range
-- index finds them for a replace or delete, and costs a load nothing per row (a B-tree entry per
-- row cost a third of the load). Nothing reads by period in the database.
DROP INDEX sellout_entries_batch;
DROP INDEX sellout_entries_period;
DROP INDEX ecommerce_orders_batch;
CREATE INDEX sellout_entries_batch ON sellout_entries USING brin (batch_id) WITH (autosummarize = on);
CREATE INDEX ecommerce_orders_batch ON ecommerce_orders USING brin (batch_id) WITH (autosummarize = on);
