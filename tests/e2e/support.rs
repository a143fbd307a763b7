//! What every end-to-end test needs: a project of its own pointed at the local stack, a
//! producer, SQL and polling with deadlines.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use deploy_core::Session;
use deploy_core::config::Overrides;
use deploy_core::deploy::{DeployOptions, DeployOutcome};
use deploy_core::events::Recorder;
use deploy_core::ledger::Ledger;
use deploy_core::{Error, Project};
use druid_client::DruidClient;
use druid_client::spec::SupervisorSpec;
use druid_client::sql::SqlQuery;
use druid_client::supervisors::{RowStats, SupervisorState, SupervisorStats};
use druid_client::tasks::{TaskFilter, TaskState};
use druidctl_examples::kafka::Topic;
use druidctl_examples::records::{Generator, Shape};
use prost_reflect::{DynamicMessage, Kind, ReflectMessage, Value as ProtoValue};
use schema_registry::{Channel, LocalStore, Registry};
use serde_json::{Map, Value};

/// Where the stack listens (scripts/druid-local.sh, scripts/kafka-local.sh).
pub const ROUTER: &str = "http://127.0.0.1:8888";
/// Kafka's bootstrap address.
pub const KAFKA: &str = "127.0.0.1:19092";
/// How long rows may take to become visible in SQL.
pub const ROWS_DEADLINE: Duration = Duration::from_mins(2);

/// One test's project, datasource (= topic) and registry.
pub struct Case {
    _dir: tempfile::TempDir,
    root: PathBuf,
    /// Supervisor id, datasource and topic.
    pub datasource: String,
    /// A client of the local Druid.
    pub druid: DruidClient,
    registry: Registry,
    recorder: Arc<Recorder>,
    topic: Topic,
    seed_time: i64,
}

impl Case {
    /// Checks the stack is up (failing, not skipping, when it is not), then makes a copy of
    /// the sample schema with one environment, `e2e`, pointed at the stack.
    pub async fn new(name: &str) -> Self {
        let probe = stack_answers();
        assert!(
            probe,
            "the local stack is down (no Druid router at {ROUTER} or no Kafka at {KAFKA}): run `make dev-up` first"
        );
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        for part in ["schemas", "config"] {
            druidctl_tests::copy_dir(&druidctl_tests::repo_root().join(part), &root.join(part));
        }
        PROCESS_STARTED.get_or_init(|| jiff::Timestamp::now().as_millisecond());
        let stamp = jiff::Timestamp::now().as_millisecond();
        let datasource = format!("e2e_{name}_{stamp}");
        let config = format!(
            "{}\n[environments.e2e]\ndatasource = \"{datasource}\"\nchannel = \"stable\"\nkafka.topic = \"{datasource}\"\n",
            project_head(&root)
        );
        std::fs::write(root.join("druidctl.toml"), config).unwrap();
        let project = Project::open(&root.join("druidctl.toml")).unwrap();
        let environment = project.environment("e2e", &Overrides::default()).unwrap();
        let druid = deploy_core::connect::druid_client(&environment).unwrap();
        remove_leftovers(&druid).await;
        let topic = Topic::open(KAFKA, &datasource).await.unwrap();
        Self {
            _dir: dir,
            registry: Registry::new(Arc::new(LocalStore::new(root.join("registry")))),
            root,
            datasource,
            druid,
            recorder: Arc::default(),
            topic,
            seed_time: jiff::Timestamp::now().as_second(),
        }
    }

    /// The project directory (for running the druidctl binary in it).
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    /// The case's project file as it is now.
    pub fn project(&self) -> Project {
        Project::open(&self.root.join("druidctl.toml")).unwrap()
    }

    /// A session on this case's environment as the project file says now (real clock, 1 s
    /// polls).
    pub fn workflow(&self) -> Session {
        let environment = self.project().environment("e2e", &Overrides::default()).unwrap();
        Session::new(environment, Arc::new(self.druid.clone()), self.registry.clone())
            .with_reporter(self.recorder.clone())
            .with_actor("e2e tests")
            .with_poll_interval(Duration::from_secs(1))
    }

    /// Deploys the working copy as `version`.
    pub async fn try_deploy(&self, version: &str) -> Result<DeployOutcome, Error> {
        let options = DeployOptions { version: Some(version.to_owned()), ..DeployOptions::default() };
        self.try_deploy_with(&options).await
    }

    /// Deploys the working copy with `options`.
    pub async fn try_deploy_with(&self, options: &DeployOptions) -> Result<DeployOutcome, Error> {
        self.try_deploy_notified(options, Arc::default()).await
    }

    /// Deploys the working copy with `options`, sending events to `notifier`, and waits for
    /// their delivery.
    pub async fn try_deploy_notified(
        &self,
        options: &DeployOptions,
        notifier: Arc<deploy_core::notify::Notifier>,
    ) -> Result<DeployOutcome, Error> {
        let checked = self.project().check()?;
        let session = self.workflow().with_notifier(notifier);
        let result = session.deploy(&checked, &self.root, options).await;
        session.flush_notifications().await;
        result
    }

    /// The topic's end offset (records written so far).
    pub async fn topic_end(&self) -> i64 {
        self.topic.end().await.unwrap()
    }

    /// Writes `count` records of which a share `garbage` cannot be decoded and a share
    /// `confluent` carries Confluent's framing.
    pub async fn produce_framed(&self, count: u64, garbage: f64, confluent: f64, seed: u64) {
        let mut generator = self.generator(seed);
        let records: Vec<Vec<u8>> =
            (0..count).map(|index| generator.record(Generator::shape(index, garbage, confluent))).collect();
        self.topic.write(records).await.unwrap();
    }

    /// Deploys and expects it to get through (deployed or rolled back, not an error).
    pub async fn deploy(&self, version: &str) -> DeployOutcome {
        match self.try_deploy(version).await {
            Ok(outcome) => outcome,
            Err(err) => panic!("deploy {version}: {err:?}\n{:#?}", self.recorder.events()),
        }
    }

    /// The spec of a published version, as druidctl renders it.
    pub async fn rendered(&self, version: &str) -> SupervisorSpec {
        let version = self.registry.resolve(version).await.unwrap();
        self.workflow().render_version(&version).await.unwrap()
    }

    /// What the workflows of this case reported, one line each (for failure messages).
    pub fn events(&self) -> String {
        self.recorder.events().iter().map(|event| format!("{event:?}")).collect::<Vec<_>>().join("\n")
    }

    /// Edits a file of the project copy.
    pub fn edit(&self, path: &str, from: &str, to: &str) {
        let path = self.root.join(path);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{} has no {from:?}", path.display());
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    fn generator(&self, seed: u64) -> Generator {
        let project = self.project();
        let schema = project.compile().unwrap();
        let message = schema.message(&project.config().schema.message).unwrap();
        Generator::new(message, seed, self.seed_time)
    }

    /// Writes `count` valid records of the working copy's schema and returns them.
    pub async fn produce_valid(&self, count: usize, seed: u64) -> Vec<DynamicMessage> {
        let mut generator = self.generator(seed);
        let messages: Vec<DynamicMessage> = (0..count).map(|_| generator.message()).collect();
        self.topic.write(messages.iter().map(prost::Message::encode_to_vec)).await.unwrap();
        messages
    }

    /// Writes `count` valid records of the working copy's schema to another `topic` (a
    /// migration's new one) and returns them.
    pub async fn produce_valid_to(&self, topic: &str, count: usize, seed: u64) -> Vec<DynamicMessage> {
        let mut generator = self.generator(seed);
        let messages: Vec<DynamicMessage> = (0..count).map(|_| generator.message()).collect();
        let topic = Topic::open(KAFKA, topic).await.unwrap();
        topic.write(messages.iter().map(prost::Message::encode_to_vec)).await.unwrap();
        messages
    }

    /// Writes about `per_second` records a second (a batch every 100 ms), a share `garbage`
    /// of them undecodable, until `done` is set; returns how many it wrote.
    pub async fn produce_stream(&self, per_second: u64, garbage: f64, seed: u64, done: &AtomicBool) -> u64 {
        let mut generator = self.generator(seed);
        let batch = per_second / 10;
        let mut written = 0;
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        while !done.load(Ordering::SeqCst) {
            tick.tick().await;
            let records: Vec<Vec<u8>> = (written..written + batch)
                .map(|index| generator.record(Generator::shape(index, garbage, 0.0)))
                .collect();
            self.topic.write(records).await.unwrap();
            written += batch;
        }
        written
    }

    /// Writes `count` records of which a share `garbage` cannot be decoded.
    pub async fn produce_mixed(&self, count: u64, garbage: f64, seed: u64) {
        let mut generator = self.generator(seed);
        let records: Vec<Vec<u8>> =
            (0..count).map(|index| generator.record(Generator::shape(index, garbage, 0.0))).collect();
        let bad = (0..count).filter(|&index| Generator::shape(index, garbage, 0.0) == Shape::Garbage).count();
        assert_eq!(bad as u64, (count as f64 * garbage) as u64, "the share written");
        self.topic.write(records).await.unwrap();
    }

    /// Rows of a SQL query (objects).
    pub async fn sql(&self, query: &str) -> Vec<Map<String, Value>> {
        self.druid.sql().rows(&SqlQuery::new(query)).await.unwrap()
    }

    /// Polls `SELECT COUNT(*) ... WHERE condition` until it reaches `expected` (then checks it
    /// stays there a moment) or the deadline passes; returns the last count.
    pub async fn wait_count(&self, condition: &str, expected: u64) -> u64 {
        self.wait_count_in(&self.datasource, condition, expected).await
    }

    /// [`Case::wait_count`] on another datasource (a migration's new one).
    pub async fn wait_count_in(&self, datasource: &str, condition: &str, expected: u64) -> u64 {
        let query = format!("SELECT COUNT(*) AS n FROM \"{datasource}\" WHERE {condition}");
        let started = Instant::now();
        let mut count = 0;
        while started.elapsed() < ROWS_DEADLINE {
            // Before the first row the table does not exist: an error, not zero.
            if let Ok(rows) = self.druid.sql().rows::<Map<String, Value>>(&SqlQuery::new(&query)).await {
                count = rows.first().and_then(|row| row["n"].as_u64()).unwrap_or(0);
                if count >= expected {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    let rows: Vec<Map<String, Value>> =
                        self.druid.sql().rows(&SqlQuery::new(&query)).await.unwrap();
                    return rows[0]["n"].as_u64().unwrap();
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        count
    }

    /// Polls Druid's `/stats` until the running tasks have read `records` records (parsed or
    /// not); returns the totals.
    pub async fn wait_stats_total(&self, records: u64) -> RowStats {
        let started = Instant::now();
        loop {
            let stats = self.druid.supervisors().stats(&self.datasource).await.unwrap();
            let total = totals(&stats);
            if total.processed + total.unparseable + total.thrown_away >= records as f64 {
                return total;
            }
            assert!(started.elapsed() < ROWS_DEADLINE, "Druid read {total:?} of {records} records");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Ids of the supervisor's reading tasks.
    pub async fn active_tasks(&self) -> Vec<String> {
        let status = self.druid.supervisors().status(&self.datasource).await.unwrap();
        status.payload.active_tasks.into_iter().map(|task| task.id).collect()
    }

    /// Polls until a reading task that is not in `known` runs.
    pub async fn wait_new_task(&self, known: &[String]) {
        let started = Instant::now();
        while !self.active_tasks().await.iter().any(|id| !known.contains(id)) {
            assert!(started.elapsed() < ROWS_DEADLINE, "no new task");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Polls Druid's `/stats` until every moving average (1m, 5m, 15m) is above zero.
    pub async fn wait_rates(&self) {
        let started = Instant::now();
        loop {
            let stats = self.druid.supervisors().stats(&self.datasource).await.unwrap();
            if ["1m", "5m", "15m"].iter().all(|window| rate(&stats, window) > 0.0) {
                return;
            }
            assert!(started.elapsed() < ROWS_DEADLINE, "Druid reports no rate: {stats:?}");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Polls the supervisor until it is in `state`.
    pub async fn wait_state(&self, state: SupervisorState) -> SupervisorState {
        let started = Instant::now();
        loop {
            let status = self.druid.supervisors().status(&self.datasource).await.unwrap();
            let now = status.payload.state.clone().unwrap();
            if now == state || started.elapsed() > ROWS_DEADLINE {
                return now;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// The channel's version.
    pub async fn channel(&self) -> Option<String> {
        let channel = Channel::parse("stable").unwrap();
        self.registry.channel(&channel).await.unwrap().map(|state| state.pointer.version)
    }

    /// `action outcome` of each history record, oldest first.
    pub async fn history(&self) -> Vec<String> {
        let mut records = Ledger::new(self.registry.clone()).history("e2e").await.unwrap();
        records.sort_by(|a, b| a.at.cmp(&b.at));
        records.into_iter().map(|record| format!("{} {}", record.action, record.outcome)).collect()
    }

    /// `(column, path by JSON names, type)` of each dimension of the working copy.
    pub fn dimensions(&self) -> Vec<(String, Vec<String>, String)> {
        let text = std::fs::read_to_string(self.root.join("config/dimensions.json")).unwrap();
        let config: Value = serde_json::from_str(&text).unwrap();
        config["dimensions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|dimension| {
                let name = dimension["name"].as_str().unwrap().to_owned();
                let from = dimension.get("from").and_then(Value::as_str).unwrap_or(&name);
                let kind = dimension.get("type").and_then(Value::as_str).unwrap_or("string").to_owned();
                (name.clone(), from.split('.').map(str::to_owned).collect(), kind)
            })
            .collect()
    }

    /// Terminates the supervisor and stops its tasks, freeing the Indexer's slots.
    pub async fn finish(self) {
        remove(&self.druid, &self.datasource).await;
    }
}

/// Terminates a supervisor and shuts its tasks down without waiting for them to publish
/// (a terminated supervisor's tasks otherwise keep their slots while they hand off).
pub async fn remove(druid: &DruidClient, id: &str) {
    // Terminated already (a migration's cutover) is fine; its tasks are still shut down. A
    // busy Overlord may take longer than the client's timeout to terminate (seen once in CI
    // while the conformance suite tore down its 40 supervisors): asked again, it answers 404
    // once the first request went through.
    let mut attempts = 0;
    loop {
        match druid.supervisors().terminate(id).await {
            Err(err) if err.is_retryable() && attempts < 3 => {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
            Err(err) => {
                assert!(err.is_not_found(), "terminating {id}: {err}");
                break;
            }
            Ok(_) => break,
        }
    }
    for state in [TaskState::Running, TaskState::Pending, TaskState::Waiting] {
        let filter =
            TaskFilter { state: Some(state), datasource: Some(id.to_owned()), ..TaskFilter::default() };
        for task in druid.tasks().list(&filter).await.unwrap() {
            // Gone already is fine.
            let _ = druid.tasks().shutdown(&task.id).await;
        }
    }
}

/// Removes what earlier runs left behind (a failed test never reaches `finish`): the `e2e_`
/// supervisors stamped before this test process started. Those of tests running now, in
/// this process, are left alone: the suite runs its tests concurrently.
pub async fn remove_leftovers(druid: &DruidClient) {
    let started = *PROCESS_STARTED.get_or_init(|| jiff::Timestamp::now().as_millisecond());
    for id in druid.supervisors().list().await.unwrap() {
        let stamp = id
            .strip_prefix("e2e_")
            .and_then(|rest| rest.split('_').find_map(|part| part.parse::<i64>().ok()));
        if stamp.is_some_and(|stamp| stamp < started) {
            remove(druid, &id).await;
        }
    }
}

/// When the first test of this process started (milliseconds).
static PROCESS_STARTED: std::sync::OnceLock<i64> = std::sync::OnceLock::new();

/// The project file of an end-to-end test up to its environments: the sample schema, a
/// registry in `root`, the local stack, every day in the window, a short observation.
pub fn project_head(root: &std::path::Path) -> String {
    format!(
        r#"# Written by the end-to-end tests.
[schema]
proto_root = "schemas/proto"
message = "settlement.v1.SettlementTransaction"
dimensions = "config/dimensions.json"

[defaults]
registry = "file://{registry}"
time_zone = "UTC"

[defaults.druid]
url = "{ROUTER}"

[defaults.kafka]
bootstrap_servers = "{KAFKA}"

[defaults.ingestion]
use_earliest_offset = true
max_saved_parse_exceptions = 100

[defaults.window]
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

# A quiet topic is unverified after 10 s (300 by default); a busy one decides in seconds.
[defaults.thresholds]
observe_secs = 10
ready_timeout_secs = 180
rate_warn_only = true
probe_warn_only = true
"#,
        registry = root.join("registry").display()
    )
}

/// Whether the Druid router and Kafka answer.
pub fn stack_answers() -> bool {
    let open = |address: &str| {
        std::net::TcpStream::connect_timeout(&address.parse().unwrap(), Duration::from_secs(2)).is_ok()
    };
    open("127.0.0.1:8888") && open(KAFKA)
}

/// The string value of a top-level field, by JSON name ("" when unset).
pub fn string_field(message: &DynamicMessage, json_name: &str) -> String {
    expected(message, &[json_name.to_owned()]).as_str().unwrap_or_default().to_owned()
}

/// What Druid should store for `path` (JSON names) of `message`, by the rules in
/// docs/druid-protobuf.md: unset fields are null, enums are names, Timestamps RFC 3339, maps objects.
pub fn expected(message: &DynamicMessage, path: &[String]) -> Value {
    let Some((first, rest)) = path.split_first() else { return Value::Null };
    let Some(field) = message.descriptor().fields().find(|field| field.json_name() == first) else {
        return Value::Null;
    };
    if !message.has_field(&field) {
        return Value::Null;
    }
    let value = message.get_field(&field);
    match (&*value, rest.is_empty()) {
        (ProtoValue::Message(inner), false) => expected(inner, rest),
        (ProtoValue::Map(map), false) => map
            .iter()
            .find(|(key, _)| matches!(key, prost_reflect::MapKey::String(text) if *text == rest[0]))
            .map_or(Value::Null, |(_, value)| plain(value, &field.kind())),
        (_, false) => Value::Null,
        (value, true) => plain(value, &field.kind()),
    }
}

fn plain(value: &ProtoValue, kind: &Kind) -> Value {
    match value {
        ProtoValue::String(text) => Value::String(text.clone()),
        ProtoValue::I64(n) => Value::from(*n),
        ProtoValue::U64(n) => Value::from(*n),
        ProtoValue::I32(n) => Value::from(*n),
        ProtoValue::U32(n) => Value::from(*n),
        ProtoValue::Bool(b) => Value::from(*b),
        ProtoValue::F64(n) => Value::from(*n),
        ProtoValue::F32(n) => Value::from(f64::from(*n)),
        ProtoValue::EnumNumber(number) => match kind {
            Kind::Enum(enumeration) => enumeration
                .get_value(*number)
                .map_or_else(|| Value::from(*number), |value| Value::String(value.name().to_owned())),
            _ => Value::from(*number),
        },
        ProtoValue::Message(message) if message.descriptor().full_name() == "google.protobuf.Timestamp" => {
            let seconds = message.get_field_by_name("seconds").and_then(|value| value.as_i64()).unwrap_or(0);
            let nanos = message.get_field_by_name("nanos").and_then(|value| value.as_i32()).unwrap_or(0);
            Value::String(jiff::Timestamp::new(seconds, nanos).unwrap().to_string())
        }
        ProtoValue::Map(map) => {
            let value_kind = match kind {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                other => other.clone(),
            };
            Value::Object(
                map.iter()
                    .map(|(key, value)| {
                        let key = match key {
                            prost_reflect::MapKey::String(text) => text.clone(),
                            other => format!("{other:?}"),
                        };
                        (key, plain(value, &value_kind))
                    })
                    .collect(),
            )
        }
        other => Value::String(format!("{other:?}")),
    }
}

/// Compares a Druid column with the expected value: longs as numbers, JSON columns parsed,
/// timestamps as instants (Java and jiff print fractions differently).
pub fn assert_same(name: &str, kind: &str, expected: &Value, actual: &Value, id: &str) {
    let actual = match (kind, actual) {
        ("json", Value::String(text)) => serde_json::from_str(text).unwrap_or_else(|_| actual.clone()),
        _ => actual.clone(),
    };
    if let (Some(want), Some(got)) = (expected.as_str(), actual.as_str())
        && let (Ok(want), Ok(got)) = (want.parse::<jiff::Timestamp>(), got.parse::<jiff::Timestamp>())
    {
        assert_eq!(got, want, "column {name} of {id}");
        return;
    }
    assert_eq!(&actual, expected, "column {name} of {id}");
}

/// Druid's `/stats` totals summed over the listed tasks. Summed here rather than with
/// druidctl's own code, so the tests compare druidctl with an independent reading.
pub fn totals(stats: &SupervisorStats) -> RowStats {
    let mut sum = RowStats::default();
    for task in stats.values().flat_map(|tasks| tasks.values()) {
        if let Some(row) = task.totals.as_ref().and_then(|phases| phases.build_segments) {
            sum.processed += row.processed;
            sum.unparseable += row.unparseable;
            sum.thrown_away += row.thrown_away;
        }
    }
    sum
}

/// Druid's moving-average rate for `window`, summed over the running tasks.
pub fn rate(stats: &SupervisorStats, window: &str) -> f64 {
    stats
        .values()
        .flat_map(|tasks| tasks.values())
        .filter_map(|task| {
            task.moving_averages.as_ref()?.build_segments.as_ref()?.get(window).map(|row| row.processed)
        })
        .sum()
}

/// Column names of a spec's dimensions.
pub fn dimension_names(spec: &SupervisorSpec) -> Vec<String> {
    spec.spec
        .as_ref()
        .map(|spec| spec.data_schema.dimensions_spec.dimensions.iter().map(|d| d.name().to_owned()).collect())
        .unwrap_or_default()
}
