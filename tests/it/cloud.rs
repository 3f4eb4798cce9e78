//! A lake in an S3 bucket: the same loads, duplicates, replacements, queries and deletes as a
//! local one, against moto's S3 server (a local process speaking the S3 protocol; S3 itself is a
//! paid service). `./scripts/test` installs moto and names it in `TASKIFAI_MOTO_SERVER`.

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use futures::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStoreExt, PutMode, PutPayload};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use taskifai_connectors::ingest::{ingest, IngestRequest, Status};
use taskifai_connectors::lake::Lake;
use taskifai_connectors::query_session::tenant_session;
use taskifai_connectors::TenantId;
use taskifai_engine::sql_guard::plan_read_only;
use taskifai_tests::{reference, repo_path, specs};

/// A moto S3 server on a free port, stopped when dropped.
struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    fn start() -> Self {
        let exe = std::env::var("TASKIFAI_MOTO_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|_| repo_path("target/moto/bin/moto_server"));
        assert!(
            exe.exists(),
            "{} is missing: ./scripts/test installs moto (an S3 server for tests)",
            exe.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&exe)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto starts");
        let moto = Self { child, port };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto did not listen on {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// Creates a bucket with a plain HTTP request (moto does not check signatures).
    fn create_bucket(&self, bucket: &str) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(s, "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", self.port).unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        assert!(
            reply.starts_with("HTTP/1.1 200"),
            "bucket not created: {reply}"
        );
    }

    fn options(&self) -> Vec<(String, String)> {
        [
            ("aws_endpoint", format!("http://127.0.0.1:{}", self.port)),
            ("aws_allow_http", "true".into()),
            ("aws_access_key_id", "test".into()),
            ("aws_secret_access_key", "test".into()),
            ("aws_region", "us-east-1".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn load(lake: &Lake, rel: &str) -> Status {
    let path = repo_path(&format!("sample-data/vendors/{rel}"));
    let name = rel.rsplit('/').next().unwrap().to_owned();
    let req = IngestRequest {
        name,
        ..IngestRequest::new(path, &TenantId::demo())
    };
    ingest(
        lake,
        None,
        &specs(),
        Arc::new(reference()),
        req,
        Arc::new(|_| {}),
    )
    .await
    .expect("loads")
    .status
}

async fn count(lake: &Lake, sql: &str) -> i64 {
    let ctx = tenant_session(lake, &TenantId::demo()).await.unwrap();
    let plan = plan_read_only(&ctx, sql, 100).await.unwrap();
    let batches: Vec<RecordBatch> = ctx
        .execute_logical_plan(plan)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

const SKINS_NL: &str = "skins_nl/BIBBIPARFU_ReportPeriod02-2025.xlsx";
const BOXNOX: &str = "boxnox/BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx";

#[tokio::test]
async fn a_lake_in_an_s3_bucket_works_like_a_local_one() {
    let moto = Moto::start();
    moto.create_bucket("taskifai-lake");
    let url = "s3://taskifai-lake/lakes/prod";
    let lake = Lake::open_cloud(url, moto.options()).unwrap();
    assert!(matches!(load(&lake, SKINS_NL).await, Status::Loaded { .. }));
    assert!(matches!(
        load(&lake, SKINS_NL).await,
        Status::Duplicate { .. }
    ));
    assert!(matches!(load(&lake, BOXNOX).await, Status::Loaded { .. }));
    assert_eq!(
        count(&lake, "SELECT count(*) FROM sellout_entries").await,
        7
    );

    // The objects are in the bucket, under the lake's prefix, Hive-partitioned.
    let root = lake.root_store().expect("a cloud lake has a bucket store");
    let keys: Vec<String> = root
        .list(Some(&StorePath::from("lakes/prod/tenant=demo")))
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap();
    assert!(
        keys.iter().any(|k| k
            .starts_with("lakes/prod/tenant=demo/table=sellout_entries/year=2025/month=4/")
            && k.ends_with(".parquet")),
        "{keys:?}"
    );
    assert!(
        keys.iter()
            .any(|k| k.starts_with("lakes/prod/tenant=demo/table=sellout_entries/_delta_log/")),
        "{keys:?}"
    );

    // Commits rely on put-if-absent: the bucket refuses a second writer of the same log entry.
    let entry =
        StorePath::from("tenant=demo/table=sellout_entries/_delta_log/00000000000000000000.json");
    let again = lake
        .store()
        .put_opts(
            &entry,
            PutPayload::from_static(b"{}"),
            PutMode::Create.into(),
        )
        .await;
    assert!(
        matches!(again, Err(object_store::Error::AlreadyExists { .. })),
        "{again:?}"
    );

    // Another process opening the same URL sees the same data through the commit log.
    let other = Lake::open_cloud(url, moto.options()).unwrap();
    assert_eq!(
        count(&other, "SELECT sum(quantity) FROM sellout_entries").await,
        count(&lake, "SELECT sum(quantity) FROM sellout_entries").await
    );

    // delta-rs, from Python, reads the bucket's table and gets TaskifAI's numbers.
    let options = serde_json::json!({
        "AWS_ENDPOINT_URL": format!("http://127.0.0.1:{}", moto.port),
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
    });
    let read = crate::delta_interop::theirs_at(
        "s3://taskifai-lake/lakes/prod/tenant=demo/table=sellout_entries",
        Some(options.clone()),
    );
    assert_eq!(
        crate::delta_interop::as_text(&read["delta_rs"]),
        crate::delta_interop::ours(&lake, "sellout_entries").await
    );

    // A deleted batch leaves the queries and its data files leave the bucket.
    let snap = other.snapshot(&TenantId::demo()).await.unwrap();
    let boxnox = snap
        .batches
        .iter()
        .find(|(_, (m, _))| m.vendor == "boxnox")
        .map(|(id, _)| id.clone())
        .unwrap();
    assert!(other
        .delete_batch(&TenantId::demo(), &boxnox)
        .await
        .unwrap());
    assert_eq!(
        count(&other, "SELECT count(*) FROM sellout_entries").await,
        3
    );
    other
        .vacuum(&TenantId::demo(), Duration::ZERO)
        .await
        .unwrap();
    let keys: Vec<String> = root
        .list(Some(&StorePath::from("lakes/prod/tenant=demo")))
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap();
    assert!(
        !keys
            .iter()
            .any(|k| k.contains("/table=") && k.contains(&boxnox)),
        "{keys:?}"
    );
    assert!(
        keys.iter().any(|k| k.contains("/table=")),
        "the other batch's files stay: {keys:?}"
    );

    // Loads and deletes up to the tenth commit: a checkpoint in the bucket, next to the log.
    while other.snapshot(&TenantId::demo()).await.unwrap().version < 10 {
        load(&other, BOXNOX).await;
        let snap = other.snapshot(&TenantId::demo()).await.unwrap();
        if snap.version < 10 {
            let id = snap
                .batches
                .iter()
                .find(|(_, (m, _))| m.vendor == "boxnox")
                .map(|(id, _)| id.clone())
                .unwrap();
            other.delete_batch(&TenantId::demo(), &id).await.unwrap();
        }
    }
    let checkpoint = StorePath::from(
        "lakes/prod/tenant=demo/table=sellout_entries/_delta_log/00000000000000000009.checkpoint.parquet",
    );
    assert!(
        root.head(&checkpoint).await.is_ok(),
        "no checkpoint in the bucket"
    );

    // Optimize on the bucket: the same numbers for TaskifAI, a new process and delta-rs; then
    // a batch of a merged file deleted and loaded again.
    let live = |s: &taskifai_connectors::lake::Snapshot| {
        s.batches.values().any(|(m, _)| m.vendor == "boxnox")
    };
    if !live(&other.snapshot(&TenantId::demo()).await.unwrap()) {
        assert!(matches!(load(&other, BOXNOX).await, Status::Loaded { .. }));
    }
    let lines = "SELECT count(*) * 1000000 + sum(quantity) FROM sellout_entries";
    let before = count(&other, lines).await;
    let done = other.optimize(&TenantId::demo(), 2).await.unwrap();
    assert_eq!(done.converted, 1, "{done:?}");
    let fresh = Lake::open_cloud(url, moto.options()).unwrap();
    assert_eq!(count(&fresh, lines).await, before);
    let delta_rs = || {
        crate::delta_interop::theirs_at(
            "s3://taskifai-lake/lakes/prod/tenant=demo/table=sellout_entries",
            Some(options.clone()),
        )
    };
    assert_eq!(
        crate::delta_interop::as_text(&delta_rs()["delta_rs"]),
        crate::delta_interop::ours(&other, "sellout_entries").await
    );
    let snap = other.snapshot(&TenantId::demo()).await.unwrap();
    let boxnox = snap
        .batches
        .iter()
        .find(|(_, (m, _))| m.vendor == "boxnox")
        .map(|(id, _)| id.clone())
        .unwrap();
    assert!(other
        .delete_batch(&TenantId::demo(), &boxnox)
        .await
        .unwrap());
    assert!(count(&other, lines).await < before);
    assert!(matches!(load(&other, BOXNOX).await, Status::Loaded { .. }));
    assert_eq!(count(&fresh, lines).await, before);
    assert_eq!(
        crate::delta_interop::as_text(&delta_rs()["delta_rs"]),
        crate::delta_interop::ours(&fresh, "sellout_entries").await
    );
}

#[test]
fn a_cloud_url_without_a_bucket_is_refused_with_the_location() {
    let err = Lake::open_cloud("s3://", vec![])
        .expect_err("refused")
        .to_string();
    assert!(err.contains("s3://"), "{err}");
}
