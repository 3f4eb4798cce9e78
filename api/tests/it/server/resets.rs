//! An admin's password reset link: it sets a new password once, ends the person's sessions,
//! works on its own tenant only, and only admins make one.

use super::kit::{Options, TestServer, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_link_sets_a_new_password_once_and_ends_the_old_sessions() {
    let s = TestServer::start(Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    s.tenant("acme").await;
    let admin = s.admin_token("demo", "admin@bibbi.example").await;
    let member = s
        .user("demo", &admin, "member@bibbi.example", "member")
        .await;
    let people = s.json("demo", &admin, "/api/users").await;
    let id = people
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "member@bibbi.example")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let make = |token: &str| {
        s.req(
            Method::POST,
            "demo",
            &format!("/api/users/{id}/password-reset"),
        )
        .bearer_auth(token.to_owned())
        .send()
    };
    assert_eq!(make(&member).await.unwrap().status(), StatusCode::FORBIDDEN);
    let res = make(&admin).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let reset: Value = res.json().await.unwrap();
    let token = reset["reset_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("rst_"));

    let new_password = "a brand new long password";
    let use_it = |tenant: &'static str, password: &str| {
        s.req(Method::POST, tenant, "/api/auth/reset")
            .json(&json!({ "token": token, "password": password }))
            .send()
    };
    // Another tenant's host does not know the token; a weak password is refused first.
    assert_eq!(
        use_it("acme", new_password).await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        use_it("demo", "short").await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        use_it("demo", new_password).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        use_it("demo", "another long enough password")
            .await
            .unwrap()
            .status(),
        StatusCode::BAD_REQUEST,
        "once"
    );

    let login = |password: &str| {
        s.req(Method::POST, "demo", "/api/auth/login")
            .json(&json!({ "email": "member@bibbi.example", "password": password }))
            .send()
    };
    assert_eq!(
        login(PASSWORD).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(login(new_password).await.unwrap().status(), StatusCode::OK);
    let refreshed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(id)
    .fetch_one(&s.db.registry.pool)
    .await
    .unwrap();
    assert_eq!(
        refreshed, 1,
        "only the session opened with the new password is live"
    );
    s.stop().await;
}
