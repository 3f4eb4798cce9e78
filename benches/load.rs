//! Loading normalized sell-out rows into a tenant database: TaskifAI's binary COPY of Arrow
//! batches against `psql \copy` of the same rows as CSV, into the same table, alternately, in
//! one run. Needs `DATABASE_URL` (run through `benches/run-load.sh`, which brings PostgreSQL up).
//!
//! `cargo bench -p taskifai-benches --bench load -- [ROWS] [RUNS]`

use datafusion::arrow::array::{
    ArrayRef, Date32Array, Decimal128Array, Int32Array, Int64Array, StringArray, UInt32Array,
};
use datafusion::arrow::record_batch::RecordBatch;
use std::sync::Arc;
use std::time::Instant;
use taskifai_connectors::lake::BatchMeta;
use taskifai_connectors::postgres::load::DbLoad;
use taskifai_engine::schema;
use taskifai_engine::spec::Target;

const BATCH: usize = 8192;

/// Deterministic canonical rows: 40 stores, 8 products, quantities 1-5, prices 19.50-195.00.
fn batches(rows: usize) -> Vec<RecordBatch> {
    let schema = schema::schema(Target::Sellout);
    (0..rows)
        .step_by(BATCH)
        .map(|start| {
            let n = BATCH.min(rows - start);
            let idx: Vec<usize> = (start..start + n).collect();
            let text = |f: &dyn Fn(usize) -> Option<String>| {
                Arc::new(idx.iter().map(|i| f(*i)).collect::<StringArray>()) as ArrayRef
            };
            let qty: Vec<i64> = idx.iter().map(|i| (i % 5) as i64 + 1).collect();
            let local: Vec<i128> = idx
                .iter()
                .map(|i| (1950 * ((i % 10) as i128 + 1)) * 100 * qty[i - start] as i128)
                .collect();
            let cols: Vec<ArrayRef> = vec![
                text(&|i| Some(format!("Reseller {}", i % 7))),
                text(&|i| Some(format!("Store {}", i % 40))),
                text(&|i| Some(if i % 4 == 0 { "online" } else { "retail" }.into())),
                text(&|_| Some("GB".into())),
                text(&|i| {
                    Some(
                        [
                            "7350154320008",
                            "7350154320015",
                            "7350154320022",
                            "7350154320039",
                            "7350154320046",
                            "7350154320053",
                            "7350154320060",
                            "7350154320077",
                        ][i % 8]
                            .into(),
                    )
                }),
                text(&|i| Some(format!("BBF{}", i % 8))),
                text(&|_| None),
                text(&|i| Some(format!("BIBBI product, \"edition\" {}", i % 8))),
                Arc::new(Int64Array::from(qty.clone())),
                Arc::new(
                    Decimal128Array::from(
                        idx.iter()
                            .map(|i| 1950 * ((i % 10) as i128 + 1) * 100)
                            .collect::<Vec<_>>(),
                    )
                    .with_precision_and_scale(18, 4)
                    .unwrap(),
                ),
                Arc::new(
                    Decimal128Array::from(local.clone())
                        .with_precision_and_scale(18, 4)
                        .unwrap(),
                ),
                text(&|_| Some("GBP".into())),
                Arc::new(
                    Decimal128Array::from(vec![1_170_000i128; n])
                        .with_precision_and_scale(12, 6)
                        .unwrap(),
                ),
                Arc::new(
                    Decimal128Array::from(local.iter().map(|l| l * 117).collect::<Vec<_>>())
                        .with_precision_and_scale(18, 6)
                        .unwrap(),
                ),
                Arc::new(Date32Array::from(vec![None::<i32>; n])),
                Arc::new(Date32Array::from(vec![20_089; n])),
                Arc::new(Date32Array::from(vec![20_118; n])),
                text(&|_| Some("month".into())),
                Arc::new(Int32Array::from(vec![2025; n])),
                Arc::new(Int32Array::from(vec![1; n])),
                text(&|_| Some("bench".into())),
                text(&|_| Some("bench.csv".into())),
                text(&|_| None),
                Arc::new(UInt32Array::from_iter_values(
                    idx.iter().map(|i| *i as u32 + 2),
                )),
                text(&|_| Some("bench".into())),
                Arc::new(UInt32Array::from(vec![1u32; n])),
            ];
            RecordBatch::try_new(schema.clone(), cols).expect("rows match the schema")
        })
        .collect()
}

/// `sellout_entries` as migration 0100 made it, before 0117 took the per-row work out.
const BEFORE_0117: &str = "
CREATE TABLE sellout_before_0117 (LIKE sellout_entries);
ALTER TABLE sellout_before_0117
    ADD CHECK (channel IN ('retail', 'online')),
    ADD CHECK (product_ean ~ '^[0-9]{8,14}$'),
    ADD CHECK (currency ~ '^[A-Z]{3}$'),
    ADD CHECK (period_end >= period_start),
    ADD CHECK (period_grain IN ('day', 'week', 'month', 'year')),
    ADD CHECK (month BETWEEN 1 AND 12),
    ADD FOREIGN KEY (batch_id) REFERENCES upload_batches (id) ON DELETE CASCADE;
CREATE INDEX ON sellout_before_0117 (batch_id);
CREATE INDEX ON sellout_before_0117 (year, month);
";

/// Swaps the names of `sellout_entries` and `table` (nothing when they are the same).
async fn swap(pool: &sqlx::PgPool, table: &str) -> anyhow::Result<()> {
    if table != "sellout_entries" {
        sqlx::raw_sql(&format!(
            "BEGIN; ALTER TABLE sellout_entries RENAME TO swap_aside; ALTER TABLE {table} RENAME TO sellout_entries; ALTER TABLE swap_aside RENAME TO {table}; COMMIT;"
        ))
        .execute(pool)
        .await?;
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let rows: usize = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let runs: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(3);
    let db = taskifai_tests::pg::TestDb::new().await;
    let pool = db.registry.pool.clone();
    let data = batches(rows);
    let csv_path = std::env::temp_dir().join(format!("{}-bench.csv", db.name));
    {
        let mut w = datafusion::arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(std::fs::File::create(&csv_path)?);
        for b in &data {
            w.write(b)?;
        }
    }
    let columns = schema::columns(Target::Sellout)
        .iter()
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(", ");
    let meta = |id: &str| BatchMeta {
        batch_id: id.into(),
        table: "sellout_entries".into(),
        vendor: "bench".into(),
        spec_version: 1,
        file_name: "bench.csv".into(),
        sha256: "0".repeat(64),
        period_start: String::new(),
        period_end: String::new(),
        rows: 0,
        reference_version: String::new(),
    };
    // The same rows into the table as it was before migration 0117 (a foreign key, regular
    // expressions and two B-trees per row) and into a bare copy (no checks, no indexes).
    sqlx::raw_sql(BEFORE_0117).execute(&pool).await?;
    sqlx::query("CREATE TABLE sellout_bare (LIKE sellout_entries)")
        .execute(&pool)
        .await?;
    let tables = ["sellout_entries", "sellout_before_0117", "sellout_bare"];
    let mut ours: Vec<Vec<f64>> = vec![Vec::new(); tables.len()];
    let mut peer = Vec::new();
    let reset = || async {
        sqlx::query(
            "TRUNCATE sellout_entries, sellout_before_0117, sellout_bare, upload_batches CASCADE",
        )
        .execute(&pool)
        .await
    };
    for run in 0..runs {
        for (i, table) in tables.iter().enumerate() {
            reset().await?;
            // The variant takes the canonical table's name for the load (a batch records
            // which canonical table it went to).
            swap(&pool, table).await?;
            let t = Instant::now();
            let mut load = DbLoad::begin(&pool, &meta("bench"), 0, Default::default()).await?;
            for b in &data {
                load.write(b).await?;
            }
            load.commit().await?;
            ours[i].push(t.elapsed().as_secs_f64());
            swap(&pool, table).await?;
            let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
                .fetch_one(&pool)
                .await?;
            anyhow::ensure!(n as usize == rows, "{table}: {n} rows, expected {rows}");
        }

        reset().await?;
        sqlx::query("INSERT INTO upload_batches (id, file_name, sha256, status) VALUES ('bench', 'bench.csv', repeat('0', 64), 'completed')").execute(&pool).await?;
        let t = Instant::now();
        let status = std::process::Command::new("psql")
            .arg(&db.url)
            .env(
                "PGPASSWORD",
                std::env::var("PGPASSWORD").unwrap_or_else(|_| "postgres".into()),
            )
            .args([
                "-qc",
                &format!(
                    "\\copy sellout_entries ({columns}) FROM '{}' WITH (FORMAT csv, HEADER)",
                    csv_path.display()
                ),
            ])
            .status()?;
        anyhow::ensure!(status.success(), "psql \\copy failed");
        peer.push(t.elapsed().as_secs_f64());
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sellout_entries")
            .fetch_one(&pool)
            .await?;
        anyhow::ensure!(n as usize == rows, "psql loaded {n} rows, expected {rows}");
        eprintln!(
            "run {}: taskifai {:.2} s (before 0117 {:.2} s, bare {:.2} s), psql \\copy {:.2} s",
            run + 1,
            ours[0][run],
            ours[1][run],
            ours[2][run],
            peer[run]
        );
    }
    let rate = |s: f64| format!("{s:.2} s ({:.0} rows/s)", rows as f64 / s);
    let [now, before, bare] = [0, 1, 2].map(|i| median(ours[i].clone()));
    let p = median(peer);
    println!("| rows | taskifai binary COPY | psql \\copy (CSV), same table | ratio (psql / taskifai) | taskifai, table before 0117 | taskifai, bare table |");
    println!("|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {rows} | {} | {} | {:.2} | {} | {} |",
        rate(now),
        rate(p),
        p / now,
        rate(before),
        rate(bare)
    );
    let _ = std::fs::remove_file(&csv_path);
    db.cleanup().await;
    Ok(())
}
