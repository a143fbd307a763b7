//! `druidctl serve --env E --listen ADDR`: the reconcile service with a read-only web page
//! (docs/reconcile.md). Every `--interval` it reconciles every pipeline (and heals with
//! `--apply`), reads each supervisor and history, notifies drift; it serves `/` (one row per
//! pipeline, server-rendered HTML, no JavaScript), `/pipelines/NAME/history`, `/metrics`
//! (Prometheus) and `/api/status` (the document `status --all -o json` prints).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use deploy_core::Session;
use deploy_core::reconcile::{Options, State as Drift};
use deploy_core::service::{Snapshot, Watch};

use super::{Context, block_on};
use crate::output::{CliError, Output, Status};

/// Flags of `serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to listen (`127.0.0.1:8080`; `0.0.0.0:8080` in a container).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Time between two reconciles (`60s`, `5m`; at least 1s).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = super::reconcile::interval)]
    interval: Duration,
    /// Put the channel's version back on drifted and missing pipelines at each round.
    #[arg(long)]
    apply: bool,
}

/// What the handlers read: the last round.
#[derive(Default)]
struct Latest {
    snapshot: Option<Snapshot>,
    metrics: String,
    error: Option<String>,
    /// Reconcile rounds failed in a row.
    failed_rounds: u32,
    histories: std::collections::BTreeMap<String, Vec<deploy_core::ledger::DeployRecord>>,
}

type Shared = Arc<RwLock<Latest>>;

pub fn run(context: &Context, args: &Args, out: &Output) -> Result<Status, CliError> {
    let pipelines = super::reconcile::sessions(context, out)?;
    let latest: Shared = Arc::default();
    block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|err| CliError::io(format_args!("listening on {}", args.listen), err))?;
        let address = listener.local_addr().map_err(|err| CliError::io("reading the bound address", err))?;
        out.note(format_args!(
            "serving {} pipeline(s) of {} at http://{address}/ (metrics at /metrics, JSON at /api/status)",
            pipelines.len(),
            pipelines[0].1.environment.name
        ));
        let app = axum::Router::new()
            .route("/", axum::routing::get(page))
            .route("/api/status", axum::routing::get(api_status))
            .route("/metrics", axum::routing::get(metrics))
            .route("/pipelines/{name}/history", axum::routing::get(history))
            .route("/healthz", axum::routing::get(healthz))
            .layer(axum::middleware::map_response(secure_headers))
            .with_state(latest.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let mut watch = Watch::default();
        // Until interrupted; a failed round is shown on the page and retried.
        loop {
            round(&pipelines, &mut watch, &latest, args.apply, out).await;
            tokio::time::sleep(args.interval).await;
        }
    })
}

/// One reconcile round: the report, the rows, the histories, the metrics, notifications.
async fn round(
    pipelines: &[(Option<String>, Session)],
    watch: &mut Watch,
    latest: &Shared,
    apply: bool,
    out: &Output,
) {
    let started = Instant::now();
    let druid = pipelines[0].1.druid.clone();
    let options = Options { apply, ..Options::default() };
    match deploy_core::reconcile::reconcile(druid.as_ref(), pipelines, options).await {
        Ok(report) => {
            let snapshot = deploy_core::service::rows(&report, pipelines, options.concurrency).await;
            let now = jiff::Timestamp::now();
            watch.observe(&report, pipelines, now, started.elapsed().as_secs_f64());
            let mut histories = std::collections::BTreeMap::new();
            for (pipeline, session) in pipelines {
                if let Ok(records) = session.history().await {
                    histories.insert(pipeline.clone().unwrap_or_else(|| "-".into()), records);
                }
            }
            for (_, session) in pipelines {
                session.flush_notifications().await;
            }
            out.note(format_args!(
                "{}: {} in sync, {} drifted, {} missing",
                report.at,
                report.count(Drift::InSync),
                report.count(Drift::Drifted),
                report.count(Drift::Missing)
            ));
            let mut latest = latest.write().unwrap_or_else(std::sync::PoisonError::into_inner);
            latest.metrics = watch.metrics(&report, now);
            latest.snapshot = Some(snapshot);
            latest.histories = histories;
            latest.error = None;
            latest.failed_rounds = 0;
        }
        Err(err) => {
            out.error_line(format_args!("warning: reconcile failed: {err}"));
            let mut latest = latest.write().unwrap_or_else(std::sync::PoisonError::into_inner);
            // With its causes: "Druid failed while listing the supervisors" alone says too little.
            let mut reason = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                reason = format!("{reason}: {cause}");
                source = cause.source();
            }
            latest.error = Some(reason);
            latest.failed_rounds += 1;
        }
    }
}

/// Reconcile rounds failed in a row after which `/healthz` says unhealthy.
const UNHEALTHY_AFTER: u32 = 3;

async fn api_status(State(latest): State<Shared>) -> Response {
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

/// `ok` while reconciling works; 503 with the reason after `UNHEALTHY_AFTER` failed rounds in
/// a row (an orchestrator restarts or alerts on it).
async fn healthz(State(latest): State<Shared>) -> Response {
    let latest = latest.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    if latest.failed_rounds >= UNHEALTHY_AFTER {
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

async fn metrics(State(latest): State<Shared>) -> Response {
    let text = latest.read().unwrap_or_else(std::sync::PoisonError::into_inner).metrics.clone();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn page(State(latest): State<Shared>) -> Html<String> {
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

async fn history(State(latest): State<Shared>, Path(name): Path<String>) -> Response {
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
