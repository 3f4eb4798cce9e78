//! Upload emails through a real SMTP server on loopback (aiosmtpd, which `./scripts/test`
//! installs): the uploader gets one message per upload, with text and HTML parts, the first
//! rejected rows and a link; admins see the outbox; a person can turn the emails off; an SMTP
//! server that cannot be reached gives a failed row after the retries; without SMTP the email
//! is logged as not sent and the upload is unaffected.

use super::kit::{sample, Options, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use taskifai_api::config::Secret;
use taskifai_api::email::EmailConfig;
use taskifai_tests::{repo_path, SAMPLE_TOTALS};

/// aiosmtpd on a free port, writing what it receives into a maildir; stopped when dropped.
pub(super) struct Smtpd {
    child: Child,
    pub(super) port: u16,
    maildir: tempfile::TempDir,
}

impl Smtpd {
    pub(super) fn start() -> Self {
        Self::with_handler("aiosmtpd.handlers.Mailbox")
    }

    /// With a handler class of `api/tests/smtp/` (e.g. `slow_once.SlowOnce`).
    pub(super) fn with_handler(handler: &str) -> Self {
        let python = std::env::var("TASKIFAI_SMTPD_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|_| repo_path("target/moto/bin/python"));
        assert!(
            python.exists(),
            "{} is missing: ./scripts/test installs aiosmtpd (an SMTP server for tests)",
            python.display()
        );
        let port = free_port();
        let maildir = tempfile::tempdir().unwrap();
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir(maildir.path().join(sub)).unwrap();
        }
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", handler])
            .env("PYTHONPATH", repo_path("api/tests/smtp"))
            .arg(maildir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "aiosmtpd did not listen on {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            port,
            maildir,
        }
    }

    pub(super) fn maildir(&self) -> &std::path::Path {
        self.maildir.path()
    }

    /// The messages received, as raw bytes.
    pub(super) fn messages(&self) -> Vec<Vec<u8>> {
        let mut out = vec![];
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.maildir.path().join(sub)) else {
                continue;
            };
            for e in entries.flatten() {
                out.push(std::fs::read(e.path()).unwrap());
            }
        }
        out
    }
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A header of a received message ("" when absent).
pub(super) fn header(mail: &mailparse::ParsedMail, name: &str) -> String {
    mail.headers
        .iter()
        .find(|h| h.get_key().eq_ignore_ascii_case(name))
        .map(|h| h.get_value())
        .unwrap_or_default()
}

pub(super) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(super) fn email(smtp_url: Option<String>) -> EmailConfig {
    EmailConfig {
        smtp_url: smtp_url.map(Secret::new),
        from: "TaskifAI <noreply@taskifai.test>".into(),
        public_url: "http://{tenant}.app.test".into(),
    }
}

/// Waits until the tenant's outbox has `n` rows none of which is queued.
pub(super) async fn settled(s: &TestServer, tenant: &str, token: &str, n: usize) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let logs = s.json(tenant, token, "/api/email-logs").await;
        let items = logs["items"].as_array().cloned().unwrap_or_default();
        if items.len() >= n && items.iter().all(|i| i["status"] != "queued") {
            return items;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the outbox did not settle: {logs}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_uploader_gets_one_email_per_upload_with_what_was_rejected() {
    let smtpd = Smtpd::start();
    let s = TestServer::start(Options {
        email: email(Some(format!("smtp://127.0.0.1:{}", smtpd.port))),
        ..Default::default()
    })
    .await;
    let owner = s.admin_token("demo", "owner@bibbi.example").await;
    let boxnox = SAMPLE_TOTALS[1];
    let id = s.upload_one("demo", &owner, sample(boxnox.0)).await;
    s.wait("demo", &owner, &id).await;
    let logs = settled(&s, "demo", &owner, 1).await;
    assert_eq!(logs.len(), 1, "{logs:?}");
    let log = &logs[0];
    assert_eq!(log["status"], "sent", "{log}");
    assert_eq!(log["recipients"], json!(["owner@bibbi.example"]));
    assert!(
        log["smtp_reply"].as_str().unwrap().starts_with("250"),
        "{log}"
    );

    let received = smtpd.messages();
    assert_eq!(
        received.len(),
        1,
        "one message, not one per worker or retry"
    );
    let mail = mailparse::parse_mail(&received[0]).unwrap();
    let header = |name: &str| header(&mail, name);
    let file = boxnox.0.split('/').nth(1).unwrap();
    assert_eq!(
        header("Subject"),
        format!("Upload loaded, 1 row rejected: {file}")
    );
    assert_eq!(header("To"), "owner@bibbi.example");
    assert_eq!(header("From"), "TaskifAI <noreply@taskifai.test>");
    assert_eq!(header("Message-ID"), log["message_id"].as_str().unwrap());
    assert_eq!(mail.ctype.mimetype, "multipart/alternative");
    let part = |mime: &str| {
        mail.subparts
            .iter()
            .find(|p| p.ctype.mimetype == mime)
            .map(|p| p.get_body().unwrap())
            .unwrap_or_else(|| panic!("no {mime} part"))
    };
    // minijinja escapes "/" in HTML as &#x2f;, which mail clients read as "/".
    let (text, html) = (part("text/plain"), part("text/html").replace("&#x2f;", "/"));
    for expected in [
        format!("Rows accepted: {}", boxnox.1),
        "Rows rejected: 1".to_owned(),
        "(boxnox, April 2025)".to_owned(),
        format!("Open the upload: http://demo.app.test/history/{id}"),
        "7.35015E+12".to_owned(),
    ] {
        assert!(
            text.contains(&expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert!(
        html.contains(&format!("href=\"http://demo.app.test/history/{id}\"")),
        "{html}"
    );
    assert!(html.contains("First rejected rows"), "{html}");
    assert!(
        html.contains("Demo · TaskifAI"),
        "the tenant's name: {html}"
    );

    // Admins only; another tenant sees none of it.
    let viewer = s
        .user("demo", &owner, "viewer@bibbi.example", "viewer")
        .await;
    let refused = s
        .get("demo", &viewer, "/api/email-logs")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    s.tenant("acme").await;
    let acme = s.admin_token("acme", "owner@acme.example").await;
    let theirs = s.json("acme", &acme, "/api/email-logs").await;
    assert_eq!(theirs["items"], json!([]), "{theirs}");

    // Turned off: the next upload sends nothing.
    let off = s
        .req(Method::PUT, "demo", "/api/me/notifications")
        .bearer_auth(&owner)
        .json(&json!({ "uploads": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(off.status(), StatusCode::OK);
    let mine = s.json("demo", &owner, "/api/me/notifications").await;
    assert_eq!(mine, json!({ "uploads": false }));
    let id = s
        .upload_one("demo", &owner, sample(SAMPLE_TOTALS[2].0))
        .await;
    s.wait("demo", &owner, &id).await;
    // The notice is queued before the job is marked done, so none will come.
    assert_eq!(settled(&s, "demo", &owner, 1).await.len(), 1);
    assert_eq!(smtpd.messages().len(), 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_or_refusing_smtp_server_fails_the_email_and_nothing_else() {
    // Nothing listens on this port.
    let s = TestServer::start(Options {
        email: email(Some(format!("smtp://127.0.0.1:{}", free_port()))),
        ..Default::default()
    })
    .await;
    let owner = s.admin_token("demo", "owner@bibbi.example").await;
    let id = s
        .upload_one("demo", &owner, sample(SAMPLE_TOTALS[2].0))
        .await;
    let upload = s.wait("demo", &owner, &id).await;
    assert_eq!(upload["status"], "completed", "the upload is not the email");
    let logs = settled(&s, "demo", &owner, 1).await;
    assert_eq!(logs[0]["status"], "failed", "{logs:?}");
    assert_eq!(logs[0]["attempts"], 4, "{logs:?}");
    assert!(
        logs[0]["error"].as_str().unwrap().contains("SMTP server"),
        "{logs:?}"
    );
    s.stop().await;

    // A server that refuses the message for good: failed at once, not retried.
    let refusing = Smtpd::with_handler("refuse.Refuse");
    let s = TestServer::start(Options {
        email: email(Some(format!("smtp://127.0.0.1:{}", refusing.port))),
        ..Default::default()
    })
    .await;
    let owner = s.admin_token("demo", "owner@bibbi.example").await;
    let id = s
        .upload_one("demo", &owner, sample(SAMPLE_TOTALS[2].0))
        .await;
    s.wait("demo", &owner, &id).await;
    let logs = settled(&s, "demo", &owner, 1).await;
    assert_eq!(logs[0]["status"], "failed", "{logs:?}");
    assert_eq!(logs[0]["attempts"], 1, "a 5xx is not retried: {logs:?}");
    assert!(
        logs[0]["error"].as_str().unwrap().contains("550"),
        "{logs:?}"
    );
    s.stop().await;

    // No SMTP server configured: logged as not sent, with the reason.
    let s = TestServer::start(Options::default()).await;
    let owner = s.admin_token("demo", "owner@bibbi.example").await;
    let id = s
        .upload_one("demo", &owner, sample(SAMPLE_TOTALS[2].0))
        .await;
    s.wait("demo", &owner, &id).await;
    let logs = settled(&s, "demo", &owner, 1).await;
    assert_eq!(logs[0]["status"], "not_sent", "{logs:?}");
    assert!(
        logs[0]["error"].as_str().unwrap().contains("--smtp-url"),
        "{logs:?}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_sender_name_reply_to_recipients_and_colour_are_used() {
    let smtpd = Smtpd::start();
    let s = TestServer::start(Options {
        email: email(Some(format!("smtp://127.0.0.1:{}", smtpd.port))),
        ..Default::default()
    })
    .await;
    let owner = s.admin_token("demo", "owner@bibbi.example").await;
    let put = |body: Value| {
        s.req(Method::PUT, "demo", "/api/settings/email")
            .bearer_auth(&owner)
            .json(&body)
            .send()
    };
    let bad = put(json!({ "reply_to": "ops", "brand_colour": "#0a7b83" }))
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let res = put(json!({
        "sender_name": "Bibbi Sales Ops",
        "reply_to": "ops@bibbi.example",
        "upload_recipients": ["data@bibbi.example"],
        "brand_colour": "#0a7b83",
    }))
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // The uploader turned upload emails off: the tenant's list still hears.
    let res = s
        .req(Method::PUT, "demo", "/api/me/notifications")
        .bearer_auth(&owner)
        .json(&json!({ "uploads": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let id = s
        .upload_one("demo", &owner, sample(SAMPLE_TOTALS[2].0))
        .await;
    s.wait("demo", &owner, &id).await;
    let logs = settled(&s, "demo", &owner, 1).await;
    assert_eq!(logs[0]["status"], "sent", "{logs:?}");
    assert_eq!(logs[0]["recipients"], json!(["data@bibbi.example"]));
    let received = smtpd.messages();
    assert_eq!(received.len(), 1);
    let mail = mailparse::parse_mail(&received[0]).unwrap();
    let header = |name: &str| header(&mail, name);
    assert_eq!(
        header("From"),
        "\"Bibbi Sales Ops\" <noreply@taskifai.test>"
    );
    assert_eq!(header("Reply-To"), "ops@bibbi.example");
    assert_eq!(header("To"), "data@bibbi.example");
    let html = mail
        .subparts
        .iter()
        .find(|p| p.ctype.mimetype == "text/html")
        .unwrap()
        .get_body()
        .unwrap();
    assert!(html.contains("background:#0a7b83"), "{html}");
    s.stop().await;
}

/// The worker sending an email is killed while the SMTP server holds its answer to the message:
/// the server never accepted it, the job's lease runs out, another worker sends it, and the
/// recipient gets it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_whose_sender_was_killed_mid_send_arrives_once() {
    let smtpd = Smtpd::with_handler("slow_once.SlowOnce");
    let smtp_url = format!("smtp://127.0.0.1:{}", smtpd.port);
    let s = TestServer::start(Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let owner = s.admin_token("demo", "owner@bibbi.example").await;
    let id = s
        .upload_one("demo", &owner, sample(SAMPLE_TOTALS[2].0))
        .await;
    let logs = tempfile::tempdir().unwrap();
    let env = [("TASKIFAI_SMTP_URL", smtp_url.as_str())];
    let mut first = super::worker::worker_with(&s, false, &logs.path().join("first.log"), &env);
    let started = Instant::now();
    while !smtpd.maildir().join("holding").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the email was never sent: {}",
            std::fs::read_to_string(logs.path().join("first.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let upload = s.json("demo", &owner, &format!("/api/uploads/{id}")).await;
    assert_eq!(upload["status"], "completed", "the load was done before");

    let mut second = super::worker::worker_with(&s, false, &logs.path().join("second.log"), &env);
    let logs_ = settled(&s, "demo", &owner, 1).await;
    // The worker marks its job done just after the outbox row says sent; wait for that too.
    let started = Instant::now();
    let job = loop {
        let job: (i32, String) =
            sqlx::query_as("SELECT attempts, status FROM job_queue WHERE kind = 'email'")
                .fetch_one(&s.db.registry.pool)
                .await
                .unwrap();
        if job.1 != "running" || started.elapsed() > Duration::from_secs(60) {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(logs_[0]["status"], "sent", "{logs_:?}");
    assert_eq!(smtpd.messages().len(), 1, "delivered once");
    assert_eq!(job, (2, "done".to_owned()), "taken over after the kill");
    s.stop().await;
}
