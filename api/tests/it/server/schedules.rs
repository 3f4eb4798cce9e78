//! Scheduled reports end to end: an admin saves a schedule (bad ones are refused with what to
//! fix), the scheduler turns its due slot into one report job (once, however often it runs, and
//! once after downtime), the worker renders the PDF of the slot's relative period and emails it
//! through a real SMTP server (aiosmtpd); the PDF's numbers are those of `/api/analytics/kpis`,
//! and another tenant's data, schedules and emails stay apart.

use super::email::{email, header, settled, Smtpd};
use super::kit::{sample, Options, TestServer};
use super::webhooks::{receiver, Received};
use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use taskifai_api::schedule::run::{reindex, tick};
use taskifai_engine::chat::answer::grouped;
use taskifai_tests::repo_path;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The text of a PDF, by poppler's `pdftotext` (`./scripts/test` installs poppler-utils).
pub(super) fn pdf_text(bytes: &[u8], name: &str) -> String {
    let path = repo_path("target/test-output").join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext runs (apt-get install poppler-utils)");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The report emails once `n` emails in all have settled.
async fn reports(s: &TestServer, token: &str, n: usize) -> Vec<Value> {
    settled(s, "demo", token, n)
        .await
        .into_iter()
        .filter(|l| l["kind"] == "report")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_schedule_emails_one_pdf_whose_numbers_are_the_dashboards() {
    let smtpd = Smtpd::start();
    let heard = Received::default();
    let receiver = receiver(heard.clone()).await;
    let s = TestServer::start(Options {
        email: email(Some(format!("smtp://127.0.0.1:{}", smtpd.port))),
        allow_private_webhooks: true,
        ..Default::default()
    })
    .await;
    let owner = s.admin_token("demo", "owner@bibbi.example").await;
    let res = s
        .req(Method::POST, "demo", "/api/webhooks")
        .bearer_auth(&owner)
        .json(&json!({ "url": format!("{receiver}/hook/reports"), "events": ["report.sent"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    for f in [
        "boxnox/BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx",
        "cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx",
    ] {
        let id = s.upload_one("demo", &owner, sample(f)).await;
        s.wait("demo", &owner, &id).await;
    }
    // Another tenant with sales in the same month.
    s.tenant("acme").await;
    let acme = s.admin_token("acme", "owner@acme.example").await;
    let id = s
        .upload_one(
            "acme",
            &acme,
            sample("selfridges/Selfridges Weekly Sales WE 27-04-2025.xlsx"),
        )
        .await;
    s.wait("acme", &acme, &id).await;

    let post = |tenant: &'static str, token: &str, body: Value| {
        s.req(Method::POST, tenant, "/api/schedules")
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let mut schedule = json!({
        "name": "Monthly sales",
        "cron": "0 7 1 * *",
        "timezone": "Europe/Amsterdam",
        "format": "pdf",
        "filters": { "range": "last_month" },
        "recipients": ["team@bibbi.example", "Finance <finance@bibbi.example>"],
    });
    for (field, value, says) in [
        ("cron", json!("0 7 1 *"), "4 fields"),
        ("timezone", json!("Europe/Amsterdm"), "Europe/Amsterdm"),
        (
            "recipients",
            json!(["team"]),
            "\"team\" is not an email address",
        ),
    ] {
        let mut bad = schedule.clone();
        bad[field] = value;
        let res = post("demo", &owner, bad).await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let body: Value = res.json().await.unwrap();
        assert!(
            body["message"].as_str().unwrap().contains(says),
            "{field}: {body}"
        );
    }
    let res = post("demo", &owner, schedule.clone()).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    let id = created["id"].as_i64().unwrap();
    assert!(created["next_run"].is_string(), "{created}");

    // Viewers cannot see schedules; the other tenant sees none and cannot reach this one.
    let viewer = s
        .user("demo", &owner, "viewer@bibbi.example", "viewer")
        .await;
    let res = s
        .get("demo", &viewer, "/api/schedules")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(s.json("acme", &acme, "/api/schedules").await, json!([]));
    let res = s
        .get("acme", &acme, &format!("/api/schedules/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // The schedule was last due mid-April 2025: the 1 May slot (07:00 in Amsterdam, 05:00 UTC)
    // reports on April. However often the scheduler runs, that slot is one job.
    let demo_pool = s.state.pools.pool(&"demo".parse().unwrap()).await.unwrap();
    let indexed = || async {
        sqlx::query_scalar::<_, DateTime<Utc>>("SELECT next_due FROM schedule_due")
            .fetch_all(&s.db.registry.pool)
            .await
            .unwrap()
    };
    assert_eq!(
        indexed().await,
        [created["next_run"].as_str().map(at).unwrap()],
        "saved, indexed"
    );
    sqlx::query("UPDATE report_schedules SET last_slot = '2025-04-15T00:00:00Z'")
        .execute(&demo_pool)
        .await
        .unwrap();
    // Changed behind the API's back: the index is rebuilt from the tenants (as every worker
    // does when it starts and every hour).
    reindex(&s.state).await.unwrap();
    assert_eq!(indexed().await, [at("2025-05-01T05:00:00Z")]);
    assert_eq!(tick(&s.state, at("2025-05-01T04:59:00Z")).await.unwrap(), 0);
    // Two workers' scheduler passes at once, then a later one: one job for the slot.
    let (a, b) = tokio::join!(
        tick(&s.state, at("2025-05-01T05:00:30Z")),
        tick(&s.state, at("2025-05-01T05:00:31Z"))
    );
    assert!(a.unwrap() + b.unwrap() >= 1);
    assert_eq!(tick(&s.state, at("2025-05-01T05:00:40Z")).await.unwrap(), 0);
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM job_queue WHERE kind = 'report'")
        .fetch_one(&s.db.registry.pool)
        .await
        .unwrap();
    assert_eq!(jobs, 1, "one report job for the slot");
    let mut sent = reports(&s, &owner, 3).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["status"], "sent", "{sent:?}");

    let kpis = s
        .json(
            "demo",
            &owner,
            "/api/analytics/kpis?from=2025-04-01&to=2025-04-30",
        )
        .await;
    let revenue: f64 = kpis["revenue_eur"].as_str().unwrap().parse().unwrap();
    let messages = smtpd.messages();
    let mails: Vec<_> = messages
        .iter()
        .map(|m| mailparse::parse_mail(m).unwrap())
        .filter(|m| {
            m.headers
                .iter()
                .any(|h| h.get_key() == "Subject" && h.get_value().contains("Monthly sales"))
        })
        .collect();
    assert_eq!(mails.len(), 1, "one message for the slot");
    let mail = &mails[0];
    let header = |name: &str| header(mail, name);
    assert_eq!(
        header("Subject"),
        "Demo: Monthly sales, sales 1 Apr 2025 to 30 Apr 2025"
    );
    assert_eq!(
        header("To"),
        "team@bibbi.example, Finance <finance@bibbi.example>"
    );
    assert_eq!(mail.ctype.mimetype, "multipart/mixed");
    let text = mail.subparts[0]
        .subparts
        .iter()
        .find(|p| p.ctype.mimetype == "text/plain")
        .unwrap()
        .get_body()
        .unwrap();
    assert!(
        text.contains(&format!("Revenue: EUR {}", grouped(revenue, 2))),
        "{text}"
    );
    let pdf = mail
        .subparts
        .iter()
        .find(|p| p.ctype.mimetype == "application/pdf")
        .expect("the report is attached");
    assert_eq!(
        pdf.get_content_disposition().params["filename"],
        "demo-sales-2025-04-01-2025-04-30.pdf"
    );
    let pdf = pdf_text(&pdf.get_body_raw().unwrap(), "scheduled-report.pdf");
    for expected in [
        "Demo".to_owned(),
        "1 Apr 2025 to 30 Apr 2025".to_owned(),
        format!("\u{20ac}{}", grouped(revenue, 2)),
        format!("{} units", grouped(kpis["units"].as_f64().unwrap(), 0)),
        "BOXNOX".to_owned(),
        "Page 1 of".to_owned(),
    ] {
        assert!(
            pdf.contains(&expected),
            "{expected:?} missing from the PDF:\n{pdf}"
        );
    }
    assert!(
        !pdf.contains("Selfridges"),
        "another tenant's reseller:\n{pdf}"
    );
    // The tenant's webhook hears that the report went out.
    let started = std::time::Instant::now();
    while heard.lock().unwrap().is_empty() {
        assert!(started.elapsed().as_secs() < 30, "no report.sent webhook");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let event: Value = serde_json::from_str(&heard.lock().unwrap()[0].2).unwrap();
    assert_eq!(event["event"], "report.sent");
    assert_eq!(
        event["data"]["attachment"],
        "demo-sales-2025-04-01-2025-04-30.pdf"
    );

    // Down for two months: only the latest missed slot runs. June had no sales: the email says
    // so and carries no file.
    assert_eq!(tick(&s.state, at("2025-07-01T06:00:00Z")).await.unwrap(), 1);
    sent = reports(&s, &owner, 4).await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    let june = sent.iter().find(|l| {
        l["subject"]
            .as_str()
            .unwrap()
            .contains("1 Jun 2025 to 30 Jun 2025")
    });
    let june = june.unwrap_or_else(|| panic!("no June report: {sent:?}"));
    assert_eq!(june["attachment_name"], Value::Null, "{june}");
    let listed = s.json("demo", &owner, "/api/schedules").await;
    assert_eq!(listed[0]["last_status"], "no_sales", "{listed}");
    assert_eq!(listed[0]["last_slot"], "2025-07-01T05:00:00Z", "{listed}");
    // The other tenant got nothing.
    let theirs = s.json("acme", &acme, "/api/email-logs").await;
    assert!(
        theirs["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["kind"] != "report"),
        "{theirs}"
    );

    // Changed, then deleted.
    schedule["format"] = json!("xlsx");
    let res = s
        .req(Method::PUT, "demo", &format!("/api/schedules/{id}"))
        .bearer_auth(&owner)
        .json(&schedule)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["format"], "xlsx");
    let res = s
        .req(Method::DELETE, "demo", &format!("/api/schedules/{id}"))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(s.json("demo", &owner, "/api/schedules").await, json!([]));
    assert!(
        indexed().await.is_empty(),
        "a deleted schedule leaves the index"
    );

    // A suspended tenant's schedules leave the index at the next rebuild and come back when it
    // is resumed.
    let res = s
        .req(Method::POST, "acme", "/api/schedules")
        .bearer_auth(&acme)
        .json(&schedule)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    s.state
        .set_tenant_status("acme", "suspended")
        .await
        .unwrap();
    reindex(&s.state).await.unwrap();
    assert!(indexed().await.is_empty(), "not while suspended");
    s.state.set_tenant_status("acme", "active").await.unwrap();
    assert_eq!(indexed().await.len(), 1, "due again once resumed");
    s.stop().await;
}
