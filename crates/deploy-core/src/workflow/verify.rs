//! Verification: watch the new spec's tasks until the verdict decides ([`crate::verdict`]:
//! pass, fail or unverified, on evidence and not on the clock), then run the runbook's
//! checklist (state, tasks, rate, parse errors, task failures, a SQL probe). Each check has a
//! value, a threshold and a [`Verdict`]. Only the new spec's reading tasks are judged: `/stats`
//! also lists the previous spec's tasks while they publish.

use std::collections::{BTreeMap, BTreeSet};

use druid_client::sql::SqlQuery;
use druid_client::supervisors::{RowStats, SupervisorState, SupervisorStats, SupervisorStatus};
use druid_client::tasks::{TaskFilter, TaskState, TaskStatus};
use serde::Serialize;

use crate::Result;
use crate::events::{Event, Step};
use crate::session::Session;
use crate::verdict::{Decision, Evidence, Judge, Progress, VerdictReport, VerdictSettings};

pub use crate::events::{CheckResult, Verdict};
pub use druid_client::stats::{StatsSum, ratio};

/// The post-deploy checklist and the verdict it follows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    /// Every check.
    pub checks: Vec<CheckResult>,
    /// How the observation ended: pass, fail or unverified, with its evidence.
    pub verdict: VerdictReport,
}

/// `verify`'s result document: the verdict and every check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReport<'a> {
    /// No check failed and the verdict did not fail (an `unverified` verdict passes).
    pub passed: bool,
    /// Every check.
    pub checks: &'a [CheckResult],
    /// The verdict and its evidence.
    pub verdict: &'a VerdictReport,
}

impl Verification {
    /// The result document of this verification.
    pub fn report(&self) -> VerifyReport<'_> {
        VerifyReport { passed: self.passed(), checks: &self.checks, verdict: &self.verdict }
    }

    /// No check failed (warnings allowed) and the verdict did not fail.
    pub fn passed(&self) -> bool {
        self.verdict.decision != Decision::Fail
            && self.checks.iter().all(|check| check.verdict != Verdict::Fail)
    }

    /// Passed with a `pass` verdict: evidence says the spec ingests within the thresholds.
    pub fn verified(&self) -> bool {
        self.passed() && self.verdict.decision == Decision::Pass
    }

    /// Passed, but with too little evidence to say (`unverified`).
    pub fn unverified(&self) -> bool {
        self.passed() && self.verdict.decision == Decision::Unverified
    }

    /// The failed checks by name; the verdict with its reason when it failed and no check
    /// did.
    pub fn failures(&self) -> Vec<String> {
        let mut failures: Vec<String> = self
            .checks
            .iter()
            .filter(|check| check.verdict == Verdict::Fail)
            .map(|check| check.name.to_owned())
            .collect();
        // The verdict's own reason, when no check already says why (a failed task).
        if self.verdict.decision == Decision::Fail && failures.is_empty() {
            failures.push(format!("verdict ({})", self.verdict.reason));
        }
        failures
    }
}

/// What one poll saw.
struct Look {
    status: SupervisorStatus,
    healthy: bool,
    /// New tasks that failed, with Druid's message.
    failed: Vec<(String, String)>,
    /// The stats of the tasks reading now (their moving averages).
    rates: StatsSum,
    /// This spec's tasks reading now.
    reading: usize,
}

impl Look {
    fn state_name(&self) -> String {
        let payload = &self.status.payload;
        match (&payload.detailed_state, &payload.state) {
            (Some(detailed), _) => detailed.to_string(),
            (None, Some(state)) => state.to_string(),
            (None, None) => "unknown".to_owned(),
        }
    }

    /// Healthy by `/health` and in no unhealthy state.
    fn healthy(&self) -> bool {
        use druid_client::supervisors::DetailedState;
        let payload = &self.status.payload;
        self.healthy
            && !matches!(
                payload.state,
                Some(SupervisorState::UnhealthySupervisor | SupervisorState::UnhealthyTasks)
            )
            && !matches!(
                payload.detailed_state,
                Some(DetailedState::LostContactWithStream | DetailedState::UnableToConnectToStream)
            )
    }

    fn evidence(&self, elapsed: std::time::Duration, expected: u32, generation: &Generation) -> Evidence {
        let sum = &generation.sum;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let count = |value: f64| value.max(0.0) as u64;
        Evidence {
            elapsed,
            records: sum.records(),
            unparseable: count(sum.unparseable),
            processed_with_error: count(sum.processed_with_error),
            thrown_away: count(sum.thrown_away),
            tasks_reading: u32::try_from(generation.reading.len()).unwrap_or(u32::MAX),
            tasks_expected: expected,
            state: self.state_name(),
            healthy: self.healthy(),
            failed_tasks: self.failed.clone(),
        }
    }
}

/// The tasks of the spec under judgement: those Druid lists as actively reading, never one
/// it listed as publishing before it was seen reading (after a spec change, Druid's
/// supervisor keeps the previous spec's tasks as publishing until their handoff, and a task
/// never goes back from publishing to reading). Each task's totals are kept from its last
/// report, so a task of this spec that ends (its `taskDuration`, a failure) still counts.
#[derive(Debug, Default)]
struct Generation {
    /// This spec's tasks seen so far, with their last totals.
    seen: BTreeMap<String, RowStats>,
    /// Tasks of an earlier spec.
    previous: BTreeSet<String>,
    /// This spec's tasks reading now.
    reading: BTreeSet<String>,
    sum: StatsSum,
}

impl Generation {
    fn update(&mut self, status: &SupervisorStatus, stats: &SupervisorStats) {
        for task in &status.payload.publishing_tasks {
            if !self.seen.contains_key(&task.id) {
                self.previous.insert(task.id.clone());
            }
        }
        self.reading = status
            .payload
            .active_tasks
            .iter()
            .map(|task| task.id.clone())
            .filter(|id| !self.previous.contains(id))
            .collect();
        for id in &self.reading {
            self.seen.entry(id.clone()).or_default();
        }
        for (id, task) in stats.values().flat_map(BTreeMap::iter) {
            if let (Some(kept), Some(totals)) =
                (self.seen.get_mut(id), task.totals.as_ref().and_then(|phases| phases.build_segments))
            {
                *kept = totals;
            }
        }
        let mut sum = StatsSum::default();
        for totals in self.seen.values() {
            sum.add(totals);
        }
        self.sum = sum;
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

    /// Watches the new spec's tasks until the verdict decides (docs/verification.md), then
    /// runs the checklist. Not becoming ready is a failed verdict, not an error; a Druid that
    /// cannot be read is an error.
    /// `sizing` is the submitted spec's: a restored spec may be sized unlike the settings.
    pub(crate) async fn wait_and_verify(&self, sizing: Sizing) -> Result<Verification> {
        let (verdict, last) = self.judge(sizing).await?;
        let verification = self.checklist(sizing, verdict, &last).await?;
        self.step(
            Step::Verified,
            if verification.verified() {
                "every check passed".to_owned()
            } else if verification.passed() {
                format!("unverified: {}", verification.verdict.reason)
            } else {
                format!("failed: {}", verification.failures().join(", "))
            },
        );
        Ok(verification)
    }

    /// Polls the supervisor, its new tasks' stats and their failures every poll interval and
    /// feeds the [`Judge`] until it decides. Returns the verdict and the last look.
    async fn judge(&self, sizing: Sizing) -> Result<(VerdictReport, Look)> {
        let settings = VerdictSettings::of(&self.environment.thresholds);
        let mut judge = Judge::new(settings);
        let started = self.clock.now();
        let id = self.environment.supervisor_id();
        let mut generation = Generation::default();
        loop {
            let look = self.look(&mut generation).await?;
            let elapsed = self.clock.now().duration_since(started).unsigned_abs();
            let evidence = look.evidence(elapsed, sizing.expected(), &generation);
            let reading = evidence.tasks_reading;
            let progress = judge.observe(evidence);
            match &progress {
                Progress::Decided(report) => {
                    self.step(Step::Observing, format!("{}: {}", id, report.summary()));
                    let Progress::Decided(report) = progress else { unreachable!() };
                    return Ok((report, look));
                }
                Progress::Deciding(bound) if judge.reading() => self.step(
                    Step::Observing,
                    format!(
                        "{} records read, {} unparseable, share {bound} at {} %: deciding... ({}s)",
                        generation.sum.records(),
                        generation.sum.unparseable,
                        judge.settings().confidence * 100.0,
                        elapsed.as_secs()
                    ),
                ),
                Progress::Deciding(_) => self.step(
                    Step::Waiting,
                    format!(
                        "{id} is {}, {reading} of {} task(s) running ({}s)",
                        look.state_name(),
                        sizing.expected(),
                        elapsed.as_secs()
                    ),
                ),
            }
            self.pause(self.poll_interval).await?;
        }
    }

    /// One poll: the status, the health, the stats of the new tasks and their failures.
    async fn look(&self, generation: &mut Generation) -> Result<Look> {
        let id = self.environment.supervisor_id();
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
        let stats = self
            .druid
            .supervisor_stats(id)
            .await
            .map_err(self.druid_failed("reading the supervisor stats"))?;
        generation.update(&status, &stats);
        let failed = if generation.seen.is_empty() {
            Vec::new()
        } else {
            let filter = TaskFilter {
                state: Some(TaskState::Complete),
                datasource: Some(self.environment.datasource.clone()),
                max: Some(50),
                ..TaskFilter::default()
            };
            let complete =
                self.druid.tasks(&filter).await.map_err(self.druid_failed("listing the completed tasks"))?;
            complete
                .into_iter()
                .filter(|task| {
                    task.code() == Some(&TaskStatus::Failed) && generation.seen.contains_key(&task.id)
                })
                .map(|task| {
                    let message = task.error_msg.clone().unwrap_or_else(|| "no error message".to_owned());
                    (task.id, message)
                })
                .collect()
        };
        Ok(Look {
            status,
            healthy,
            failed,
            rates: StatsSum::of(&stats, |task| generation.reading.contains(task)),
            reading: generation.reading.len(),
        })
    }

    /// The runbook's checklist on the current tasks, each check with its value, threshold and
    /// verdict, after watching them until the verdict decides (as after a submit), for the
    /// sizing the environment's settings ask for.
    ///
    /// When the environment's last record is `unverified` (a deploy on a quiet topic), the
    /// result settles it: a `verify` record says verified (`succeeded`), `failed` or still
    /// `unverified`, with the verdict.
    pub async fn verify(&self) -> Result<Verification> {
        let verification = self.wait_and_verify(self.configured_sizing()).await?;
        match self.history().await {
            Ok(history) => {
                if let Some(last) =
                    history.last().filter(|last| last.outcome == crate::ledger::Outcome::Unverified)
                {
                    self.record(
                        crate::ledger::DeployRecord::new(
                            crate::ledger::Action::Verify,
                            crate::rollback::outcome_of(&verification),
                        )
                        .versions(None, last.to.clone())
                        .detail(format!(
                            "settles the unverified {} of {}",
                            last.action,
                            last.to.as_deref().unwrap_or("?")
                        ))
                        .verdict(Some(&verification.verdict)),
                    )
                    .await;
                }
            }
            Err(err) => {
                self.warn(format!("could not read the history to settle an unverified deploy: {err}"));
            }
        }
        Ok(verification)
    }

    /// The checklist for a spec of `sizing`, after watching its tasks until the verdict
    /// decides.
    pub async fn verify_for(&self, sizing: Sizing) -> Result<Verification> {
        self.wait_and_verify(sizing).await
    }

    /// The checks, from the last look and the verdict, plus the task failure ratio and the
    /// SQL probe.
    async fn checklist(&self, sizing: Sizing, verdict: VerdictReport, look: &Look) -> Result<Verification> {
        let id = self.environment.supervisor_id();
        let thresholds = &self.environment.thresholds;
        let payload = &look.status.payload;
        let mut checks = Vec::new();
        let verdict_of = |ok: bool, warn_only: bool| match (ok, warn_only) {
            (true, _) => Verdict::Pass,
            (false, true) => Verdict::Warn,
            (false, false) => Verdict::Fail,
        };
        let no_evidence = verdict.decision == Decision::Unverified;

        let running = payload.state == Some(SupervisorState::Running) && look.healthy;
        checks.push(CheckResult {
            name: "supervisor_state",
            value: format!("{}, {}", look.state_name(), if look.healthy { "healthy" } else { "unhealthy" }),
            measure: f64::from(u8::from(running)),
            unit: "boolean",
            threshold: "RUNNING, healthy".into(),
            verdict: verdict_of(running, false),
        });

        let expected = sizing.expected();
        let reading = u32::try_from(look.reading).unwrap_or(u32::MAX);
        checks.push(CheckResult {
            name: "running_tasks",
            value: reading.to_string(),
            measure: f64::from(reading),
            unit: "tasks",
            threshold: format!(
                "= {expected} (taskCount {} x replicas {})",
                sizing.task_count, sizing.replicas
            ),
            verdict: verdict_of(reading == expected, false),
        });

        // Druid's moving averages tick slowly after a task starts: records read by the new
        // tasks are evidence of ingestion too. None at all is the verdict's `unverified`.
        let rate = look.rates.rate(&thresholds.rate_window);
        checks.push(CheckResult {
            name: "ingestion_rate",
            value: format!(
                "{rate:.2} rows/s ({}), {} records read by the new tasks in {:.0} s",
                thresholds.rate_window, verdict.records, verdict.seconds_to_decision
            ),
            measure: rate,
            unit: "rows_per_second",
            threshold: "> 0".into(),
            verdict: verdict_of(rate > 0.0 || verdict.records > 0, thresholds.rate_warn_only || no_evidence),
        });
        #[allow(clippy::cast_precision_loss)]
        let share =
            if verdict.records == 0 { 0.0 } else { verdict.unparseable as f64 / verdict.records as f64 };
        checks.push(CheckResult {
            name: "unparseable_ratio",
            value: format!(
                "{:.2} % ({} of {}), {} at {} %",
                share * 100.0,
                verdict.unparseable,
                verdict.records,
                verdict.bound,
                verdict.confidence * 100.0
            ),
            measure: share,
            unit: "ratio",
            threshold: format!("<= {:.2} %", thresholds.max_unparseable_ratio * 100.0),
            // A zero threshold cannot be shown statistically: any unparseable record is over.
            verdict: if verdict.bound.lower > thresholds.max_unparseable_ratio
                || (thresholds.max_unparseable_ratio <= 0.0 && verdict.unparseable > 0)
            {
                Verdict::Fail
            } else if verdict.bound.upper < thresholds.max_unparseable_ratio
                || verdict.decision == Decision::Pass
            {
                Verdict::Pass
            } else {
                Verdict::Warn
            },
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
            verdict: verdict_of(failure_ratio <= thresholds.max_task_failure_ratio, false),
        });

        let (value, count) =
            self.sql_probe(id, verdict.records > 0 && verdict.decision == Decision::Pass).await?;
        checks.push(CheckResult {
            name: "sql_probe",
            value,
            #[allow(clippy::cast_precision_loss)]
            measure: count as f64,
            unit: "rows",
            threshold: "> 0 rows".into(),
            verdict: verdict_of(count > 0, thresholds.probe_warn_only || verdict.records == 0),
        });
        for check in &checks {
            self.reporter.report(Event::Check { check: check.clone() });
        }
        Ok(Verification { checks, verdict })
    }

    /// Counts the datasource's rows of the last hour. When the tasks read records, the
    /// Broker may see their rows a few seconds later: an empty answer is asked again for up
    /// to ten polls before it counts.
    async fn sql_probe(&self, id: &str, expect_rows: bool) -> Result<(String, u64)> {
        let probe = SqlQuery::new(format!(
            "SELECT COUNT(*) AS \"rows\" FROM \"{}\" WHERE __time > CURRENT_TIMESTAMP - INTERVAL '1' HOUR",
            id.replace('"', "\"\"")
        ));
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.druid.sql(&probe).await {
                Ok(rows) => {
                    let count = rows
                        .first()
                        .and_then(|row| row.get("rows"))
                        .and_then(serde_json::Value::as_u64)
                        .unwrap_or(0);
                    if count > 0 || !expect_rows || attempts >= 10 {
                        return Ok((format!("{count} rows in the last hour"), count));
                    }
                }
                Err(err) => return Ok((format!("query failed: {err}"), 0)),
            }
            self.pause(self.poll_interval).await?;
        }
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
