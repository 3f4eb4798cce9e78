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

/// A registry database of one test, dropped with its tenants by [`TestDb::cleanup`].
pub struct TestDb {
    pub registry: Registry,
    pub name: String,
    pub url: String,
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
        let registry = Registry::open(&url, &format!("t{tag}_"))
            .await
            .expect("registry opens");
        Self {
            registry,
            name,
            url,
        }
    }

    /// Drops the test's registry and tenant databases.
    pub async fn cleanup(self) {
        let tenants = self.registry.list().await.unwrap_or_default();
        self.registry.pool.close().await;
        let mut admin = PgConnection::connect(&server_url())
            .await
            .expect("connects");
        for db in tenants
            .iter()
            .map(|t| t.database_name.clone())
            .chain([self.name])
        {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
                .execute(&mut admin)
                .await;
        }
    }
}
