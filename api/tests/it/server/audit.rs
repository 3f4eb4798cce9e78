//! The audit log: admins' changes to people, API keys, uploads and schedules are recorded with
//! who made them, only admins read it, another tenant sees none of it, and the log cannot be
//! rewritten.

use super::kit::{sample, Options, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_changes_are_recorded_with_who_made_them() {
    let s = TestServer::start(Options::default()).await;
    let owner = s.admin_token("demo", "owner@bibbi.example").await;
    let send = |method: Method, path: &str, body: Value| {
        s.req(method, "demo", path)
            .bearer_auth(&owner)
            .json(&body)
            .send()
    };
    let member = s.user("demo", &owner, "ana@bibbi.example", "member").await;
    let me = s.json("demo", &member, "/api/me").await;
    let ana = me["user"]["id"].as_i64().unwrap();
    let res = send(
        Method::PATCH,
        &format!("/api/users/{ana}"),
        json!({ "role": "viewer" }),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let key: Value = send(
        Method::POST,
        "/api/api-keys",
        json!({ "name": "etl", "role": "member" }),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let key_id = key["id"].as_i64().unwrap();
    let res = send(
        Method::DELETE,
        &format!("/api/api-keys/{key_id}"),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = send(
        Method::POST,
        "/api/schedules",
        json!({ "name": "Weekly", "cron": "0 8 * * 1", "format": "csv", "recipients": ["a@bibbi.example"] }),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let upload = s
        .upload_one(
            "demo",
            &owner,
            sample("cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx"),
        )
        .await;
    s.wait("demo", &owner, &upload).await;
    let res = send(Method::DELETE, &format!("/api/uploads/{upload}"), json!({}))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    let log = s.json("demo", &owner, "/api/audit").await;
    let items = log["items"].as_array().unwrap();
    let actions: Vec<&str> = items
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "upload.deleted",
            "schedule.created",
            "api_key.revoked",
            "api_key.created",
            "user.changed",
            "user.created"
        ],
        "{log}"
    );
    assert!(
        items.iter().all(|i| i["actor"] == "owner@bibbi.example"),
        "{log}"
    );
    let changed = &items[4];
    assert_eq!(changed["target"], "ana@bibbi.example");
    assert_eq!(changed["details"]["before"]["role"], "member");
    assert_eq!(changed["details"]["after"]["role"], "viewer");
    assert_eq!(items[0]["target"], upload.as_str());
    assert_eq!(
        items[0]["details"]["file"],
        "CDLC BIBBI_Sell_Out_2025 04.xlsx"
    );
    let people = s.json("demo", &owner, "/api/audit?action=user.").await;
    assert_eq!(people["items"].as_array().unwrap().len(), 2, "{people}");

    // Not for non-admins, nor for another tenant.
    let res = s.get("demo", &member, "/api/audit").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    s.tenant("acme").await;
    let acme = s.admin_token("acme", "owner@acme.example").await;
    let theirs = s.json("acme", &acme, "/api/audit").await;
    assert!(
        theirs["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["actor"] != "owner@bibbi.example"),
        "{theirs}"
    );

    // Append-only, even for the application's own database user.
    let pool = s.state.pools.pool(&"demo".parse().unwrap()).await.unwrap();
    for sql in [
        "UPDATE audit_log SET actor = 'someone else'",
        "DELETE FROM audit_log",
    ] {
        let err = sqlx::query(sql).execute(&pool).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    s.stop().await;
}
