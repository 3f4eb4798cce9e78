//! Sessions for the web app: the refresh token travels in an `HttpOnly`, `SameSite=Strict`
//! cookie scoped to `/api/auth` instead of the JSON body, so page scripts never hold it. A
//! request takes the cookie path only with the `X-TaskifAI-Client: web` header, which a page on
//! another site cannot send without a CORS preflight this API never grants: that header is the
//! CSRF check. Scripts keep using the JSON flow.

use super::error::{ApiError, ApiResult};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use std::time::Duration;

pub const COOKIE: &str = "taskifai_refresh";
pub const CLIENT_HEADER: &str = "x-taskifai-client";

/// Whether the request comes from the web app (and so may use the cookie).
pub fn is_web(headers: &HeaderMap) -> bool {
    headers
        .get(CLIENT_HEADER)
        .is_some_and(|v| v.as_bytes() == b"web")
}

fn secure(headers: &HeaderMap) -> &'static str {
    let tls = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    if tls {
        "; Secure"
    } else {
        ""
    }
}

/// The refresh token of a refresh or logout: the body's, or the web app's cookie.
pub fn refresh_token(headers: &HeaderMap, body: Option<String>) -> ApiResult<String> {
    if let Some(t) = body.filter(|t| !t.is_empty()) {
        return Ok(t);
    }
    if !is_web(headers) {
        return Err(ApiError::bad(
            "missing_refresh_token",
            "send refresh_token in the body (or, from the web app, the session cookie)",
        ));
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
        .ok_or_else(|| ApiError::Unauthorized("no session; sign in".into()))
}

/// The cookie that carries a web app's refresh token, or `None` for other clients (who get the
/// token in the body).
pub fn cookie(headers: &HeaderMap, refresh_token: &str, ttl: Duration) -> Option<HeaderValue> {
    if !is_web(headers) {
        return None;
    }
    HeaderValue::from_str(&format!(
        "{COOKIE}={refresh_token}; HttpOnly; SameSite=Strict; Path=/api/auth; Max-Age={}{}",
        ttl.as_secs(),
        secure(headers)
    ))
    .ok()
}

/// A response that also removes the web app's cookie.
pub fn clear(headers: &HeaderMap, mut res: Response) -> Response {
    let cookie = format!(
        "{COOKIE}=; HttpOnly; SameSite=Strict; Path=/api/auth; Max-Age=0{}",
        secure(headers)
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}
