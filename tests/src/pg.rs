//! Fresh PostgreSQL databases for tests. Each test gets its own registry database (named
//! `taskifai_test_<random>`) and its tenant databases carry the same random prefix, so tests run
//! in parallel and never see each other's rows. `DATABASE_URL` must point at a server where the
//! user may create databases; `.ci/run` provides one.

use sqlx::{Connection, PgConnection};
use taskifai_connectors::postgres::tenants::Registry;

/// The server URL tests use.
pub fn server_url() -> String {
    std::env::var("DATABASE_URL").expect(
        "DATABASE_URL must point at a PostgreSQL server for these tests; `.ci/run` sets it up",
    )
}

/// A registry database of one test, dropped with its tenants by [`TestDb::cleanup`], or when
/// it goes out of scope (a failed assertion included), so no test leaves databases behind.
pub struct TestDb {
    pub registry: Registry,
    pub name: String,
    pub url: String,
    /// Tenant databases of this test start with this prefix.
    tenant_prefix: String,
    cleaned: bool,
}

impl TestDb {
    pub async fn new() -> Self {
        let server = server_url();
        let tag = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let name = format!("taskifai_test_{tag}");
        let mut admin = PgConnection::connect(&server)
            .await
            .expect("connects to DATABASE_URL");
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
            .expect("creates a test database");
        let (base, query) = server
            .split_once('?')
            .map_or((server.as_str(), ""), |(b, q)| (b, q));
        let url = format!(
            "{}/{name}{}",
            base.rsplit_once('/').map_or(base, |(b, _)| b),
            if query.is_empty() {
                String::new()
            } else {
                format!("?{query}")
            }
        );
        let tenant_prefix = format!("t{tag}_");
        let registry = Registry::open(&url, &tenant_prefix)
            .await
            .expect("registry opens");
        Self {
            registry,
            name,
            url,
            tenant_prefix,
            cleaned: false,
        }
    }

    /// Drops the test's registry and tenant databases.
    pub async fn cleanup(mut self) {
        self.registry.pool.close().await;
        drop_databases(&self.name, &self.tenant_prefix).await;
        self.cleaned = true;
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        // Drop cannot await, and may run inside the test's runtime: a thread of its own runs
        // the clean-up on a runtime of its own, and is waited for.
        let (name, prefix) = (self.name.clone(), self.tenant_prefix.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(drop_databases(&name, &prefix));
            }
        })
        .join();
    }
}

/// Drops the registry database `name` and every database starting with `tenant_prefix`.
async fn drop_databases(name: &str, tenant_prefix: &str) {
    let Ok(mut admin) = PgConnection::connect(&server_url()).await else {
        return;
    };
    let like = format!("{}%", tenant_prefix.replace('_', "\\_"));
    let tenants: Vec<String> =
        sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE $1")
            .bind(like)
            .fetch_all(&mut admin)
            .await
            .unwrap_or_default();
    for db in tenants.iter().map(String::as_str).chain([name]) {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
            .execute(&mut admin)
            .await;
    }
}
