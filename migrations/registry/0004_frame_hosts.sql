-- Hosts a tenant's pages may frame beyond the dashboard providers every tenant may use (its
-- own Metabase). Kept in the registry so the web app's content policy is known before anyone
-- signs in, without opening the tenant's database. No foreign key: `demo` may have no row.
CREATE TABLE tenant_frame_hosts (
    tenant_id TEXT PRIMARY KEY,
    hosts     TEXT[] NOT NULL DEFAULT '{}'
);
