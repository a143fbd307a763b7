//! `/druid/indexer/v1/supervisor`: submit, inspect and control supervisors.

use std::collections::BTreeMap;

use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Result;
use crate::client::{Call, DruidClient, Service};
use crate::spec::{Extra, SupervisorSpec};

const BASE: &str = "druid/indexer/v1/supervisor";

/// Supervisor endpoints; from [`DruidClient::supervisors`].
#[derive(Debug, Clone, Copy)]
pub struct Supervisors<'a> {
    client: &'a DruidClient,
}

impl DruidClient {
    /// Supervisor endpoints (Overlord).
    pub fn supervisors(&self) -> Supervisors<'_> {
        Supervisors { client: self }
    }
}

fn base() -> Call {
    Call::get(Service::Overlord, BASE)
}

fn one(id: &str) -> Call {
    base().segment(id)
}

fn action(id: &str, path: &str) -> Call {
    Call::post(Service::Overlord, BASE).segment(id).then(path)
}

impl Supervisors<'_> {
    /// Ids of every supervisor.
    pub async fn list(&self) -> Result<Vec<String>> {
        self.client.json(&base()).await
    }

    /// Every supervisor with its state and spec (`?full`).
    pub async fn list_full(&self) -> Result<Vec<SupervisorSummary>> {
        self.client.json(&base().query("full", "")).await
    }

    /// Every supervisor with its state, without specs (`?state=true`).
    pub async fn list_states(&self) -> Result<Vec<SupervisorSummary>> {
        self.client.json(&base().query("state", "true")).await
    }

    /// Creates or updates a supervisor; returns its id. With `skip_restart_if_unmodified`
    /// (Druid 33+), an unchanged spec does not restart the tasks.
    pub async fn submit(&self, spec: &SupervisorSpec, skip_restart_if_unmodified: bool) -> Result<String> {
        // An upsert: posting the same spec twice is harmless, so it may be retried.
        let mut call = Call::post(Service::Overlord, BASE).json_body(spec).idempotent();
        if skip_restart_if_unmodified {
            call = call.query("skipRestartIfUnmodified", "true");
        }
        let created: IdResponse = self.client.json(&call).await?;
        Ok(created.id)
    }

    /// The current spec; an error when there is no such supervisor.
    pub async fn get(&self, id: &str) -> Result<SupervisorSpec> {
        self.client.json(&one(id)).await
    }

    /// The current spec, or `None` when there is no such supervisor.
    pub async fn get_opt(&self, id: &str) -> Result<Option<SupervisorSpec>> {
        self.client.json_opt(&one(id)).await
    }

    /// Status report: state, tasks, offsets, lag, recent errors.
    pub async fn status(&self, id: &str) -> Result<SupervisorStatus> {
        self.client.json(&one(id).then("status")).await
    }

    /// Status of many supervisors, at most `concurrency` requests at a time; results come
    /// back in the order of `ids`.
    pub async fn status_many(
        &self,
        ids: &[String],
        concurrency: usize,
    ) -> Vec<(String, Result<SupervisorStatus>)> {
        let mut results: Vec<(usize, String, Result<SupervisorStatus>)> =
            // Owned ids: the future stays `Send` for any caller (an `async_trait` impl too).
            futures_util::stream::iter(ids.iter().cloned().enumerate())
                .map(|(index, id)| async move {
                    let result = self.status(&id).await;
                    (index, id, result)
                })
                .buffer_unordered(concurrency.max(1))
                .collect()
                .await;
        results.sort_by_key(|(index, _, _)| *index);
        results.into_iter().map(|(_, id, result)| (id, result)).collect()
    }

    /// Whether Druid reports the supervisor healthy. A 503 `{"healthy": false}` is an
    /// answer, not an error.
    pub async fn health(&self, id: &str) -> Result<bool> {
        // A 503 without that body is an unavailable Overlord: an error, retried.
        let call = one(id)
            .then("health")
            .accept(|status, body| status == 503 && serde_json::from_slice::<Health>(body).is_ok());
        Ok(self.client.json::<Health>(&call).await?.healthy)
    }

    /// Row statistics of each running task, by task group then task id.
    pub async fn stats(&self, id: &str) -> Result<SupervisorStats> {
        self.client.json(&one(id).then("stats")).await
    }

    /// Parse errors saved by the running tasks (needs `maxSavedParseExceptions` > 0).
    pub async fn parse_errors(&self, id: &str) -> Result<Vec<ParseError>> {
        self.client.json(&one(id).then("parseErrors")).await
    }

    /// Every version of this supervisor's spec, newest first.
    pub async fn history(&self, id: &str) -> Result<Vec<HistoryEntry>> {
        self.client.json(&one(id).then("history")).await
    }

    /// Every supervisor's spec history, by id.
    pub async fn history_all(&self) -> Result<BTreeMap<String, Vec<HistoryEntry>>> {
        self.client.json(&base().then("history")).await
    }

    /// Stops reading without removing the supervisor; returns the updated spec.
    pub async fn suspend(&self, id: &str) -> Result<SupervisorSpec> {
        self.client.json(&action(id, "suspend")).await
    }

    /// Resumes a suspended supervisor; returns the updated spec.
    pub async fn resume(&self, id: &str) -> Result<SupervisorSpec> {
        self.client.json(&action(id, "resume")).await
    }

    /// Forgets stored offsets and restarts the tasks (data may be skipped or re-read).
    pub async fn reset(&self, id: &str) -> Result<String> {
        Ok(self.client.json::<IdResponse>(&action(id, "reset")).await?.id)
    }

    /// Sets stored offsets of some partitions.
    pub async fn reset_offsets(
        &self,
        id: &str,
        stream: &str,
        offsets: &BTreeMap<String, i64>,
    ) -> Result<String> {
        let body = serde_json::json!({
            "type": "kafka",
            "partitions": { "type": "end", "stream": stream, "partitionOffsetMap": offsets },
        });
        Ok(self.client.json::<IdResponse>(&action(id, "resetOffsets").json_body(&body)).await?.id)
    }

    /// Stops the supervisor and its tasks for good (the spec stays in history).
    pub async fn terminate(&self, id: &str) -> Result<String> {
        Ok(self.client.json::<IdResponse>(&action(id, "terminate")).await?.id)
    }

    /// Asks task groups to publish now rather than at the end of their duration.
    pub async fn handoff(&self, id: &str, task_group_ids: &[u32]) -> Result<()> {
        let call = action(id, "taskGroups/handoff")
            .json_body(&serde_json::json!({ "taskGroupIds": task_group_ids }));
        self.client.send(&call).await.map(drop)
    }

    /// Suspends every supervisor.
    pub async fn suspend_all(&self) -> Result<()> {
        self.all("suspendAll").await
    }

    /// Resumes every supervisor.
    pub async fn resume_all(&self) -> Result<()> {
        self.all("resumeAll").await
    }

    /// Terminates every supervisor.
    pub async fn terminate_all(&self) -> Result<()> {
        self.all("terminateAll").await
    }

    async fn all(&self, what: &str) -> Result<()> {
        let _: Value = self.client.json(&Call::post(Service::Overlord, BASE).then(what)).await?;
        Ok(())
    }
}

#[derive(Deserialize)]
struct IdResponse {
    id: String,
}

#[derive(Deserialize)]
struct Health {
    healthy: bool,
}

open_enum! {
    /// `state` of a supervisor.
    pub enum SupervisorState {
        /// Not started yet.
        Pending => "PENDING",
        /// Reading.
        Running => "RUNNING",
        /// Idle (no new data, tasks stopped to save resources).
        Idle => "IDLE",
        /// Suspended by a user.
        Suspended => "SUSPENDED",
        /// Shutting down.
        Stopping => "STOPPING",
        /// The supervisor itself fails.
        UnhealthySupervisor => "UNHEALTHY_SUPERVISOR",
        /// Its tasks fail.
        UnhealthyTasks => "UNHEALTHY_TASKS",
    }
}

open_enum! {
    /// `detailedState` of a supervisor: the states above plus finer ones.
    pub enum DetailedState {
        /// Not started yet.
        Pending => "PENDING",
        /// Reading.
        Running => "RUNNING",
        /// Idle.
        Idle => "IDLE",
        /// Suspended by a user.
        Suspended => "SUSPENDED",
        /// Shutting down.
        Stopping => "STOPPING",
        /// The supervisor itself fails.
        UnhealthySupervisor => "UNHEALTHY_SUPERVISOR",
        /// Its tasks fail.
        UnhealthyTasks => "UNHEALTHY_TASKS",
        /// Cannot reach Kafka (unhealthy).
        UnableToConnectToStream => "UNABLE_TO_CONNECT_TO_STREAM",
        /// Lost Kafka after reaching it (unhealthy).
        LostContactWithStream => "LOST_CONTACT_WITH_STREAM",
        /// First run: connecting.
        ConnectingToStream => "CONNECTING_TO_STREAM",
        /// First run: finding tasks.
        DiscoveringInitialTasks => "DISCOVERING_INITIAL_TASKS",
        /// First run: creating tasks.
        CreatingTasks => "CREATING_TASKS",
    }
}

/// An entry of `GET /supervisor?full` or `?state=true`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SupervisorSummary {
    /// Supervisor id (the datasource for Kafka supervisors).
    pub id: String,
    /// State.
    #[serde(default)]
    pub state: Option<SupervisorState>,
    /// Detailed state.
    #[serde(default)]
    pub detailed_state: Option<DetailedState>,
    /// Healthy as Druid judges it.
    #[serde(default)]
    pub healthy: Option<bool>,
    /// Suspended by a user.
    #[serde(default)]
    pub suspended: Option<bool>,
    /// The spec (`?full` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<SupervisorSpec>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `GET /supervisor/{id}/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SupervisorStatus {
    /// Supervisor id.
    pub id: String,
    /// When the report was made (ISO 8601).
    #[serde(default)]
    pub generation_time: Option<String>,
    /// The report.
    pub payload: StatusPayload,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `payload` of a status report. Absent fields stay `None`; lag can be negative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusPayload {
    /// Datasource.
    #[serde(default)]
    pub data_source: Option<String>,
    /// Topic.
    #[serde(default)]
    pub stream: Option<String>,
    /// Partition count.
    #[serde(default)]
    pub partitions: Option<u32>,
    /// Replicas configured.
    #[serde(default)]
    pub replicas: Option<u32>,
    /// Task duration in seconds.
    #[serde(default)]
    pub duration_seconds: Option<u64>,
    /// Reading tasks.
    #[serde(default)]
    pub active_tasks: Vec<TaskReport>,
    /// Tasks publishing their segments.
    #[serde(default)]
    pub publishing_tasks: Vec<TaskReport>,
    /// Latest offset of each partition in Kafka.
    #[serde(default)]
    pub latest_offsets: Option<BTreeMap<String, i64>>,
    /// Smallest lag (in records) of each partition across replicas.
    #[serde(default)]
    pub minimum_lag: Option<BTreeMap<String, i64>>,
    /// Total lag in records.
    #[serde(default)]
    pub aggregate_lag: Option<i64>,
    /// Time lag of each partition in ms, when Kafka reports it.
    #[serde(default)]
    pub minimum_lag_millis: Option<BTreeMap<String, i64>>,
    /// Total time lag in ms, when Kafka reports it.
    #[serde(default)]
    pub aggregate_lag_millis: Option<i64>,
    /// When offsets were last fetched.
    #[serde(default)]
    pub offsets_last_updated: Option<String>,
    /// Suspended by a user.
    #[serde(default)]
    pub suspended: Option<bool>,
    /// Healthy as Druid judges it.
    #[serde(default)]
    pub healthy: Option<bool>,
    /// State.
    #[serde(default)]
    pub state: Option<SupervisorState>,
    /// Detailed state.
    #[serde(default)]
    pub detailed_state: Option<DetailedState>,
    /// Exceptions the supervisor hit recently.
    #[serde(default)]
    pub recent_errors: Vec<RecentError>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A task in a status report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskReport {
    /// Task id.
    pub id: String,
    /// Offsets it started from, by partition.
    #[serde(default)]
    pub starting_offsets: Option<BTreeMap<String, i64>>,
    /// When it started.
    #[serde(default)]
    pub start_time: Option<String>,
    /// Seconds left before it publishes.
    #[serde(default)]
    pub remaining_seconds: Option<i64>,
    /// `ACTIVE` or `PUBLISHING`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Offsets it has read to, by partition.
    #[serde(default)]
    pub current_offsets: Option<BTreeMap<String, i64>>,
    /// Lag by partition.
    #[serde(default)]
    pub lag: Option<BTreeMap<String, i64>>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An entry of `recentErrors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecentError {
    /// When (ISO 8601).
    #[serde(default)]
    pub timestamp: Option<String>,
    /// Java exception class.
    #[serde(default)]
    pub exception_class: Option<String>,
    /// The message.
    #[serde(default)]
    pub message: Option<String>,
    /// Fields not named above (`streamException`).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `GET /supervisor/{id}/stats`: task group -> task id -> statistics.
pub type SupervisorStats = BTreeMap<String, BTreeMap<String, TaskStats>>;

/// Statistics of one task. Counts restart with each task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStats {
    /// Rates per second over `1m`, `5m`, `15m`.
    #[serde(default)]
    pub moving_averages: Option<Phases<BTreeMap<String, RowStats>>>,
    /// Counts since the task started.
    #[serde(default)]
    pub totals: Option<Phases<RowStats>>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Statistics by ingestion phase; streaming tasks report `buildSegments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Phases<T> {
    /// The phase that reads and parses records.
    #[serde(default)]
    pub build_segments: Option<T>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Row counts (totals) or rates (moving averages).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RowStats {
    /// Rows ingested.
    #[serde(default)]
    pub processed: f64,
    /// Bytes read.
    #[serde(default)]
    pub processed_bytes: f64,
    /// Rows ingested with a parse error in some column.
    #[serde(default)]
    pub processed_with_error: f64,
    /// Rows dropped (filtered, out of the time window, null timestamp).
    #[serde(default)]
    pub thrown_away: f64,
    /// Records that could not be parsed at all.
    #[serde(default)]
    pub unparseable: f64,
}

/// An entry of `GET /supervisor/{id}/parseErrors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParseError {
    /// When, in epoch ms.
    #[serde(default)]
    pub time_of_exception_millis: Option<i64>,
    /// The input, as Druid printed it.
    #[serde(default)]
    pub input: Option<String>,
    /// `processedWithError` or `unparseable`.
    #[serde(default)]
    pub error_type: Option<String>,
    /// Messages.
    #[serde(default)]
    pub details: Vec<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An entry of a supervisor's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// The spec as it was.
    pub spec: SupervisorSpec,
    /// When it was submitted (ISO 8601).
    #[serde(default)]
    pub version: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

impl StatusPayload {
    /// Whether the supervisor reads and Druid calls it healthy.
    pub fn is_running_and_healthy(&self) -> bool {
        self.state == Some(SupervisorState::Running) && self.healthy != Some(false)
    }
}
