-- How the tenant's emails look and who else gets them: the sender's display name (the address
-- stays the platform's, so SPF and DKIM hold), a reply-to address, people told of every upload,
-- and the brand's colour and logo. One row.
CREATE TABLE email_settings (
    one               BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
    sender_name       TEXT CHECK (length(sender_name) <= 100),
    reply_to          TEXT,
    upload_recipients TEXT[] NOT NULL DEFAULT '{}' CHECK (cardinality(upload_recipients) <= 50),
    brand_colour      TEXT CHECK (brand_colour ~ '^#[0-9a-fA-F]{6}$'),
    logo_url          TEXT CHECK (logo_url LIKE 'https://%'),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The sender name and reply-to an email was queued with, so a retry sends the same message.
ALTER TABLE email_logs
    ADD COLUMN from_name TEXT,
    ADD COLUMN reply_to  TEXT;
