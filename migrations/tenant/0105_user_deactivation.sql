-- A deactivated user cannot sign in or refresh; their data and history stay.
ALTER TABLE users ADD COLUMN deactivated_at TIMESTAMPTZ;
