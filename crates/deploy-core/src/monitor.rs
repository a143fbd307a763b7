//! The team's four alerts, each with its figure, threshold and the runbook's action:
//! supervisor state not RUNNING (investigate), task failures above 5 % (check parsing),
//! ingestion lag above 5 minutes (raise taskCount), parse exceptions above 1 % (check the
//! schema). Thresholds come from the environment's `[thresholds]`.

use serde::Serialize;

use crate::Result;
use crate::workflow::{Ingestion, Workflow};

/// One alert evaluated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// `supervisor_state`, `task_failures`, `ingestion_lag`, `parse_exceptions`.
    pub name: &'static str,
    /// The figure, for people.
    pub value: String,
    /// The figure, for machines (1/0 for the state; a ratio; seconds).
    pub measure: f64,
    /// The threshold, for people.
    pub threshold: String,
    /// Whether the threshold is crossed.
    pub breached: bool,
    /// What the runbook says to do.
    pub action: &'static str,
}

/// The alerts of an environment at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonitorReport {
    /// Environment.
    pub environment: String,
    /// Datasource.
    pub datasource: String,
    /// Whether any alert is breached.
    pub breached: bool,
    /// Every alert.
    pub alerts: Vec<Alert>,
    /// The snapshot they were computed from.
    pub ingestion: Ingestion,
}

impl Workflow<'_> {
    /// Evaluates the four alerts (Druid only: works while the registry is unreachable).
    pub async fn monitor(&self) -> Result<MonitorReport> {
        let ingestion = self.ingestion().await?;
        let (failed, completed, failure_ratio) = self.task_failures().await?;
        let thresholds = &self.environment.thresholds;
        let running = ingestion.state.as_deref() == Some("RUNNING");
        let state = format!(
            "{} / {}",
            ingestion.state.as_deref().unwrap_or("unknown"),
            ingestion.detailed_state.as_deref().unwrap_or("unknown")
        );
        let lag = ingestion.lag_seconds.unwrap_or(0.0);
        #[allow(clippy::cast_precision_loss)]
        let max_lag = thresholds.max_lag_seconds as f64;
        let alerts = vec![
            Alert {
                name: "supervisor_state",
                value: state,
                measure: if running { 1.0 } else { 0.0 },
                threshold: "RUNNING".into(),
                breached: !running,
                action: "investigate: druidctl status, druidctl logs",
            },
            Alert {
                name: "task_failures",
                value: format!(
                    "{:.1} % ({failed} of {completed} in {} h)",
                    failure_ratio * 100.0,
                    thresholds.task_window_hours
                ),
                measure: failure_ratio,
                threshold: format!("<= {:.1} %", thresholds.max_task_failure_ratio * 100.0),
                breached: failure_ratio > thresholds.max_task_failure_ratio,
                action: "check parsing: druidctl logs, the supervisor's parse errors",
            },
            Alert {
                name: "ingestion_lag",
                value: match ingestion.lag_seconds {
                    Some(seconds) => {
                        format!("{seconds:.0} s{}", if ingestion.lag_estimated { " (estimated)" } else { "" })
                    }
                    None => "unknown".into(),
                },
                measure: lag,
                threshold: format!("<= {} s", thresholds.max_lag_seconds),
                breached: lag > max_lag,
                action: "raise taskCount (ingestion.task_count in druidctl.toml), then deploy",
            },
            Alert {
                name: "parse_exceptions",
                value: format!("{:.2} %", ingestion.unparseable_ratio * 100.0),
                measure: ingestion.unparseable_ratio,
                threshold: format!("<= {:.2} %", thresholds.max_unparseable_ratio * 100.0),
                breached: ingestion.unparseable_ratio > thresholds.max_unparseable_ratio,
                action: "check the schema: druidctl check against the live version, producers' serializer",
            },
        ];
        Ok(MonitorReport {
            environment: self.environment.name.clone(),
            datasource: self.environment.datasource.clone(),
            breached: alerts.iter().any(|alert| alert.breached),
            alerts,
            ingestion,
        })
    }
}

/// The report as Prometheus text exposition (format 0.0.4): one gauge per figure, labelled
/// with the environment and datasource.
pub fn prometheus(reports: &[MonitorReport]) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    let gauges: [Gauge; 7] = [
        ("druidctl_supervisor_running", "1 when the supervisor state is RUNNING", |r| r.alerts[0].measure),
        ("druidctl_task_failure_ratio", "Failed over completed tasks in the window", |r| r.alerts[1].measure),
        ("druidctl_ingestion_lag_seconds", "Ingestion lag in seconds (reported or estimated)", |r| {
            r.alerts[2].measure
        }),
        ("druidctl_unparseable_ratio", "Unparseable over processed records", |r| r.alerts[3].measure),
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
