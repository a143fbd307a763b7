//! One stateful fake Druid for every test, example and embedder (`testing` feature).
//!
//! [`FakeDruid`] implements [`DruidApi`] in process and, with [`FakeDruid::serve`], answers
//! Druid's HTTP API on a loopback port (for programs that take a Druid URL, such as the
//! `druidctl` binary). It remembers every spec submitted, keeps each supervisor's history,
//! suspends and resumes, and reports status, stats, tasks, logs and SQL counts in the shapes
//! a real Druid 33 answers with (the payloads start from the fixtures in `tests/fixtures`).
//! Knobs script what ingestion looks like ([`FakeDruid::set_rows`], [`FakeDruid::poison`],
//! [`FakeDruid::tasks_after_polls`], ...) and [`FakeDruid::fail`] injects failures per call.
//!
//! ```
//! use druid_client::DruidApi;
//! use druid_client::testing::FakeDruid;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let druid = FakeDruid::new();
//! assert_eq!(druid.get_spec("settlement").await.unwrap(), None);
//! assert!(druid.supervisor_status("settlement").await.unwrap_err().is_not_found());
//! # }
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use crate::api::DruidApi;
use crate::spec::SupervisorSpec;
use crate::sql::SqlQuery;
use crate::supervisors::{HistoryEntry, ParseError, SupervisorStats, SupervisorStatus};
use crate::tasks::{Task, TaskFilter, TaskState};
use crate::{Error, Result};

/// The status payload of a running supervisor, as a real Druid answers (the template).
const STATUS_TEMPLATE: &str = include_str!("../tests/fixtures/supervisor_status_running.json");

/// A [`DruidApi`] call, to inject failures into and to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)] // one variant per `DruidApi` method, same name
pub enum Call {
    SubmitSpec,
    GetSpec,
    SupervisorIds,
    SupervisorStatus,
    SupervisorHealth,
    SupervisorStats,
    ParseErrors,
    SupervisorHistory,
    Suspend,
    Resume,
    Reset,
    Terminate,
    Tasks,
    TaskLog,
    Sql,
    Version,
    Sample,
    TaskReports,
    Handoff,
    SupervisorsFull,
}

/// What the tasks of one submitted spec read: totals since they started and the rows per
/// second over 1, 5 and 15 minutes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rows {
    /// Rows ingested.
    pub processed: u64,
    /// Records that could not be parsed.
    pub unparseable: u64,
    /// Rows per second over `1m`, `5m`, `15m`.
    pub rates: [f64; 3],
}

impl Rows {
    /// `processed` and `unparseable` totals with the default rates (12, 10 and 9 rows/s).
    pub fn new(processed: u64, unparseable: u64) -> Self {
        Self { processed, unparseable, rates: [12.0, 10.0, 9.0] }
    }
}

#[derive(Debug, Clone)]
struct Supervisor {
    /// Every spec accepted for it, oldest first.
    history: Vec<(SupervisorSpec, String)>,
    /// Which submission (1-based, over every supervisor) is live.
    generation: usize,
    suspended: bool,
    terminated: bool,
    /// Early handoffs asked for: each ends the reading tasks and starts new ones.
    handoffs: usize,
    /// Status polls since the last submit or resume.
    polls: usize,
    /// `/stats` polls since the last submit or resume (a stream's totals grow with them).
    stats_polls: u64,
}

#[derive(Debug)]
struct Injected {
    call: Call,
    /// Calls of `call` let through before the failures start.
    skip: usize,
    remaining: u32,
    status: u16,
    body: String,
}

#[derive(Debug)]
struct State {
    version: String,
    supervisors: BTreeMap<String, Supervisor>,
    submitted: Vec<SupervisorSpec>,
    rows: Rows,
    poisoned: BTreeMap<usize, Rows>,
    publishing_previous: Option<Rows>,
    tasks_after_polls: usize,
    per_poll: bool,
    failing: BTreeMap<usize, String>,
    health_script: VecDeque<bool>,
    lag: i64,
    healthy: bool,
    sql_rows: u64,
    completed_tasks: Vec<Task>,
    log: String,
    parse_errors: Vec<ParseError>,
    sampler: crate::sampler::SamplerResponse,
    reports: BTreeMap<String, crate::tasks::TaskReports>,
    failures: VecDeque<Injected>,
    calls: BTreeMap<Call, usize>,
}

/// A stateful fake Druid; see the [module documentation](self).
#[derive(Debug)]
pub struct FakeDruid {
    state: Mutex<State>,
}

impl Default for FakeDruid {
    fn default() -> Self {
        Self::new()
    }
}

fn http_error(method: &str, path: &str, status: u16, body: &str) -> Error {
    Error::Http {
        method: method.to_owned(),
        url: format!("http://fake-druid{path}"),
        status,
        body: body.to_owned(),
        druid: serde_json::from_str(body).ok().map(Box::new),
        attempts: 1,
        elapsed: Duration::ZERO,
    }
}

fn missing(id: &str) -> Error {
    // What a real Druid 33 answers for a supervisor it does not know: a plain-text 404.
    http_error(
        "GET",
        &format!("/druid/indexer/v1/supervisor/{id}"),
        404,
        &format!("Cannot find any supervisor with id: [{id}]"),
    )
}

fn task_id(id: &str, generation: usize, index: usize) -> String {
    format!("index_kafka_{id}_{generation:03}_{index}")
}

/// taskCount x replicas of a spec (1 x 1 when it does not say).
fn expected_tasks(spec: &SupervisorSpec) -> usize {
    let io = spec.spec.as_ref().map(|spec| &spec.io_config);
    let count = io.and_then(|io| io.task_count).unwrap_or(1);
    let replicas = io.and_then(|io| io.replicas).unwrap_or(1);
    usize::try_from(count * replicas).unwrap_or(1)
}

fn moving(rate: f64) -> Value {
    json!({"processed": rate, "processedBytes": rate * 100.0, "processedWithError": 0.0, "thrownAway": 0.0, "unparseable": 0.0})
}

fn task_stats(rows: Rows) -> Value {
    json!({
        "movingAverages": {"buildSegments": {"1m": moving(rows.rates[0]), "5m": moving(rows.rates[1]), "15m": moving(rows.rates[2])}},
        "totals": {"buildSegments": {"processed": rows.processed, "processedBytes": rows.processed * 100,
                   "processedWithError": 0, "thrownAway": 0, "unparseable": rows.unparseable}}
    })
}

impl FakeDruid {
    /// A Druid 33.0.0 with no supervisor; tasks read 990 rows, none unparseable, at
    /// 12 / 10 / 9 rows/s; lag 10; SQL counts 990 rows; healthy.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State {
                version: "33.0.0".into(),
                supervisors: BTreeMap::new(),
                submitted: Vec::new(),
                rows: Rows::new(990, 0),
                poisoned: BTreeMap::new(),
                publishing_previous: None,
                tasks_after_polls: 0,
                per_poll: false,
                failing: BTreeMap::new(),
                health_script: VecDeque::new(),
                lag: 10,
                healthy: true,
                sql_rows: 990,
                completed_tasks: Vec::new(),
                log: "INFO [task-runner] Seeking partition[0] to[990].\n".into(),
                parse_errors: Vec::new(),
                sampler: crate::sampler::SamplerResponse::default(),
                reports: BTreeMap::new(),
                failures: VecDeque::new(),
                calls: BTreeMap::new(),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The version `/status` reports.
    pub fn set_version(&self, version: &str) -> &Self {
        version.clone_into(&mut self.state().version);
        self
    }

    /// What every spec's tasks read, unless poisoned.
    pub fn set_rows(&self, rows: Rows) -> &Self {
        self.state().rows = rows;
        self
    }

    /// What the tasks of the `submission`-th spec submitted (1-based, counting every submit)
    /// read instead: parse errors for one version.
    pub fn poison(&self, submission: usize, rows: Rows) -> &Self {
        self.state().poisoned.insert(submission, rows);
        self
    }

    /// After a spec change, `/stats` also lists one task of the previous spec, still
    /// publishing, with these rows (a real Druid does until the handoff).
    pub fn publishing_previous(&self, rows: Rows) -> &Self {
        self.state().publishing_previous = Some(rows);
        self
    }

    /// The supervisor reports RUNNING without tasks for this many status polls after a
    /// submit (a real Druid does for a few seconds).
    pub fn tasks_after_polls(&self, polls: usize) -> &Self {
        self.state().tasks_after_polls = polls;
        self
    }

    /// Reads the rows of [`FakeDruid::set_rows`] and [`FakeDruid::poison`] as what the tasks
    /// read between two polls of `/stats`: their totals grow with each poll since the submit,
    /// a stream of that many records per poll (per second, with 1 s polls).
    pub fn stream(&self) -> &Self {
        self.state().per_poll = true;
        self
    }

    /// The first task of the `submission`-th spec submitted fails with `message`: `GET
    /// /tasks?state=complete` lists it as FAILED with that `errorMsg`.
    pub fn fail_tasks(&self, submission: usize, message: &str) -> &Self {
        self.state().failing.insert(submission, message.to_owned());
        self
    }

    /// What the next calls of `/health` answer, one each, before [`FakeDruid::set_healthy`]'s
    /// answer again (a supervisor that flaps).
    pub fn health_script(&self, answers: &[bool]) -> &Self {
        self.state().health_script.extend(answers.iter().copied());
        self
    }

    /// Offset lag of every partition (one partition).
    pub fn set_lag(&self, lag: i64) -> &Self {
        self.state().lag = lag;
        self
    }

    /// What `/health` says.
    pub fn set_healthy(&self, healthy: bool) -> &Self {
        self.state().healthy = healthy;
        self
    }

    /// What the SQL probe counts.
    pub fn set_sql_rows(&self, rows: u64) -> &Self {
        self.state().sql_rows = rows;
        self
    }

    /// Completed tasks `GET /tasks?state=complete` lists (fixture shapes).
    pub fn set_completed_tasks(&self, tasks: Vec<Task>) -> &Self {
        self.state().completed_tasks = tasks;
        self
    }

    /// The saved parse errors `/parseErrors` lists.
    pub fn set_parse_errors(&self, errors: Vec<ParseError>) -> &Self {
        self.state().parse_errors = errors;
        self
    }

    /// The reports of task `id` (none by default).
    pub fn set_task_reports(&self, id: &str, reports: crate::tasks::TaskReports) -> &Self {
        self.state().reports.insert(id.to_owned(), reports);
        self
    }

    /// What the sampler answers (nothing read, by default).
    pub fn set_sampler(&self, response: crate::sampler::SamplerResponse) -> &Self {
        self.state().sampler = response;
        self
    }

    /// The log every task has.
    pub fn set_log(&self, log: &str) -> &Self {
        log.clone_into(&mut self.state().log);
        self
    }

    /// The next `times` calls of `call` fail with an HTTP `status` and `body` (a 5xx is
    /// what a retrying client gives up on; a 400 is a refusal).
    pub fn fail(&self, call: Call, times: u32, status: u16, body: &str) -> &Self {
        self.fail_after(call, 0, times, status, body)
    }

    /// Like [`FakeDruid::fail`], once `skip` more calls of `call` have gone through (the
    /// third submit of a deploy that rolls back, say).
    pub fn fail_after(&self, call: Call, skip: usize, times: u32, status: u16, body: &str) -> &Self {
        self.state().failures.push_back(Injected {
            call,
            skip,
            remaining: times,
            status,
            body: body.to_owned(),
        });
        self
    }

    /// Every spec submitted, in order.
    pub fn submitted(&self) -> Vec<SupervisorSpec> {
        self.state().submitted.clone()
    }

    /// How many times `call` was made (failed ones included).
    pub fn calls(&self, call: Call) -> usize {
        self.state().calls.get(&call).copied().unwrap_or(0)
    }

    /// Replaces the live spec of `id` without a submit through druidctl (an edit in Druid's
    /// console): it becomes the newest history entry.
    pub fn edit_live_spec(&self, id: &str, spec: SupervisorSpec) {
        let mut state = self.state();
        state.submitted.push(spec.clone());
        let generation = state.submitted.len();
        if let Some(supervisor) = state.supervisors.get_mut(id) {
            supervisor.history.push((spec, format!("2026-12-01T10:{:02}:00.000Z", generation % 60)));
            supervisor.generation = generation;
            supervisor.polls = 0;
            supervisor.stats_polls = 0;
        }
    }

    /// Counts the call and fails it when a failure is injected.
    fn enter(&self, call: Call, method: &str, path: &str) -> Result<MutexGuard<'_, State>> {
        let mut state = self.state();
        *state.calls.entry(call).or_default() += 1;
        if let Some(index) = state.failures.iter().position(|failure| failure.call == call) {
            let failure = &mut state.failures[index];
            if failure.skip > 0 {
                failure.skip -= 1;
                return Ok(state);
            }
            failure.remaining = failure.remaining.saturating_sub(1);
            let error = http_error(method, path, failure.status, &failure.body);
            if failure.remaining == 0 {
                state.failures.remove(index);
            }
            return Err(error);
        }
        Ok(state)
    }

    fn live<'s>(state: &'s mut State, id: &str) -> Result<&'s mut Supervisor> {
        match state.supervisors.get_mut(id) {
            Some(supervisor) if !supervisor.terminated => Ok(supervisor),
            _ => Err(missing(id)),
        }
    }

    /// Ids of the reading tasks of `supervisor` now.
    fn reading_tasks(id: &str, supervisor: &Supervisor, tasks_after_polls: usize) -> Vec<String> {
        if supervisor.suspended || supervisor.polls <= tasks_after_polls {
            return Vec::new();
        }
        let spec = &supervisor.history.last().expect("a supervisor has a spec").0;
        (0..expected_tasks(spec))
            .map(|index| match supervisor.handoffs {
                0 => task_id(id, supervisor.generation, index),
                handoffs => format!("{}_h{handoffs}", task_id(id, supervisor.generation, index)),
            })
            .collect()
    }

    /// Ends the reading tasks of `id` as Druid does after a handoff or a terminate: they
    /// publish and succeed.
    fn finish_tasks(state: &mut State, id: &str) -> Result<()> {
        let tasks_after_polls = state.tasks_after_polls;
        let supervisor = Self::live(state, id)?;
        let datasource = supervisor.history.last().and_then(|(spec, _)| spec.datasource().map(str::to_owned));
        let ended = Self::reading_tasks(id, supervisor, tasks_after_polls);
        supervisor.handoffs += 1;
        for task in ended {
            let mut done: Task = serde_json::from_value(json!({
                "id": task, "groupId": task, "type": "index_kafka", "statusCode": "SUCCESS",
                "status": "SUCCESS", "runnerStatusCode": "NONE", "duration": 60_000,
                "createdTime": "2026-12-01T10:00:00.000Z"
            }))
            .expect("a task parses");
            done.data_source.clone_from(&datasource);
            state.completed_tasks.push(done);
        }
        Ok(())
    }

    /// Serves Druid's HTTP API on a loopback port until the server is dropped. Requests the
    /// fake does not know answer 500 "unexpected request", so a missing route is obvious.
    pub async fn serve(self: &Arc<Self>) -> wiremock::MockServer {
        let server = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::any())
            .respond_with(Http(self.clone()))
            .mount(&server)
            .await;
        server
    }
}

#[async_trait]
impl DruidApi for FakeDruid {
    async fn submit_spec(&self, spec: &SupervisorSpec) -> Result<String> {
        let mut state = self.enter(Call::SubmitSpec, "POST", "/druid/indexer/v1/supervisor")?;
        let Some(id) = spec.id().map(str::to_owned) else {
            return Err(http_error(
                "POST",
                "/druid/indexer/v1/supervisor",
                400,
                r#"{"error":"Missing dataSchema.dataSource"}"#,
            ));
        };
        state.submitted.push(spec.clone());
        let generation = state.submitted.len();
        let at = format!("2026-12-01T10:{:02}:00.000Z", generation % 60);
        let supervisor = state.supervisors.entry(id.clone()).or_insert_with(|| Supervisor {
            history: Vec::new(),
            generation,
            suspended: false,
            terminated: false,
            handoffs: 0,
            polls: 0,
            stats_polls: 0,
        });
        supervisor.history.push((spec.clone(), at));
        supervisor.generation = generation;
        supervisor.terminated = false;
        supervisor.polls = 0;
        supervisor.stats_polls = 0;
        Ok(id)
    }

    async fn get_spec(&self, id: &str) -> Result<Option<SupervisorSpec>> {
        let mut state = self.enter(Call::GetSpec, "GET", "/druid/indexer/v1/supervisor/{id}")?;
        Ok(Self::live(&mut state, id)
            .ok()
            .and_then(|supervisor| supervisor.history.last())
            .map(|(spec, _)| spec.clone()))
    }

    async fn supervisor_ids(&self) -> Result<Vec<String>> {
        let state = self.enter(Call::SupervisorIds, "GET", "/druid/indexer/v1/supervisor")?;
        Ok(state.supervisors.iter().filter(|(_, s)| !s.terminated).map(|(id, _)| id.clone()).collect())
    }

    async fn supervisors_full(&self) -> Result<Vec<crate::supervisors::SupervisorSummary>> {
        let state = self.enter(Call::SupervisorsFull, "GET", "/druid/indexer/v1/supervisor?full")?;
        Ok(state
            .supervisors
            .iter()
            .filter(|(_, supervisor)| !supervisor.terminated)
            .map(|(id, supervisor)| {
                let spec = supervisor.history.last().map(|(spec, _)| spec.clone());
                let state = if supervisor.suspended { "SUSPENDED" } else { "RUNNING" };
                serde_json::from_value(json!({"id": id, "state": state, "detailedState": state,
                    "healthy": true, "suspended": supervisor.suspended, "spec": spec}))
                .expect("a summary parses")
            })
            .collect())
    }

    async fn supervisor_statuses(
        &self,
        ids: &[String],
        _concurrency: usize,
    ) -> Vec<(String, Result<SupervisorStatus>)> {
        let mut results = Vec::new();
        for id in ids {
            results.push((id.clone(), self.supervisor_status(id).await));
        }
        results
    }

    async fn supervisor_status(&self, id: &str) -> Result<SupervisorStatus> {
        let mut state =
            self.enter(Call::SupervisorStatus, "GET", "/druid/indexer/v1/supervisor/{id}/status")?;
        let (tasks_after_polls, lag, healthy) = (state.tasks_after_polls, state.lag, state.healthy);
        let supervisor = Self::live(&mut state, id)?;
        supervisor.polls += 1;
        let reading = Self::reading_tasks(id, supervisor, tasks_after_polls);
        let spec = &supervisor.history.last().expect("a supervisor has a spec").0;
        let topic = spec.spec.as_ref().and_then(|spec| spec.io_config.topic.clone()).unwrap_or_default();
        let mut status: Value = serde_json::from_str(STATUS_TEMPLATE).expect("the status fixture is JSON");
        let state_name = if supervisor.suspended { "SUSPENDED" } else { "RUNNING" };
        let active: Vec<Value> = reading
            .iter()
            .map(|task| {
                json!({"id": task, "startingOffsets": {"0": 0}, "startTime": "2026-12-01T10:00:00.000Z",
                       "remainingSeconds": 3000, "type": "ACTIVE", "currentOffsets": {"0": 1000 - lag}, "lag": {"0": lag}})
            })
            .collect();
        status["id"] = json!(id);
        let payload = status["payload"].as_object_mut().expect("the fixture has a payload");
        for (key, value) in [
            ("dataSource", json!(id)),
            ("stream", json!(topic)),
            ("partitions", json!(1)),
            ("activeTasks", json!(active)),
            ("publishingTasks", json!([])),
            ("latestOffsets", json!({"0": 1000})),
            ("minimumLag", json!({"0": lag})),
            ("aggregateLag", json!(lag)),
            ("suspended", json!(supervisor.suspended)),
            ("healthy", json!(healthy)),
            ("state", json!(state_name)),
            ("detailedState", json!(state_name)),
        ] {
            payload.insert(key.to_owned(), value);
        }
        Ok(serde_json::from_value(status).expect("the fake's status parses"))
    }

    async fn supervisor_health(&self, id: &str) -> Result<bool> {
        let mut state =
            self.enter(Call::SupervisorHealth, "GET", "/druid/indexer/v1/supervisor/{id}/health")?;
        let healthy = state.health_script.pop_front().unwrap_or(state.healthy);
        Self::live(&mut state, id)?;
        Ok(healthy)
    }

    async fn supervisor_stats(&self, id: &str) -> Result<SupervisorStats> {
        let mut state =
            self.enter(Call::SupervisorStats, "GET", "/druid/indexer/v1/supervisor/{id}/stats")?;
        let (tasks_after_polls, default_rows, previous, per_poll) =
            (state.tasks_after_polls, state.rows, state.publishing_previous, state.per_poll);
        let poisoned = state.poisoned.clone();
        let supervisor = Self::live(&mut state, id)?;
        let mut rows = poisoned.get(&supervisor.generation).copied().unwrap_or(default_rows);
        let reading = Self::reading_tasks(id, supervisor, tasks_after_polls);
        if per_poll && !reading.is_empty() {
            supervisor.stats_polls += 1;
            rows.processed *= supervisor.stats_polls;
            rows.unparseable *= supervisor.stats_polls;
        }
        let mut group = Map::new();
        for (index, task) in reading.into_iter().enumerate() {
            // Every row on the first task: sums are what deploy-core reads.
            let share =
                if index == 0 { rows } else { Rows { processed: 0, unparseable: 0, rates: [0.0; 3] } };
            group.insert(task, task_stats(share));
        }
        if let Some(previous) = previous.filter(|_| supervisor.history.len() > 1 || supervisor.generation > 1)
        {
            group.insert(task_id(id, supervisor.generation.saturating_sub(1), 0), task_stats(previous));
        }
        Ok(serde_json::from_value(json!({"0": group})).expect("the fake's stats parse"))
    }

    async fn parse_errors(&self, id: &str) -> Result<Vec<ParseError>> {
        let mut state =
            self.enter(Call::ParseErrors, "GET", "/druid/indexer/v1/supervisor/{id}/parseErrors")?;
        Self::live(&mut state, id)?;
        Ok(state.parse_errors.clone())
    }

    async fn supervisor_history(&self, id: &str) -> Result<Vec<HistoryEntry>> {
        let mut state =
            self.enter(Call::SupervisorHistory, "GET", "/druid/indexer/v1/supervisor/{id}/history")?;
        let supervisor = state.supervisors.get_mut(id).ok_or_else(|| missing(id))?;
        Ok(supervisor
            .history
            .iter()
            .rev()
            .map(|(spec, at)| {
                serde_json::from_value(json!({"spec": spec, "version": at})).expect("history entries parse")
            })
            .collect())
    }

    async fn suspend(&self, id: &str) -> Result<()> {
        self.control(Call::Suspend, id, Some(true))
    }

    async fn resume(&self, id: &str) -> Result<()> {
        self.control(Call::Resume, id, Some(false))
    }

    async fn reset(&self, id: &str) -> Result<()> {
        self.control(Call::Reset, id, None)
    }

    async fn terminate(&self, id: &str) -> Result<()> {
        let mut state = self.enter(Call::Terminate, "POST", "/druid/indexer/v1/supervisor/{id}/terminate")?;
        Self::finish_tasks(&mut state, id)?;
        Self::live(&mut state, id)?.terminated = true;
        Ok(())
    }

    async fn handoff(&self, id: &str, _task_group_ids: &[u32]) -> Result<()> {
        let mut state =
            self.enter(Call::Handoff, "POST", "/druid/indexer/v1/supervisor/{id}/taskGroups/handoff")?;
        Self::finish_tasks(&mut state, id)
    }

    async fn tasks(&self, filter: &TaskFilter) -> Result<Vec<Task>> {
        let state = self.enter(Call::Tasks, "GET", "/druid/indexer/v1/tasks")?;
        let mut complete = state.completed_tasks.clone();
        for (id, supervisor) in &state.supervisors {
            if let Some(message) = state.failing.get(&supervisor.generation) {
                let mut failed: Task = serde_json::from_value(json!({
                    "id": task_id(id, supervisor.generation, 0), "type": "index_kafka", "statusCode": "FAILED",
                    "status": "FAILED", "runnerStatusCode": "NONE", "duration": 1_000,
                    "createdTime": "2026-12-01T10:00:00.000Z", "errorMsg": message
                }))
                .expect("a task parses");
                failed.data_source = Some(id.clone());
                complete.push(failed);
            }
        }
        Ok(match filter.state {
            Some(TaskState::Complete) => complete
                .into_iter()
                .filter(|task| filter.datasource.is_none() || task.data_source == filter.datasource)
                .collect(),
            _ => Vec::new(),
        })
    }

    async fn task_log(&self, _id: &str, offset: Option<i64>) -> Result<Option<String>> {
        let state = self.enter(Call::TaskLog, "GET", "/druid/indexer/v1/task/{id}/log")?;
        let log = &state.log;
        let start = match offset {
            Some(offset) if offset < 0 => {
                log.len().saturating_sub(usize::try_from(-offset).unwrap_or(usize::MAX))
            }
            Some(offset) => usize::try_from(offset).unwrap_or(usize::MAX).min(log.len()),
            None => 0,
        };
        Ok(Some(log[start..].to_owned()))
    }

    async fn sql(&self, _query: &SqlQuery) -> Result<Vec<Map<String, Value>>> {
        let state = self.enter(Call::Sql, "POST", "/druid/v2/sql")?;
        let row = json!({"rows": state.sql_rows});
        Ok(vec![row.as_object().expect("an object").clone()])
    }

    async fn version(&self) -> Result<String> {
        Ok(self.enter(Call::Version, "GET", "/status")?.version.clone())
    }

    async fn sample(&self, _request: &Value) -> Result<crate::sampler::SamplerResponse> {
        Ok(self.enter(Call::Sample, "POST", "/druid/indexer/v1/sampler")?.sampler.clone())
    }

    async fn task_reports(&self, id: &str) -> Result<Option<crate::tasks::TaskReports>> {
        Ok(self
            .enter(Call::TaskReports, "GET", "/druid/indexer/v1/task/{id}/reports")?
            .reports
            .get(id)
            .cloned())
    }
}

mod http;

use http::Http;

#[cfg(test)]
mod tests;
