//! Attempts to cross a line: another tenant's data or host, a role one does not have, a bad or
//! old token, a hostile file name or size, SQL that tries to escape. Each is refused with the
//! right status, and nothing changes.

use super::kit::{sample, Options, TestServer, PASSWORD, SECRET};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use taskifai_api::config::RateLimits;
use taskifai_api::server::auth::{Claims, Role};

async fn status_and_body(res: reqwest::Response) -> (StatusCode, String) {
    (res.status(), res.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenant_cannot_reach_another_by_host_id_or_sql() {
    let s = TestServer::start(Options::default()).await;
    s.tenant("acme").await;
    s.tenant("globex").await;
    let acme = s.admin_token("acme", "ann@acme.example").await;
    let globex = s.admin_token("globex", "gus@globex.example").await;
    let globex_batch = s
        .upload_one(
            "globex",
            &globex,
            sample("cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx"),
        )
        .await;
    s.wait("globex", &globex, &globex_batch).await;

    // Acme's token on globex's host.
    let (code, body) =
        status_and_body(s.get("globex", &acme, "/api/uploads").send().await.unwrap()).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("another tenant"));
    // Globex's batch id on acme's host does not exist there.
    for path in [
        format!("/api/uploads/{globex_batch}"),
        format!("/api/uploads/{globex_batch}/errors?format=csv"),
    ] {
        assert_eq!(
            s.get("acme", &acme, &path).send().await.unwrap().status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let del = s
        .req(
            Method::DELETE,
            "acme",
            &format!("/api/uploads/{globex_batch}"),
        )
        .bearer_auth(&acme)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), StatusCode::NOT_FOUND);
    // Acme sees no rows at all.
    let kpis = s.json("acme", &acme, "/api/analytics/kpis").await;
    assert_eq!(kpis["orders"], 0, "{kpis}");

    // SQL that tries to name or read globex's data from acme's session.
    let lake = s.lake_dir.path().display().to_string();
    let attempts = [
        format!("SELECT * FROM '{lake}/tenant=globex/table=sellout_entries'"),
        "SELECT * FROM globex.sellout_entries".to_owned(),
        "SELECT * FROM datafusion.globex.sellout_entries".to_owned(),
        format!("SELECT * FROM read_parquet('{lake}/tenant=globex')"),
        format!("CREATE EXTERNAL TABLE stolen STORED AS PARQUET LOCATION '{lake}/tenant=globex/'"),
        format!("COPY (SELECT 1) TO '{lake}/x.csv'"),
        "INSERT INTO sellout_entries SELECT * FROM sellout_entries".to_owned(),
        "DROP TABLE sellout_entries".to_owned(),
        "SELECT 1; DROP TABLE sellout_entries".to_owned(),
        "SET datafusion.execution.batch_size = 1".to_owned(),
    ];
    for sql in &attempts {
        let (code, body) = status_and_body(
            s.req(Method::POST, "acme", "/api/query")
                .bearer_auth(&acme)
                .json(&json!({ "sql": sql }))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{sql}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert!(
            matches!(v["code"].as_str(), Some("sql_refused" | "sql_failed")),
            "{sql}: {body}"
        );
    }
    let misspelt: Value = s
        .req(Method::POST, "acme", "/api/query")
        .bearer_auth(&acme)
        .json(&json!({ "sql": "SELECT * FROM sellout_entry" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        misspelt["message"]
            .as_str()
            .unwrap()
            .contains("did you mean \"sellout_entries\""),
        "{misspelt}"
    );

    // Nothing changed for globex.
    let q: Value = s
        .req(Method::POST, "globex", "/api/query")
        .bearer_auth(&globex)
        .json(&json!({ "sql": "SELECT count(*) AS n FROM sellout_entries" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(q["rows"][0]["n"], 6);
    assert!(
        std::fs::read_dir(s.lake_dir.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".csv")),
        "COPY wrote nothing"
    );

    // Unknown and suspended tenants.
    assert_eq!(
        s.get("initech", &acme, "/api/uploads")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    s.state
        .set_tenant_status("globex", "suspended")
        .await
        .unwrap();
    let (code, body) = status_and_body(
        s.get("globex", &globex, "/api/uploads")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert!(body.contains("tenant_suspended"), "{body}");
    s.stop().await;
}

fn forged(claims: &Claims, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_tokens_are_enforced() {
    let s = TestServer::start(Options {
        rate: RateLimits {
            login: 3,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    // Nobody becomes the admin of an unclaimed tenant by asking first: sign-up needs an invite,
    // for the address it was made for, once.
    let register = |email: &str, invite: Option<&str>| {
        s.req(Method::POST, "demo", "/api/auth/register")
            .json(&json!({ "email": email, "password": PASSWORD, "invite": invite }))
            .send()
    };
    assert_eq!(
        register("x@y.example", None).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let invite = s.invite("demo", "admin@bibbi.example").await;
    for (email, token) in [
        ("thief@evil.example", invite.as_str()),
        ("admin@bibbi.example", "inv_guessed"),
    ] {
        let res = register(email, Some(token)).await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{email}");
    }
    let res = register("admin@bibbi.example", Some(&invite))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let session: serde_json::Value = res.json().await.unwrap();
    let admin = session["access_token"].as_str().unwrap().to_owned();
    let again = register("admin2@bibbi.example", Some(&invite))
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        StatusCode::FORBIDDEN,
        "an invite is used once"
    );
    // Weak passwords and malformed addresses are refused with the reason.
    for (email, password, why) in [
        ("a@", "long enough password", "not an email address"),
        ("ann@bibbi", "long enough password", "not an email address"),
        ("ann@bibbi.example", "          ", "besides spaces"),
        ("ann@bibbi.example", "password123", "most common"),
    ] {
        let res = s
            .req(Method::POST, "demo", "/api/users")
            .bearer_auth(&admin)
            .json(&json!({ "email": email, "password": password, "role": "member" }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::BAD_REQUEST,
            "{email} {password:?}"
        );
        let text = res.text().await.unwrap();
        assert!(text.contains(why), "{text}");
    }

    let viewer = s
        .user("demo", &admin, "viewer@bibbi.example", "viewer")
        .await;
    let file = sample("cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx");
    let (code, body) = status_and_body(
        s.upload("demo", &viewer, std::slice::from_ref(&file), &[])
            .await,
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("member role"), "{body}");
    assert_eq!(
        s.get("demo", &viewer, "/api/users")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.get("demo", &viewer, "/api/uploads")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK,
        "viewers read"
    );

    let now = chrono::Utc::now().timestamp();
    let claims = |exp: i64, role: Role| Claims {
        sub: "1".into(),
        tenant: "demo".into(),
        role,
        email: "admin@bibbi.example".into(),
        iat: now - 7200,
        exp,
    };
    let expired = forged(&claims(now - 3600, Role::Admin), SECRET);
    let (code, body) = status_and_body(
        s.get("demo", &expired, "/api/uploads")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert!(body.contains("expired"), "{body}");
    let wrong_key = forged(&claims(now + 3600, Role::Admin), "guessed-secret");
    assert_eq!(
        s.get("demo", &wrong_key, "/api/users")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // The viewer's token with its payload swapped for an admin's, signature kept.
    let parts: Vec<&str> = viewer.split('.').collect();
    let admin_payload = forged(&claims(now + 3600, Role::Admin), SECRET);
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        admin_payload.split('.').nth(1).unwrap(),
        parts[2]
    );
    assert_eq!(
        s.get("demo", &tampered, "/api/users")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.get("demo", "", "/api/uploads")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );

    // Refresh rotates; presenting a used refresh token revokes the whole family.
    let first = session["refresh_token"].as_str().unwrap();
    let rotated: Value = s
        .req(Method::POST, "demo", "/api/auth/refresh")
        .json(&json!({ "refresh_token": first }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(first, second);
    let replay = s
        .req(Method::POST, "demo", "/api/auth/refresh")
        .json(&json!({ "refresh_token": first }))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    let after = s
        .req(Method::POST, "demo", "/api/auth/refresh")
        .json(&json!({ "refresh_token": second }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        after.status(),
        StatusCode::UNAUTHORIZED,
        "the family is revoked after a replay"
    );

    // API keys: a member key uploads; a revoked or unknown one does not.
    let key: Value = s
        .req(Method::POST, "demo", "/api/api-keys")
        .bearer_auth(&admin)
        .json(&json!({ "name": "nightly sync", "role": "member" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = key["key"].as_str().unwrap();
    let res = s
        .req(Method::GET, "demo", "/api/uploads")
        .header("x-api-key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = s
        .req(Method::GET, "demo", "/api/uploads")
        .header("x-api-key", "tk_0000")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Guessing passwords is slowed down: the fourth attempt in a minute waits.
    let mut last = StatusCode::OK;
    let mut retry_after = None;
    for _ in 0..4 {
        let res = s
            .req(Method::POST, "demo", "/api/auth/login")
            .json(&json!({ "email": "admin@bibbi.example", "password": "wrong password" }))
            .send()
            .await
            .unwrap();
        last = res.status();
        retry_after = res
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after.unwrap().parse::<u64>().unwrap() >= 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_file_names_and_oversized_uploads_leave_nothing_behind() {
    let s = TestServer::start(Options {
        max_upload_bytes: 64 * 1024,
        workers: 0,
        ..Default::default()
    })
    .await;
    let token = s.admin_token("demo", "admin@bibbi.example").await;
    let bytes = std::fs::read(sample("cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx")).unwrap();
    for name in [
        "../../etc/passwd.xlsx",
        "..\\..\\boot.ini",
        "/abs/path.xlsx",
        "..",
        "bad\u{0}name.xlsx",
    ] {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.to_owned()),
        );
        let (code, body) = status_and_body(
            s.req(Method::POST, "demo", "/api/uploads")
                .bearer_auth(&token)
                .multipart(form)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{name}: {body}");
        // A NUL byte does not even parse as a multipart header; either way it is a 400.
        assert!(
            body.contains("invalid_file_name")
                || (name.contains('\0') && body.contains("bad_multipart")),
            "{name}: {body}"
        );
    }
    let vendor = s
        .upload(
            "demo",
            &token,
            &[sample("cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx")],
            &[("vendor", "nobody")],
        )
        .await;
    assert_eq!(vendor.status(), StatusCode::BAD_REQUEST);
    // Last: the server answers 413 and closes without reading the rest of the body, so the
    // client's pooled connection is dead afterwards and a following request could hit it.
    let big = vec![b'x'; 200 * 1024];
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(big).file_name("big.csv"),
    );
    let (code, body) = status_and_body(
        s.req(Method::POST, "demo", "/api/uploads")
            .bearer_auth(&token)
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE, "{body}");

    let batches: i64 = sqlx::query_scalar("SELECT count(*) FROM upload_batches")
        .fetch_one(&s.db.registry.pool)
        .await
        .unwrap();
    assert_eq!(batches, 0);
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM job_queue")
        .fetch_one(&s.db.registry.pool)
        .await
        .unwrap();
    assert_eq!(jobs, 0);
    let files: Vec<_> = walk(s.lake_dir.path());
    assert!(files.is_empty(), "nothing stored: {files:?}");
    assert!(!std::path::Path::new("/etc/passwd.xlsx").exists());
    s.stop().await;
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_admins_manage_tenants_and_tenant_tokens_cannot() {
    let s = TestServer::start(Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let hash = taskifai_api::server::auth::hash_password(PASSWORD.to_owned())
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO platform_admins (email, password_hash) VALUES ('ops@taskifai.example', $1)",
    )
    .bind(hash)
    .execute(&s.db.registry.pool)
    .await
    .unwrap();
    let tenant_admin = s.admin_token("demo", "admin@bibbi.example").await;
    let res = s
        .req(Method::GET, "demo", "/api/admin/tenants")
        .bearer_auth(&tenant_admin)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "a tenant's admin is not a platform admin"
    );

    let wrong = s
        .req(Method::POST, "demo", "/api/admin/login")
        .json(&json!({ "email": "ops@taskifai.example", "password": "not it at all" }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let login: Value = s
        .req(Method::POST, "demo", "/api/admin/login")
        .json(&json!({ "email": "ops@taskifai.example", "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ops = login["access_token"].as_str().unwrap().to_owned();
    let created = s
        .req(Method::POST, "demo", "/api/admin/tenants")
        .bearer_auth(&ops)
        .json(&json!({ "id": "initech", "display_name": "Initech" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let again = s
        .req(Method::POST, "demo", "/api/admin/tenants")
        .bearer_auth(&ops)
        .json(&json!({ "id": "initech" }))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let bad = s
        .req(Method::POST, "demo", "/api/admin/tenants")
        .bearer_auth(&ops)
        .json(&json!({ "id": "Robert'); DROP DATABASE x;--" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    // The new tenant answers on its host; the platform token is no tenant's token.
    let first = s.register("initech", "peter@initech.example").await;
    assert_eq!(first["user"]["role"], "admin");
    assert_eq!(
        s.get("initech", &ops, "/api/uploads")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    let suspended = s
        .req(Method::POST, "demo", "/api/admin/tenants/initech/suspend")
        .bearer_auth(&ops)
        .send()
        .await
        .unwrap();
    assert_eq!(suspended.status(), StatusCode::OK);
    let peter = first["access_token"].as_str().unwrap();
    assert_eq!(
        s.get("initech", peter, "/api/uploads")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN,
        "suspension applies to the next request"
    );
    let list: Value = s
        .get("demo", &ops, "/api/admin/tenants")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["status"], "suspended", "{list}");
    // The demo tenant is suspended like any other.
    let res = s
        .req(Method::POST, "demo", "/api/admin/tenants/demo/suspend")
        .bearer_auth(&ops)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let res = s
        .req(Method::POST, "demo", "/api/auth/login")
        .json(&json!({ "email": "nobody@bibbi.example", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "a suspended demo refuses sign-ins"
    );
    s.stop().await;
}

/// Heavy SQL from one tenant runs on the query threads, a few at a time, and stops at its
/// timeout: another tenant's dashboard keeps answering meanwhile. Six concurrent cross joins
/// from one key used to make another tenant's KPI request take a minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heavy_queries_do_not_starve_other_tenants() {
    let s = TestServer::start(Options {
        workers: 0,
        query_timeout: Duration::from_secs(3),
        ..Default::default()
    })
    .await;
    s.tenant("acme").await;
    let demo = s.admin_token("demo", "ops@bibbi.example").await;
    let acme = s.admin_token("acme", "ann@acme.example").await;
    let heavy =
        json!({ "sql": "SELECT count(*) FROM range(1, 100000) a CROSS JOIN range(1, 100000) b" });
    let started = Instant::now();
    let attempts = futures::future::join_all((0..6).map(|_| {
        s.req(Method::POST, "demo", "/api/query")
            .bearer_auth(&demo)
            .json(&heavy)
            .send()
    }));
    let kpis = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let t = Instant::now();
        let res = s
            .get("acme", &acme, "/api/analytics/kpis")
            .send()
            .await
            .unwrap();
        (res.status(), t.elapsed())
    };
    let (answers, (kpi_status, kpi_time)) = tokio::join!(attempts, kpis);
    let codes: Vec<u16> = answers
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert_eq!(kpi_status, StatusCode::OK);
    assert!(
        kpi_time < Duration::from_secs(3),
        "the other tenant waited {kpi_time:?}"
    );
    assert_eq!(codes.iter().filter(|&&c| c == 408).count(), 2, "{codes:?}");
    assert_eq!(codes.iter().filter(|&&c| c == 429).count(), 4, "{codes:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the timeout stopped the queries"
    );
    // The slots are free again: a small query runs.
    let res = s
        .req(Method::POST, "demo", "/api/query")
        .bearer_auth(&demo)
        .json(&json!({ "sql": "SELECT 1 AS one" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(s
        .get("acme", &acme, "/health")
        .send()
        .await
        .unwrap()
        .status()
        .is_success());
    s.stop().await;
}

/// A client that sends part of its headers and waits is disconnected after the header
/// deadline (4 s here, 10 s by default) instead of holding a connection for minutes; every
/// answer carries the security headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_off_and_answers_carry_security_headers() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = TestServer::start(Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), slow.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the connection was still open after 15 s");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );

    let res = s.req(Method::GET, "demo", "/health").send().await.unwrap();
    let h = res.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert!(!h.contains_key("strict-transport-security"));
    let docs = s
        .req(Method::GET, "demo", "/api/docs")
        .send()
        .await
        .unwrap();
    let csp = docs.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src https://unpkg.com 'sha256-"),
        "{csp}"
    );
    assert!(docs.text().await.unwrap().contains("integrity=\"sha384-"));
    let tls = s
        .req(Method::GET, "demo", "/health")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert!(tls.headers().contains_key("strict-transport-security"));
    s.stop().await;
}

/// Admins list API keys (never the key) and revoke them at once; repeated wrong passwords for
/// one account make it wait, whichever address they come from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_revocable_and_accounts_back_off() {
    let s = TestServer::start(Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = s.admin_token("demo", "admin@bibbi.example").await;
    let created: Value = s
        .req(Method::POST, "demo", "/api/api-keys")
        .bearer_auth(&admin)
        .json(&json!({ "name": "etl", "role": "viewer" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    let with_key = || {
        s.req(Method::GET, "demo", "/api/uploads")
            .header("x-api-key", &key)
            .send()
    };
    assert_eq!(with_key().await.unwrap().status(), StatusCode::OK);
    let list = s.json("demo", &admin, "/api/api-keys").await;
    assert_eq!(list[0]["name"], "etl");
    assert!(
        !list.to_string().contains(&key),
        "the list never shows a key"
    );
    let id = created["id"].as_i64().unwrap();
    let res = s
        .req(Method::DELETE, "demo", &format!("/api/api-keys/{id}"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(with_key().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    let login = |password: &str| {
        s.req(Method::POST, "demo", "/api/auth/login")
            .json(&json!({ "email": "admin@bibbi.example", "password": password }))
            .send()
    };
    for _ in 0..5 {
        assert_eq!(
            login("wrong password!").await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let res = login(PASSWORD).await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(res.headers().contains_key("retry-after"));
    s.stop().await;
}

/// To a caller without credentials, unknown, suspended and existing tenants answer alike, so
/// tenant names cannot be enumerated (they used to answer 404, 403 and 401).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_callers_cannot_tell_which_tenants_exist() {
    let s = TestServer::start(Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    for t in ["acme", "globex"] {
        s.tenant(t).await;
    }
    s.state
        .set_tenant_status("globex", "suspended")
        .await
        .unwrap();
    let mut answers = Vec::new();
    for host in ["acme", "globex", "nosuchtenant"] {
        let list = s
            .req(Method::GET, host, "/api/uploads")
            .send()
            .await
            .unwrap();
        let login = s
            .req(Method::POST, host, "/api/auth/login")
            .json(&json!({ "email": "x@y.example", "password": "not the password" }))
            .send()
            .await
            .unwrap();
        answers.push((
            list.status(),
            list.text().await.unwrap(),
            login.status(),
            login.text().await.unwrap(),
        ));
    }
    assert_eq!(answers[0].0, StatusCode::UNAUTHORIZED);
    assert_eq!(answers[0], answers[1], "suspended");
    assert_eq!(answers[0], answers[2], "unknown");
    s.stop().await;
}

/// The query attacks of the adversarial review, through the API by a viewer's key: each is
/// answered (planned, or refused with the reason) and the server keeps serving other tenants.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_bombs_are_answered_and_the_server_stays_up() {
    let s = TestServer::start(Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    s.tenant("acme").await;
    let demo = s.admin_token("demo", "ops@bibbi.example").await;
    let viewer = s
        .user("demo", &demo, "viewer@bibbi.example", "viewer")
        .await;
    let acme = s.admin_token("acme", "ann@acme.example").await;
    let terms = |n: usize, f: &dyn Fn(usize) -> String, sep: &str| {
        (0..n).map(f).collect::<Vec<_>>().join(sep)
    };
    let cases = [
        (format!("SELECT {}", terms(90, &|_| "1".into(), "+")), 200),
        (
            format!(
                "SELECT count(*) FROM sellout_entries WHERE {}",
                terms(100, &|i| format!("quantity = {i}"), " OR ")
            ),
            200,
        ),
        (
            format!("SELECT {}", terms(20_000, &|_| "1".into(), "+")),
            400,
        ),
        ("SELECT length(repeat('x', 2000000000))".to_owned(), 400),
        ("SELECT length(lpad('x', 2000000000))".to_owned(), 400),
    ];
    for (sql, want) in cases {
        let res = s
            .req(Method::POST, "demo", "/api/query")
            .bearer_auth(&viewer)
            .json(&json!({ "sql": sql }))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        assert_eq!(
            status,
            want,
            "{}: {}",
            &sql[..60.min(sql.len())],
            res.text().await.unwrap()
        );
        assert!(s
            .get("acme", &acme, "/health")
            .send()
            .await
            .unwrap()
            .status()
            .is_success());
        let kpis = s
            .get("acme", &acme, "/api/analytics/kpis")
            .send()
            .await
            .unwrap();
        assert_eq!(kpis.status(), StatusCode::OK);
    }
    s.stop().await;
}

/// The web app's session: the refresh token only in an HttpOnly, SameSite=Strict cookie scoped
/// to /api/auth, usable only with the web app's header (a cross-site form cannot send it), and
/// cleared on sign-out. Unknown API paths stay JSON 404s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_session_cookie_is_httponly_strict_and_needs_the_web_header() {
    let s = TestServer::start(Options::default()).await;
    let invite = s.invite("demo", "web@bibbi.example").await;
    let res = s
        .req(Method::POST, "demo", "/api/auth/register")
        .header("x-taskifai-client", "web")
        .json(&json!({ "email": "web@bibbi.example", "password": "correct horse battery", "invite": invite }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    for part in [
        "taskifai_refresh=rt_",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/api/auth",
    ] {
        assert!(cookie.contains(part), "{cookie}");
    }
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["refresh_token"], "",
        "the token is not in the body: {body}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    let refresh = |web: bool| {
        let mut r = s
            .req(Method::POST, "demo", "/api/auth/refresh")
            .header("cookie", &pair)
            .json(&json!({}));
        if web {
            r = r.header("x-taskifai-client", "web");
        }
        r.send()
    };
    // Without the header (what a forged cross-site request looks like) the cookie is ignored.
    assert_eq!(
        refresh(false).await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    let ok = refresh(true).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let next = ok.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_ne!(next, pair, "the refresh token rotates");
    let out = s
        .req(Method::POST, "demo", "/api/auth/logout")
        .header("x-taskifai-client", "web")
        .header("cookie", &next)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert!(out.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let missing = s
        .req(Method::GET, "demo", "/api/no-such-thing")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.json::<Value>().await.unwrap()["code"], "not_found");
    s.stop().await;
}

/// Admins change roles and deactivate people; a change ends the person's sessions, a
/// deactivated account cannot sign in or refresh, and a tenant keeps one active admin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_change_roles_and_deactivate_but_never_the_last_admin() {
    let s = TestServer::start(Options::default()).await;
    let admin = s.admin_token("demo", "owner@bibbi.example").await;
    s.user("demo", &admin, "member@bibbi.example", "member")
        .await;
    let login = || {
        s.req(Method::POST, "demo", "/api/auth/login")
            .json(&json!({ "email": "member@bibbi.example", "password": PASSWORD }))
            .send()
    };
    let session: Value = login().await.unwrap().json().await.unwrap();
    let users: Value = s.json("demo", &admin, "/api/users").await;
    let id = |email: &str| {
        users
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == email)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let (member, owner) = (id("member@bibbi.example"), id("owner@bibbi.example"));
    let patch = |who: i64, token: &str, body: Value| {
        s.req(Method::PATCH, "demo", &format!("/api/users/{who}"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    // A member cannot change anyone; an admin makes them a viewer, which ends their session.
    let token = session["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        patch(owner, &token, json!({ "role": "viewer" }))
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    let changed: Value = patch(member, &admin, json!({ "role": "viewer" }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(changed["role"], "viewer");
    let refresh = s
        .req(Method::POST, "demo", "/api/auth/refresh")
        .json(&json!({ "refresh_token": session["refresh_token"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(refresh.status(), StatusCode::UNAUTHORIZED);
    // Deactivated: no sign-in; reactivated: sign-in again, as a viewer.
    let off: Value = patch(member, &admin, json!({ "active": false }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(off["active"], false);
    assert_eq!(login().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    patch(member, &admin, json!({ "active": true }))
        .await
        .unwrap();
    let back: Value = login().await.unwrap().json().await.unwrap();
    assert_eq!(back["user"]["role"], "viewer");
    // The only admin cannot demote or deactivate themselves.
    for body in [json!({ "role": "member" }), json!({ "active": false })] {
        let res = patch(owner, &admin, body).await.unwrap();
        assert_eq!(res.status(), StatusCode::CONFLICT);
    }
    assert_eq!(
        patch(9999, &admin, json!({ "role": "viewer" }))
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    s.stop().await;
}
