//! Deploy, verify, roll back, and the emergency controls: the runbook as one program that
//! never leaves an environment half-deployed.
//!
//! A deploy: window -> lock -> validate -> Druid reachable -> publish (compat gate) -> render
//! -> submit -> wait for RUNNING, healthy and the tasks -> watch them read -> verify (judging
//! only the new spec's reading tasks) -> move the channel -> record. When
//! verification fails, the version the channel points at is re-rendered from the registry,
//! submitted and verified, and both are recorded; the channel does not move. Nothing here
//! prints: progress goes to a [`Reporter`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use druid_client::DruidApi;
use druid_client::spec::SupervisorSpec;
use druid_client::sql::SqlQuery;
use druid_client::supervisors::{SupervisorState, SupervisorStats, SupervisorStatus};
use druid_client::tasks::{TaskFilter, TaskState, TaskStatus};
use jiff::Timestamp;
use schema_registry::registry::{ChannelState, DeployRecord, LockGuard};
use schema_registry::{Channel, Registry, Version};
use serde::Serialize;
use sha2::Digest as _;

use crate::config::Environment;
use crate::render::{RenderInput, render};
use crate::versions::{PublishOptions, publish_to};
use crate::{Checked, Error, Result};

/// A step of a workflow, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Step {
    Locked,
    Compiled,
    Published,
    Rendered,
    Submitted,
    Waiting,
    Observing,
    Verified,
    Promoted,
    RollingBack,
    RolledBack,
    Recorded,
    Unchanged,
}

/// What a workflow reports as it goes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A step finished (or, for `waiting`, is under way).
    Step {
        /// Which.
        step: Step,
        /// What it did.
        detail: String,
    },
    /// One verification check.
    Check {
        /// Its result.
        check: CheckResult,
    },
    /// Something worth a look that does not stop the workflow.
    Warning {
        /// What.
        message: String,
    },
}

/// Receives [`Event`]s; the CLI renders them as progress, text or JSON lines.
pub trait Reporter: Send + Sync {
    /// One event.
    fn report(&self, event: Event);
}

/// Drops every event.
#[derive(Debug, Default)]
pub struct Silent;

impl Reporter for Silent {
    fn report(&self, _: Event) {}
}

/// Keeps every event (tests, JSON summaries).
#[derive(Debug, Default)]
pub struct Recorder(Mutex<Vec<Event>>);

impl Recorder {
    /// The events so far.
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().expect("recorder lock").clone()
    }
}

impl Reporter for Recorder {
    fn report(&self, event: Event) {
        self.0.lock().expect("recorder lock").push(event);
    }
}

/// Time, so tests control the window and never wait.
#[async_trait]
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;
    /// Waits `duration`.
    async fn sleep(&self, duration: Duration);
}

/// The real clock.
#[derive(Debug, Default)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// `supervisor_state`, `running_tasks`, `ingestion_rate`, `unparseable_ratio`,
    /// `task_failures`, `sql_probe`.
    pub name: &'static str,
    /// What was measured.
    pub value: String,
    /// What it is compared with.
    pub threshold: String,
    /// The outcome.
    pub verdict: Verdict,
}

/// Druid's `/stats` summed over a set of tasks: moving-average rates by window (rows/s) and
/// the totals since each task started.
#[derive(Debug, Clone, Default, PartialEq)]
struct StatsSum {
    rates: BTreeMap<String, f64>,
    processed: f64,
    unparseable: f64,
    thrown_away: f64,
}

impl StatsSum {
    /// The tasks of `stats` whose id `keep` accepts.
    fn of(stats: &SupervisorStats, keep: impl Fn(&str) -> bool) -> Self {
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
    fn rate(&self, window: &str) -> f64 {
        self.rates.get(window).copied().unwrap_or(0.0)
    }

    /// Unparseable over everything read (0 when nothing was read).
    fn unparseable_ratio(&self) -> f64 {
        ratio(self.unparseable, self.processed)
    }
}

/// `part / (part + rest)`, 0 when both are 0.
fn ratio(part: f64, rest: f64) -> f64 {
    if part + rest > 0.0 { part / (part + rest) } else { 0.0 }
}

/// The post-deploy checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Every check.
    pub checks: Vec<CheckResult>,
}

impl Verification {
    /// No check failed (warnings allowed).
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|check| check.verdict != Verdict::Fail)
    }

    /// Names of the failed checks.
    pub fn failures(&self) -> Vec<&'static str> {
        self.checks.iter().filter(|check| check.verdict == Verdict::Fail).map(|check| check.name).collect()
    }
}

/// Options of [`Workflow::deploy`].
#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    /// Version name instead of the git-derived one.
    pub version: Option<String>,
    /// Accept breaking changes, with this reason (recorded).
    pub allow_breaking: Option<String>,
    /// Deploy outside the window, with this reason (recorded).
    pub ignore_window: Option<String>,
}

/// How a deploy ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum DeployOutcome {
    /// Live, verified, channel moved.
    Deployed {
        /// The new version.
        version: String,
        /// The channel's version before.
        previous: Option<String>,
        /// The checks.
        verification: Verification,
    },
    /// The version was already live: nothing was done.
    AlreadyLive {
        /// The version.
        version: String,
    },
    /// Verification failed; the previous version was restored.
    RolledBack {
        /// The version that failed.
        failed: String,
        /// Its checks.
        verification: Verification,
        /// The version restored (`None`: there was none, the supervisor was suspended).
        restored: Option<String>,
        /// The restored version's checks.
        restored_verification: Option<Verification>,
    },
}

/// Everything a workflow acts on.
pub struct Workflow<'a> {
    /// Druid.
    pub druid: &'a dyn DruidApi,
    /// The environment's registry.
    pub registry: &'a Registry,
    /// The environment.
    pub environment: &'a Environment,
    /// Where progress goes.
    pub reporter: &'a dyn Reporter,
    /// Time.
    pub clock: &'a dyn Clock,
    /// Who acts (recorded).
    pub actor: String,
    /// Between two polls of the supervisor while waiting (5 s).
    pub poll_interval: Duration,
}

/// How long a deploy lock lasts: the wait plus slack for the rest of the workflow.
fn lease_ttl(environment: &Environment) -> Duration {
    Duration::from_secs(environment.thresholds.ready_timeout_secs * 2 + 600)
}

fn druid_error(action: &'static str) -> impl FnOnce(druid_client::Error) -> Error {
    move |source| Error::Druid { action, source: Box::new(source) }
}

impl Workflow<'_> {
    fn step(&self, step: Step, detail: impl Into<String>) {
        self.reporter.report(Event::Step { step, detail: detail.into() });
    }

    fn warn(&self, message: impl Into<String>) {
        self.reporter.report(Event::Warning { message: message.into() });
    }

    fn channel(&self) -> Result<Channel> {
        Ok(Channel::parse(&self.environment.channel)?)
    }

    /// Deploys the checked working copy.
    pub async fn deploy(
        &self,
        checked: &Checked,
        project_dir: &Path,
        options: &DeployOptions,
    ) -> Result<DeployOutcome> {
        let mut overrides = BTreeMap::new();
        match &options.ignore_window {
            Some(reason) => {
                if let Err(closed) = crate::policy::check_window(self.environment, self.clock.now()) {
                    self.warn(format!("{closed}: proceeding, reason recorded: {reason}"));
                    overrides.insert("window".to_owned(), reason.clone());
                }
            }
            None => crate::policy::check_window(self.environment, self.clock.now())?,
        }
        if let Some(reason) = &options.allow_breaking {
            overrides.insert("breaking".to_owned(), reason.clone());
        }
        let guard = self.lock().await?;
        let result = self.deploy_locked(checked, project_dir, options, &mut overrides).await;
        self.unlock(guard).await;
        result
    }

    async fn lock(&self) -> Result<LockGuard> {
        let guard =
            self.registry.acquire(&self.environment.name, &self.actor, lease_ttl(self.environment)).await?;
        self.step(Step::Locked, format!("{} locked by {}", self.environment.name, self.actor));
        Ok(guard)
    }

    async fn unlock(&self, guard: LockGuard) {
        if let Err(err) = self.registry.release(guard).await {
            self.warn(format!("could not release the deploy lock: {err}; it expires on its own"));
        }
    }

    async fn deploy_locked(
        &self,
        checked: &Checked,
        project_dir: &Path,
        options: &DeployOptions,
        overrides: &mut BTreeMap<String, String>,
    ) -> Result<DeployOutcome> {
        checked.ensure_valid()?;
        self.step(
            Step::Compiled,
            format!("{} ({} dimensions)", checked.message.full_name(), checked.dimensions.dimensions.len()),
        );
        // Druid first: when it is unreachable nothing is published or moved.
        self.check_druid_version().await?;
        // A deploy that died after its submit left Druid ahead of the channel: say so.
        if let Some(hint) = self.drift().await?.hint {
            self.warn(format!("drift before this deploy: {hint}"));
        }
        let channel = self.channel()?;
        let base = self.registry.channel(&channel).await?;
        let publish = PublishOptions {
            version: options.version.clone(),
            allow_breaking: options.allow_breaking.clone(),
            author: Some(self.actor.clone()),
        };
        let published = publish_to(self.registry, checked, self.environment, project_dir, &publish).await?;
        let version = published.version.clone();
        self.step(
            Step::Published,
            if published.published.created {
                format!("{version} published")
            } else {
                format!("{version} already in the registry")
            },
        );
        let previous = base.as_ref().map(|state| state.pointer.version.clone());
        let spec = self.render_version(&version).await?;
        let live = self
            .druid
            .get_spec(&self.environment.datasource)
            .await
            .map_err(druid_error("reading the live spec"))?;
        if previous.as_deref() == Some(version.as_str())
            && live.as_ref().is_some_and(|live| same_schema(live, &spec))
        {
            self.step(
                Step::Unchanged,
                format!("{version} is already live on {}: nothing to do", self.environment.datasource),
            );
            self.record(
                "deploy",
                "no-op",
                previous.clone(),
                Some(version.to_string()),
                overrides.clone(),
                None,
            )
            .await;
            return Ok(DeployOutcome::AlreadyLive { version: version.to_string() });
        }
        self.step(Step::Rendered, format!("supervisor spec for {}", self.environment.datasource));
        if let Err(err) = self.druid.submit_spec(&spec).await {
            let detail = err.to_string();
            self.record(
                "deploy",
                "rejected",
                previous.clone(),
                Some(version.to_string()),
                overrides.clone(),
                Some(detail),
            )
            .await;
            return Err(Error::SubmitRejected { version: version.to_string(), source: Box::new(err) });
        }
        self.step(Step::Submitted, format!("{version} submitted to the Overlord"));
        let verification = self.wait_and_verify().await?;
        if verification.passed() {
            self.move_channel(&channel, base.as_ref(), &version, None).await?;
            self.record(
                "deploy",
                "succeeded",
                previous.clone(),
                Some(version.to_string()),
                overrides.clone(),
                None,
            )
            .await;
            return Ok(DeployOutcome::Deployed { version: version.to_string(), previous, verification });
        }
        let failures = verification.failures().join(", ");
        self.record(
            "deploy",
            "rolled-back",
            previous.clone(),
            Some(version.to_string()),
            overrides.clone(),
            Some(format!("verification failed: {failures}")),
        )
        .await;
        self.step(
            Step::RollingBack,
            format!("{version} failed {failures}; restoring {}", previous.as_deref().unwrap_or("nothing")),
        );
        let (restored, restored_verification) = if let Some(previous) = &previous {
            let previous = Version::parse(previous)?;
            let spec = self.render_version(&previous).await?;
            self.druid.submit_spec(&spec).await.map_err(druid_error("submitting the previous version"))?;
            let restored_verification = self.wait_and_verify().await?;
            let outcome = if restored_verification.passed() { "succeeded" } else { "failed" };
            self.record(
                "automatic-rollback",
                outcome,
                Some(version.to_string()),
                Some(previous.to_string()),
                BTreeMap::new(),
                None,
            )
            .await;
            self.step(Step::RolledBack, format!("{previous} restored ({outcome})"));
            (Some(previous.to_string()), Some(restored_verification))
        } else {
            // Nothing to go back to: stop ingesting rather than keep a failing version.
            self.druid.suspend(&self.environment.datasource).await.map_err(druid_error("suspending"))?;
            self.record(
                "automatic-rollback",
                "succeeded",
                Some(version.to_string()),
                None,
                BTreeMap::new(),
                Some("no previous version: supervisor suspended".into()),
            )
            .await;
            self.step(Step::RolledBack, "no previous version: supervisor suspended");
            (None, None)
        };
        Ok(DeployOutcome::RolledBack {
            failed: version.to_string(),
            verification,
            restored,
            restored_verification,
        })
    }

    async fn check_druid_version(&self) -> Result<()> {
        let version = self.druid.version().await.map_err(druid_error("reaching Druid"))?;
        if version.starts_with("35.0.") {
            self.warn(format!(
                "Druid {version} cannot load protobuf descriptors (apache/druid#18730, fixed in 36): ingestion will fail"
            ));
        }
        Ok(())
    }

    /// Renders the spec of a registry version (digests checked), from its stored descriptor.
    pub async fn render_version(&self, version: &Version) -> Result<SupervisorSpec> {
        let contents = self.registry.get(version).await?;
        let dimensions = schema_registry::DimensionsConfig::parse(
            &String::from_utf8_lossy(&contents.bundle.dimensions),
            &format!("{version}/dimensions.json"),
        )?;
        Ok(render(&RenderInput {
            environment: self.environment,
            descriptor_set: &contents.bundle.descriptor_set,
            message_type: &contents.manifest.message_type,
            dimensions: &dimensions,
            version: version.as_str(),
        }))
    }

    async fn move_channel(
        &self,
        channel: &Channel,
        base: Option<&ChannelState>,
        version: &Version,
        reason: Option<&str>,
    ) -> Result<()> {
        let pointer = self.registry.promote_from(channel, base, version, Some(&self.actor), reason).await?;
        self.step(Step::Promoted, format!("{channel} -> {} (move {})", pointer.version, pointer.sequence));
        Ok(())
    }

    async fn record(
        &self,
        action: &str,
        outcome: &str,
        from: Option<String>,
        to: Option<String>,
        overrides: BTreeMap<String, String>,
        detail: Option<String>,
    ) {
        let record = DeployRecord {
            environment: self.environment.name.clone(),
            action: action.to_owned(),
            outcome: outcome.to_owned(),
            from,
            to,
            by: Some(self.actor.clone()),
            at: String::new(),
            overrides,
            detail,
        };
        match self.registry.record(&record).await {
            Ok(_) => self.step(Step::Recorded, format!("{action} {outcome} recorded")),
            Err(err) => self.warn(format!("could not record the {action} in the history: {err}")),
        }
    }

    /// Waits (with the configured deadline) for RUNNING, healthy and the expected number of
    /// running tasks, watches them read for `observe_secs`, then verifies. Not becoming ready
    /// is a failed check, not an error.
    async fn wait_and_verify(&self) -> Result<Verification> {
        let thresholds = &self.environment.thresholds;
        let deadline = Duration::from_secs(thresholds.ready_timeout_secs);
        let started = self.clock.now();
        let id = &self.environment.datasource;
        let expected = self.environment.ingestion.task_count * self.environment.ingestion.replicas;
        let mut ready = false;
        loop {
            let status = self
                .druid
                .supervisor_status(id)
                .await
                .map_err(druid_error("reading the supervisor status"))?;
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
            self.clock.sleep(self.poll_interval).await;
        }
        if ready {
            self.observe().await?;
        }
        let verification = self.verify().await?;
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
            self.clock.sleep(self.poll_interval).await;
            let status = self
                .druid
                .supervisor_status(&self.environment.datasource)
                .await
                .map_err(druid_error("reading the supervisor status"))?;
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
            .supervisor_stats(&self.environment.datasource)
            .await
            .map_err(druid_error("reading the supervisor stats"))?;
        Ok(StatsSum::of(&stats, |task| reading.contains(task)))
    }

    /// The runbook's checklist, each check with its value, threshold and verdict.
    pub async fn verify(&self) -> Result<Verification> {
        let id = &self.environment.datasource;
        let thresholds = &self.environment.thresholds;
        let ingestion = &self.environment.ingestion;
        let status =
            self.druid.supervisor_status(id).await.map_err(druid_error("reading the supervisor status"))?;
        let healthy =
            self.druid.supervisor_health(id).await.map_err(druid_error("reading the supervisor health"))?;
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
            threshold: "RUNNING, healthy".into(),
            verdict: verdict(payload.state == Some(SupervisorState::Running) && healthy, false),
        });

        let expected = ingestion.task_count * ingestion.replicas;
        let running = payload.active_tasks.len();
        checks.push(CheckResult {
            name: "running_tasks",
            value: running.to_string(),
            threshold: format!(
                "= {expected} (taskCount {} x replicas {})",
                ingestion.task_count, ingestion.replicas
            ),
            verdict: verdict(u32::try_from(running).unwrap_or(u32::MAX) == expected, false),
        });

        let read = self.reading_stats(&status).await?;
        let (rate, processed, unparseable) =
            (read.rate(&thresholds.rate_window), read.processed, read.unparseable);
        checks.push(CheckResult {
            name: "ingestion_rate",
            value: format!("{rate:.2} rows/s ({})", thresholds.rate_window),
            threshold: "> 0".into(),
            verdict: verdict(rate > 0.0, thresholds.rate_warn_only),
        });
        let seen = processed + unparseable;
        let share = read.unparseable_ratio();
        checks.push(CheckResult {
            name: "unparseable_ratio",
            value: format!("{:.2} % ({unparseable:.0} of {seen:.0})", share * 100.0),
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
            threshold: format!("<= {:.1} %", thresholds.max_task_failure_ratio * 100.0),
            verdict: verdict(failure_ratio <= thresholds.max_task_failure_ratio, false),
        });

        let probe = SqlQuery::new(format!(
            "SELECT COUNT(*) AS \"rows\" FROM \"{}\" WHERE __time > CURRENT_TIMESTAMP - INTERVAL '1' HOUR",
            id.replace('"', "\"\"")
        ));
        let (value, ok) = match self.druid.sql(&probe).await {
            Ok(rows) => {
                let count = rows
                    .first()
                    .and_then(|row| row.get("rows"))
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0);
                (format!("{count} rows in the last hour"), count > 0)
            }
            Err(err) => (format!("query failed: {err}"), false),
        };
        checks.push(CheckResult {
            name: "sql_probe",
            value,
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
        let complete = self.druid.tasks(&filter).await.map_err(druid_error("listing recent tasks"))?;
        let failed = complete.iter().filter(|task| task.code() == Some(&TaskStatus::Failed)).count();
        #[allow(clippy::cast_precision_loss)]
        let ratio = if complete.is_empty() { 0.0 } else { failed as f64 / complete.len() as f64 };
        Ok((failed, complete.len(), ratio))
    }

    /// Rolls back to `target` (a version, a channel or `previous-<channel>`): render it from
    /// the registry, submit, wait, verify, move the channel, record.
    pub async fn rollback(&self, target: &str) -> Result<(String, Verification)> {
        let target = match target {
            "previous" => format!("{}{}", schema_registry::version::PREVIOUS, self.environment.channel),
            other => other.to_owned(),
        };
        let version = self.registry.resolve(&target).await?;
        let guard = self.lock().await?;
        let result = self.rollback_locked(&version).await;
        self.unlock(guard).await;
        result.map(|verification| (version.to_string(), verification))
    }

    async fn rollback_locked(&self, version: &Version) -> Result<Verification> {
        self.check_druid_version().await?;
        let channel = self.channel()?;
        let base = self.registry.channel(&channel).await?;
        let from = base.as_ref().map(|state| state.pointer.version.clone());
        let spec = self.render_version(version).await?;
        self.step(Step::Rendered, format!("supervisor spec of {version}"));
        self.druid.submit_spec(&spec).await.map_err(|source| Error::SubmitRejected {
            version: version.to_string(),
            source: Box::new(source),
        })?;
        self.step(Step::Submitted, format!("{version} submitted to the Overlord"));
        let verification = self.wait_and_verify().await?;
        let outcome = if verification.passed() { "succeeded" } else { "failed" };
        // The spec is live either way: the channel says what runs.
        self.move_channel(&channel, base.as_ref(), version, Some("rollback")).await?;
        self.record("rollback", outcome, from, Some(version.to_string()), BTreeMap::new(), None).await;
        Ok(verification)
    }

    /// Emergency: stops reading without removing the supervisor. Takes no lock, so it works
    /// while a deploy is stuck.
    pub async fn suspend(&self) -> Result<()> {
        self.druid.suspend(&self.environment.datasource).await.map_err(druid_error("suspending"))?;
        self.record("suspend", "succeeded", None, None, BTreeMap::new(), None).await;
        Ok(())
    }

    /// Resumes a suspended supervisor.
    pub async fn resume(&self) -> Result<()> {
        self.druid.resume(&self.environment.datasource).await.map_err(druid_error("resuming"))?;
        self.record("resume", "succeeded", None, None, BTreeMap::new(), None).await;
        Ok(())
    }

    /// Forgets stored offsets and restarts the tasks (data may be skipped or re-read).
    pub async fn reset(&self) -> Result<()> {
        self.druid.reset(&self.environment.datasource).await.map_err(druid_error("resetting"))?;
        self.record("reset", "succeeded", None, None, BTreeMap::new(), None).await;
        Ok(())
    }

    /// What `deploy` would do, without doing it: validation, compatibility against the
    /// channel's version, the spec diff against Druid, drift.
    pub async fn plan(&self, checked: &Checked) -> Result<Plan> {
        let channel = self.channel()?;
        let channel_version = self.registry.channel(&channel).await?.map(|state| state.pointer.version);
        let compatibility = match &channel_version {
            Some(version) => {
                let baseline = crate::compat::baseline(self.registry, &Version::parse(version)?).await?;
                Some(crate::compat::gate(&baseline, checked))
            }
            None => None,
        };
        let live = self
            .druid
            .get_spec(&self.environment.datasource)
            .await
            .map_err(druid_error("reading the live spec"))?;
        let changes = if checked.error_count() == 0 {
            spec_changes(live.as_ref(), &checked.render(self.environment, None)?)
        } else {
            Vec::new()
        };
        let drift = self.drift().await?;
        let action = if checked.error_count() > 0 {
            "nothing: dimensions.json does not match the schema (see problems)".to_owned()
        } else if compatibility.as_ref().is_some_and(|report| report.breaking) {
            "refuse: breaking changes (deploy with --allow-breaking --reason TEXT to override)".to_owned()
        } else if changes.is_empty() {
            "nothing: the live spec is already this one".to_owned()
        } else {
            format!(
                "publish the working schema, submit the spec ({} change{}), verify, move {}",
                changes.len(),
                if changes.len() == 1 { "" } else { "s" },
                self.environment.channel
            )
        };
        Ok(Plan {
            environment: self.environment.name.clone(),
            channel_version,
            problems: checked.problems.clone(),
            compatibility,
            changes,
            drift,
            action,
        })
    }

    /// The environment now: state, tasks, lag, rates, parse errors, live version and drift.
    pub async fn status(&self) -> Result<StatusSnapshot> {
        Ok(StatusSnapshot { ingestion: self.ingestion().await?, drift: self.drift().await? })
    }

    /// What Druid reports: state, tasks, lag, rates, parse errors (no registry access).
    pub async fn ingestion(&self) -> Result<Ingestion> {
        let id = &self.environment.datasource;
        let status =
            self.druid.supervisor_status(id).await.map_err(druid_error("reading the supervisor status"))?;
        let task_stats =
            self.druid.supervisor_stats(id).await.map_err(druid_error("reading the supervisor stats"))?;
        let payload = status.payload;
        // Every task, publishing ones included: what Druid is doing, not one spec's verdict.
        let sum = StatsSum::of(&task_stats, |_| true);
        let rates: BTreeMap<String, f64> =
            ["1m", "5m", "15m"].iter().map(|window| ((*window).to_owned(), sum.rate(window))).collect();
        #[allow(clippy::cast_precision_loss)]
        let (lag_seconds, lag_estimated) = match (payload.aggregate_lag_millis, payload.aggregate_lag) {
            (Some(millis), _) => (Some(millis as f64 / 1000.0), false),
            (None, Some(lag)) if rates["5m"] > 0.0 => (Some(lag.max(0) as f64 / rates["5m"]), true),
            _ => (None, false),
        };
        let ingestion = &self.environment.ingestion;
        Ok(Ingestion {
            environment: self.environment.name.clone(),
            datasource: id.clone(),
            state: payload.state.map(|state| state.to_string()),
            detailed_state: payload.detailed_state.map(|state| state.to_string()),
            healthy: payload.healthy,
            active_tasks: payload.active_tasks.len(),
            publishing_tasks: payload.publishing_tasks.len(),
            expected_tasks: ingestion.task_count * ingestion.replicas,
            lag_by_partition: payload.minimum_lag.unwrap_or_default(),
            total_lag: payload.aggregate_lag,
            lag_seconds,
            lag_estimated,
            rates,
            processed: sum.processed,
            unparseable_ratio: sum.unparseable_ratio(),
            thrown_away_ratio: ratio(sum.thrown_away, sum.processed),
            recent_errors: payload
                .recent_errors
                .iter()
                .map(|error| {
                    format!(
                        "{}: {}",
                        error.exception_class.as_deref().unwrap_or("error"),
                        error.message.as_deref().unwrap_or("")
                    )
                })
                .collect(),
        })
    }

    /// What is live compared with what the channel says, and what to run if they differ.
    /// Specs are compared by what decides ingestion ([`fingerprint`]): descriptor, message
    /// type, timestamp, dimensions, flattened paths, topic.
    pub async fn drift(&self) -> Result<Drift> {
        let channel = self.channel()?;
        let expected = self.registry.channel(&channel).await?.map(|state| state.pointer.version);
        let live = self
            .druid
            .get_spec(&self.environment.datasource)
            .await
            .map_err(druid_error("reading the live spec"))?;
        let live_print = live.as_ref().map(fingerprint);
        let live_digest = live.as_ref().and_then(descriptor_sha256);
        let mut live_version = None;
        if let Some(live_print) = &live_print {
            // The channel's version first, then every version with the live descriptor, newest first.
            let mut candidates: Vec<String> = expected.iter().cloned().collect();
            for info in self.registry.list().await?.into_iter().rev() {
                if info.descriptor_sha256 == live_digest && !candidates.contains(&info.version) {
                    candidates.push(info.version);
                }
            }
            for candidate in candidates {
                let spec = self.render_version(&Version::parse(&candidate)?).await?;
                if fingerprint(&spec) == *live_print {
                    live_version = Some(candidate);
                    break;
                }
            }
        }
        let in_sync = match (&live_print, &expected) {
            (None, None) => true,
            (Some(_), Some(expected)) => live_version.as_ref() == Some(expected),
            _ => false,
        };
        let env = &self.environment.name;
        let channel_name = &self.environment.channel;
        let hint = if in_sync {
            None
        } else {
            Some(match (&live_version, &expected) {
                (Some(live), Some(expected)) => format!(
                    "Druid runs {live} but {channel_name} points at {expected} (a deploy stopped before its end?): `druidctl deploy --env {env} --schema-version {live}` to finish it, or `druidctl rollback --env {env} --version {expected}`"
                ),
                (Some(live), None) => format!(
                    "Druid runs {live}, which no deploy recorded: `druidctl schemas promote {live} --channel {channel_name} --env {env}` to adopt it"
                ),
                (None, Some(expected)) if live_print.is_none() => format!(
                    "no supervisor runs but {channel_name} points at {expected}: `druidctl rollback --env {env} --version {expected}` restores it"
                ),
                (None, Some(expected)) => format!(
                    "the live spec matches no registry version: `druidctl rollback --env {env} --version {expected}` restores {expected}"
                ),
                (None, None) => {
                    format!("the live spec matches no registry version: `druidctl deploy --env {env}`")
                }
            })
        };
        Ok(Drift {
            live_version,
            live_descriptor_sha256: live_digest,
            expected_version: expected,
            in_sync,
            hint,
        })
    }
}

/// A typed snapshot of an environment: its ingestion and whether Druid runs what the channel
/// says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusSnapshot {
    /// State, tasks, lag, rates, parse errors.
    #[serde(flatten)]
    pub ingestion: Ingestion,
    /// Live versus recorded version.
    pub drift: Drift,
}

/// What Druid reports about an environment's supervisor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ingestion {
    /// Environment.
    pub environment: String,
    /// Datasource (supervisor id).
    pub datasource: String,
    /// `RUNNING`, `SUSPENDED`, ...
    pub state: Option<String>,
    /// `RUNNING`, `UNABLE_TO_CONNECT_TO_STREAM`, ...
    pub detailed_state: Option<String>,
    /// Druid's own verdict.
    pub healthy: Option<bool>,
    /// Reading tasks.
    pub active_tasks: usize,
    /// Publishing tasks.
    pub publishing_tasks: usize,
    /// taskCount x replicas from the configuration.
    pub expected_tasks: u32,
    /// Offset lag by partition.
    pub lag_by_partition: BTreeMap<String, i64>,
    /// Total offset lag.
    pub total_lag: Option<i64>,
    /// Lag in seconds: Druid's `aggregateLagMillis` when reported, otherwise offset lag over
    /// the 5-minute processing rate.
    pub lag_seconds: Option<f64>,
    /// Whether `lag_seconds` is an estimate.
    pub lag_estimated: bool,
    /// Rows per second over 1, 5 and 15 minutes.
    pub rates: BTreeMap<String, f64>,
    /// Rows ingested by the running tasks.
    pub processed: f64,
    /// Unparseable / (processed + unparseable).
    pub unparseable_ratio: f64,
    /// Thrown away / (processed + thrown away).
    pub thrown_away_ratio: f64,
    /// Recent supervisor errors (`class: message`).
    pub recent_errors: Vec<String>,
}

/// What [`Workflow::plan`] found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Environment.
    pub environment: String,
    /// What the channel points at.
    pub channel_version: Option<String>,
    /// Validation findings of the working copy (errors block a deploy).
    pub problems: Vec<schema_registry::Problem>,
    /// The working schema against the channel's version (wire-json + Druid rules).
    pub compatibility: Option<schema_registry::compat::Report>,
    /// How the spec Druid runs would change, path by path.
    pub changes: Vec<SpecChange>,
    /// Live versus recorded state.
    pub drift: Drift,
    /// What `deploy` would do, in a sentence.
    pub action: String,
}

/// One difference between the live spec and the rendered one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpecChange {
    /// `add`, `remove` or `change`.
    pub op: &'static str,
    /// JSON pointer (`/spec/dataSchema/dimensionsSpec/dimensions/16`).
    pub path: String,
    /// Live value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<serde_json::Value>,
    /// Rendered value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<serde_json::Value>,
}

/// Replaces the base64 descriptor by its digest and message type, so a diff reads.
fn readable(spec: &SupervisorSpec) -> serde_json::Value {
    let mut value = serde_json::to_value(spec).expect("specs serialise");
    if let Some(decoder) = value.pointer_mut("/spec/ioConfig/inputFormat/protoBytesDecoder")
        && let Some(blob) = decoder.get("descriptorString").and_then(serde_json::Value::as_str)
    {
        let digest = base64::engine::general_purpose::STANDARD
            .decode(blob)
            .map_or_else(|_| "not base64".into(), |bytes| hex::encode(sha2::Sha256::digest(bytes)));
        decoder["descriptorString"] =
            serde_json::Value::String(format!("sha256:{}", &digest[..digest.len().min(12)]));
    }
    value
}

/// Differences that matter: what the rendered spec sets differently, and elements removed
/// from lists it renders; fields only Druid adds (defaults) are not changes.
pub fn spec_changes(live: Option<&SupervisorSpec>, rendered: &SupervisorSpec) -> Vec<SpecChange> {
    let rendered = readable(rendered);
    let Some(live) = live.map(readable) else {
        return vec![SpecChange { op: "add", path: String::new(), from: None, to: Some(rendered) }];
    };
    let operations = json_patch::diff(&live, &rendered);
    let parent_is_list = |path: &str| {
        let parent = path.rsplit_once('/').map_or("", |(parent, _)| parent);
        rendered.pointer(parent).is_some_and(serde_json::Value::is_array)
    };
    operations
        .0
        .into_iter()
        .filter_map(|operation| match operation {
            json_patch::PatchOperation::Add(add) => {
                Some(SpecChange { op: "add", path: add.path.to_string(), from: None, to: Some(add.value) })
            }
            json_patch::PatchOperation::Replace(replace) => {
                let path = replace.path.to_string();
                Some(SpecChange {
                    op: "change",
                    from: live.pointer(&path).cloned(),
                    path,
                    to: Some(replace.value),
                })
            }
            json_patch::PatchOperation::Remove(remove) if parent_is_list(remove.path.as_str()) => {
                let path = remove.path.to_string();
                Some(SpecChange { op: "remove", from: live.pointer(&path).cloned(), path, to: None })
            }
            _ => None,
        })
        .collect()
}

/// Live versus recorded state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// The registry version whose descriptor is live, when one matches.
    pub live_version: Option<String>,
    /// sha256 of the live descriptor (inline delivery).
    pub live_descriptor_sha256: Option<String>,
    /// What the channel points at.
    pub expected_version: Option<String>,
    /// Whether they agree.
    pub in_sync: bool,
    /// What to run when they do not.
    pub hint: Option<String>,
}

/// sha256 of an inline descriptor in a spec.
pub fn descriptor_sha256(spec: &SupervisorSpec) -> Option<String> {
    let decoder = spec.spec.as_ref()?.io_config.input_format.as_ref()?.proto_bytes_decoder.as_ref()?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(decoder.descriptor_string.as_ref()?).ok()?;
    Some(hex::encode(sha2::Sha256::digest(bytes)))
}

/// What decides how records are ingested, in a form that survives Druid's echo of a spec
/// (Druid adds defaults and rewrites some values, such as `PT1H` as `PT3600S`).
pub fn fingerprint(spec: &SupervisorSpec) -> serde_json::Value {
    let Some(spec) = spec.spec.as_ref() else { return serde_json::Value::Null };
    let decoder = spec.io_config.input_format.as_ref().and_then(|format| format.proto_bytes_decoder.as_ref());
    let flatten = spec.io_config.input_format.as_ref().and_then(|format| format.flatten_spec.as_ref());
    let schema = &spec.data_schema;
    serde_json::json!({
        "dataSource": schema.data_source,
        "topic": spec.io_config.topic,
        "descriptor": decoder.map(|decoder| (decoder.descriptor_string.clone(), decoder.descriptor.clone())),
        "messageType": decoder.and_then(|decoder| decoder.proto_message_type.clone()),
        "timestamp": (&schema.timestamp_spec.column, &schema.timestamp_spec.format),
        "dimensions": schema.dimensions_spec.dimensions.iter().map(|dimension| match dimension {
            druid_client::spec::DimensionSchema::Name(name) => ("string".to_owned(), name.clone()),
            druid_client::spec::DimensionSchema::Typed(typed) => (typed.kind.to_string(), typed.name.clone()),
        }).collect::<Vec<_>>(),
        "flatten": flatten.map(|flatten| flatten.fields.iter().map(|field| (field.name.clone(), field.expr.clone())).collect::<Vec<_>>()),
    })
}

/// Whether two specs ingest the same way.
fn same_schema(live: &SupervisorSpec, wanted: &SupervisorSpec) -> bool {
    fingerprint(live) == fingerprint(wanted)
}
