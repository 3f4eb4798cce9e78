-- Catalog imports carry a product's category and launch date.
ALTER TABLE products ADD COLUMN category TEXT, ADD COLUMN launch_date DATE;
