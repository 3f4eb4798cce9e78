//! The web app's files (`api/web/dist`, built by Vite): hashed assets under `/assets/` cached
//! for a year, `index.html` never cached, and every other path that is not the API answered
//! with `index.html` so the app's own routes load on refresh. tower-http's `ServeDir` does the
//! file serving (ranges, conditional requests, content types, no path escapes).

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use std::path::Path;
use tower_http::services::{ServeDir, ServeFile};

/// The app's routes, when `dir` holds a built app.
pub fn routes<S: Clone + Send + Sync + 'static>(dir: &Path) -> Option<Router<S>> {
    let index = dir.join("index.html");
    if !index.is_file() {
        return None;
    }
    let files = ServeDir::new(dir).fallback(ServeFile::new(index));
    Some(
        Router::new()
            .fallback_service(files)
            .layer(middleware::from_fn(cache_headers)),
    )
}

async fn cache_headers(req: Request, next: Next) -> Response {
    let hashed = req.uri().path().starts_with("/assets/");
    let mut res = next.run(req).await;
    let value = if hashed && res.status().is_success() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    res
}
