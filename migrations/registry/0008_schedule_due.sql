-- When each tenant's report schedules are next due, so the scheduler reads this one table
-- instead of every tenant's database. The tenants' `report_schedules` are the truth; this is
-- an index of them, written when a schedule changes or runs and rebuilt from every tenant when
-- a worker starts and every hour.
CREATE TABLE schedule_due (
    tenant_id   TEXT NOT NULL,
    schedule_id BIGINT NOT NULL,
    next_due    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, schedule_id)
);
CREATE INDEX schedule_due_next ON schedule_due (next_due);
