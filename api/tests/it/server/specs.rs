//! A tenant's own spec versions: refused when they do not compile or their examples fail,
//! used for uploads once activated; and a dry run that stores nothing.

use super::kit::{sample, Options, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use taskifai_connectors::TenantId;
use taskifai_tests::repo_path;

const BOXNOX: &str = "boxnox/BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_spec_version_is_checked_then_activated_and_used() {
    let s = TestServer::start(Options::default()).await;
    let admin = s.admin_token("demo", "admin@bibbi.example").await;
    let member = s
        .user("demo", &admin, "member@bibbi.example", "member")
        .await;
    let list = s.json("demo", &admin, "/api/specs").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 10, "{list}");

    let original = std::fs::read_to_string(repo_path("vendor-specs/boxnox.yaml")).unwrap();
    let v2 = original.replacen("version: 1", "version: 2", 1);
    let post = |token: &str, body: String| {
        s.req(Method::POST, "demo", "/api/specs/boxnox")
            .bearer_auth(token.to_owned())
            .header("content-type", "application/yaml")
            .body(body)
    };

    assert_eq!(
        post(&member, v2.clone()).send().await.unwrap().status(),
        StatusCode::FORBIDDEN,
        "members do not change specs"
    );
    // Vendor names in URLs are ids, never paths, and must be the spec's own vendor.
    for (path, status) in [
        ("/api/specs/..%2F..%2Fbench", StatusCode::BAD_REQUEST),
        ("/api/specs/Bench", StatusCode::BAD_REQUEST),
        ("/api/specs/cdlc", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let res = s
            .req(Method::POST, "demo", path)
            .bearer_auth(&admin)
            .header("content-type", "application/yaml")
            .body(v2.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            status,
            "{path}: {}",
            res.text().await.unwrap()
        );
    }
    let broken = v2.replacen("examples:", "examples: [", 1);
    let res = post(&admin, broken).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("boxnox.yaml:"),
        "errors carry line and column: {body}"
    );
    let wrong_example = v2.replacen(
        "quantity: 2, sales_local: 390.5",
        "quantity: 3, sales_local: 390.5",
        1,
    );
    let res = post(&admin, wrong_example).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "spec_examples_failed", "{body}");

    assert_eq!(
        post(&admin, v2.clone()).send().await.unwrap().status(),
        StatusCode::CREATED
    );
    assert_eq!(
        post(&admin, v2).send().await.unwrap().status(),
        StatusCode::CONFLICT,
        "a version is stored once"
    );
    let up: Vec<Value> = s
        .upload("demo", &admin, &[sample(BOXNOX)], &[])
        .await
        .json()
        .await
        .unwrap();
    let before = s.wait("demo", &admin, up[0]["id"].as_str().unwrap()).await;
    assert_eq!(
        before["spec_version"], 1,
        "stored but not active: the platform's spec is used"
    );

    let res = s
        .req(
            Method::POST,
            "demo",
            "/api/specs/boxnox/versions/2/activate",
        )
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let spec = s.json("demo", &admin, "/api/specs/boxnox").await;
    assert_eq!(spec["source"], "tenant");
    assert_eq!(spec["version"], 2);
    // The same content is a duplicate; a retry of the replaced month with the new spec needs new bytes.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir
        .path()
        .join("BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx");
    let mut bytes = std::fs::read(sample(BOXNOX)).unwrap();
    bytes.extend_from_slice(b"\0"); // trailing bytes after the zip's end are ignored by readers
    std::fs::write(&copy, bytes).unwrap();
    let up: Vec<Value> = s
        .upload("demo", &admin, &[copy], &[])
        .await
        .json()
        .await
        .unwrap();
    let after = s.wait("demo", &admin, up[0]["id"].as_str().unwrap()).await;
    assert_eq!(after["spec_version"], 2, "{after}");
    assert_eq!(after["rows_accepted"], 4);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_reports_what_a_load_would_do_and_stores_nothing() {
    let s = TestServer::start(Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let token = s.admin_token("demo", "admin@bibbi.example").await;
    let bytes = std::fs::read(sample(BOXNOX)).unwrap();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes)
            .file_name("BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx"),
    );
    let res = s
        .req(Method::POST, "demo", "/api/specs/dry-run")
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["vendor"], "boxnox");
    assert_eq!(v["rows_accepted"], 4);
    assert_eq!(v["rows_rejected"], 1);
    assert_eq!(v["sales_eur"], "975.000000");
    assert_eq!(v["issues"][0]["value"], "7.35015E+12", "{v}");
    assert_eq!(v["period"]["start"], "2025-04-01");

    let pdf = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"%PDF-1.4 not a sheet".to_vec()).file_name("april.xlsx"),
    );
    let res = s
        .req(Method::POST, "demo", "/api/specs/dry-run")
        .bearer_auth(&token)
        .multipart(pdf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("april.xlsx"));

    let batches: i64 = sqlx::query_scalar("SELECT count(*) FROM upload_batches")
        .fetch_one(&s.db.registry.pool)
        .await
        .unwrap();
    assert_eq!(batches, 0);
    assert!(s
        .state
        .lake
        .snapshot(&TenantId::demo())
        .await
        .unwrap()
        .batches
        .is_empty());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_chooses_to_keep_rows_of_unknown_products() {
    let s = TestServer::start(Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = s.admin_token("demo", "admin@bibbi.example").await;
    let member = s
        .user("demo", &admin, "member@bibbi.example", "member")
        .await;
    let before = s
        .dry_run(&admin, "galilu/BIbbi_sellout_Galilu_2025.xlsx")
        .await;
    assert_eq!(before["rows_rejected"], 1, "{before}");
    assert_eq!(
        s.json("demo", &member, "/api/settings/unmatched").await,
        serde_json::json!({ "unknown_product": null, "missing_price": null, "missing_fx_rate": null })
    );

    let put = |token: &str, body: Value| {
        s.req(Method::PUT, "demo", "/api/settings/unmatched")
            .bearer_auth(token.to_owned())
            .json(&body)
    };
    let keep = serde_json::json!({ "unknown_product": "keep" });
    let res = put(&member, keep.clone()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "only admins set it");
    let res = put(&admin, serde_json::json!({ "unknown_product": "ignore" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = put(&admin, keep).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let after = s
        .dry_run(&admin, "galilu/BIbbi_sellout_Galilu_2025.xlsx")
        .await;
    assert_eq!(after["rows_rejected"], 0, "{after}");
    assert_eq!(
        after["rows_accepted"].as_i64().unwrap(),
        before["rows_accepted"].as_i64().unwrap() + 1
    );
    let warned = after["issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["rule"] == "unknown_product")
        .unwrap_or_else(|| panic!("a warning for the kept row: {after}"));
    assert_eq!(warned["severity"], "warn");
    assert_eq!(warned["value"], "BIBBI Nowy zapach woda perfumowana 50 ml");
    s.stop().await;
}
