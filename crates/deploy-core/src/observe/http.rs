//! The one HTTP server (axum) of the long-running commands: `serve`'s page and API
//! ([`crate::fleet::page`]), and `/metrics` for `monitor --prometheus` and
//! `reconcile --prometheus`. Every answer carries the same security headers.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The latest metrics text, replaced after each round by whoever computes it.
pub type LatestMetrics = Arc<RwLock<String>>;

/// Binds `address` (port 0: any free one).
///
/// # Errors
/// The address cannot be bound.
pub async fn bind(address: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(address).await
}

/// Serves `router` on `listener` in the background, with the security headers, until the
/// process ends.
pub fn spawn(listener: tokio::net::TcpListener, router: axum::Router) -> tokio::task::JoinHandle<()> {
    let router = router.layer(axum::middleware::map_response(secure_headers));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    })
}

/// `GET /metrics` with the latest text (and `/healthz`, always `ok`).
pub fn metrics_router(latest: LatestMetrics) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(metrics))
        .route("/healthz", axum::routing::get(|| async { "ok\n" }))
        .with_state(latest)
}

async fn metrics(axum::extract::State(latest): axum::extract::State<LatestMetrics>) -> Response {
    metrics_response(latest.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone())
}

/// A Prometheus answer of `text`.
pub fn metrics_response(text: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// The headers every answer carries: no script, no framing, no type sniffing (the page is
/// plain HTML with inline style).
async fn secure_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'",
        ),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
    ] {
        headers.insert(name, axum::http::HeaderValue::from_static(value));
    }
    response
}
