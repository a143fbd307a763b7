//! [`DruidApi`]: what the deploy workflow needs from Druid, as a trait to mock.

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::Result;
use crate::client::{DruidClient, Service};
use crate::spec::SupervisorSpec;
use crate::sql::SqlQuery;
use crate::supervisors::{HistoryEntry, ParseError, SupervisorStats, SupervisorStatus};
use crate::tasks::{Task, TaskFilter};

/// Everything deploy-core asks of Druid. [`DruidClient`] implements it over HTTP; with the
/// `mock` feature, `MockDruidApi` (mockall) implements it for tests.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait DruidApi: Send + Sync {
    /// Creates or updates a supervisor; returns its id.
    async fn submit_spec(&self, spec: &SupervisorSpec) -> Result<String>;
    /// The live spec, `None` when there is no such supervisor.
    async fn get_spec(&self, id: &str) -> Result<Option<SupervisorSpec>>;
    /// The status report.
    async fn supervisor_status(&self, id: &str) -> Result<SupervisorStatus>;
    /// Whether Druid calls the supervisor healthy.
    async fn supervisor_health(&self, id: &str) -> Result<bool>;
    /// Every supervisor id of the cluster.
    async fn supervisor_ids(&self) -> Result<Vec<String>>;
    /// Every supervisor of the cluster with its state and spec, in one call (`?full`).
    async fn supervisors_full(&self) -> Result<Vec<crate::supervisors::SupervisorSummary>>;
    /// The status of each of `ids`, at most `concurrency` requests at a time, in order.
    async fn supervisor_statuses(
        &self,
        ids: &[String],
        concurrency: usize,
    ) -> Vec<(String, Result<SupervisorStatus>)>;
    /// Row statistics of the running tasks.
    async fn supervisor_stats(&self, id: &str) -> Result<SupervisorStats>;
    /// Saved parse errors.
    async fn parse_errors(&self, id: &str) -> Result<Vec<ParseError>>;
    /// Spec history, newest first.
    async fn supervisor_history(&self, id: &str) -> Result<Vec<HistoryEntry>>;
    /// Suspends the supervisor.
    async fn suspend(&self, id: &str) -> Result<()>;
    /// Resumes the supervisor.
    async fn resume(&self, id: &str) -> Result<()>;
    /// Resets the supervisor's offsets.
    async fn reset(&self, id: &str) -> Result<()>;
    /// Terminates the supervisor.
    async fn terminate(&self, id: &str) -> Result<()>;
    /// `POST .../taskGroups/handoff` (Druid 31+): asks these task groups to publish now
    /// (best effort: Druid answers 202 and hands off in the background).
    async fn handoff(&self, id: &str, task_group_ids: &[u32]) -> Result<()>;
    /// Tasks matching a filter.
    async fn tasks(&self, filter: &TaskFilter) -> Result<Vec<Task>>;
    /// A task's log from `offset`, `None` when it has none yet.
    async fn task_log(&self, id: &str, offset: Option<i64>) -> Result<Option<String>>;
    /// A SQL query's rows as JSON objects.
    async fn sql(&self, query: &SqlQuery) -> Result<Vec<Map<String, Value>>>;
    /// The Overlord's Druid version.
    async fn version(&self) -> Result<String>;
    /// `POST /druid/indexer/v1/sampler`: what the cluster's input format makes of records.
    async fn sample(&self, request: &Value) -> Result<crate::sampler::SamplerResponse>;
    /// `GET /druid/indexer/v1/task/{id}/reports`: a task's row counts and parse errors.
    async fn task_reports(&self, id: &str) -> Result<Option<crate::tasks::TaskReports>>;
}

#[async_trait]
impl DruidApi for DruidClient {
    async fn submit_spec(&self, spec: &SupervisorSpec) -> Result<String> {
        self.supervisors().submit(spec, false).await
    }

    async fn get_spec(&self, id: &str) -> Result<Option<SupervisorSpec>> {
        self.supervisors().get_opt(id).await
    }

    async fn supervisor_status(&self, id: &str) -> Result<SupervisorStatus> {
        self.supervisors().status(id).await
    }

    async fn supervisor_health(&self, id: &str) -> Result<bool> {
        self.supervisors().health(id).await
    }

    async fn supervisor_ids(&self) -> Result<Vec<String>> {
        self.supervisors().list().await
    }

    async fn supervisor_statuses(
        &self,
        ids: &[String],
        concurrency: usize,
    ) -> Vec<(String, Result<SupervisorStatus>)> {
        self.supervisors().status_many(ids, concurrency).await
    }

    async fn supervisors_full(&self) -> Result<Vec<crate::supervisors::SupervisorSummary>> {
        self.supervisors().list_full().await
    }

    async fn supervisor_stats(&self, id: &str) -> Result<SupervisorStats> {
        self.supervisors().stats(id).await
    }

    async fn parse_errors(&self, id: &str) -> Result<Vec<ParseError>> {
        self.supervisors().parse_errors(id).await
    }

    async fn supervisor_history(&self, id: &str) -> Result<Vec<HistoryEntry>> {
        self.supervisors().history(id).await
    }

    async fn suspend(&self, id: &str) -> Result<()> {
        self.supervisors().suspend(id).await.map(drop)
    }

    async fn resume(&self, id: &str) -> Result<()> {
        self.supervisors().resume(id).await.map(drop)
    }

    async fn reset(&self, id: &str) -> Result<()> {
        self.supervisors().reset(id).await.map(drop)
    }

    async fn terminate(&self, id: &str) -> Result<()> {
        self.supervisors().terminate(id).await.map(drop)
    }

    async fn handoff(&self, id: &str, task_group_ids: &[u32]) -> Result<()> {
        self.supervisors().handoff(id, task_group_ids).await
    }

    async fn tasks(&self, filter: &TaskFilter) -> Result<Vec<Task>> {
        self.tasks().list(filter).await
    }

    async fn task_log(&self, id: &str, offset: Option<i64>) -> Result<Option<String>> {
        self.tasks().log(id, offset).await
    }

    async fn sql(&self, query: &SqlQuery) -> Result<Vec<Map<String, Value>>> {
        self.sql().rows(query).await
    }

    async fn version(&self) -> Result<String> {
        Ok(self.server_status(Service::Overlord).await?.version)
    }

    async fn sample(&self, request: &Value) -> Result<crate::sampler::SamplerResponse> {
        self.sampler().sample(request).await
    }

    async fn task_reports(&self, id: &str) -> Result<Option<crate::tasks::TaskReports>> {
        self.tasks().reports(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_mock_stands_in_for_druid() {
        let mut druid = MockDruidApi::new();
        druid.expect_version().times(1).returning(|| Ok("34.0.0".to_owned()));
        druid.expect_get_spec().withf(|id| id == "missing").returning(|_| Ok(None));
        let api: &dyn DruidApi = &druid;
        assert_eq!(api.version().await.unwrap(), "34.0.0");
        assert_eq!(api.get_spec("missing").await.unwrap(), None);
    }
}
