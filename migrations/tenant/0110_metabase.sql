-- The tenant's Metabase for signed embedding: its address and the embedding secret the server
-- signs dashboard tokens with. The secret never leaves the server.
CREATE TABLE metabase_embedding (
    one        BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
    site_url   TEXT NOT NULL CHECK (site_url ~ '^https://'),
    secret_key TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
