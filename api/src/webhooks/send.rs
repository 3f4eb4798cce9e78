//! Posting one delivery. The request: `POST` of the JSON body with `Content-Type:
//! application/json`, `TaskifAI-Event`, `TaskifAI-Delivery` (the delivery's id, the same on every
//! retry), `TaskifAI-Timestamp` (Unix seconds) and `TaskifAI-Signature: v1=<hex HMAC-SHA256 of
//! "<timestamp>.<body>" with the webhook's secret>`. A 2xx answer is delivered; redirects are
//! not followed; 3xx and 4xx (but 408 and 429) fail at once, anything else is retried with
//! backoff.
//!
//! The address is checked when the webhook is saved and again at each delivery (DNS can
//! change): every address the host resolves to must be public, and the request goes to the
//! addresses that were checked, so a second lookup cannot point it elsewhere.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use sqlx::PgPool;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    #[error("webhook URL {0:?}: expected an http:// or https:// URL with a host")]
    Url(String),
    #[error("webhook host {host} could not be resolved: {reason}")]
    Resolve { host: String, reason: String },
    #[error("webhook host {host} resolves to {addr}, a private, loopback or link-local address; webhooks only go to public addresses (a deployment can allow private ones with --allow-private-webhooks)")]
    Private { host: String, addr: IpAddr },
}

/// A checked destination: the URL and the addresses its host resolved to.
#[derive(Debug)]
pub struct Target {
    pub url: url::Url,
    pub host: String,
    pub addrs: Vec<SocketAddr>,
}

/// Resolves the URL's host and checks every address.
pub async fn target(raw: &str, allow_private: bool) -> Result<Target, AddressError> {
    let url = url::Url::parse(raw.trim()).map_err(|_| AddressError::Url(raw.into()))?;
    let host = match (url.scheme(), url.host_str()) {
        ("http" | "https", Some(h)) if !h.is_empty() => h.trim_matches(['[', ']']).to_owned(),
        _ => return Err(AddressError::Url(raw.into())),
    };
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| AddressError::Resolve {
            host: host.clone(),
            reason: e.to_string(),
        })?
        .collect();
    if addrs.is_empty() {
        return Err(AddressError::Resolve {
            host,
            reason: "no addresses".into(),
        });
    }
    if !allow_private {
        if let Some(a) = addrs.iter().find(|a| !is_public(a.ip())) {
            return Err(AddressError::Private { host, addr: a.ip() });
        }
    }
    Ok(Target { url, host, addrs })
}

/// Whether an address is on the public internet: not loopback, private, link-local (cloud
/// metadata lives there), shared, documentation, multicast or unspecified.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

/// `v1=<hex>`: HMAC-SHA256 of `<timestamp>.<body>`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Why a delivery attempt did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Address(#[from] AddressError),
    #[error("the receiver answered {status}{}", if *.status >= 300 && *.status < 400 { " (redirects are not followed)" } else { "" })]
    Status { status: u16 },
    #[error("the receiver could not be reached: {0}")]
    Unreachable(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl SendError {
    pub fn is_transient(&self) -> bool {
        match self {
            SendError::Address(AddressError::Resolve { .. }) => true,
            SendError::Address(_) => false,
            // A redirect or a refusal answers the same next time; a timeout or a busy
            // receiver may not.
            SendError::Status { status } => {
                !(300..500).contains(status) || *status == 408 || *status == 429
            }
            SendError::Unreachable(_) | SendError::Database(_) => true,
        }
    }
}

#[derive(sqlx::FromRow)]
struct Pending {
    id: i64,
    event: String,
    body: String,
    status: String,
    url: String,
    secret: String,
    enabled: bool,
}

/// Posts the delivery a queue job names (`webhook:<id>`) and records the outcome.
pub async fn deliver(
    pool: &PgPool,
    key: &str,
    allow_private: bool,
    last_try: bool,
) -> Result<(), SendError> {
    let Some(id) = key
        .strip_prefix("webhook:")
        .and_then(|i| i.parse::<i64>().ok())
    else {
        return Ok(());
    };
    let Some(d): Option<Pending> = sqlx::query_as(
        "SELECT d.id, d.event, d.body, d.status, w.url, w.secret, w.enabled
         FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(());
    };
    if d.status != "queued" || !d.enabled {
        return Ok(());
    }
    let result = post(&d, allow_private).await;
    let (status, code, error) = match &result {
        Ok(code) => ("delivered", Some(*code as i32), None),
        Err(e) => (
            if last_try || !e.is_transient() {
                "failed"
            } else {
                "queued"
            },
            match e {
                SendError::Status { status } => Some(*status as i32),
                _ => None,
            },
            Some(e.to_string()),
        ),
    };
    sqlx::query(
        "UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, response_status = $3, error = $4,
             delivered_at = CASE WHEN $2 = 'delivered' THEN now() END WHERE id = $1",
    )
    .bind(d.id)
    .bind(status)
    .bind(code)
    .bind(error)
    .execute(pool)
    .await?;
    result.map(|_| ())
}

async fn post(d: &Pending, allow_private: bool) -> Result<u16, SendError> {
    let t = target(&d.url, allow_private).await?;
    // rustls without a default provider: the ring provider the object stores build.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .user_agent("TaskifAI-Webhooks/1")
        .resolve_to_addrs(&t.host, &t.addrs)
        .build()
        .map_err(|e| SendError::Unreachable(e.to_string()))?;
    let now = chrono::Utc::now().timestamp();
    let res = client
        .post(t.url)
        .header("Content-Type", "application/json")
        .header("TaskifAI-Event", &d.event)
        .header("TaskifAI-Delivery", d.id.to_string())
        .header("TaskifAI-Timestamp", now.to_string())
        .header("TaskifAI-Signature", signature(&d.secret, now, &d.body))
        .body(d.body.clone())
        .send()
        .await
        .map_err(|e| SendError::Unreachable(e.to_string()))?;
    let status = res.status().as_u16();
    if res.status().is_success() {
        Ok(status)
    } else {
        Err(SendError::Status { status })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn private_targets_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:9000/hook",
            "http://localhost/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/hook",
            "http://0x7f000001/hook",
        ] {
            let e = target(url, false).await.unwrap_err();
            assert!(matches!(e, AddressError::Private { .. }), "{url}: {e}");
        }
        assert!(target("http://127.0.0.1:9000/hook", true).await.is_ok());
        assert!(matches!(
            target("ftp://example.com/", false).await,
            Err(AddressError::Url(_))
        ));
        assert!(matches!(
            target("not a url", false).await,
            Err(AddressError::Url(_))
        ));
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_and_body() {
        // Computed apart, by Python:
        // hmac.new(b"whsec_test", b"1700000000.{}", hashlib.sha256).hexdigest()
        assert_eq!(
            signature("whsec_test", 1_700_000_000, "{}"),
            "v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
    }
}
