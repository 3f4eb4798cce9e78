//! The tenant registry: create (a database per tenant, migrated, optionally seeded), list,
//! suspend, resume, drop (exporting the database first unless forced).

use super::{migrate, options_for, PgError, DEMO_TENANT, TENANT_MIGRATOR};
use crate::tenant_id::{InvalidTenantId, TenantId};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool, Row};
use std::path::{Path, PathBuf};

/// One tenant as the registry knows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Tenant {
    pub id: TenantId,
    pub subdomain: String,
    pub display_name: String,
    pub database_name: String,
    pub status: String,
}

/// The registry database and the server it lives on.
#[derive(Debug, Clone)]
pub struct Registry {
    pub pool: PgPool,
    /// URL of the registry database; tenant databases are siblings on the same server.
    pub url: String,
    /// Prefix of tenant database names (tests use a unique one).
    pub db_prefix: String,
}

impl Registry {
    /// Connects to the registry database and migrates it (registry and demo-tenant tables).
    pub async fn open(url: &str, db_prefix: &str) -> Result<Self, PgError> {
        let pool = PgPoolOptions::new().max_connections(4).connect(url).await?;
        migrate(&pool, &super::REGISTRY_MIGRATOR).await?;
        migrate(&pool, &TENANT_MIGRATOR).await?;
        Ok(Self {
            pool,
            url: url.to_owned(),
            db_prefix: db_prefix.to_owned(),
        })
    }

    /// A tenant by id; `demo` always exists and lives in the registry's own database.
    pub async fn get(&self, id: &str) -> Result<Tenant, PgError> {
        let row = sqlx::query(
            "SELECT id, subdomain, display_name, database_name, status FROM tenants WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => Ok(Tenant {
                id: TenantId::try_from(r.get::<String, _>(0))?,
                subdomain: r.get(1),
                display_name: r.get(2),
                database_name: r.get(3),
                status: r.get(4),
            }),
            None if id == DEMO_TENANT => Ok(Tenant {
                id: TenantId::parse(id)?,
                subdomain: id.into(),
                display_name: "Demo".into(),
                database_name: self.registry_database().await?,
                status: "active".into(),
            }),
            None => Err(PgError::UnknownTenant(id.to_owned())),
        }
    }

    /// The tenant a host's subdomain names; `demo` is always there.
    pub async fn by_subdomain(&self, subdomain: &str) -> Result<Tenant, PgError> {
        let id: Option<String> = sqlx::query_scalar("SELECT id FROM tenants WHERE subdomain = $1")
            .bind(subdomain)
            .fetch_optional(&self.pool)
            .await?;
        match id {
            Some(id) => self.get(&id).await,
            None if subdomain == DEMO_TENANT => self.get(DEMO_TENANT).await,
            None => Err(PgError::UnknownTenant(subdomain.to_owned())),
        }
    }

    async fn registry_database(&self) -> Result<String, PgError> {
        Ok(sqlx::query_scalar("SELECT current_database()")
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn list(&self) -> Result<Vec<Tenant>, PgError> {
        let rows = sqlx::query(
            "SELECT id, subdomain, display_name, database_name, status FROM tenants ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(Tenant {
                    id: TenantId::try_from(r.get::<String, _>(0))?,
                    subdomain: r.get(1),
                    display_name: r.get(2),
                    database_name: r.get(3),
                    status: r.get(4),
                })
            })
            .collect()
    }

    /// Creates the tenant's database, migrates it and registers it. On any failure the database
    /// is dropped again and nothing is registered.
    pub async fn create(&self, id: &TenantId, display_name: &str) -> Result<Tenant, PgError> {
        if *id == DEMO_TENANT {
            return Err(InvalidTenantId(id.to_string()).into());
        }
        if self.list().await?.iter().any(|t| t.id == *id) {
            return Err(PgError::TenantExists(id.to_string()));
        }
        let database_name = format!("{}{id}", self.db_prefix);
        // Identifiers cannot be bound; the id was checked to be [a-z0-9_] above.
        sqlx::query(&format!("CREATE DATABASE \"{database_name}\""))
            .execute(&self.pool)
            .await?;
        let result = async {
            let pool = PgPoolOptions::new().max_connections(1).connect_with(options_for(&self.url, &database_name)?).await?;
            migrate(&pool, &TENANT_MIGRATOR).await?;
            pool.close().await;
            sqlx::query("INSERT INTO tenants (id, subdomain, display_name, database_name) VALUES ($1, $2, $3, $4)")
                .bind(id.as_str())
                .bind(id.replace('_', "-"))
                .bind(display_name)
                .bind(&database_name)
                .execute(&self.pool)
                .await?;
            Ok::<_, PgError>(())
        }
        .await;
        if let Err(e) = result {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS \"{database_name}\" WITH (FORCE)"
            ))
            .execute(&self.pool)
            .await;
            return Err(e);
        }
        self.get(id.as_str()).await
    }

    /// Sets a tenant `active` or `suspended`.
    pub async fn set_status(&self, id: &str, status: &str) -> Result<(), PgError> {
        if id == DEMO_TENANT {
            // `demo` has no registry row until its status is set: it gets one, so it can be
            // suspended like any tenant.
            sqlx::query("INSERT INTO tenants (id, subdomain, display_name, database_name, status) VALUES ($1, $1, 'Demo', $2, $3) ON CONFLICT (id) DO NOTHING")
                .bind(id)
                .bind(self.registry_database().await?)
                .bind(status)
                .execute(&self.pool)
                .await?;
        }
        let n = sqlx::query("UPDATE tenants SET status = $2, updated_at = now() WHERE id = $1")
            .bind(id)
            .bind(status)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(PgError::UnknownTenant(id.to_owned()));
        }
        Ok(())
    }

    /// Drops a tenant's database and registration. Unless `force`, every table is first
    /// exported as CSV into `export_dir/<tenant>/`; the lake is never touched.
    pub async fn drop_tenant(
        &self,
        id: &str,
        export_dir: Option<&Path>,
    ) -> Result<Option<PathBuf>, PgError> {
        let t = self.get(id).await?;
        if t.id == DEMO_TENANT {
            return Err(InvalidTenantId(id.to_owned()).into());
        }
        let exported = match export_dir {
            Some(dir) => Some(self.export(&t, dir).await?),
            None => None,
        };
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            t.database_name
        ))
        .execute(&self.pool)
        .await?;
        sqlx::query("DELETE FROM tenants WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(exported)
    }

    async fn export(&self, t: &Tenant, dir: &Path) -> Result<PathBuf, PgError> {
        let out = dir.join(t.id.as_str());
        std::fs::create_dir_all(&out).map_err(|source| PgError::Io {
            path: out.display().to_string(),
            source,
        })?;
        let mut conn =
            PgConnection::connect_with(&options_for(&self.url, &t.database_name)?).await?;
        let tables: Vec<String> = sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE '\\_sqlx%' ORDER BY 1").fetch_all(&mut conn).await?;
        for table in tables {
            let mut stream = conn
                .copy_out_raw(&format!(
                    "COPY \"{table}\" TO STDOUT WITH (FORMAT csv, HEADER)"
                ))
                .await?;
            let mut bytes = Vec::new();
            use futures::StreamExt;
            while let Some(chunk) = stream.next().await {
                bytes.extend_from_slice(&chunk?);
            }
            drop(stream);
            let file = out.join(format!("{table}.csv"));
            std::fs::write(&file, bytes).map_err(|source| PgError::Io {
                path: file.display().to_string(),
                source,
            })?;
        }
        Ok(out)
    }
}
