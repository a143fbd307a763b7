//! The monitor's figures for Prometheus: the text exposition (format 0.0.4) and a minimal
//! HTTP server that answers `GET /metrics` with the latest one.

use std::sync::{Arc, Mutex};

use super::{AlertKind, MonitorReport};

/// The report as Prometheus text exposition (format 0.0.4): one gauge per figure, labelled
/// with the environment and datasource.
pub fn prometheus(reports: &[MonitorReport]) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    let gauges: [Gauge; 7] = [
        ("druidctl_supervisor_running", "1 when the supervisor state is RUNNING", |r| {
            r.measure(AlertKind::SupervisorState)
        }),
        ("druidctl_task_failure_ratio", "Failed over completed tasks in the window", |r| {
            r.measure(AlertKind::TaskFailures)
        }),
        ("druidctl_ingestion_lag_seconds", "Ingestion lag in seconds (reported or estimated)", |r| {
            r.measure(AlertKind::IngestionLag)
        }),
        ("druidctl_unparseable_ratio", "Unparseable over processed records", |r| {
            r.measure(AlertKind::UnparseableRatio)
        }),
        ("druidctl_processing_rate", "Rows per second over 5 minutes", |r| {
            r.ingestion.rates.get("5m").copied().unwrap_or(0.0)
        }),
        ("druidctl_active_tasks", "Reading tasks", |r| {
            #[allow(clippy::cast_precision_loss)]
            let tasks = r.ingestion.active_tasks as f64;
            tasks
        }),
        ("druidctl_alerts_breached", "Alerts over their threshold", |r| {
            #[allow(clippy::cast_precision_loss)]
            let breached = r.alerts.iter().filter(|alert| alert.breached).count() as f64;
            breached
        }),
    ];
    for (name, help, value) in gauges {
        let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} gauge");
        for report in reports {
            let _ = writeln!(
                text,
                "{name}{{env=\"{}\",datasource=\"{}\"}} {}",
                escape(&report.environment),
                escape(&report.datasource),
                value(report)
            );
        }
    }
    text
}

/// Name, help text and how to read the value of one gauge.
type Gauge = (&'static str, &'static str, fn(&MonitorReport) -> f64);

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Answers every HTTP request on `listener` with the latest metrics in `latest` (one
/// request per connection; anything but `GET /metrics` is a 404). Runs until the listener
/// fails; spawn it.
pub async fn serve_metrics(listener: tokio::net::TcpListener, latest: Arc<Mutex<String>>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    while let Ok((mut stream, _)) = listener.accept().await {
        let body = latest.lock().map(|text| text.clone()).unwrap_or_default();
        tokio::spawn(async move {
            let mut request = [0_u8; 1024];
            let _ = stream.read(&mut request).await;
            let wanted = request.starts_with(b"GET /metrics ");
            let (status, body) =
                if wanted { ("200 OK", body) } else { ("404 Not Found", "try /metrics\n".to_owned()) };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
        });
    }
}
