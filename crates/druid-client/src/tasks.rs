//! `/druid/indexer/v1/tasks` and `/task/{id}`: list, inspect, read logs, shut down.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncWrite, AsyncWriteExt as _};

use crate::client::{Body, Call, DruidClient, Service};
use crate::spec::Extra;
use crate::{Error, Result};

const BASE: &str = "druid/indexer/v1";

/// Task endpoints; from [`DruidClient::tasks`].
#[derive(Debug, Clone, Copy)]
pub struct Tasks<'a> {
    client: &'a DruidClient,
}

impl DruidClient {
    /// Task endpoints (Overlord).
    pub fn tasks(&self) -> Tasks<'_> {
        Tasks { client: self }
    }
}

/// Filters of `GET /tasks`; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    /// `running`, `complete`, `waiting` or `pending`.
    pub state: Option<TaskState>,
    /// Only this datasource's tasks.
    pub datasource: Option<String>,
    /// Only this task type (`index_kafka`, ...).
    pub kind: Option<String>,
    /// At most this many complete tasks.
    pub max: Option<u32>,
    /// Complete tasks created in this ISO 8601 interval (`2026-11-01/2026-11-02`, or `P1D`
    /// style periods ending now as Druid accepts them).
    pub created_time_interval: Option<String>,
}

/// The `state` filter of `GET /tasks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum TaskState {
    Running,
    Complete,
    Waiting,
    Pending,
}

impl TaskState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Complete => "complete",
            Self::Waiting => "waiting",
            Self::Pending => "pending",
        }
    }
}

fn task(id: &str) -> Call {
    Call::get(Service::Overlord, BASE).then("task").segment(id)
}

impl Tasks<'_> {
    /// Tasks matching `filter`.
    pub async fn list(&self, filter: &TaskFilter) -> Result<Vec<Task>> {
        let mut call = Call::get(Service::Overlord, BASE).then("tasks");
        if let Some(state) = filter.state {
            call = call.query("state", state.as_str());
        }
        if let Some(datasource) = &filter.datasource {
            call = call.query("datasource", datasource);
        }
        if let Some(kind) = &filter.kind {
            call = call.query("type", kind);
        }
        if let Some(max) = filter.max {
            call = call.query("max", max);
        }
        if let Some(interval) = &filter.created_time_interval {
            call = call.query("createdTimeInterval", interval);
        }
        self.client.json(&call).await
    }

    /// Status of one task.
    pub async fn status(&self, id: &str) -> Result<TaskStatusResponse> {
        self.client.json(&task(id).then("status")).await
    }

    /// The task's log from byte `offset` (negative: that many bytes from the end), or `None`
    /// when it has none yet. Reads the whole log into memory; see [`Tasks::copy_log`].
    pub async fn log(&self, id: &str, offset: Option<i64>) -> Result<Option<String>> {
        let mut buffer = Vec::new();
        Ok(self
            .copy_log(id, offset, &mut buffer)
            .await?
            .map(|_| String::from_utf8_lossy(&buffer).into_owned()))
    }

    /// Streams the task's log from byte `offset` into `out` chunk by chunk, so a large log
    /// never sits in memory; returns the bytes written, or `None` when there is no log yet.
    pub async fn copy_log<W: AsyncWrite + Unpin + Send>(
        &self,
        id: &str,
        offset: Option<i64>,
        out: &mut W,
    ) -> Result<Option<u64>> {
        let mut call = task(id).then("log").accept(|status, _| status == 404);
        if let Some(offset) = offset {
            call = call.query("offset", offset);
        }
        let response = self.client.send(&call).await?;
        let mut body = match response.body {
            Body::Read(_) => return Ok(None),
            Body::Unread(body) => body,
        };
        let mut written = 0;
        while let Some(chunk) = body.chunk().await.map_err(|err| self.client.transport_error(&call, err))? {
            out.write_all(&chunk).await.map_err(|source| Error::Write { what: "the task log", source })?;
            written += chunk.len() as u64;
        }
        out.flush().await.map_err(|source| Error::Write { what: "the task log", source })?;
        Ok(Some(written))
    }

    /// The task's reports (row counts, parse errors, ingestion state); `None` while it has
    /// none.
    pub async fn reports(&self, id: &str) -> Result<Option<TaskReports>> {
        self.client.json_opt(&task(id).then("reports")).await
    }

    /// Asks the task to stop.
    pub async fn shutdown(&self, id: &str) -> Result<()> {
        let call = Call::post(Service::Overlord, BASE).then("task").segment(id).then("shutdown");
        let _: Value = self.client.json(&call).await?;
        Ok(())
    }
}

open_enum! {
    /// A task's status code.
    pub enum TaskStatus {
        /// Running.
        Running => "RUNNING",
        /// Finished successfully.
        Success => "SUCCESS",
        /// Failed.
        Failed => "FAILED",
        /// Waiting for locks.
        Waiting => "WAITING",
        /// Waiting for a slot.
        Pending => "PENDING",
    }
}

/// An entry of `GET /tasks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// Task id.
    pub id: String,
    /// Group (the supervisor's task group for streaming tasks).
    #[serde(default)]
    pub group_id: Option<String>,
    /// Task type (`index_kafka`).
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Creation time (ISO 8601).
    #[serde(default)]
    pub created_time: Option<String>,
    /// When it entered the queue.
    #[serde(default)]
    pub queue_insertion_time: Option<String>,
    /// `RUNNING`, `SUCCESS` or `FAILED`.
    #[serde(default)]
    pub status_code: Option<TaskStatus>,
    /// Same as `statusCode` (deprecated by Druid).
    #[serde(default)]
    pub status: Option<TaskStatus>,
    /// Runner state: `RUNNING`, `PENDING`, `WAITING`, `NONE`.
    #[serde(default)]
    pub runner_status_code: Option<String>,
    /// Run time in ms (-1 while running).
    #[serde(default)]
    pub duration: Option<i64>,
    /// Where it runs.
    #[serde(default)]
    pub location: Option<TaskLocation>,
    /// Datasource.
    #[serde(default)]
    pub data_source: Option<String>,
    /// Why it failed.
    #[serde(default)]
    pub error_msg: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Task {
    /// `statusCode`, or the deprecated `status` when only that is present.
    pub fn code(&self) -> Option<&TaskStatus> {
        self.status_code.as_ref().or(self.status.as_ref())
    }
}

/// Where a task runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskLocation {
    /// Host, when assigned.
    #[serde(default)]
    pub host: Option<String>,
    /// Plain port (-1 when none).
    #[serde(default)]
    pub port: Option<i32>,
    /// TLS port (-1 when none).
    #[serde(default)]
    pub tls_port: Option<i32>,
}

/// `GET /task/{id}/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatusResponse {
    /// Task id.
    pub task: String,
    /// Its status (absent for unknown tasks in some versions).
    #[serde(default)]
    pub status: Option<Task>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `GET /task/{id}/reports`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskReports {
    /// Row counts and parse errors.
    #[serde(default)]
    pub ingestion_stats_and_errors: Option<IngestionStatsReport>,
    /// Other reports.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `ingestionStatsAndErrors` report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestionStatsReport {
    /// Task id.
    #[serde(default)]
    pub task_id: Option<String>,
    /// The figures.
    #[serde(default)]
    pub payload: Option<IngestionStatsPayload>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Payload of the `ingestionStatsAndErrors` report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestionStatsPayload {
    /// `NOT_STARTED`, `DETERMINE_PARTITIONS`, `BUILD_SEGMENTS`, `COMPLETED`.
    #[serde(default)]
    pub ingestion_state: Option<String>,
    /// Parse errors by phase.
    #[serde(default)]
    pub unparseable_events: Option<Value>,
    /// Row counts by phase.
    #[serde(default)]
    pub row_stats: Option<Value>,
    /// Why the task failed.
    #[serde(default)]
    pub error_msg: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}
