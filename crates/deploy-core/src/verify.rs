//! Verification: wait for the supervisor to be RUNNING, healthy and reading with the
//! expected tasks, watch them read, then run the runbook's checklist (state, tasks, rate,
//! parse errors, task failures, a SQL probe). Each check has a value, a threshold and a
//! [`Verdict`]. Only the new spec's reading tasks are judged: `/stats` also lists the
//! previous spec's tasks while they publish.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use druid_client::sql::SqlQuery;
use druid_client::supervisors::{SupervisorState, SupervisorStats, SupervisorStatus};
use druid_client::tasks::{TaskFilter, TaskState, TaskStatus};
use serde::Serialize;

use crate::Result;
use crate::events::{Event, Step};
use crate::session::Session;

/// A verification verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Within the threshold.
    Pass,
    /// Outside it, but the check is warn-only (an idle topic).
    Warn,
    /// Outside it.
    Fail,
}

/// One named check with its measured value and threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// `supervisor_state`, `running_tasks`, `ingestion_rate`, `unparseable_ratio`,
    /// `task_failures`, `sql_probe`.
    pub name: &'static str,
    /// What was measured, for people (`200.00 rows/s (5m)`).
    pub value: String,
    /// What was measured, for machines, in `unit`.
    pub measure: f64,
    /// The unit of `measure`: `boolean` (1 or 0), `tasks`, `rows_per_second`, `ratio`, `rows`.
    pub unit: &'static str,
    /// What it is compared with.
    pub threshold: String,
    /// The outcome.
    pub verdict: Verdict,
}

/// Druid's `/stats` summed over a set of tasks: moving-average rates by window (rows/s) and
/// the totals since each task started.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct StatsSum {
    pub(crate) rates: BTreeMap<String, f64>,
    pub(crate) processed: f64,
    pub(crate) unparseable: f64,
    pub(crate) thrown_away: f64,
}

impl StatsSum {
    /// The tasks of `stats` whose id `keep` accepts.
    pub(crate) fn of(stats: &SupervisorStats, keep: impl Fn(&str) -> bool) -> Self {
        let mut sum = Self::default();
        for (_, task) in stats.values().flat_map(BTreeMap::iter).filter(|(id, _)| keep(id)) {
            if let Some(averages) =
                task.moving_averages.as_ref().and_then(|phases| phases.build_segments.as_ref())
            {
                for (window, row) in averages {
                    *sum.rates.entry(window.clone()).or_default() += row.processed;
                }
            }
            if let Some(totals) = task.totals.as_ref().and_then(|phases| phases.build_segments) {
                sum.processed += totals.processed;
                sum.unparseable += totals.unparseable;
                sum.thrown_away += totals.thrown_away;
            }
        }
        sum
    }

    /// Rows/s over `window` (`1m`, `5m`, `15m`); 0 when no task reports it.
    pub(crate) fn rate(&self, window: &str) -> f64 {
        self.rates.get(window).copied().unwrap_or(0.0)
    }

    /// Unparseable over everything read (0 when nothing was read).
    pub(crate) fn unparseable_ratio(&self) -> f64 {
        ratio(self.unparseable, self.processed)
    }
}

/// `part / (part + rest)`, 0 when both are 0.
pub(crate) fn ratio(part: f64, rest: f64) -> f64 {
    if part + rest > 0.0 { part / (part + rest) } else { 0.0 }
}

/// The post-deploy checklist.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    /// Every check.
    pub checks: Vec<CheckResult>,
}

/// `verify`'s result document: the verdict and every check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReport<'a> {
    /// No check failed.
    pub passed: bool,
    /// Every check.
    pub checks: &'a [CheckResult],
}

impl Verification {
    /// The result document of this verification.
    pub fn report(&self) -> VerifyReport<'_> {
        VerifyReport { passed: self.passed(), checks: &self.checks }
    }

    /// No check failed (warnings allowed).
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|check| check.verdict != Verdict::Fail)
    }

    /// Names of the failed checks.
    pub fn failures(&self) -> Vec<&'static str> {
        self.checks.iter().filter(|check| check.verdict == Verdict::Fail).map(|check| check.name).collect()
    }
}

/// How many reading tasks a spec asks for: taskCount x replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizing {
    /// `ioConfig.taskCount`.
    pub task_count: u32,
    /// `ioConfig.replicas`.
    pub replicas: u32,
}

impl Sizing {
    /// Reading tasks expected.
    pub fn expected(self) -> u32 {
        self.task_count.saturating_mul(self.replicas)
    }

    /// The sizing `spec` asks for (Druid's default of 1 where it says nothing).
    pub fn of(spec: &druid_client::spec::SupervisorSpec) -> Self {
        let io = spec.spec.as_ref().map(|spec| &spec.io_config);
        Self {
            task_count: io.and_then(|io| io.task_count).unwrap_or(1),
            replicas: io.and_then(|io| io.replicas).unwrap_or(1),
        }
    }
}

impl Session {
    /// The sizing the environment's settings ask for.
    pub fn configured_sizing(&self) -> Sizing {
        Sizing {
            task_count: self.environment.ingestion.task_count,
            replicas: self.environment.ingestion.replicas,
        }
    }

    /// Waits (with the configured deadline) for RUNNING, healthy and the expected number of
    /// running tasks, watches them read for `observe_secs`, then verifies. Not becoming ready
    /// is a failed check, not an error.
    /// `sizing` is the submitted spec's: a restored spec may be sized unlike the settings.
    pub(crate) async fn wait_and_verify(&self, sizing: Sizing) -> Result<Verification> {
        let thresholds = &self.environment.thresholds;
        let deadline = Duration::from_secs(thresholds.ready_timeout_secs);
        let started = self.clock.now();
        let id = self.environment.supervisor_id();
        let expected = sizing.expected();
        let mut ready = false;
        loop {
            let status = self
                .druid
                .supervisor_status(id)
                .await
                .map_err(self.druid_failed("reading the supervisor status"))?;
            let state = status.payload.state.clone();
            let tasks = status.payload.active_tasks.len();
            // RUNNING comes before the tasks exist: wait for them too.
            if state == Some(SupervisorState::Running)
                && u32::try_from(tasks).unwrap_or(u32::MAX) >= expected
                && self.druid.supervisor_health(id).await.unwrap_or(false)
            {
                ready = true;
                break;
            }
            let waited = self.clock.now().duration_since(started).unsigned_abs();
            if waited >= deadline {
                self.warn(format!(
                    "{id} not RUNNING and healthy with {expected} running task(s) after {}s",
                    deadline.as_secs()
                ));
                break;
            }
            self.step(
                Step::Waiting,
                format!(
                    "{id} is {}, {tasks} of {expected} task(s) running ({}s)",
                    state.map_or_else(|| "unknown".to_owned(), |state| state.to_string()),
                    waited.as_secs()
                ),
            );
            self.pause(self.poll_interval).await?;
        }
        if ready {
            self.observe().await?;
        }
        let verification = self.verify_for(sizing).await?;
        self.step(
            Step::Verified,
            if verification.passed() {
                "every check passed".to_owned()
            } else {
                format!("failed: {}", verification.failures().join(", "))
            },
        );
        Ok(verification)
    }

    /// Watches the running tasks for `observe_secs`, reporting what they read; stops early
    /// once the unparseable ratio is over its threshold (the verdict cannot improve enough).
    async fn observe(&self) -> Result<()> {
        let thresholds = &self.environment.thresholds;
        let period = Duration::from_secs(thresholds.observe_secs);
        let started = self.clock.now();
        while self.clock.now().duration_since(started).unsigned_abs() < period {
            self.pause(self.poll_interval).await?;
            let status = self
                .druid
                .supervisor_status(self.environment.supervisor_id())
                .await
                .map_err(self.druid_failed("reading the supervisor status"))?;
            let totals = self.reading_stats(&status).await?;
            let watched = self.clock.now().duration_since(started).unsigned_abs();
            self.step(
                Step::Observing,
                format!(
                    "{} rows read, {} unparseable ({}s of {}s)",
                    totals.processed,
                    totals.unparseable,
                    watched.as_secs().min(period.as_secs()),
                    period.as_secs()
                ),
            );
            if totals.unparseable_ratio() > thresholds.max_unparseable_ratio {
                break;
            }
        }
        Ok(())
    }

    /// Druid's `/stats` summed over the reading tasks named in `status`. `/stats` also lists
    /// the tasks still publishing for the previous spec (pending completion): their rows are
    /// not the new spec's, so they are left out.
    async fn reading_stats(&self, status: &SupervisorStatus) -> Result<StatsSum> {
        let reading: BTreeSet<&str> =
            status.payload.active_tasks.iter().map(|task| task.id.as_str()).collect();
        let stats = self
            .druid
            .supervisor_stats(self.environment.supervisor_id())
            .await
            .map_err(self.druid_failed("reading the supervisor stats"))?;
        Ok(StatsSum::of(&stats, |task| reading.contains(task)))
    }

    /// The runbook's checklist, each check with its value, threshold and verdict, for the
    /// sizing the environment's settings ask for.
    pub async fn verify(&self) -> Result<Verification> {
        self.verify_for(self.configured_sizing()).await
    }

    /// The checklist for a spec of `sizing`.
    pub async fn verify_for(&self, sizing: Sizing) -> Result<Verification> {
        let id = self.environment.supervisor_id();
        let thresholds = &self.environment.thresholds;
        let status = self
            .druid
            .supervisor_status(id)
            .await
            .map_err(self.druid_failed("reading the supervisor status"))?;
        let healthy = self
            .druid
            .supervisor_health(id)
            .await
            .map_err(self.druid_failed("reading the supervisor health"))?;
        let payload = &status.payload;
        let mut checks = Vec::new();
        let verdict = |ok: bool, warn_only: bool| match (ok, warn_only) {
            (true, _) => Verdict::Pass,
            (false, true) => Verdict::Warn,
            (false, false) => Verdict::Fail,
        };

        let state = payload.state.as_ref().map_or_else(|| "unknown".to_owned(), ToString::to_string);
        checks.push(CheckResult {
            name: "supervisor_state",
            value: format!("{state}, {}", if healthy { "healthy" } else { "unhealthy" }),
            measure: f64::from(u8::from(payload.state == Some(SupervisorState::Running) && healthy)),
            unit: "boolean",
            threshold: "RUNNING, healthy".into(),
            verdict: verdict(payload.state == Some(SupervisorState::Running) && healthy, false),
        });

        let expected = sizing.expected();
        let running = payload.active_tasks.len();
        checks.push(CheckResult {
            name: "running_tasks",
            value: running.to_string(),
            measure: f64::from(u32::try_from(running).unwrap_or(u32::MAX)),
            unit: "tasks",
            threshold: format!(
                "= {expected} (taskCount {} x replicas {})",
                sizing.task_count, sizing.replicas
            ),
            verdict: verdict(u32::try_from(running).unwrap_or(u32::MAX) == expected, false),
        });

        let read = self.reading_stats(&status).await?;
        let (rate, processed, unparseable) =
            (read.rate(&thresholds.rate_window), read.processed, read.unparseable);
        checks.push(CheckResult {
            name: "ingestion_rate",
            value: format!("{rate:.2} rows/s ({})", thresholds.rate_window),
            measure: rate,
            unit: "rows_per_second",
            threshold: "> 0".into(),
            verdict: verdict(rate > 0.0, thresholds.rate_warn_only),
        });
        let seen = processed + unparseable;
        let share = read.unparseable_ratio();
        checks.push(CheckResult {
            name: "unparseable_ratio",
            value: format!("{:.2} % ({unparseable:.0} of {seen:.0})", share * 100.0),
            measure: share,
            unit: "ratio",
            threshold: format!("<= {:.2} %", thresholds.max_unparseable_ratio * 100.0),
            verdict: verdict(share <= thresholds.max_unparseable_ratio, false),
        });

        let (failed, completed, failure_ratio) = self.task_failures().await?;
        checks.push(CheckResult {
            name: "task_failures",
            value: format!(
                "{:.1} % ({failed} of {completed} completed in {} h)",
                failure_ratio * 100.0,
                thresholds.task_window_hours
            ),
            measure: failure_ratio,
            unit: "ratio",
            threshold: format!("<= {:.1} %", thresholds.max_task_failure_ratio * 100.0),
            verdict: verdict(failure_ratio <= thresholds.max_task_failure_ratio, false),
        });

        let probe = SqlQuery::new(format!(
            "SELECT COUNT(*) AS \"rows\" FROM \"{}\" WHERE __time > CURRENT_TIMESTAMP - INTERVAL '1' HOUR",
            id.replace('"', "\"\"")
        ));
        let (value, count, ok) = match self.druid.sql(&probe).await {
            Ok(rows) => {
                let count = rows
                    .first()
                    .and_then(|row| row.get("rows"))
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0);
                (format!("{count} rows in the last hour"), count, count > 0)
            }
            Err(err) => (format!("query failed: {err}"), 0, false),
        };
        checks.push(CheckResult {
            name: "sql_probe",
            value,
            #[allow(clippy::cast_precision_loss)]
            measure: count as f64,
            unit: "rows",
            threshold: "> 0 rows".into(),
            verdict: verdict(ok, thresholds.probe_warn_only),
        });
        for check in &checks {
            self.reporter.report(Event::Check { check: check.clone() });
        }
        Ok(Verification { checks })
    }

    /// Failed and completed tasks of the datasource over the configured window, and their
    /// ratio (0 when none completed).
    pub async fn task_failures(&self) -> Result<(usize, usize, f64)> {
        let now = self.clock.now();
        let since =
            now - jiff::SignedDuration::from_hours(i64::from(self.environment.thresholds.task_window_hours));
        let filter = TaskFilter {
            state: Some(TaskState::Complete),
            datasource: Some(self.environment.datasource.clone()),
            max: Some(500),
            created_time_interval: Some(format!("{since}/{now}")),
            ..TaskFilter::default()
        };
        let complete = self.druid.tasks(&filter).await.map_err(self.druid_failed("listing recent tasks"))?;
        let failed = complete.iter().filter(|task| task.code() == Some(&TaskStatus::Failed)).count();
        #[allow(clippy::cast_precision_loss)]
        let ratio = if complete.is_empty() { 0.0 } else { failed as f64 / complete.len() as f64 };
        Ok((failed, complete.len(), ratio))
    }
}
