//! Where a load goes: the tenant's lake and, when it has one, its database. Both are written
//! together and either both commit or neither keeps anything; the lake commit is the decision.

use super::crashpoint::Crashpoint;
use super::IngestError;
use crate::error_report::{self, ReportPaths};
use crate::lake::{BatchMeta, Commit, Lake, LoadMode, Staged};
use crate::postgres::load::{sync_from_lake, DbLoad};
use crate::tenant_id::TenantId;
use datafusion::arrow::record_batch::RecordBatch;
use sqlx::PgPool;
use taskifai_engine::pipeline::Outcome;
use taskifai_engine::schema;
use taskifai_engine::spec::Target;

/// A load's open writes.
pub(super) struct Targets<'a> {
    lake: &'a Lake,
    tenant: TenantId,
    meta: BatchMeta,
    mode: LoadMode,
    staged: Staged,
    db: Option<(&'a PgPool, DbLoad)>,
    report: Option<ReportPaths>,
}

impl<'a> Targets<'a> {
    /// What the batch is.
    pub(super) fn meta(&self) -> &BatchMeta {
        &self.meta
    }

    /// Opens the lake load and, with `db`, the database transaction that records the batch.
    pub(super) async fn begin(
        lake: &'a Lake,
        db: Option<&'a PgPool>,
        tenant: &TenantId,
        meta: BatchMeta,
        target: Target,
        file_size: u64,
        mode: LoadMode,
    ) -> Result<Self, IngestError> {
        let db = match db {
            Some(pool) => Some((pool, DbLoad::begin(pool, &meta, file_size, mode).await?)),
            None => None,
        };
        let mut staged = lake
            .begin(tenant, meta.clone(), schema::schema(target))
            .await?;
        if mode == LoadMode::Append {
            staged.append();
        }
        Ok(Self {
            lake,
            tenant: tenant.clone(),
            meta,
            mode,
            staged,
            db,
            report: None,
        })
    }

    pub(super) async fn write(&mut self, batch: &RecordBatch) -> Result<(), IngestError> {
        self.staged.write(batch).await?;
        if let Some((_, d)) = self.db.as_mut() {
            d.write(batch).await?;
        }
        Ok(())
    }

    /// Everything but the commit: the batch's hash and period, the error report, the database's
    /// totals and its removal of the batches this one replaces.
    pub(super) async fn prepare(
        &mut self,
        sha256: &str,
        outcome: &Outcome,
    ) -> Result<Option<ReportPaths>, IngestError> {
        let period = &outcome.summary.period;
        self.meta.sha256 = sha256.to_owned();
        self.meta.period_start = period.start.to_string();
        self.meta.period_end = period.end.to_string();
        self.staged.set_sha256(sha256);
        self.staged
            .set_period(&self.meta.period_start, &self.meta.period_end);
        self.report = error_report::write(
            self.lake,
            &self.tenant,
            &self.meta.batch_id,
            &outcome.issues,
        )
        .await?;
        if let Some((_, d)) = self.db.as_mut() {
            let replaced = self.lake.snapshot(&self.tenant).await?.superseded(
                &self.meta,
                &self.staged.months(),
                self.mode == LoadMode::Replace,
            )?;
            d.finish(&outcome.summary, &outcome.issues, &replaced)
                .await?;
        }
        Ok(self.report.clone())
    }

    /// Makes the batch visible: the lake commits, then the database follows, now or at the
    /// next repair ([`sync_from_lake`] runs before every load).
    pub(super) async fn commit(self, pause_at: Option<Crashpoint>) -> Result<Commit, IngestError> {
        let commit = match self.staged.commit().await {
            Ok(c) => c,
            Err(e) => {
                if let Some((_, d)) = self.db {
                    d.rollback().await;
                }
                if let Some(r) = &self.report {
                    r.delete(self.lake.store().as_ref()).await;
                }
                return Err(e.into());
            }
        };
        Crashpoint::reached(pause_at, Crashpoint::BetweenCommits).await;
        if let Some((pool, d)) = self.db {
            if d.commit().await.is_err() {
                sync_from_lake(pool, self.lake, &self.tenant).await?;
            }
        }
        Ok(commit)
    }

    /// Leaves no trace: the lake's files and the error report are deleted, the database
    /// transaction rolled back.
    pub(super) async fn abort(self) {
        self.staged.abort().await;
        if let Some((_, d)) = self.db {
            d.rollback().await;
        }
        if let Some(r) = &self.report {
            r.delete(self.lake.store().as_ref()).await;
        }
    }
}
