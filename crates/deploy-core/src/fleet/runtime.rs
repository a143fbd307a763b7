//! The reconcile service's loop, in the library so that `serve`, `reconcile --watch` and any
//! embedder run the same one: a round every interval (reconcile, heal with `apply`, notify
//! drift, keep the latest state for the page, `/api/status` and `/metrics`), a backoff after
//! failed rounds, and an end when cancelled.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::ledger::DeployRecord;
use crate::reconcile::{Options, Report};
use crate::service::{Snapshot, Watch};
use crate::session::{Cancel, Session};

/// Rounds failed in a row after which the service reports itself unhealthy (`/healthz`).
pub const UNHEALTHY_AFTER: u32 = 3;

/// The longest wait between two rounds while they fail.
const MAX_BACKOFF: Duration = Duration::from_mins(5);

/// How the service runs.
#[derive(Debug, Clone, Copy)]
pub struct ServiceOptions {
    /// Put the channel's version back on drifted and missing pipelines at each round.
    pub apply: bool,
    /// Between two rounds that worked.
    pub interval: Duration,
    /// Read every pipeline's supervisor and history for the page (`serve`); without it a
    /// round is the reconcile alone (`reconcile --watch`).
    pub snapshot: bool,
    /// Pipelines read at a time.
    pub concurrency: usize,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        Self { apply: false, interval: Duration::from_mins(1), snapshot: false, concurrency: 16 }
    }
}

/// What the last rounds left, for the page and the API.
#[derive(Debug, Default)]
pub struct Latest {
    /// The last good round's rows (with `snapshot`).
    pub snapshot: Option<Snapshot>,
    /// The last good round's report.
    pub report: Option<Report>,
    /// Prometheus metrics of the last good round.
    pub metrics: String,
    /// Why the last round failed, with its causes, while it does.
    pub error: Option<String>,
    /// Rounds failed in a row.
    pub failed_rounds: u32,
    /// Each pipeline's history (with `snapshot`), by pipeline name (`-` for the implicit one).
    pub histories: BTreeMap<String, Vec<DeployRecord>>,
}

/// [`Latest`], shared with the HTTP handlers.
pub type Shared = Arc<RwLock<Latest>>;

/// How a round ended.
#[derive(Debug)]
pub enum Round {
    /// Reconciled: the report.
    Reconciled(Report),
    /// Failed; the service waits `retry_in` before the next round.
    Failed {
        /// The error, with its causes.
        error: String,
        /// Rounds failed in a row, this one included.
        consecutive: u32,
        /// The wait before the next round.
        retry_in: Duration,
    },
}

/// The reconcile service over the pipelines of one environment.
pub struct Service {
    pipelines: Vec<(Option<String>, Session)>,
    options: ServiceOptions,
    watch: Watch,
    latest: Shared,
}

impl Service {
    /// A service over `pipelines` (all on one Druid); no round has run.
    ///
    /// # Panics
    /// When `pipelines` is empty.
    pub fn new(pipelines: Vec<(Option<String>, Session)>, options: ServiceOptions) -> Self {
        assert!(!pipelines.is_empty(), "a service needs a pipeline");
        Self { pipelines, options, watch: Watch::default(), latest: Shared::default() }
    }

    /// What the rounds left, to serve.
    pub fn latest(&self) -> Shared {
        self.latest.clone()
    }

    /// The pipelines.
    pub fn pipelines(&self) -> &[(Option<String>, Session)] {
        &self.pipelines
    }

    /// One round: reconcile (healing with `apply`), the rows and histories with `snapshot`,
    /// drift notifications sent, [`Latest`] updated. A failure is kept in [`Latest`] with the
    /// last good round's state.
    pub async fn round(&mut self) -> Round {
        let started = Instant::now();
        let druid = self.pipelines[0].1.druid.clone();
        let options = Options { apply: self.options.apply, concurrency: self.options.concurrency };
        match crate::reconcile::reconcile(druid.as_ref(), &self.pipelines, options).await {
            Ok(report) => {
                let snapshot = if self.options.snapshot {
                    Some(crate::service::rows(&report, &self.pipelines, self.options.concurrency).await)
                } else {
                    None
                };
                let mut histories = BTreeMap::new();
                if self.options.snapshot {
                    for (pipeline, session) in &self.pipelines {
                        if let Ok(records) = session.history().await {
                            histories.insert(pipeline.clone().unwrap_or_else(|| "-".into()), records);
                        }
                    }
                }
                let now = jiff::Timestamp::now();
                self.watch.observe(&report, &self.pipelines, now, started.elapsed().as_secs_f64());
                for (_, session) in &self.pipelines {
                    session.flush_notifications().await;
                }
                let mut latest = self.latest.write().unwrap_or_else(std::sync::PoisonError::into_inner);
                latest.metrics = self.watch.metrics(&report, now);
                latest.snapshot = snapshot;
                latest.histories = histories;
                latest.report = Some(report.clone());
                latest.error = None;
                latest.failed_rounds = 0;
                Round::Reconciled(report)
            }
            Err(err) => {
                // With its causes: "Druid failed while listing the supervisors" alone says too little.
                let mut error = err.to_string();
                let mut source = std::error::Error::source(&err);
                while let Some(cause) = source {
                    error = format!("{error}: {cause}");
                    source = cause.source();
                }
                let mut latest = self.latest.write().unwrap_or_else(std::sync::PoisonError::into_inner);
                latest.error = Some(error.clone());
                latest.failed_rounds += 1;
                let consecutive = latest.failed_rounds;
                Round::Failed { error, consecutive, retry_in: backoff(self.options.interval, consecutive) }
            }
        }
    }

    /// Rounds until `cancel`, waiting the interval after a good round and the backoff after a
    /// failed one (on the first pipeline's clock). `each` sees every round; returning false
    /// ends the loop too.
    pub async fn run(&mut self, cancel: &Cancel, mut each: impl FnMut(&Round) -> bool) {
        let clock = self.pipelines[0].1.clock.clone();
        while !cancel.is_cancelled() {
            let round = self.round().await;
            if !each(&round) {
                return;
            }
            let wait = match &round {
                Round::Reconciled(_) => self.options.interval,
                Round::Failed { retry_in, .. } => *retry_in,
            };
            tokio::select! {
                () = clock.sleep(wait) => {}
                () = cancel.cancelled() => return,
            }
        }
    }
}

/// The wait after `failures` failed rounds in a row: the interval, doubled per failure after
/// the first, at most five minutes (or the interval, when it is longer).
pub fn backoff(interval: Duration, failures: u32) -> Duration {
    let doubled = interval.saturating_mul(1_u32 << failures.saturating_sub(1).min(16));
    doubled.min(MAX_BACKOFF.max(interval))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn failed_rounds_back_off_up_to_five_minutes() {
        let interval = Duration::from_secs(5);
        let waits: Vec<u64> = (1..=9).map(|failures| super::backoff(interval, failures).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(
            super::backoff(Duration::from_mins(10), 4),
            Duration::from_mins(10),
            "never below the interval"
        );
    }
}
