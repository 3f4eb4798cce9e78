//! Webhooks against a real receiver on loopback: an upload's event arrives once, signed with the
//! webhook's secret; a redirect is not followed; a tenant's webhook never hears of another
//! tenant's upload; private and link-local targets are refused unless the deployment allows them.

use super::kit::{sample, Options, TestServer};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode as Http};
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the receiver got: path, headers, body.
pub(super) type Received = Arc<Mutex<Vec<(String, HeaderMap, String)>>>;

async fn receive(
    State(got): State<Received>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    got.lock().unwrap().push((path.clone(), headers, body));
    match path.as_str() {
        "moved" => Redirect::temporary("/hook/demo").into_response(),
        _ => Http::NO_CONTENT.into_response(),
    }
}

/// A receiver on a free loopback port; returns its base URL.
pub(super) async fn receiver(got: Received) -> String {
    let app = axum::Router::new()
        .route("/hook/{path}", axum::routing::post(receive))
        .with_state(got);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

async fn create(
    s: &TestServer,
    tenant: &str,
    token: &str,
    url: &str,
    events: &[&str],
) -> reqwest::Response {
    s.req(Method::POST, tenant, "/api/webhooks")
        .bearer_auth(token)
        .json(&json!({ "url": url, "events": events }))
        .send()
        .await
        .unwrap()
}

/// Waits until the webhook's deliveries are `n` and none is queued.
async fn settled(s: &TestServer, tenant: &str, token: &str, id: i64, n: usize) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let d = s
            .json(tenant, token, &format!("/api/webhooks/{id}/deliveries"))
            .await;
        let items = d.as_array().cloned().unwrap_or_default();
        if items.len() >= n && items.iter().all(|i| i["status"] != "queued") {
            return items;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "deliveries did not settle: {d}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_targets_are_refused() {
    let s = TestServer::start(Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let owner = s.admin_token("demo", "owner@bibbi.example").await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "file:///etc/passwd",
    ] {
        let res = create(&s, "demo", &owner, url, &["upload.completed"]).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{url}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "invalid_webhook", "{url}: {body}");
    }
    let res = create(
        &s,
        "demo",
        &owner,
        "https://hooks.example/x",
        &["upload.deleted"],
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_is_told_once_signed_and_only_to_its_own_tenant() {
    let got = Received::default();
    let base = receiver(got.clone()).await;
    let s = TestServer::start(Options {
        allow_private_webhooks: true,
        ..Default::default()
    })
    .await;
    let owner = s.admin_token("demo", "owner@bibbi.example").await;
    let res = create(
        &s,
        "demo",
        &owner,
        &format!("{base}/hook/demo"),
        &["upload.completed", "upload.failed"],
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let hook: Value = res.json().await.unwrap();
    let secret = hook["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let listed = s.json("demo", &owner, "/api/webhooks").await;
    assert!(
        listed[0].get("secret").is_none(),
        "the secret is shown once: {listed}"
    );
    let moved: Value = create(
        &s,
        "demo",
        &owner,
        &format!("{base}/hook/moved"),
        &["upload.completed"],
    )
    .await
    .json()
    .await
    .unwrap();
    s.tenant("acme").await;
    let acme = s.admin_token("acme", "owner@acme.example").await;
    let acme_hook: Value = create(
        &s,
        "acme",
        &acme,
        &format!("{base}/hook/acme"),
        &["upload.completed"],
    )
    .await
    .json()
    .await
    .unwrap();

    let upload = s
        .upload_one(
            "demo",
            &owner,
            sample("cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx"),
        )
        .await;
    s.wait("demo", &owner, &upload).await;
    let theirs = s
        .upload_one(
            "acme",
            &acme,
            sample("selfridges/Selfridges Weekly Sales WE 27-04-2025.xlsx"),
        )
        .await;
    s.wait("acme", &acme, &theirs).await;

    let delivered = settled(&s, "demo", &owner, hook["id"].as_i64().unwrap(), 1).await;
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert_eq!(delivered[0]["status"], "delivered");
    assert_eq!(delivered[0]["response_status"], 204);
    let redirected = settled(&s, "demo", &owner, moved["id"].as_i64().unwrap(), 1).await;
    assert_eq!(redirected[0]["status"], "failed", "{redirected:?}");
    assert_eq!(redirected[0]["response_status"], 307);
    assert_eq!(redirected[0]["attempts"], 1, "a redirect is not retried");
    settled(&s, "acme", &acme, acme_hook["id"].as_i64().unwrap(), 1).await;

    let got = got.lock().unwrap().clone();
    let to = |p: &str| got.iter().filter(|g| g.0 == p).collect::<Vec<_>>();
    let demo = to("demo");
    assert_eq!(
        demo.len(),
        1,
        "once, and the redirect was not followed: {got:?}"
    );
    let (_, headers, body) = demo[0];
    let event: Value = serde_json::from_str(body).unwrap();
    assert_eq!(event["event"], "upload.completed");
    assert_eq!(event["tenant"], "demo");
    assert_eq!(event["data"]["upload_id"], upload.as_str());
    assert_eq!(event["data"]["file"], "CDLC BIBBI_Sell_Out_2025 04.xlsx");
    assert_eq!(headers["taskifai-event"], "upload.completed");
    let timestamp = headers["taskifai-timestamp"].to_str().unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{body}").as_bytes());
    assert_eq!(
        headers["taskifai-signature"].to_str().unwrap(),
        format!("v1={}", hex::encode(mac.finalize().into_bytes()))
    );
    let acme_got = to("acme");
    assert_eq!(acme_got.len(), 1, "{got:?}");
    assert!(
        acme_got[0].2.contains(&theirs),
        "acme hears of its own upload"
    );
    assert!(!acme_got[0].2.contains(&upload), "and never of demo's");
    assert_eq!(to("moved").len(), 1);

    let audit = s.json("demo", &owner, "/api/audit?action=webhook.").await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 2, "{audit}");
    s.stop().await;
}
