//! Operations on a running environment: its status (state, tasks, lag, rates, parse
//! errors, live version and drift), task logs, saved parse errors, and the status of every
//! supervisor of the cluster.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::Result;
use crate::drift::Drift;
use crate::session::Session;
use druid_client::stats::{StatsSum, ratio};

/// A typed snapshot of an environment: its ingestion and whether Druid runs what the channel
/// says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusSnapshot {
    /// State, tasks, lag, rates, parse errors.
    #[serde(flatten)]
    pub ingestion: Ingestion,
    /// Live versus recorded version.
    pub drift: Drift,
    /// A deploy whose process died, if one is left open (`druidctl recover` deals with it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abandoned: Option<crate::ledger::JournalEntry>,
    /// The deploy lock, while someone holds it (`druidctl unlock` breaks it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<crate::ledger::Lease>,
    /// The Druid release `/status` reports (None when it could not be read), and what the
    /// release table says about it that matters here.
    pub druid_version: Option<String>,
    /// Warnings from the release table (`Druid 35.0.1 cannot load protobuf descriptors...`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub druid_warnings: Vec<String>,
    /// The open migration (docs/migrations.md), if one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration: Option<crate::ledger::state::Migration>,
    /// Its old side, still running until cutover, as Druid reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_side: Option<SideStatus>,
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
    #[serde(rename = "lag_records_by_partition")]
    pub lag_by_partition: BTreeMap<String, i64>,
    /// Total offset lag.
    #[serde(rename = "total_lag_records")]
    pub total_lag: Option<i64>,
    /// Lag in seconds: Druid's `aggregateLagMillis` when reported, otherwise offset lag over
    /// the 5-minute processing rate.
    pub lag_seconds: Option<f64>,
    /// Whether `lag_seconds` is an estimate.
    pub lag_estimated: bool,
    /// Rows per second over 1, 5 and 15 minutes.
    #[serde(rename = "rates_rows_per_second")]
    pub rates: BTreeMap<String, f64>,
    /// Rows ingested by the running tasks.
    #[serde(rename = "processed_rows")]
    pub processed: f64,
    /// Unparseable / (processed + unparseable).
    pub unparseable_ratio: f64,
    /// Records the running tasks could not parse.
    #[serde(rename = "unparseable_rows")]
    pub unparseable: f64,
    /// Where the unparseable share lies at the thresholds' confidence, from the records read
    /// (the verdict's bound: 0.3 % of 40 records is not evidence of a share under 1 %).
    pub unparseable_bound: crate::verdict::Bound,
    /// Thrown away / (processed + thrown away).
    pub thrown_away_ratio: f64,
    /// Recent supervisor errors (`class: message`).
    pub recent_errors: Vec<String>,
}

/// One side of a migration, as Druid reports it now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideStatus {
    /// `old` or `new`.
    pub side: &'static str,
    /// Where it ingests.
    pub placement: crate::ledger::state::Placement,
    /// What Druid reports (None when its supervisor is gone or Druid failed).
    pub ingestion: Option<Ingestion>,
    /// Why there is no report.
    pub error: Option<String>,
}

impl Session {
    /// The environment now: state, tasks, lag, rates, parse errors, live version and drift.
    pub async fn status(&self) -> Result<StatusSnapshot> {
        // The version is a courtesy: a status without it is still a status.
        let druid_version = self.druid.version().await.ok();
        let druid_warnings = druid_version
            .as_deref()
            .and_then(druid_client::releases::Release::parse)
            .filter(|release| release.capabilities().protobuf_descriptors_broken)
            .map(|release| {
                vec![format!(
                    "Druid {release} cannot load protobuf descriptors (apache/druid#18730): ingestion fails; fixed in 36.0.0"
                )]
            })
            .unwrap_or_default();
        let migration = self.environment_state().await?.and_then(|state| state.open_migration().cloned());
        let old_side = match &migration {
            Some(open) => Some(self.side_status("old", &open.old).await),
            None => None,
        };
        Ok(StatusSnapshot {
            migration,
            old_side,
            druid_version,
            druid_warnings,
            ingestion: self.ingestion().await?,
            drift: self.drift().await?,
            abandoned: self.abandoned().await?,
            lock: self.ledger.lease(&self.environment.name).await?.filter(crate::ledger::Lease::is_live),
        })
    }

    /// What Druid reports: state, tasks, lag, rates, parse errors (no registry access).
    pub async fn ingestion(&self) -> Result<Ingestion> {
        self.ingestion_of(self.environment.supervisor_id()).await
    }

    /// What Druid reports about supervisor `id` (this environment's, or the old side of a
    /// migration), sized by this environment's settings.
    pub async fn ingestion_of(&self, id: &str) -> Result<Ingestion> {
        let status = self
            .druid
            .supervisor_status(id)
            .await
            .map_err(self.druid_failed("reading the supervisor status"))?;
        let task_stats = self
            .druid
            .supervisor_stats(id)
            .await
            .map_err(self.druid_failed("reading the supervisor stats"))?;
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
            datasource: id.to_owned(),
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
            unparseable: sum.unparseable,
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            unparseable_bound: crate::verdict::bound(
                sum.records(),
                sum.unparseable.max(0.0) as u64,
                self.environment.thresholds.max_unparseable_ratio,
                self.environment.thresholds.confidence,
            ),
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
}

/// Bytes read from the end of a log per requested line (Druid's log lines are long).
const BYTES_PER_LINE: usize = 512;

/// The end of one task's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskLog {
    /// The task.
    pub task: String,
    /// Its last lines (empty: no log yet).
    pub log: String,
}

/// Reads what tasks log after a starting point ([`Session::follow_logs`]); call
/// [`LogFollower::poll`] as often as you like.
#[derive(Debug)]
pub struct LogFollower {
    session: Session,
    offsets: Vec<(String, usize)>,
}

impl LogFollower {
    /// New lines since the last poll, as `(task, line)`.
    pub async fn poll(&mut self) -> Result<Vec<(String, String)>> {
        let mut lines = Vec::new();
        for (task, offset) in &mut self.offsets {
            let Some(more) = self
                .session
                .druid
                .task_log(task, Some(i64::try_from(*offset).unwrap_or(i64::MAX)))
                .await
                .map_err(self.session.druid_failed("reading a task log"))?
            else {
                continue;
            };
            *offset += more.len();
            lines.extend(more.lines().map(|line| (task.clone(), line.to_owned())));
        }
        Ok(lines)
    }
}

/// Every supervisor of the cluster with its status or the error reading it.
pub type FleetStatus =
    Vec<(String, Result<druid_client::supervisors::SupervisorStatus, druid_client::Error>)>;

/// One supervisor of `status --all` as a JSON document: its status payload, or the error.
#[derive(Debug, Clone, Serialize)]
pub struct FleetEntry<'a> {
    /// Supervisor id.
    pub id: &'a str,
    /// What Druid reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'a druid_client::supervisors::StatusPayload>,
    /// Why it could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The JSON documents of a fleet status, in order.
pub fn fleet_entries(fleet: &FleetStatus) -> Vec<FleetEntry<'_>> {
    fleet
        .iter()
        .map(|(id, result)| match result {
            Ok(status) => FleetEntry { id, status: Some(&status.payload), error: None },
            Err(err) => FleetEntry { id, status: None, error: Some(err.to_string()) },
        })
        .collect()
}

impl Session {
    /// The tasks to read logs from: `task`, or every running task of the supervisor.
    pub async fn log_tasks(&self, task: Option<&str>) -> Result<Vec<String>> {
        if let Some(task) = task {
            return Ok(vec![task.to_owned()]);
        }
        let status = self
            .druid
            .supervisor_status(self.environment.supervisor_id())
            .await
            .map_err(self.druid_failed("reading the supervisor status"))?;
        Ok(status.payload.active_tasks.iter().map(|task| task.id.clone()).collect())
    }

    /// The last `tail` lines of each of `tasks`' logs.
    pub async fn task_logs(&self, tasks: &[String], tail: usize) -> Result<Vec<TaskLog>> {
        let window = i64::try_from(tail.saturating_mul(BYTES_PER_LINE).max(4096)).unwrap_or(i64::MAX);
        let mut logs = Vec::new();
        for task in tasks {
            let text = self
                .druid
                .task_log(task, Some(-window))
                .await
                .map_err(self.druid_failed("reading a task log"))?;
            let text = text.unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            logs.push(TaskLog {
                task: task.clone(),
                log: lines[lines.len().saturating_sub(tail)..].join("\n"),
            });
        }
        Ok(logs)
    }

    /// A follower that reads what `tasks` log from now on.
    pub async fn follow_logs(&self, tasks: &[String]) -> Result<LogFollower> {
        let mut offsets = Vec::new();
        for task in tasks {
            // Druid reads from the start or the end only: the length says where to go on.
            let full =
                self.druid.task_log(task, Some(0)).await.map_err(self.druid_failed("reading a task log"))?;
            offsets.push((task.clone(), full.map_or(0, |full| full.len())));
        }
        Ok(LogFollower { session: self.clone(), offsets })
    }

    /// The parse errors the running tasks saved.
    pub async fn parse_errors(&self) -> Result<Vec<druid_client::supervisors::ParseError>> {
        self.druid
            .parse_errors(self.environment.supervisor_id())
            .await
            .map_err(self.druid_failed("reading parse errors"))
    }

    /// Every supervisor of the environment's cluster, at most `concurrency` requests at a time.
    pub async fn status_all(&self, concurrency: usize) -> Result<FleetStatus> {
        let ids = self.druid.supervisor_ids().await.map_err(self.druid_failed("listing supervisors"))?;
        Ok(self.druid.supervisor_statuses(&ids, concurrency).await)
    }
}

/// The first 40 characters of a record, control bytes escaped, with its length: enough to
/// tell garbage from a Confluent 5-byte prefix from a real message.
pub fn summarise(input: Option<&str>) -> String {
    let Some(input) = input else { return String::new() };
    let shown: String = input.chars().take(40).flat_map(char::escape_debug).collect();
    let more = if input.chars().count() > 40 { "..." } else { "" };
    format!("{shown}{more} ({} chars)", input.chars().count())
}
