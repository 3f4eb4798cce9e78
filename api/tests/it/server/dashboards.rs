//! Embedded dashboards: only the providers' embed addresses are saved, Metabase dashboards get
//! a token signed with the tenant's secret (which is never sent back), and the web app's pages
//! may frame the providers and that tenant's own Metabase, not another tenant's.

use super::kit::{Options, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_are_checked_signed_and_framed_per_tenant() {
    let web = tempfile::tempdir().unwrap();
    std::fs::write(
        web.path().join("index.html"),
        "<!doctype html><title>TaskifAI</title>",
    )
    .unwrap();
    let s = TestServer::start(Options {
        workers: 0,
        web_dir: Some(web.path().to_owned()),
        ..Default::default()
    })
    .await;
    s.tenant("acme").await;
    let admin = s.admin_token("demo", "admin@bibbi.example").await;
    let viewer = s
        .user("demo", &admin, "viewer@bibbi.example", "viewer")
        .await;
    let send = |method: Method, path: &str, token: &str, body: Value| {
        s.req(method, "demo", path)
            .bearer_auth(token.to_owned())
            .json(&body)
            .send()
    };

    let looker = json!({ "name": "Sell-out overview", "provider": "looker_studio", "url": "https://lookerstudio.google.com/embed/reporting/abc/page/p1" });
    assert_eq!(
        send(Method::POST, "/api/dashboards", &viewer, looker.clone())
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    let res = send(Method::POST, "/api/dashboards", &admin, looker.clone())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["frame_url"], looker["url"]);
    for bad in [
        json!({ "name": "x", "provider": "looker_studio", "url": "https://evil.example/embed/x" }),
        json!({ "name": "x", "provider": "tableau", "url": "javascript:alert(1)" }),
        json!({ "name": "x", "provider": "power_bi", "url": "http://app.powerbi.com/view?r=1" }),
        json!({ "name": "x", "provider": "metabase", "url": "https://metabase.bibbi.example/dashboard/1" }),
    ] {
        let res = send(Method::POST, "/api/dashboards", &admin, bad.clone())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }

    // Metabase: the signed embed URL, verifiable with the tenant's secret only.
    let secret = "a".repeat(64);
    let setup = json!({ "site_url": "https://metabase.bibbi.example/", "secret_key": secret });
    assert_eq!(
        send(Method::PUT, "/api/dashboards/metabase", &admin, setup)
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let res = send(
        Method::POST,
        "/api/dashboards",
        &admin,
        json!({ "name": "Metabase KPIs", "provider": "metabase", "metabase_dashboard": 7 }),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let list = s.json("demo", &viewer, "/api/dashboards").await;
    assert!(
        !list.to_string().contains(&secret),
        "the secret never leaves the server"
    );
    let frame = list
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["provider"] == "metabase")
        .unwrap()["frame_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = frame
        .strip_prefix("https://metabase.bibbi.example/embed/dashboard/")
        .and_then(|t| t.split('#').next())
        .unwrap_or_else(|| panic!("{frame}"));
    let mut check = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    check.required_spec_claims = ["exp".to_string()].into();
    let claims = jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
        &check,
    )
    .unwrap();
    assert_eq!(claims.claims["resource"], json!({ "dashboard": 7 }));

    // Another tenant sees neither the dashboards nor the Metabase host in its pages' policy.
    let acme = s.admin_token("acme", "admin@acme.example").await;
    assert_eq!(s.json("acme", &acme, "/api/dashboards").await, json!([]));
    let policy = |tenant: &'static str| {
        let s = &s;
        async move {
            let res = s
                .req(Method::GET, tenant, "/analytics")
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            res.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .to_owned()
        }
    };
    let demo = policy("demo").await;
    assert!(
        demo.contains("frame-src https://lookerstudio.google.com")
            && demo.contains("https://metabase.bibbi.example"),
        "{demo}"
    );
    let other = policy("acme").await;
    assert!(
        other.contains("https://app.powerbi.com") && !other.contains("metabase.bibbi.example"),
        "{other}"
    );

    // Changed and deleted.
    let id = created["id"].as_i64().unwrap();
    let renamed = json!({ "name": "Overview", "provider": "looker_studio", "url": "https://lookerstudio.google.com/embed/reporting/abc/page/p2" });
    let res = send(
        Method::PUT,
        &format!("/api/dashboards/{id}"),
        &admin,
        renamed,
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = s
        .req(Method::DELETE, "demo", &format!("/api/dashboards/{id}"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        s.json("demo", &admin, "/api/dashboards")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    s.stop().await;
}
