//! The team's four alerts, each with its figure, threshold and the runbook's action:
//! supervisor state not RUNNING (investigate), task failures above 5 % (check parsing),
//! ingestion lag above 5 minutes (raise taskCount), parse exceptions above 1 % (check the
//! schema). Thresholds come from the environment's `[thresholds]`.

use serde::Serialize;

use crate::Result;
use crate::ops::Ingestion;
use crate::session::Session;

pub mod prometheus;
pub mod watch;

pub use prometheus::prometheus;
pub use watch::{Tick, Watcher};

/// The four alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The supervisor is not RUNNING.
    SupervisorState,
    /// Too many tasks failed in the window.
    TaskFailures,
    /// Ingestion is behind the topic.
    IngestionLag,
    /// Too many records are unparseable (the runbook's "parse exceptions"; the same name
    /// as verify's check).
    UnparseableRatio,
}

impl AlertKind {
    /// `supervisor_state`, `task_failures`, `ingestion_lag`, `unparseable_ratio`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SupervisorState => "supervisor_state",
            Self::TaskFailures => "task_failures",
            Self::IngestionLag => "ingestion_lag",
            Self::UnparseableRatio => "unparseable_ratio",
        }
    }
}

/// One alert evaluated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// Which alert.
    pub name: AlertKind,
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
    /// While a migration is open, its old side (best effort: read from the registry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_side: Option<crate::ops::SideStatus>,
}

impl Session {
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
                name: AlertKind::SupervisorState,
                value: state,
                measure: if running { 1.0 } else { 0.0 },
                threshold: "RUNNING".into(),
                breached: !running,
                action: "investigate: druidctl status, druidctl logs",
            },
            Alert {
                name: AlertKind::TaskFailures,
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
                name: AlertKind::IngestionLag,
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
                name: AlertKind::UnparseableRatio,
                value: {
                    let bound = &ingestion.unparseable_bound;
                    let confidence = thresholds.confidence * 100.0;
                    let unsure = !(bound.upper < thresholds.max_unparseable_ratio
                        || bound.lower > thresholds.max_unparseable_ratio);
                    format!(
                        "{:.2} % ({:.0} unparseable), {bound} at {confidence} %{}",
                        ingestion.unparseable_ratio * 100.0,
                        ingestion.unparseable,
                        if unsure { ": too few records to tell either side of the threshold" } else { "" }
                    )
                },
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
            old_side: self.old_side().await.ok().flatten(),
        })
    }
}

impl MonitorReport {
    /// The measure of alert `kind` (0 when absent).
    pub fn measure(&self, kind: AlertKind) -> f64 {
        self.alerts.iter().find(|alert| alert.name == kind).map_or(0.0, |alert| alert.measure)
    }
}
