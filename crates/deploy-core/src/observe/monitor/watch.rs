//! Watching: the alerts evaluated again and again. A watcher and an exporter must outlive a
//! Druid that fails now and then: a failed evaluation is reported (as an event, in the
//! metrics `druidctl_up` and `druidctl_monitor_errors_total`), the next one waits longer
//! (doubling, up to ten intervals), and the watch goes on.

use std::time::Duration;

use serde::Serialize;

use super::{MonitorReport, prometheus};
use crate::session::Session;

/// The shortest interval between two evaluations: more often hammers the Overlord.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// One evaluation of a watch.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Tick {
    /// The alerts were evaluated.
    Report {
        /// When (RFC 3339, milliseconds).
        at: String,
        /// The alerts.
        report: Box<MonitorReport>,
    },
    /// Druid (or the registry) failed; the watch goes on.
    Failed {
        /// When (RFC 3339, milliseconds).
        at: String,
        /// What failed, with its causes.
        error: String,
        /// Failures in a row.
        consecutive: u32,
        /// Seconds until the next try.
        retry_in_secs: u64,
    },
}

/// Evaluates the alerts of a session every `interval`, surviving failures.
#[derive(Debug)]
pub struct Watcher {
    session: Session,
    interval: Duration,
    last: Option<MonitorReport>,
    errors_total: u64,
    consecutive: u32,
    /// Alerts fired now, with when they were last notified (for reminders).
    fired: std::collections::BTreeMap<String, jiff::Timestamp>,
}

impl Watcher {
    /// A watcher of `session`'s alerts every `interval` (at least [`MIN_INTERVAL`]).
    pub fn new(session: Session, interval: Duration) -> Self {
        Self {
            session,
            interval: interval.max(MIN_INTERVAL),
            last: None,
            errors_total: 0,
            consecutive: 0,
            fired: std::collections::BTreeMap::new(),
        }
    }

    /// Evaluates once; never fails.
    pub async fn tick(&mut self) -> Tick {
        let now = self.session.clock.now();
        let at = format!("{:.3}", now.round(jiff::Unit::Millisecond).unwrap_or(now));
        match self.session.monitor().await {
            Ok(report) => {
                self.consecutive = 0;
                for (kind, detail) in self.notify_transitions(&report, now) {
                    self.session.keep_observation(kind, detail).await;
                }
                self.last = Some(report.clone());
                Tick::Report { at, report: Box::new(report) }
            }
            Err(err) => {
                self.errors_total += 1;
                self.consecutive += 1;
                let mut error = err.to_string();
                let mut source = std::error::Error::source(&err);
                while let Some(cause) = source {
                    error.push_str(": ");
                    error.push_str(&cause.to_string());
                    source = cause.source();
                }
                Tick::Failed {
                    at,
                    error,
                    consecutive: self.consecutive,
                    retry_in_secs: self.delay().as_secs(),
                }
            }
        }
    }

    /// Sends `alert-fired` when an alert becomes breached, `alert-resolved` when it clears, and
    /// nothing while it stays as it was, but for a reminder every `remind_minutes` when a
    /// notifier sets one.
    /// Returns the transitions, to be kept as observations.
    fn notify_transitions(
        &mut self,
        report: &MonitorReport,
        now: jiff::Timestamp,
    ) -> Vec<(&'static str, String)> {
        use crate::notify::EventKind;
        let mut transitions = Vec::new();
        for alert in &report.alerts {
            let name = alert.name.as_str().to_owned();
            let detail = || {
                format!(
                    "{}: {} (threshold {}). {}",
                    alert.name.as_str(),
                    alert.value,
                    alert.threshold,
                    alert.action
                )
            };
            match (alert.breached, self.fired.get(&name).copied()) {
                (true, None) => {
                    self.session.notify(
                        EventKind::AlertFired,
                        None,
                        None,
                        std::collections::BTreeMap::default(),
                        Some(detail()),
                    );
                    transitions.push(("alert-fired", detail()));
                    self.fired.insert(name, now);
                }
                (true, Some(last)) => {
                    let due = self
                        .session
                        .notifier
                        .remind
                        .is_some_and(|every| now.duration_since(last).unsigned_abs() >= every);
                    if due {
                        let reminder = format!("still firing: {}", detail());
                        self.session.notify(
                            EventKind::AlertFired,
                            None,
                            None,
                            std::collections::BTreeMap::default(),
                            Some(reminder),
                        );
                        self.fired.insert(name, now);
                    }
                }
                (false, Some(_)) => {
                    self.fired.remove(&name);
                    let detail =
                        format!("{}: {} (threshold {})", alert.name.as_str(), alert.value, alert.threshold);
                    self.session.notify(
                        EventKind::AlertResolved,
                        None,
                        None,
                        std::collections::BTreeMap::default(),
                        Some(detail.clone()),
                    );
                    transitions.push(("alert-resolved", detail));
                }
                (false, None) => {}
            }
        }
        transitions
    }

    /// Waits for the notifications in flight (call before dropping the runtime).
    pub async fn flush_notifications(&self) {
        self.session.flush_notifications().await;
    }

    /// How long to wait before the next tick: the interval, doubled per failure in a row up
    /// to ten intervals.
    pub fn delay(&self) -> Duration {
        let factor = 1_u32.checked_shl(self.consecutive.min(4)).unwrap_or(16).min(10);
        self.interval.saturating_mul(factor)
    }

    /// Waits for the next tick on the session's clock.
    pub async fn wait(&self) {
        self.session.clock.sleep(self.delay()).await;
    }

    /// The Prometheus text: the last good report's gauges (kept while Druid fails, so a
    /// dashboard does not go blank), `druidctl_up` (0 while failing) and the error count.
    pub fn metrics(&self) -> String {
        use std::fmt::Write as _;
        let mut text =
            self.last.as_ref().map(|report| prometheus(std::slice::from_ref(report))).unwrap_or_default();
        let labels = format!(
            "env=\"{}\",datasource=\"{}\"",
            self.session.environment.name, self.session.environment.datasource
        );
        let _ = writeln!(
            text,
            "# HELP druidctl_up 1 when the last evaluation reached Druid\n# TYPE druidctl_up gauge\ndruidctl_up{{{labels}}} {}",
            u8::from(self.consecutive == 0 && self.last.is_some())
        );
        let _ = writeln!(
            text,
            "# HELP druidctl_monitor_errors_total Evaluations that failed\n# TYPE druidctl_monitor_errors_total counter\ndruidctl_monitor_errors_total{{{labels}}} {}",
            self.errors_total
        );
        text
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use druid_client::testing::{Call, FakeDruid};
    use schema_registry::{MemoryStore, Registry};

    use super::*;
    use crate::config::{Config, Overrides};

    fn session(druid: Arc<FakeDruid>) -> Session {
        let text = "[schema]\nmessage = \"p.M\"\n[environments.dev]\ndatasource = \"ds\"\ndruid.url = \"http://d\"\nkafka = { topic = \"t\", bootstrap_servers = \"k:9092\" }\n";
        let environment = Config::parse(text, Path::new("druidctl.toml"))
            .unwrap()
            .environment("dev", &Overrides::default())
            .unwrap();
        Session::new(environment, druid, Registry::new(Arc::new(MemoryStore::new())))
    }

    #[tokio::test]
    async fn failures_are_ticks_that_back_off_and_show_in_the_metrics() {
        let druid = Arc::new(FakeDruid::new());
        // No supervisor "ds": every evaluation fails.
        let mut watcher = Watcher::new(session(druid.clone()), Duration::ZERO);
        assert_eq!(watcher.delay(), MIN_INTERVAL, "the interval has a floor");
        let mut delays = Vec::new();
        for _ in 0..6 {
            let Tick::Failed { error, retry_in_secs, .. } = watcher.tick().await else {
                panic!("Druid has no ds")
            };
            assert!(error.contains("no supervisor `ds`"), "{error}");
            delays.push(retry_in_secs);
        }
        assert_eq!(delays, [2, 4, 8, 10, 10, 10]);
        let metrics = watcher.metrics();
        assert!(metrics.contains("druidctl_up{env=\"dev\",datasource=\"ds\"} 0"), "{metrics}");
        assert!(
            metrics.contains("druidctl_monitor_errors_total{env=\"dev\",datasource=\"ds\"} 6"),
            "{metrics}"
        );
        assert_eq!(druid.calls(Call::SupervisorStatus), 6);
    }
}
