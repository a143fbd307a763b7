//! `serve`'s read-only web page and API over the reconcile service's latest round
//! (docs/reconcile.md): `/` (one row per pipeline, server-rendered HTML, no JavaScript),
//! `/pipelines/NAME/history`, `/metrics` (Prometheus), `/api/status` (the document
//! `status --all -o json` prints) and `/healthz`.

use std::fmt::Write as _;

use axum::extract::{Path, State as Extract};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::fleet::runtime::Shared;
use crate::reconcile::State as Drift;

/// The routes over `latest` (serve them with [`crate::observe::http::spawn`]).
pub fn router(latest: Shared) -> axum::Router {
    axum::Router::new()
        .route("/", axum::routing::get(page))
        .route("/api/status", axum::routing::get(api_status))
        .route("/metrics", axum::routing::get(metrics))
        .route("/pipelines/{name}/history", axum::routing::get(history))
        .route("/healthz", axum::routing::get(healthz))
        .with_state(latest)
}

async fn api_status(Extract(latest): Extract<Shared>) -> Response {
    let latest = latest.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(snapshot) = &latest.snapshot {
        let mut document = serde_json::to_value(snapshot).unwrap_or_default();
        // The snapshot is the last good round's: say why it is not newer.
        if let (Some(error), Some(object)) = (&latest.error, document.as_object_mut()) {
            object.insert("last_round_error".into(), serde_json::json!(error));
            object.insert("failed_rounds".into(), serde_json::json!(latest.failed_rounds));
        }
        ([(header::CONTENT_TYPE, "application/json")], document.to_string()).into_response()
    } else {
        let reason = latest.error.as_deref().unwrap_or("the first reconcile has not finished");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({"error": reason, "failed_rounds": latest.failed_rounds}).to_string(),
        )
            .into_response()
    }
}

/// `ok` while reconciling works; 503 with the reason after [`crate::fleet::runtime::UNHEALTHY_AFTER`] failed rounds in
/// a row (an orchestrator restarts or alerts on it).
async fn healthz(Extract(latest): Extract<Shared>) -> Response {
    let latest = latest.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    if latest.failed_rounds >= crate::fleet::runtime::UNHEALTHY_AFTER {
        let reason = latest.error.as_deref().unwrap_or("unknown");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("unhealthy: {} reconcile rounds failed in a row: {reason}\n", latest.failed_rounds),
        )
            .into_response()
    } else {
        "ok\n".into_response()
    }
}

async fn metrics(Extract(latest): Extract<Shared>) -> Response {
    let text = latest.read().unwrap_or_else(std::sync::PoisonError::into_inner).metrics.clone();
    crate::observe::http::metrics_response(text)
}

async fn page(Extract(latest): Extract<Shared>) -> Html<String> {
    let latest = latest.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut body = String::new();
    match &latest.snapshot {
        None => body.push_str("<p>The first reconcile has not finished yet.</p>"),
        Some(snapshot) => {
            let _ = write!(
                body,
                "<h1>druidctl: {}</h1><p>Reconciled at <time>{}</time>. {} pipeline(s), {} in sync.</p>",
                escape(&snapshot.environment),
                escape(&snapshot.at),
                snapshot.pipelines.len(),
                snapshot.pipelines.iter().filter(|row| row.drift == Drift::InSync).count()
            );
            body.push_str(
                "<table><thead><tr><th>Pipeline</th><th>Datasource</th><th>Live</th><th>Channel</th><th>Drift</th>\
                 <th>State</th><th>Lag</th><th>Parse errors</th><th>Last action</th><th>By</th></tr></thead><tbody>",
            );
            for row in &snapshot.pipelines {
                let class = if row.drift == Drift::InSync { "ok" } else { "bad" };
                let _ = write!(
                    body,
                    "<tr class=\"{class}\"><td><a href=\"/pipelines/{}/history\">{}</a></td><td>{}</td><td>{}</td><td>{}</td>\
                     <td title=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}<br><small>{}</small></td><td>{}</td></tr>",
                    escape(&row.pipeline),
                    escape(&row.pipeline),
                    escape(&row.datasource),
                    escape(row.live_version.as_deref().unwrap_or("-")),
                    escape(row.channel_version.as_deref().unwrap_or("-")),
                    escape(row.changed.as_deref().unwrap_or("")),
                    row.drift.as_str(),
                    escape(row.state.as_deref().unwrap_or("-")),
                    row.lag_records.map_or_else(|| "-".to_owned(), |lag| format!("{lag} records")),
                    row.unparseable_ratio
                        .map_or_else(|| "-".to_owned(), |ratio| format!("{:.2} %", ratio * 100.0)),
                    escape(row.last_action.as_deref().unwrap_or("-")),
                    escape(row.last_at.as_deref().unwrap_or("")),
                    escape(row.last_by.as_deref().unwrap_or("-")),
                );
            }
            body.push_str("</tbody></table>");
            if !snapshot.unmanaged.is_empty() {
                let _ = write!(
                    body,
                    "<p>Supervisors no pipeline declares (left alone): {}</p>",
                    snapshot.unmanaged.iter().map(|id| escape(id)).collect::<Vec<_>>().join(", ")
                );
            }
        }
    }
    if let Some(error) = &latest.error {
        let _ = write!(body, "<p class=\"bad\">The last reconcile failed: {}</p>", escape(error));
    }
    Html(document("druidctl", &body))
}

async fn history(Extract(latest): Extract<Shared>, Path(name): Path<String>) -> Response {
    let latest = latest.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(records) = latest.histories.get(&name) else {
        return (StatusCode::NOT_FOUND, Html(document("not found", "<p>No such pipeline.</p>")))
            .into_response();
    };
    let mut body = format!(
        "<h1>{}: history</h1><p><a href=\"/\">All pipelines</a></p><table><thead><tr><th>At</th><th>Action</th><th>Outcome</th><th>From</th><th>To</th><th>By</th><th>Detail</th></tr></thead><tbody>",
        escape(&name)
    );
    for record in records.iter().rev() {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&record.at),
            record.action,
            record.outcome,
            escape(record.from.as_deref().unwrap_or("-")),
            escape(record.to.as_deref().unwrap_or("-")),
            escape(record.by.as_deref().unwrap_or("-")),
            escape(record.detail.as_deref().unwrap_or("")),
        );
    }
    body.push_str("</tbody></table>");
    Html(document(&format!("{name}: history"), &body)).into_response()
}

/// A complete page: plain HTML and a little CSS, refreshed every 30 s by the browser itself.
fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"30\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{}</title><style>\
         body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left}}tr.bad td{{background:#fde8e8}}\
         tr.ok td:nth-child(5){{color:#176f2c}}small{{color:#666}}</style></head><body>{body}</body></html>",
        escape(title)
    )
}

/// Text made safe for HTML.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    #[test]
    fn html_is_escaped() {
        assert_eq!(super::escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
