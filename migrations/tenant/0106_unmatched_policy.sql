-- The tenant's default for rows its reference data cannot complete: reject them (no row here)
-- or keep them with a warning. A spec's own `unmatched` wins over this.
CREATE TABLE unmatched_policy (
    rule   TEXT PRIMARY KEY CHECK (rule IN ('unknown_product', 'missing_price', 'missing_fx_rate')),
    action TEXT NOT NULL CHECK (action IN ('reject', 'keep'))
);
