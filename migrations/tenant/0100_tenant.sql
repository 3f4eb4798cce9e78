-- One tenant's database. Sell-out rows reference their upload batch and go with it.
CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE CHECK (position('@' IN email) > 1),
    password_hash TEXT NOT NULL,
    full_name     TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE resellers (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    country    TEXT,
    currency   TEXT CHECK (currency ~ '^[A-Z]{3}$'),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE stores (
    id          BIGSERIAL PRIMARY KEY,
    reseller_id BIGINT NOT NULL REFERENCES resellers (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    channel     TEXT NOT NULL CHECK (channel IN ('retail', 'online')),
    country     TEXT,
    city        TEXT,
    UNIQUE (reseller_id, name)
);

CREATE TABLE products (
    ean             TEXT PRIMARY KEY CHECK (ean ~ '^[0-9]{8,14}$'),
    functional_name TEXT NOT NULL UNIQUE,
    name            TEXT
);

CREATE TABLE vendor_product_mappings (
    id     BIGSERIAL PRIMARY KEY,
    vendor TEXT NOT NULL,
    match  TEXT NOT NULL CHECK (match IN ('exact', 'normalized', 'pattern')),
    key    TEXT NOT NULL,
    ean    TEXT NOT NULL REFERENCES products (ean),
    UNIQUE (vendor, match, key)
);

CREATE TABLE prices (
    price_list TEXT NOT NULL,
    ean        TEXT NOT NULL REFERENCES products (ean),
    price      NUMERIC(18, 4) NOT NULL CHECK (price >= 0),
    currency   TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    PRIMARY KEY (price_list, ean)
);

CREATE TABLE fx_rates (
    currency TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    year     INT NOT NULL CHECK (year BETWEEN 1990 AND 2100),
    month    INT NOT NULL CHECK (month BETWEEN 1 AND 12),
    rate     NUMERIC(12, 6) NOT NULL CHECK (rate > 0),
    PRIMARY KEY (currency, year, month)
);

CREATE TABLE vendor_specs (
    vendor     TEXT NOT NULL,
    version    INT NOT NULL CHECK (version > 0),
    body       TEXT NOT NULL,
    active     BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (vendor, version)
);
CREATE UNIQUE INDEX vendor_specs_one_active ON vendor_specs (vendor) WHERE active;

CREATE TABLE upload_batches (
    id               TEXT PRIMARY KEY,
    file_name        TEXT NOT NULL,
    file_size        BIGINT NOT NULL DEFAULT 0 CHECK (file_size >= 0),
    sha256           TEXT NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    vendor           TEXT,
    spec_version     INT,
    mode             TEXT NOT NULL DEFAULT 'append' CHECK (mode IN ('append', 'replace')),
    status           TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'completed', 'completed_with_errors', 'failed')),
    target_table     TEXT CHECK (target_table IN ('sellout_entries', 'ecommerce_orders')),
    rows_read        BIGINT NOT NULL DEFAULT 0,
    rows_accepted    BIGINT NOT NULL DEFAULT 0,
    rows_rejected    BIGINT NOT NULL DEFAULT 0,
    rows_skipped     BIGINT NOT NULL DEFAULT 0,
    warnings         BIGINT NOT NULL DEFAULT 0,
    quantity_total   BIGINT NOT NULL DEFAULT 0,
    sales_local      NUMERIC(24, 4),
    sales_eur        NUMERIC(24, 6),
    currency         TEXT,
    period_start     DATE,
    period_end       DATE,
    period_grain     TEXT CHECK (period_grain IN ('day', 'week', 'month', 'year')),
    error_summary    TEXT,
    replaced_by      TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at       TIMESTAMPTZ,
    finished_at      TIMESTAMPTZ,
    CHECK (period_start IS NULL OR period_end >= period_start)
);
CREATE INDEX upload_batches_sha ON upload_batches (sha256);
CREATE INDEX upload_batches_vendor_period ON upload_batches (vendor, period_start, period_end);

CREATE TABLE error_reports (
    id         BIGSERIAL PRIMARY KEY,
    batch_id   TEXT NOT NULL REFERENCES upload_batches (id) ON DELETE CASCADE,
    file       TEXT NOT NULL,
    sheet      TEXT,
    source_row BIGINT,
    "column"   TEXT,
    raw_value  TEXT,
    rule       TEXT NOT NULL,
    severity   TEXT NOT NULL CHECK (severity IN ('error', 'warn')),
    message    TEXT NOT NULL,
    raw_row    JSONB
);
CREATE INDEX error_reports_batch ON error_reports (batch_id);

CREATE TABLE sellout_entries (
    reseller            TEXT NOT NULL,
    store               TEXT,
    channel             TEXT NOT NULL CHECK (channel IN ('retail', 'online')),
    country             TEXT,
    product_ean         TEXT CHECK (product_ean ~ '^[0-9]{8,14}$'),
    functional_name     TEXT,
    vendor_product_code TEXT,
    vendor_product_name TEXT,
    quantity            BIGINT NOT NULL,
    unit_price          NUMERIC(18, 4),
    sales_local         NUMERIC(18, 4),
    currency            TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    fx_rate             NUMERIC(12, 6),
    sales_eur           NUMERIC(18, 6),
    sale_date           DATE,
    period_start        DATE NOT NULL,
    period_end          DATE NOT NULL CHECK (period_end >= period_start),
    period_grain        TEXT NOT NULL CHECK (period_grain IN ('day', 'week', 'month', 'year')),
    year                INT NOT NULL,
    month               INT NOT NULL CHECK (month BETWEEN 1 AND 12),
    batch_id            TEXT NOT NULL REFERENCES upload_batches (id) ON DELETE CASCADE,
    source_file         TEXT NOT NULL,
    source_sheet        TEXT,
    source_row          BIGINT NOT NULL,
    spec_name           TEXT NOT NULL,
    spec_version        BIGINT NOT NULL
);
CREATE INDEX sellout_entries_batch ON sellout_entries (batch_id);
CREATE INDEX sellout_entries_period ON sellout_entries (year, month);

CREATE TABLE ecommerce_orders (
    order_id        TEXT NOT NULL,
    order_date      DATE NOT NULL,
    product_ean     TEXT CHECK (product_ean ~ '^[0-9]{8,14}$'),
    functional_name TEXT,
    product_name    TEXT,
    quantity        BIGINT NOT NULL,
    sales_eur       NUMERIC(18, 6),
    cost_of_goods   NUMERIC(18, 6),
    payment_fee     NUMERIC(18, 6),
    country         TEXT,
    city            TEXT,
    utm_source      TEXT,
    utm_medium      TEXT,
    utm_campaign    TEXT,
    device_type     TEXT,
    reseller        TEXT NOT NULL,
    year            INT NOT NULL,
    month           INT NOT NULL CHECK (month BETWEEN 1 AND 12),
    batch_id        TEXT NOT NULL REFERENCES upload_batches (id) ON DELETE CASCADE,
    source_file     TEXT NOT NULL,
    source_sheet    TEXT,
    source_row      BIGINT NOT NULL,
    spec_name       TEXT NOT NULL,
    spec_version    BIGINT NOT NULL
);
CREATE INDEX ecommerce_orders_batch ON ecommerce_orders (batch_id);

CREATE TABLE conversations (
    id         BIGSERIAL PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    question   TEXT NOT NULL,
    sql        TEXT,
    answer     TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE dashboards (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    config     JSONB NOT NULL,
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE email_logs (
    id         BIGSERIAL PRIMARY KEY,
    recipient  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('sent', 'failed')),
    error      TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE jobs (
    id           BIGSERIAL PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      JSONB NOT NULL,
    status       TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    attempts     INT NOT NULL DEFAULT 0,
    run_after    TIMESTAMPTZ NOT NULL DEFAULT now(),
    locked_until TIMESTAMPTZ,
    last_error   TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX jobs_ready ON jobs (run_after) WHERE status = 'queued';
