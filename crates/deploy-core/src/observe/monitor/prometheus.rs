//! The monitor's figures for Prometheus (written by [`crate::observe::prometheus`], served by
//! [`crate::observe::http`]).

use super::{AlertKind, MonitorReport};
use crate::observe::prometheus::Exposition;

/// The report as Prometheus text exposition (format 0.0.4): one gauge per figure, labelled
/// with the environment and datasource.
pub fn prometheus(reports: &[MonitorReport]) -> String {
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
    let mut exposition = Exposition::new();
    for (name, help, value) in gauges {
        exposition.gauge(name, help);
        for report in reports {
            exposition.sample(
                name,
                &[("env", &report.environment), ("datasource", &report.datasource)],
                value(report),
            );
        }
    }
    exposition.finish()
}

/// Name, help text and how to read the value of one gauge.
type Gauge = (&'static str, &'static str, fn(&MonitorReport) -> f64);
