-- The registry: which tenants exist and where their databases are.
CREATE TABLE tenants (
    id            TEXT PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9_]{1,40}$'),
    subdomain     TEXT NOT NULL UNIQUE CHECK (subdomain ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    display_name  TEXT NOT NULL,
    database_name TEXT NOT NULL UNIQUE,
    status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE platform_admins (
    id            BIGSERIAL PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE CHECK (position('@' IN email) > 1),
    password_hash TEXT NOT NULL,
    full_name     TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
