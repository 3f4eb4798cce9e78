//! Criterion micro-benchmarks of the ingest's hot kernels, to guide optimisation: value parsing,
//! CSV decoding into raw batches, normalization of a batch by the bench spec, and Parquet
//! encoding with the lake's settings. `cargo bench -p taskifai-benches --bench kernels`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use datafusion::arrow::record_batch::RecordBatch;
use std::hint::black_box;
use std::io::Write;
use taskifai_engine::values::{
    clean_text, parse_date, parse_decimal, parse_gtin, parse_integer, DecimalSep,
};
use taskifai_tests::repo_path;

const ROWS: usize = 50_000;

/// A bench-format CSV of `ROWS` rows (a fixed, simple mix; the full generator is `gen-bench`).
fn bench_csv() -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new()
        .prefix("bench_kernels_")
        .suffix(".csv")
        .tempfile()
        .unwrap();
    writeln!(f, "Reseller,Store,Country,Product EAN,Product Name,Functional Name,Qty,Unit Price,Currency,Sales Date").unwrap();
    let currencies = ["EUR", "GBP", "CHF", "PLN", "SEK", "USD"];
    for i in 0..ROWS {
        writeln!(
            f,
            "Reseller {},Store {},{},73501543{:05},\"Eau de Parfum, {} ml\",BB{:03},{},{}.{:02},{},{:02}/{:02}/2025",
            i % 37, i % 211, ["fr", "de", "pl", "se"][i % 4], i % 97, 50 + i % 3 * 25, i % 97, 1 + i % 5, 10 + i % 190, i % 100, currencies[i % 6], 1 + i % 28, 1 + i % 12
        )
        .unwrap();
    }
    f.flush().unwrap();
    f
}

fn values(c: &mut Criterion) {
    let prices: Vec<String> = (0..2048)
        .map(|i| format!("{}.{:02}", 10 + i % 190, i % 100))
        .collect();
    let eans: Vec<String> = (0..2048)
        .map(|i| format!("73501543{:05}", i % 97))
        .collect();
    let dates: Vec<String> = (0..2048)
        .map(|i| format!("{:02}/{:02}/2025", 1 + i % 28, 1 + i % 12))
        .collect();
    let formats = vec!["%d/%m/%Y".to_owned()];
    let mut g = c.benchmark_group("values");
    g.throughput(Throughput::Elements(2048));
    g.bench_function("parse_decimal", |b| {
        b.iter(|| {
            prices
                .iter()
                .map(|p| parse_decimal(black_box(p), 4, DecimalSep::Auto).unwrap_or(0))
                .sum::<i128>()
        })
    });
    g.bench_function("parse_integer", |b| {
        b.iter(|| {
            prices
                .iter()
                .map(|p| parse_integer(black_box(&p[..2]), DecimalSep::Auto).unwrap_or(0))
                .sum::<i64>()
        })
    });
    g.bench_function("parse_gtin", |b| {
        b.iter(|| {
            eans.iter()
                .filter(|e| parse_gtin(black_box(e), false).is_ok())
                .count()
        })
    });
    g.bench_function("parse_date", |b| {
        b.iter(|| {
            dates
                .iter()
                .filter(|d| parse_date(black_box(d), &formats).is_ok())
                .count()
        })
    });
    g.bench_function("clean_text", |b| {
        b.iter(|| {
            prices
                .iter()
                .map(|p| clean_text(black_box(p)).len())
                .sum::<usize>()
        })
    });
    g.finish();
}

fn read_all(path: &std::path::Path) -> Vec<RecordBatch> {
    let mut wb = taskifai_connectors::readers::open(path, "bench_kernels_2025.csv").unwrap();
    wb.stream(0).unwrap().map(Result::unwrap).collect()
}

fn file_stages(c: &mut Criterion) {
    let csv = bench_csv();
    let spec = taskifai_tests::specs()
        .get("bench")
        .cloned()
        .expect("the bench spec");
    let reference =
        taskifai_connectors::reference::load_dir(&repo_path("benches/reference")).unwrap();
    let mut g = c.benchmark_group("file");
    g.throughput(Throughput::Elements(ROWS as u64));
    g.sample_size(10);
    g.bench_function(BenchmarkId::new("csv_decode", ROWS), |b| {
        b.iter(|| read_all(csv.path()).len())
    });
    let mut normalized = Vec::new();
    g.bench_function(BenchmarkId::new("read_and_normalize", ROWS), |b| {
        b.iter(|| {
            let mut wb =
                taskifai_connectors::readers::open(csv.path(), "bench_kernels_2025.csv").unwrap();
            normalized.clear();
            taskifai_engine::pipeline::run(
                wb.as_mut(),
                &spec,
                &reference,
                "bench",
                &mut |b| {
                    normalized.push(b.clone());
                    Ok(())
                },
                &mut |_| {},
            )
            .unwrap()
        })
    });
    g.bench_function(BenchmarkId::new("parquet_encode", ROWS), |b| {
        b.iter(|| {
            let props = taskifai_connectors::lake::writer_props();
            let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(
                Vec::new(),
                normalized[0].schema(),
                Some(props),
            )
            .unwrap();
            for batch in &normalized {
                w.write(batch).unwrap();
            }
            w.into_inner().unwrap().len()
        })
    });
    g.finish();
}

criterion_group!(kernels, values, file_stages);
criterion_main!(kernels);
