//! A brand team's journey: sign up, upload every sample, follow the jobs, read the numbers,
//! download an error report, delete a batch and see the numbers drop.

use super::kit::{micros, sample, Options, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use taskifai_tests::SAMPLE_TOTALS;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_become_kpis_that_match_the_sample_totals_and_deleting_one_takes_it_out() {
    let s = TestServer::start(Options::default()).await;
    let session = s.register("demo", "owner@bibbi.example").await;
    let token = session["access_token"].as_str().unwrap().to_owned();

    let files: Vec<_> = SAMPLE_TOTALS.iter().map(|t| sample(t.0)).collect();
    let res = s
        .upload("demo", &token, &files, &[("mode", "replace")])
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let accepted: Vec<Value> = res.json().await.unwrap();
    assert_eq!(accepted.len(), SAMPLE_TOTALS.len());

    let (mut revenue, mut units) = (0i128, 0i64);
    let mut by_file = std::collections::HashMap::new();
    for (a, (file, ok, rejected, quantity, _, eur)) in accepted.iter().zip(SAMPLE_TOTALS) {
        assert_eq!(a["status"], "pending", "{a}");
        let done = s.wait("demo", &token, a["id"].as_str().unwrap()).await;
        assert_eq!(
            done["rows_accepted"].as_i64().unwrap() as usize,
            ok,
            "{file}: {done}"
        );
        assert_eq!(
            done["rows_rejected"].as_i64().unwrap() as usize,
            rejected,
            "{file}"
        );
        assert_eq!(done["sales_eur"].as_str(), Some(eur), "{file}: {done}");
        assert_eq!(done["job"]["status"], "done");
        revenue += micros(eur);
        units += quantity;
        by_file.insert(file, done);
    }

    let kpis = s.json("demo", &token, "/api/analytics/kpis").await;
    assert_eq!(
        micros(kpis["revenue_eur"].as_str().unwrap()),
        revenue,
        "{kpis}"
    );
    assert_eq!(kpis["units"].as_i64().unwrap(), units);
    assert!(kpis["active_resellers"].as_i64().unwrap() >= 8, "{kpis}");
    let channels = kpis["channels"].as_array().unwrap();
    let channel_sum: i128 = channels
        .iter()
        .map(|c| micros(c["revenue_eur"].as_str().unwrap()))
        .sum();
    assert_eq!(
        channel_sum, revenue,
        "online and offline add up to the whole"
    );

    // The same bytes again are answered at once, not processed again.
    let again: Vec<Value> = s
        .upload("demo", &token, &files[..1], &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again[0]["status"], "duplicate");
    assert_eq!(again[0]["duplicate_of"], accepted[0]["id"]);

    // The error report of the file with a damaged EAN, as JSON, CSV and XLSX.
    let boxnox = by_file
        .iter()
        .find(|(f, _)| f.starts_with("boxnox"))
        .map(|(_, v)| v.clone())
        .unwrap();
    let id = boxnox["id"].as_str().unwrap();
    let page = s
        .json("demo", &token, &format!("/api/uploads/{id}/errors"))
        .await;
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["raw_value"], "7.35015E+12");
    assert_eq!(page["items"][0]["source_row"], 9);
    let csv = s
        .get(
            "demo",
            &token,
            &format!("/api/uploads/{id}/errors?format=csv"),
        )
        .send()
        .await
        .unwrap();
    assert!(csv.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains(".errors.csv"));
    let csv = csv.text().await.unwrap();
    assert!(
        csv.starts_with("file,sheet,source_row,column,raw_value,rule,severity,message"),
        "{csv}"
    );
    assert!(csv.contains("7.35015E+12"), "{csv}");
    let xlsx = s
        .get(
            "demo",
            &token,
            &format!("/api/uploads/{id}/errors?format=xlsx"),
        )
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&xlsx[..2], b"PK", "an XLSX is a zip");

    // Delete it: the numbers drop by exactly its share, in the lake and in the database.
    let res = s
        .req(Method::DELETE, "demo", &format!("/api/uploads/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let after = s.json("demo", &token, "/api/analytics/kpis").await;
    assert_eq!(
        micros(after["revenue_eur"].as_str().unwrap()),
        revenue - micros(boxnox["sales_eur"].as_str().unwrap())
    );
    assert_eq!(
        s.get("demo", &token, &format!("/api/uploads/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM sellout_entries WHERE batch_id = $1")
        .bind(id)
        .fetch_one(&s.db.registry.pool)
        .await
        .unwrap();
    assert_eq!(rows, 0);

    let list = s
        .json("demo", &token, "/api/uploads?per_page=5&page=2")
        .await;
    assert_eq!(list["total"], SAMPLE_TOTALS.len() as i64 - 1);
    assert_eq!(list["items"].as_array().unwrap().len(), 3);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_filter_rank_and_page_and_events_end_with_done() {
    let s = TestServer::start(Options::default()).await;
    let token = s.admin_token("demo", "analyst@bibbi.example").await;
    let files = [
        sample("cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx"),
        sample("online/BIBBI Online Orders 2025-04.xlsx"),
    ];
    let accepted: Vec<Value> = s
        .upload("demo", &token, &files, &[])
        .await
        .json()
        .await
        .unwrap();
    // Server-sent events: progress, then exactly one `done` carrying the final state.
    let body = s
        .get(
            "demo",
            &token,
            &format!(
                "/api/uploads/{}/events",
                accepted[0]["id"].as_str().unwrap()
            ),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("event: done"), "{body}");
    assert!(body.contains("\"status\":\"completed\""), "{body}");
    for a in &accepted {
        s.wait("demo", &token, a["id"].as_str().unwrap()).await;
    }

    let online = s
        .json("demo", &token, "/api/analytics/kpis?channel=online")
        .await;
    let all = s.json("demo", &token, "/api/analytics/kpis").await;
    assert!(
        micros(online["revenue_eur"].as_str().unwrap())
            < micros(all["revenue_eur"].as_str().unwrap())
    );
    assert_eq!(all["window"]["from"], "2025-04-01", "{all}");
    assert_eq!(all["window"]["to"], "2025-04-30");
    assert_eq!(all["previous_period"]["window"]["to"], "2025-03-31");

    let top = s
        .json("demo", &token, "/api/analytics/top-resellers?limit=1")
        .await;
    assert_eq!(top["items"].as_array().unwrap().len(), 1);
    let series = s
        .json("demo", &token, "/api/analytics/timeseries?bucket=month")
        .await;
    let series_total: i128 = series["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| micros(p["revenue_eur"].as_str().unwrap()))
        .sum();
    assert_eq!(series_total, micros(all["revenue_eur"].as_str().unwrap()));
    let page = s
        .json("demo", &token, "/api/analytics/sales?per_page=2&page=1")
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let empty = s
        .json(
            "demo",
            &token,
            "/api/analytics/kpis?from=2020-01-01&to=2020-01-31",
        )
        .await;
    assert_eq!(micros(empty["revenue_eur"].as_str().unwrap()), 0);

    let bad = s
        .get("demo", &token, "/api/analytics/kpis?range=fortnight")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("unknown range"));

    let q: Value = s.req(Method::POST, "demo", "/api/query").bearer_auth(&token).json(&serde_json::json!({ "sql": "SELECT count(*) AS n FROM sellout_entries", "max_rows": 5 })).send().await.unwrap().json().await.unwrap();
    assert_eq!(q["rows"][0]["n"], 6, "{q}");
    // Time travel: the lake before any load, and a version that does not exist yet.
    let latest = q["lake_version"]
        .as_u64()
        .expect("the version that answered");
    assert!(latest >= 1, "{q}");
    let ask = |as_of: &str| {
        s.req(Method::POST, "demo", "/api/query")
            .bearer_auth(&token)
            .json(&serde_json::json!({ "sql": "SELECT count(*) AS n FROM sellout_entries", "as_of": as_of }))
            .send()
    };
    let before: Value = ask("0").await.unwrap().json().await.unwrap();
    assert_eq!(
        (
            before["rows"][0]["n"].as_i64(),
            before["lake_version"].as_u64()
        ),
        (Some(0), Some(0)),
        "{before}"
    );
    let ahead = ask(&(latest + 1).to_string()).await.unwrap();
    assert_eq!(ahead.status(), StatusCode::BAD_REQUEST);
    assert!(ahead.text().await.unwrap().contains("no version"));
    let nonsense = ask("yesterday").await.unwrap();
    assert_eq!(nonsense.status(), StatusCode::BAD_REQUEST);
    assert!(nonsense.text().await.unwrap().contains("RFC 3339"));
    let capped: Value = s
        .req(Method::POST, "demo", "/api/query")
        .bearer_auth(&token)
        .json(&serde_json::json!({ "sql": "SELECT * FROM sellout_entries", "max_rows": 2 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(capped["row_count"], 2);
    assert_eq!(capped["truncated"], true);

    let spec = s
        .client
        .get(format!("{}/api/openapi.json", s.base))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert!(
        spec["paths"]["/api/uploads"].is_object(),
        "the OpenAPI document lists the routes"
    );
    let metrics = s
        .client
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("taskifai_jobs_total{outcome=\"done\"} 2"),
        "{metrics}"
    );
    s.stop().await;
}

/// #19.6 for uploads: a file whose name, cells and properties carry no period is refused, and
/// loads with the upload's `period` field; a bad period is a 400 naming the expected forms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_gives_the_period_of_a_file_that_has_none() {
    let s = TestServer::start(Options::default()).await;
    let token = s.admin_token("demo", "owner@bibbi.example").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("BOXNOX - BIBBI Monthly Sales Report.csv");
    std::fs::write(&file, "YEAR;MONTH;CHANNEL;POS;EAN;QTY;AMOUNT;DESCRIPTION;SKU\n2025;6;Retail;Paris;7350154320008;1;195;Ghost;BBGOT100\n").unwrap();
    let without: Vec<Value> = s
        .upload(
            "demo",
            &token,
            std::slice::from_ref(&file),
            &[("vendor", "boxnox")],
        )
        .await
        .json()
        .await
        .unwrap();
    let failed = s
        .wait("demo", &token, without[0]["id"].as_str().unwrap())
        .await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["error_summary"]
            .as_str()
            .unwrap()
            .contains("no reporting period found"),
        "{failed}"
    );
    let bad = s
        .upload(
            "demo",
            &token,
            std::slice::from_ref(&file),
            &[("period", "June")],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("2025-06"));
    let with: Vec<Value> = s
        .upload(
            "demo",
            &token,
            &[file],
            &[("vendor", "boxnox"), ("period", "2025-06")],
        )
        .await
        .json()
        .await
        .unwrap();
    let done = s
        .wait("demo", &token, with[0]["id"].as_str().unwrap())
        .await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["period_start"], "2025-06-01");
    s.stop().await;
}
