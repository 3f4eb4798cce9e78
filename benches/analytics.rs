//! Analytics at scale: a tenant with ROWS sell-out lines in BATCHES batches over 36 months
//! (28 resellers, one file a month each; a quarter of them date every line, the others send
//! monthly totals per store and product), served over HTTP while 32 clients ask questions not
//! asked before (the answer cache cannot help), alone and while uploads are being loaded; and
//! DuckDB over the same Parquet files in the same run as the peer. Needs `DATABASE_URL`.
//!
//! `cargo bench -p taskifai-benches --bench analytics -- [ROWS] [BATCHES] [CLIENTS] [SECONDS]`
//! (defaults 10000000 1008 32 10). The lake is generated once into
//! `target/bench-analytics/<rows>-<batches>` and reused.

mod bench_args;
mod common;

use common::{hammer, hammer_units, Make, Server};
use datafusion::arrow::array::{
    ArrayRef, Date32Array, Decimal128Array, Int32Array, Int64Array, StringArray, UInt32Array,
};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use taskifai_connectors::lake::{BatchMeta, Lake};
use taskifai_connectors::TenantId;
use taskifai_engine::schema;
use taskifai_engine::spec::Target;
use taskifai_engine::xorshift::XorShift;
use taskifai_tests::repo_path;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const RESELLERS: usize = 28;
const MONTHS: usize = 36;
const PRODUCTS: usize = 100;
const COUNTRIES: [&str; 6] = ["SE", "DE", "GB", "FR", "PL", "DK"];

/// Days since 1970-01-01 of the first of month `m` counted from January 2023.
fn first_of(m: usize) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2023 + (m / 12) as i32, (m % 12) as u32 + 1, 1).unwrap()
}

fn days(d: chrono::NaiveDate) -> i32 {
    (d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
}

/// One reseller's file for one month, as canonical rows.
fn batch_rows(r: usize, m: usize, rows: usize, id: &str, seed: u64) -> RecordBatch {
    let target = schema::schema(Target::Sellout);
    let mut rng = XorShift::new(seed);
    let start = first_of(m);
    let end = first_of(m + 1).pred_opt().unwrap();
    let daily = r.is_multiple_of(4);
    let stores = rows.div_ceil(PRODUCTS);
    let (mut store, mut product, mut qty, mut eur, mut date) = (
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
    );
    for i in 0..rows {
        let (s, p) = if daily {
            (
                rng.below(stores as u64) as usize,
                rng.below(PRODUCTS as u64) as usize,
            )
        } else {
            (i / PRODUCTS, i % PRODUCTS)
        };
        store.push(format!("Store {r}-{s}"));
        product.push(p);
        let q = rng.below(5) as i64 + 1;
        let q = if rng.below(50) == 0 { -q } else { q };
        qty.push(q);
        eur.push(q as i128 * (500 + rng.below(25_000) as i128) * 10_000);
        date.push(
            daily.then(|| days(start) + rng.below((end - start).num_days() as u64 + 1) as i32),
        );
    }
    let n = rows;
    let text = |v: &str| Arc::new(StringArray::from(vec![v; n])) as ArrayRef;
    let columns: Vec<ArrayRef> = target
        .fields()
        .iter()
        .map(|f| -> ArrayRef {
            let decimal = |values: Vec<Option<i128>>| -> ArrayRef {
                let DataType::Decimal128(p, s) = f.data_type() else {
                    unreachable!("{f:?}")
                };
                Arc::new(
                    Decimal128Array::from(values)
                        .with_precision_and_scale(*p, *s)
                        .unwrap(),
                )
            };
            match f.name().as_str() {
                "reseller" => text(&format!("Reseller {r:02}")),
                "store" => Arc::new(StringArray::from(store.clone())),
                "channel" => text("retail"),
                "country" => text(COUNTRIES[r % COUNTRIES.len()]),
                "product_ean" => Arc::new(StringArray::from(
                    product
                        .iter()
                        .map(|p| format!("73501543{p:05}"))
                        .collect::<Vec<_>>(),
                )),
                "functional_name" => Arc::new(StringArray::from(
                    product
                        .iter()
                        .map(|p| format!("P{p:03}"))
                        .collect::<Vec<_>>(),
                )),
                "quantity" => Arc::new(Int64Array::from(qty.clone())),
                "currency" => text("EUR"),
                "unit_price" | "sales_local" => {
                    decimal(eur.iter().map(|e| Some(e / 100)).collect())
                }
                "fx_rate" => decimal(vec![Some(1_000_000); n]),
                "sales_eur" => decimal(eur.iter().map(|&e| Some(e)).collect()),
                "sale_date" => Arc::new(Date32Array::from(date.clone())),
                "period_start" => Arc::new(Date32Array::from(vec![days(start); n])),
                "period_end" => Arc::new(Date32Array::from(vec![days(end); n])),
                "period_grain" => text("month"),
                "year" => Arc::new(Int32Array::from(vec![2023 + (m / 12) as i32; n])),
                "month" => Arc::new(Int32Array::from(vec![(m % 12) as i32 + 1; n])),
                "batch_id" => text(id),
                "source_file" => text(&format!("reseller-{r}-{m}.xlsx")),
                "spec_name" => text("bench"),
                "spec_version" | "source_row" => Arc::new(UInt32Array::from(
                    (0..n as u32)
                        .map(|i| if f.name() == "spec_version" { 1 } else { i + 2 })
                        .collect::<Vec<_>>(),
                )),
                _ => datafusion::arrow::array::new_null_array(f.data_type(), n),
            }
        })
        .collect();
    RecordBatch::try_new(target, columns).unwrap()
}

/// Writes the tenant's lake unless a complete one is there.
async fn lake(dir: &Path, rows: usize, batches: usize) -> anyhow::Result<Lake> {
    let done = dir.join("complete");
    if done.exists() {
        let lake = Lake::open(dir.join("lake").to_str().unwrap())?;
        // An earlier run's uploads went into the same lake: back to the generated batches.
        let snap = lake.snapshot(&TenantId::demo()).await?;
        for id in snap.batches.keys().filter(|id| !id.starts_with("bench-")) {
            lake.delete_batch(&TenantId::demo(), id).await?;
        }
        return Ok(lake);
    }
    let _ = std::fs::remove_dir_all(dir);
    let lake = Lake::open(dir.join("lake").to_str().unwrap())?;
    let tenant = TenantId::demo();
    let started = Instant::now();
    for b in 0..batches {
        let (r, m) = (b % RESELLERS, (b / RESELLERS) % MONTHS);
        let id = format!("bench-{b:05}");
        let batch = batch_rows(r, m, rows / batches, &id, b as u64 + 1);
        let meta = BatchMeta {
            batch_id: id.clone(),
            table: schema::SELLOUT.into(),
            vendor: format!("reseller-{r}"),
            spec_version: 1,
            file_name: format!("reseller-{r}-{m}.xlsx"),
            // Distinct and well formed: the database records every batch.
            sha256: format!("{:064x}", b + 1),
            period_start: first_of(m).to_string(),
            period_end: first_of(m + 1).pred_opt().unwrap().to_string(),
            rows: 0,
            reference_version: String::new(),
        };
        let mut staged = lake.begin(&tenant, meta, batch.schema()).await?;
        // More batches than resellers x months append beside the earlier ones.
        staged.append();
        staged.write(&batch).await?;
        staged.commit().await?;
    }
    eprintln!(
        "wrote {rows} rows in {batches} batches in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    std::fs::write(done, "")?;
    Ok(lake)
}

/// The analytics page's requests for one window.
fn page(window: &str) -> Vec<String> {
    PAGE.iter()
        .map(|e| format!("/api/analytics/{e}?{window}"))
        .collect()
}

/// A window not asked before for request `i`: its first day moves a day at a time through the
/// data, and it runs one to twelve months.
fn window(i: usize) -> String {
    let (from, to) = window_dates(i);
    format!("from={from}&to={to}")
}

/// Window `i` is unlike every other below 630,000: it starts `i % 900` days into the data and
/// runs `28 + i / 900 % 700` days.
fn window_dates(i: usize) -> (chrono::NaiveDate, chrono::NaiveDate) {
    let from = first_of(0) + chrono::Duration::days((i % 900) as i64);
    (
        from,
        from + chrono::Duration::days(28 + (i / 900 % 700) as i64),
    )
}

/// A number per request unique within a phase ([`common::hammer_units`] numbers client `c`'s
/// `n`th unit `c * 1_000_000 + n`), offset per phase so no phase asks what another asked.
fn unique(unit: usize, phase: usize) -> usize {
    (unit % 1_000_000) * 64 + unit / 1_000_000 + phase * 60_000
}

/// The analytics page's endpoints (`api/web/src/pages/Analytics.svelte`); the peer answers
/// all but the last.
const PAGE: [&str; 7] = [
    "kpis",
    "timeseries",
    "top-products",
    "top-resellers",
    "top-markets",
    "top-stores",
    "channel-mix",
];
const KINDS: &[&str] = PAGE.split_at(6).0;

/// One client, one request at a time: the median of each kind over windows `1..=n`, in ms.
async fn alone(server: &Server, n: usize) -> anyhow::Result<Vec<f64>> {
    let mut out = Vec::new();
    for kind in KINDS {
        let mut times = Vec::new();
        for i in 1..=n {
            let t = Instant::now();
            let r = server
                .get(&format!("/api/analytics/{kind}?{}", window(unique(i, 9))))
                .send()
                .await?;
            anyhow::ensure!(r.status().is_success(), "{kind} failed");
            r.bytes().await?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        out.push(times[times.len() / 2]);
    }
    Ok(out)
}

/// DuckDB over the same files and windows (`benches/peers/analytics_duckdb.py`), when a Python
/// with duckdb is at hand (`TASKIFAI_TEST_PYTHON`, or the venv `benches/run.sh` makes).
fn peer(lake: &Path, n: usize) -> Option<Value> {
    let python = std::env::var("TASKIFAI_TEST_PYTHON")
        .ok()
        .unwrap_or_else(|| {
            repo_path("benches/out/venv/bin/python")
                .display()
                .to_string()
        });
    let windows: Vec<[String; 2]> = (0..=n)
        .map(|i| {
            let (a, b) = window_dates(unique(i, 9));
            [a.to_string(), b.to_string()]
        })
        .collect();
    let out = std::process::Command::new(python)
        .arg(repo_path("benches/peers/analytics_duckdb.py"))
        .arg(lake)
        .arg(serde_json::to_string(&windows).ok()?)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "the DuckDB peer failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// CPU seconds used so far by this process and by PostgreSQL's processes (Linux's `/proc`;
/// backends that exited are not counted).
fn cpu_seconds() -> (f64, f64) {
    // utime and stime, in clock ticks (100 a second on Linux).
    let read = |stat: &str| -> Option<(String, f64)> {
        let close = stat.rfind(')')?;
        let comm = stat.get(stat.find('(')? + 1..close)?.to_owned();
        let fields: Vec<&str> = stat.get(close + 2..)?.split(' ').collect();
        let ticks: f64 =
            fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        Some((comm, ticks / 100.0))
    };
    let own = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| read(&s))
        .map_or(0.0, |x| x.1);
    let postgres = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter_map(|s| read(&s))
        .filter(|(comm, _)| comm.starts_with("postgres"))
        .map(|(_, secs)| secs)
        .sum();
    (own, postgres)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let [rows, batches, clients, seconds] = bench_args::numbers([10_000_000, 1008, 32, 10]);
    // Server errors go to stderr (RUST_LOG narrows or widens).
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let seconds = seconds as u64;
    let dir = bench_args::analytics_lake(rows, batches);
    let mut lake = lake(&dir, rows, batches).await?;
    // ANALYTICS_OPTIMIZE=1: the same tenant after `lake optimize` (on a copy; results printed,
    // not written to ANALYTICS_RESULTS.md).
    let optimized = std::env::var("ANALYTICS_OPTIMIZE").is_ok_and(|v| v == "1");
    if optimized {
        let copy = dir.with_extension("optimized");
        let _ = std::fs::remove_dir_all(&copy);
        bench_args::copy_dir(&dir.join("lake"), &copy)?;
        lake = Lake::open(copy.to_str().expect("a UTF-8 path"))?;
        let t = Instant::now();
        let done = lake.optimize(&TenantId::demo(), 2).await?;
        eprintln!(
            "optimized: {} files became {} in {:.1} s",
            done.files_before,
            done.files_after,
            t.elapsed().as_secs_f64()
        );
    }
    let server = Arc::new(Server::start(lake.clone(), clients, 2).await?);
    // The tenant database gets the lake's batches as a repair would copy them in (every upload
    // repairs the database first): otherwise the first upload of the run would.
    let t = Instant::now();
    let synced = taskifai_connectors::postgres::load::sync_from_lake(
        &server.db.registry.pool,
        &lake,
        &TenantId::demo(),
    )
    .await?;
    let db_load = format!(
        "The database got the lake's {} batches ({rows} rows, binary COPY from the Parquet files) in {:.1} s.\n\n",
        synced.loaded.len(),
        t.elapsed().as_secs_f64()
    );
    eprint!("{db_load}");

    let mut out = format!(
        "# Analytics at scale\n\n{rows} sell-out lines in {batches} batches over {MONTHS} months, {clients} clients, {seconds} s per phase, over HTTP on loopback. Every request asks a window not asked before, so the answer cache never helps. Machine: {} cores.\n\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    out.push_str(&db_load);
    // The first page after a start: the rollups are built from every line.
    let t = Instant::now();
    let first = futures::future::join_all(page("").iter().map(|p| server.get(p).send())).await;
    let cold = t.elapsed().as_secs_f64() * 1000.0;
    for r in first {
        let r = r?;
        if !r.status().is_success() {
            anyhow::bail!("the first page failed: {} {}", r.status(), r.text().await?);
        }
    }
    let kpis: Value = server
        .get(&format!("/api/analytics/kpis?{}", window(0)))
        .send()
        .await?
        .json()
        .await?;
    out.push_str(&format!(
        "The first analytics page after the server started (builds the rollups): {cold:.0} ms. KPIs of one window: revenue {} EUR, {} units.\n\n| phase | requests | errors | p50 ms | p99 ms | max ms | req/s |\n|---|---|---|---|---|---|---|\n",
        kpis["revenue_eur"], kpis["units"]
    ));
    // ANALYTICS_PHASES=busy: only the page while uploads load (to profile it; ANALYTICS_PERF=FILE
    // records that phase with `perf record`).
    let only_busy = std::env::var("ANALYTICS_PHASES").is_ok_and(|p| p == "busy");
    let (ours, theirs) = if only_busy {
        (vec![], None)
    } else {
        (alone(&server, 20).await?, peer(&dir.join("lake"), 20))
    };
    let mut peers = String::from("\nOne client, one request at a time, 20 windows not asked before; DuckDB over the same Parquet files with the same queries (cold: a new connection's first request).\n\n| request | TaskifAI p50 ms | DuckDB cold ms | DuckDB warm p50 ms | DuckDB warm / TaskifAI |\n|---|---|---|---|---|\n");
    for (kind, ms) in KINDS.iter().zip(&ours) {
        let p = theirs.as_ref().map(|t| &t[kind]);
        let num = |k: &str| p.and_then(|p| p[k].as_f64());
        peers.push_str(&format!(
            "| {kind} | {ms:.1} | {} | {} | {} |\n",
            num("cold_ms").map_or("-".into(), |v| format!("{v:.1}")),
            num("warm_p50_ms").map_or("-".into(), |v| format!("{v:.1}")),
            num("warm_p50_ms").map_or("-".into(), |v| format!("{:.1}x", v / ms)),
        ));
    }
    let endpoint = |e: &'static str, phase: usize| -> Make {
        let server = server.clone();
        Arc::new(move |i| server.get(&format!("/api/analytics/{e}?{}", window(unique(i, phase)))))
    };
    let whole_page = |phase: usize| -> Make {
        let server = server.clone();
        Arc::new(move |i| server.get(&page(&window(unique(i / 7, phase)))[i % 7]))
    };
    let mut stats = Vec::new();
    for (phase, e) in PAGE.iter().enumerate().filter(|_| !only_busy) {
        stats.push(hammer(e, clients, seconds, usize::MAX, endpoint(e, phase)).await);
    }
    if !only_busy {
        stats.push(
            hammer_units(
                "the whole page (7 requests at once)",
                clients,
                seconds,
                usize::MAX,
                7,
                whole_page(7),
            )
            .await,
        );
    }
    let perf = std::env::var("ANALYTICS_PERF").ok().map(|file| {
        std::process::Command::new("perf")
            .args(["record", "-F", "499", "-o", &file, "-p"])
            .arg(std::process::id().to_string())
            .args(["--", "sleep", &seconds.to_string()])
            .spawn()
    });
    let (cpu, t) = (cpu_seconds(), Instant::now());
    let (mut busy, up) = tokio::join!(
        hammer_units(
            "the whole page while uploads are loaded",
            clients,
            seconds,
            usize::MAX,
            7,
            whole_page(8)
        ),
        hammer(
            "uploads during the page phase",
            4,
            seconds,
            200,
            server.uploads()
        )
    );
    if let Some(Ok(mut p)) = perf {
        let _ = p.wait();
    }
    let (own, pg) = cpu_seconds();
    let cpu_line = format!(
        "\nCPU during the page phase while uploads load ({:.1} s of wall time, {} cores): this process (server and workers) {:.1} s, PostgreSQL {:.1} s.\n",
        t.elapsed().as_secs_f64(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        own - cpu.0,
        pg - cpu.1
    );
    eprint!("{cpu_line}");
    busy.name = format!("{} ({} uploads queued)", busy.name, up.latencies.len());
    stats.push(busy);
    for s in &mut stats {
        out.push_str(&s.row());
        out.push('\n');
    }
    out.push_str(&cpu_line);
    server.wait_idle().await;
    out.push_str(&peers);
    println!("{out}");
    if !only_busy && !optimized {
        std::fs::write(repo_path("benches/ANALYTICS_RESULTS.md"), &out)?;
    }
    if let Ok(server) = Arc::try_unwrap(server) {
        server.stop().await;
    }
    Ok(())
}
