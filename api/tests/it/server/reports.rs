//! The sales report: the XLSX's summary and sheets agree with the analytics API, and the CSV
//! holds the period's sale lines.

use super::kit::{micros, sample, Options, TestServer};
use reqwest::{Method, StatusCode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sales_report_agrees_with_the_analytics() {
    let s = TestServer::start(Options::default()).await;
    let token = s.admin_token("demo", "admin@bibbi.example").await;
    for f in [
        "boxnox/BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx",
        "cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx",
    ] {
        let id = s.upload_one("demo", &token, sample(f)).await;
        s.wait("demo", &token, &id).await;
    }
    let kpis = s.json("demo", &token, "/api/analytics/kpis").await;
    let get = |path: &'static str| {
        s.req(Method::GET, "demo", path)
            .bearer_auth(token.clone())
            .send()
    };

    let res = get("/api/reports/sales?format=xlsx").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .ends_with(".xlsx\""));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.xlsx");
    std::fs::write(&path, res.bytes().await.unwrap()).unwrap();
    let mut book = taskifai_connectors::readers::open(&path, "report.xlsx").unwrap();
    assert_eq!(
        book.sheet_names(),
        vec![
            "Summary",
            "By month",
            "Top resellers",
            "Top products",
            "Top markets"
        ]
    );
    let summary = book.head(0, 20).unwrap();
    assert_eq!(summary[2][0].as_deref(), Some("Revenue"));
    let revenue: f64 = summary[2][1].as_deref().unwrap().parse().unwrap();
    assert_eq!(
        (revenue * 1e6).round() as i128,
        micros(kpis["revenue_eur"].as_str().unwrap()),
        "{kpis}"
    );
    let resellers = book.head(2, 10).unwrap();
    assert_eq!(resellers[0][0].as_deref(), Some("Name"));
    assert_eq!(
        resellers.len(),
        3,
        "a header and the two resellers: {resellers:?}"
    );

    let res = get("/api/reports/sales?format=csv").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "day,reseller,store,channel,country,product_ean,product,quantity,sales_eur"
    );
    let units: i64 = lines[1..]
        .iter()
        .map(|l| l.split(',').nth(7).unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(units, kpis["units"].as_i64().unwrap());

    let res = get("/api/reports/sales?format=pdf&reseller=BOXNOX")
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let pdf = res.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let text = super::schedules::pdf_text(&pdf, "report-boxnox.pdf");
    assert!(text.contains("Only reseller BOXNOX"), "{text}");
    assert!(
        !text.contains("Creme de la Creme"),
        "another reseller:\n{text}"
    );
    assert_eq!(
        get("/api/reports/sales?format=docx")
            .await
            .unwrap()
            .status(),
        StatusCode::BAD_REQUEST
    );
    s.stop().await;
}

/// A repeated analytics request on unchanged data is answered from the cache; the next load
/// (a commit) is seen at once; another tenant asking the same never gets this one's answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_answers_are_kept_until_the_tenants_lake_changes() {
    let s = TestServer::start(Options::default()).await;
    let token = s.admin_token("demo", "admin@bibbi.example").await;
    let id = s
        .upload_one(
            "demo",
            &token,
            sample("cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx"),
        )
        .await;
    s.wait("demo", &token, &id).await;
    let kpis = |tenant: &'static str, token: String| {
        s.req(
            Method::GET,
            tenant,
            "/api/analytics/kpis?from=2025-04-01&to=2025-04-30",
        )
        .bearer_auth(token)
        .send()
    };
    let answer = |r: reqwest::Response| async move {
        let cache = r.headers()["x-taskifai-cache"].to_str().unwrap().to_owned();
        (cache, r.json::<serde_json::Value>().await.unwrap())
    };
    // Eight at once on a cold cache: one computes, the others share its answer.
    let together = futures::future::join_all((0..8).map(|_| kpis("demo", token.clone()))).await;
    let mut answers = vec![];
    for r in together {
        answers.push(answer(r.unwrap()).await);
    }
    let misses = answers.iter().filter(|(c, _)| c == "miss").count();
    assert_eq!(misses, 1, "{answers:?}");
    let before = answers[0].1.clone();
    assert!(answers.iter().all(|(_, a)| *a == before));
    let (again_cache, again) = answer(kpis("demo", token.clone()).await.unwrap()).await;
    assert_eq!(again_cache, "hit");
    assert_eq!(before, again);

    s.tenant("acme").await;
    let acme = s.admin_token("acme", "owner@acme.example").await;
    let (theirs, answer_b) = answer(kpis("acme", acme).await.unwrap()).await;
    assert_eq!(theirs, "miss");
    assert_eq!(answer_b["revenue_eur"], "0.000000", "{answer_b}");
    assert_eq!(answer_b["orders"], 0);
    let version = |r: reqwest::Response| {
        r.headers()["x-taskifai-lake-version"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    let loaded_one = version(kpis("demo", token.clone()).await.unwrap());

    let id = s
        .upload_one(
            "demo",
            &token,
            sample("boxnox/BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx"),
        )
        .await;
    s.wait("demo", &token, &id).await;
    let (after_load, after) = answer(kpis("demo", token.clone()).await.unwrap()).await;
    assert_eq!(after_load, "miss", "a commit is seen by the next request");
    assert_eq!(
        version(kpis("demo", token.clone()).await.unwrap()),
        loaded_one + 1,
        "the answer names the lake version it is for"
    );
    assert!(
        micros(after["revenue_eur"].as_str().unwrap())
            > micros(before["revenue_eur"].as_str().unwrap()),
        "{before} then {after}"
    );
    s.stop().await;
}

/// A weekly series puts no monthly report's lines into the week of its first day: it counts
/// what is dated within a week and says how much it left out; the two add up to the total.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weekly_series_leaves_monthly_reports_out_and_says_how_much() {
    let s = TestServer::start(Options::default()).await;
    let token = s.admin_token("demo", "admin@bibbi.example").await;
    for f in [
        "boxnox/BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx",
        "selfridges/Selfridges Weekly Sales WE 27-04-2025.xlsx",
    ] {
        let id = s.upload_one("demo", &token, sample(f)).await;
        s.wait("demo", &token, &id).await;
    }
    let q = "from=2025-04-01&to=2025-04-30";
    let total = s
        .json("demo", &token, &format!("/api/analytics/kpis?{q}"))
        .await;
    let weekly = s
        .json(
            "demo",
            &token,
            &format!("/api/analytics/timeseries?bucket=week&{q}"),
        )
        .await;
    let boxnox = s
        .json(
            "demo",
            &token,
            &format!("/api/analytics/kpis?{q}&reseller=BOXNOX"),
        )
        .await;
    let points = weekly["points"].as_array().unwrap();
    assert_eq!(points.len(), 1, "only the Selfridges week: {weekly}");
    assert_eq!(points[0]["period"], "2025-04-21");
    assert_eq!(
        weekly["outside_buckets"]["revenue_eur"], boxnox["revenue_eur"],
        "the monthly report is what was left out: {weekly}"
    );
    let sum = micros(points[0]["revenue_eur"].as_str().unwrap())
        + micros(weekly["outside_buckets"]["revenue_eur"].as_str().unwrap());
    assert_eq!(sum, micros(total["revenue_eur"].as_str().unwrap()));
    // By month, nothing is left out.
    let monthly = s
        .json("demo", &token, &format!("/api/analytics/timeseries?{q}"))
        .await;
    assert_eq!(monthly["outside_buckets"], serde_json::Value::Null);
    s.stop().await;
}
