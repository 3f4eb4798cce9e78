//! Loading a batch into a tenant database in one transaction: the batch row, its rows (binary
//! COPY) and its error report. The transaction is committed only after the lake commit, which
//! is the decision point; [`sync_from_lake`] repairs the database from the lake after a crash
//! between the two commits.

use super::batches::{self, BatchStatus};
use super::{copy, PgError};
use crate::lake::{BatchMeta, Lake};
use crate::tenant_id::TenantId;
use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use sqlx::{PgPool, Postgres, Transaction};
use std::collections::HashSet;
use std::sync::Arc;
use taskifai_engine::issues::Issue;
use taskifai_engine::pipeline::Summary;
use taskifai_engine::schema;
use taskifai_engine::spec::Target;

/// Column list of a canonical table, quoted for COPY.
fn column_list(target: Target) -> String {
    schema::columns(target)
        .iter()
        .map(|c| format!("\"{}\"", c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn target_of(table: &str) -> Target {
    if table == schema::ORDERS {
        Target::Orders
    } else {
        Target::Sellout
    }
}

/// A load in progress inside an open transaction.
///
/// Rows go through one `COPY` for the whole load, fed by a task that owns the transaction
/// while the COPY runs: the caller encodes the next batch while the previous one is on the
/// wire, so encoding overlaps the server's work.
pub struct DbLoad {
    tx: Option<Transaction<'static, Postgres>>,
    copier: Option<Copier>,
    meta: BatchMeta,
    target: Target,
}

/// The task streaming one COPY; it gives the transaction back when the COPY ends.
struct Copier {
    chunks: tokio::sync::mpsc::Sender<Vec<u8>>,
    done: tokio::task::JoinHandle<Result<Transaction<'static, Postgres>, PgError>>,
}

impl Copier {
    fn start(mut tx: Transaction<'static, Postgres>, statement: String) -> Self {
        let (chunks, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(2);
        let done = tokio::spawn(async move {
            {
                let mut c = tx.copy_in_raw(&statement).await?;
                c.send(copy::header()).await?;
                while let Some(chunk) = rx.recv().await {
                    c.send(chunk).await?;
                }
                c.send(copy::trailer()).await?;
                c.finish().await?;
            }
            Ok(tx)
        });
        Self { chunks, done }
    }

    /// Ends the COPY and returns the transaction, or the COPY's error.
    async fn finish(self) -> Result<Transaction<'static, Postgres>, PgError> {
        drop(self.chunks);
        self.done.await.map_err(PgError::CopyTask)?
    }
}

async fn copy_batch(
    tx: &mut Transaction<'static, Postgres>,
    table: &str,
    columns: &str,
    batch: &RecordBatch,
) -> Result<(), PgError> {
    let mut bytes = copy::header();
    copy::encode(batch, &mut bytes).map_err(PgError::Encode)?;
    bytes.extend(copy::trailer());
    let mut c = tx
        .copy_in_raw(&format!(
            "COPY \"{table}\" ({columns}) FROM STDIN WITH (FORMAT binary)"
        ))
        .await?;
    c.send(bytes).await?;
    c.finish().await?;
    Ok(())
}

impl DbLoad {
    /// Opens the transaction and records the batch as processing.
    /// An upload recorded the batch already (pending); its row is taken over.
    pub async fn begin(
        pool: &PgPool,
        meta: &BatchMeta,
        file_size: u64,
        mode: crate::lake::LoadMode,
    ) -> Result<Self, PgError> {
        let mut tx = pool.begin().await?;
        batches::begin_load(&mut tx, meta, file_size, mode).await?;
        Ok(Self {
            tx: Some(tx),
            copier: None,
            meta: meta.clone(),
            target: target_of(&meta.table),
        })
    }

    /// Copies canonical rows in.
    pub async fn write(&mut self, batch: &RecordBatch) -> Result<(), PgError> {
        if self.copier.is_none() {
            let tx = self.tx.take().ok_or_else(|| PgError::Ended)?;
            let statement = format!(
                "COPY \"{}\" ({}) FROM STDIN WITH (FORMAT binary)",
                self.meta.table,
                column_list(self.target)
            );
            self.copier = Some(Copier::start(tx, statement));
        }
        let mut bytes = Vec::with_capacity(batch.num_rows() * 256);
        copy::encode(batch, &mut bytes).map_err(PgError::Encode)?;
        let copier = self.copier.as_ref().expect("started above");
        if copier.chunks.send(bytes).await.is_err() {
            // The COPY failed; its error says why.
            let copier = self.copier.take().expect("present");
            return Err(copier.finish().await.err().unwrap_or(PgError::CopyEnded));
        }
        Ok(())
    }

    /// The transaction, once the COPY (if any) has ended.
    async fn tx(&mut self) -> Result<&mut Transaction<'static, Postgres>, PgError> {
        if let Some(c) = self.copier.take() {
            self.tx = Some(c.finish().await?);
        }
        self.tx.as_mut().ok_or_else(|| PgError::Ended)
    }

    /// Writes the error report and totals, and removes the rows of the batches this one
    /// replaces. Nothing is visible until [`DbLoad::commit`].
    pub async fn finish(
        &mut self,
        summary: &Summary,
        issues: &[Issue],
        replaced: &[String],
    ) -> Result<(), PgError> {
        let batch_id = self.meta.batch_id.clone();
        let tx = self.tx().await?;
        write_issues(tx, &batch_id, issues).await?;
        batches::finish_load(tx, &batch_id, summary).await?;
        let meta = self.meta.clone();
        replace(self.tx().await?, &meta, replaced).await
    }

    pub async fn commit(mut self) -> Result<(), PgError> {
        self.tx().await?;
        self.tx.take().expect("present after tx()").commit().await?;
        Ok(())
    }

    /// Undoes everything. A running COPY is ended first; if it failed, its task dropped the
    /// transaction, which rolls it back.
    pub async fn rollback(mut self) {
        if self.tx().await.is_ok() {
            if let Some(tx) = self.tx.take() {
                let _ = tx.rollback().await;
            }
        }
    }
}

/// Removes the rows of replaced batches (same vendor, table and period) and records why.
async fn replace(
    tx: &mut Transaction<'static, Postgres>,
    meta: &BatchMeta,
    replaced: &[String],
) -> Result<(), PgError> {
    if replaced.is_empty() {
        return Ok(());
    }
    sqlx::query(&format!(
        "DELETE FROM \"{}\" WHERE batch_id = ANY($1)",
        meta.table
    ))
    .bind(replaced)
    .execute(&mut **tx)
    .await?;
    batches::mark_replaced(tx, replaced, &meta.batch_id).await
}

async fn write_issues(
    tx: &mut Transaction<'static, Postgres>,
    batch_id: &str,
    issues: &[Issue],
) -> Result<(), PgError> {
    if issues.is_empty() {
        return Ok(());
    }
    let report = crate::error_report::batch(issues);
    let mut cols: Vec<ArrayRef> = vec![Arc::new(StringArray::from(vec![batch_id; issues.len()]))];
    cols.extend(report.columns().iter().cloned());
    let mut fields = vec![datafusion::arrow::datatypes::Field::new(
        "batch_id",
        datafusion::arrow::datatypes::DataType::Utf8,
        false,
    )];
    fields.extend(report.schema().fields().iter().map(|f| f.as_ref().clone()));
    let batch = RecordBatch::try_new(
        Arc::new(datafusion::arrow::datatypes::Schema::new(fields)),
        cols,
    )?;
    copy_batch(
        tx,
        "error_reports",
        &format!(
            "batch_id, {}",
            crate::error_report::COLUMNS
                .map(|c| format!("\"{c}\""))
                .join(", ")
        ),
        &batch,
    )
    .await
}

/// Keeps the error report of a file that was refused whole (too many rejects), replacing the
/// report of an earlier attempt: the rows it lists stay findable (the unmapped queue) though
/// nothing was loaded.
pub async fn record_refused_report(
    pool: &PgPool,
    batch_id: &str,
    vendor: &str,
    issues: &[Issue],
) -> Result<(), PgError> {
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE upload_batches SET vendor = $2 WHERE id = $1")
        .bind(batch_id)
        .bind(vendor)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM error_reports WHERE batch_id = $1")
        .bind(batch_id)
        .execute(&mut *tx)
        .await?;
    write_issues(&mut tx, batch_id, issues).await?;
    tx.commit().await?;
    Ok(())
}

/// What a repair did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub loaded: Vec<String>,
    pub removed: Vec<String>,
}

/// Makes the database hold exactly the lake's live batches: batches the lake committed but the
/// database missed (a crash between the two commits) are copied in from their Parquet files,
/// and completed batches the lake no longer has are removed.
pub async fn sync_from_lake(
    pool: &PgPool,
    lake: &Lake,
    tenant: &TenantId,
) -> Result<SyncReport, PgError> {
    // The database first, then the lake: a batch the database has committed was committed to
    // the lake before, so this snapshot holds it (read the other way round, a load finishing
    // in between would look like a batch the lake dropped, and be deleted).
    let in_db = batches::live_loaded(pool).await?;
    let snap = lake.snapshot(tenant).await?;
    let in_db: HashSet<String> = in_db.into_iter().collect();
    let mut report = SyncReport::default();
    for id in in_db.iter().filter(|id| !snap.batches.contains_key(*id)) {
        // A load in flight may be replacing this batch right now; Postgres re-checks the
        // condition once that load's lock is released, and then the row is history, not debris.
        if batches::remove_loaded(pool, id).await? {
            report.removed.push(id.clone());
        }
    }
    for (id, (meta, files)) in snap.batches.iter().filter(|(id, _)| !in_db.contains(*id)) {
        let mut tx = pool.begin().await?;
        // The batch's own load may be between its lake and database commits: its transaction
        // holds the row, so wait for it and leave the batch alone if it committed.
        if batches::lock_status(&mut tx, id)
            .await?
            .is_some_and(BatchStatus::is_loaded)
        {
            tx.rollback().await?;
            continue;
        }
        if !batches::insert_repaired(&mut tx, meta).await? {
            // Its own load (one that had not recorded the row before) committed meanwhile.
            tx.rollback().await?;
            continue;
        }
        let columns = column_list(target_of(&meta.table));
        let table_schema = taskifai_engine::schema::schema(target_of(&meta.table));
        for f in files {
            for batch in lake.read_file(f, &table_schema).await? {
                copy_batch(&mut tx, &meta.table, &columns, &batch).await?;
            }
        }
        tx.commit().await?;
        report.loaded.push(id.clone());
    }
    Ok(report)
}
