use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use deploy_core::config::{Environment, Overrides};
use deploy_core::workflow::{Clock, DeployOptions, DeployOutcome, Event, Recorder, Step, Verdict, Workflow};
use deploy_core::{Error, Project};
use druid_client::MockDruidApi;
use druid_client::spec::SupervisorSpec;
use druid_client::supervisors::{SupervisorStats, SupervisorStatus};
use druid_client::tasks::Task;
use jiff::Timestamp;
use schema_registry::{Channel, MemoryStore, Registry};
use serde_json::json;

/// A clock whose sleeps advance it instantly.
struct TestClock(Mutex<Timestamp>);

impl TestClock {
    fn at(text: &str) -> Self {
        Self(Mutex::new(text.parse().unwrap()))
    }
}

#[async_trait]
impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
    async fn sleep(&self, duration: Duration) {
        let mut now = self.0.lock().unwrap();
        *now += jiff::SignedDuration::try_from(duration).unwrap();
    }
}

/// Tuesday 2026-12-01 11:00 in Paris: inside every window of the sample.
const TUESDAY_MORNING: &str = "2026-12-01T10:00:00Z";
/// Friday 2026-12-04 11:00 in Paris: outside production's window.
const FRIDAY_MORNING: &str = "2026-12-04T10:00:00Z";

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    project: Project,
    registry: Registry,
    recorder: Recorder,
}

fn fixture() -> Fixture {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(sample.join("druidctl.toml"), dir.path().join("druidctl.toml")).unwrap();
    for part in ["schemas/proto", "config"] {
        std::fs::create_dir_all(dir.path().join(part)).unwrap();
        for entry in std::fs::read_dir(sample.join(part)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.path().join(part).join(entry.file_name())).unwrap();
        }
    }
    let root = dir.path().to_owned();
    let project = Project::open(&root.join("druidctl.toml")).unwrap();
    Fixture {
        _dir: dir,
        root,
        project,
        registry: Registry::new(Arc::new(MemoryStore::new())),
        recorder: Recorder::default(),
    }
}

impl Fixture {
    fn environment(&self, name: &str) -> Environment {
        self.project.environment(name, &Overrides::default()).unwrap()
    }

    /// Adds a dimension, so the next version renders a different spec.
    fn change_dimensions(&self) {
        let path = self.root.join("config/dimensions.json");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            text.replace(
                r#"{ "name": "country" },"#,
                r#"{ "name": "country" }, { "name": "acquirerRef", "from": "acquirerId" },"#,
            ),
        )
        .unwrap();
    }

    async fn deploy(
        &self,
        druid: &MockDruidApi,
        clock: &TestClock,
        environment: &Environment,
        options: DeployOptions,
    ) -> Result<DeployOutcome, Error> {
        let checked = self.project.check().unwrap();
        self.workflow(druid, clock, environment).deploy(&checked, &self.root, &options).await
    }

    fn workflow<'a>(
        &'a self,
        druid: &'a MockDruidApi,
        clock: &'a TestClock,
        environment: &'a Environment,
    ) -> Workflow<'a> {
        Workflow {
            druid,
            registry: &self.registry,
            environment,
            reporter: &self.recorder,
            clock,
            actor: "ci@runner".into(),
            poll_interval: Duration::from_secs(5),
        }
    }

    async fn channel(&self, name: &str) -> Option<String> {
        self.registry
            .channel(&Channel::parse(name).unwrap())
            .await
            .unwrap()
            .map(|state| state.pointer.version)
    }

    async fn outcomes(&self, environment: &str) -> Vec<(String, String)> {
        self.registry
            .history(environment)
            .await
            .unwrap()
            .into_iter()
            .map(|record| (record.action, record.outcome))
            .collect()
    }
}

fn version(name: &str) -> DeployOptions {
    DeployOptions { version: Some(name.to_owned()), ..DeployOptions::default() }
}

fn status(tasks: usize) -> SupervisorStatus {
    let active: Vec<_> = (0..tasks)
        .map(|index| json!({"id": format!("index_kafka_settlement_{index}"), "startingOffsets": {"0": 0}, "startTime": "2026-12-01T10:00:00Z", "remainingSeconds": 3500, "type": "ACTIVE", "currentOffsets": {"0": 1000}, "lag": {"0": 0}}))
        .collect();
    serde_json::from_value(json!({
        "id": "settlement_transactions_dev",
        "generationTime": "2026-12-01T10:00:00Z",
        "payload": {"dataSource": "settlement_transactions_dev", "stream": "settlement-transactions-dev", "partitions": 1, "replicas": 1,
                    "durationSeconds": 3600, "activeTasks": active, "publishingTasks": [], "aggregateLag": 0,
                    "suspended": false, "healthy": true, "state": "RUNNING", "detailedState": "RUNNING", "recentErrors": []}
    }))
    .unwrap()
}

fn stats(processed: u64, unparseable: u64) -> SupervisorStats {
    serde_json::from_value(json!({"0": {"index_kafka_settlement_0": {
        "movingAverages": {"buildSegments": {"1m": {"processed": 10.0}, "5m": {"processed": 8.5, "unparseable": 0.0}, "15m": {"processed": 8.0}}},
        "totals": {"buildSegments": {"processed": processed, "processedBytes": processed * 100, "processedWithError": 0, "thrownAway": 0, "unparseable": unparseable}}
    }}}))
    .unwrap()
}

type Submitted = Arc<Mutex<Vec<SupervisorSpec>>>;

/// A healthy Druid that remembers what was submitted. With `bad_at`, ingestion has 5 %
/// unparseable records while exactly that many specs have been submitted.
fn druid(tasks: usize, bad_at: Option<usize>) -> (MockDruidApi, Submitted) {
    let submitted: Submitted = Arc::default();
    let mut druid = MockDruidApi::new();
    druid.expect_version().returning(|| Ok("34.0.0".into()));
    let live = submitted.clone();
    druid.expect_get_spec().returning(move |_| Ok(live.lock().unwrap().last().cloned()));
    let record = submitted.clone();
    druid.expect_submit_spec().returning(move |spec| {
        record.lock().unwrap().push(spec.clone());
        Ok(spec.datasource().unwrap_or_default().to_owned())
    });
    druid.expect_supervisor_status().returning(move |_| Ok(status(tasks)));
    druid.expect_supervisor_health().returning(|_| Ok(true));
    let count = submitted.clone();
    druid.expect_supervisor_stats().returning(move |_| {
        let bad = bad_at == Some(count.lock().unwrap().len());
        Ok(if bad { stats(950, 50) } else { stats(1000, 0) })
    });
    let done: Vec<Task> = serde_json::from_value(
        json!([{"id": "t1", "statusCode": "SUCCESS", "dataSource": "settlement_transactions_dev"}]),
    )
    .unwrap();
    druid.expect_tasks().returning(move |_| Ok(done.clone()));
    druid.expect_sql().returning(|_| Ok(vec![serde_json::from_value(json!({"rows": 1000})).unwrap()]));
    (druid, submitted)
}

#[tokio::test]
async fn a_happy_deploy_moves_the_channel_and_records_it() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let (druid, submitted) = druid(1, None);
    let outcome = fx.deploy(&druid, &TestClock::at(TUESDAY_MORNING), &dev, version("v1")).await.unwrap();
    let DeployOutcome::Deployed { version, previous, verification } = outcome else { panic!("{outcome:?}") };
    assert_eq!((version.as_str(), previous), ("v1", None));
    assert!(verification.checks.iter().all(|check| check.verdict == Verdict::Pass), "{verification:#?}");
    assert_eq!(verification.checks.len(), 6);
    assert_eq!(submitted.lock().unwrap().len(), 1);
    assert_eq!(fx.channel("develop-latest").await.as_deref(), Some("v1"));
    assert_eq!(fx.outcomes("dev").await, [("deploy".to_owned(), "succeeded".to_owned())]);
    assert!(fx.registry.lease("dev").await.unwrap().unwrap().released, "the lock is released");
}

#[tokio::test]
async fn a_rejected_spec_leaves_the_channel_alone() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let mut druid = MockDruidApi::new();
    druid.expect_version().returning(|| Ok("34.0.0".into()));
    druid.expect_get_spec().returning(|_| Ok(None));
    druid.expect_submit_spec().times(1).returning(|_| {
        Err(druid_client::Error::Http {
            method: "POST".into(),
            url: "http://druid/druid/indexer/v1/supervisor".into(),
            status: 400,
            body: r#"{"error":"Cannot construct instance of `KafkaSupervisorSpec`"}"#.into(),
            druid: None,
            attempts: 1,
            elapsed: Duration::ZERO,
        })
    });
    let err = fx.deploy(&druid, &TestClock::at(TUESDAY_MORNING), &dev, version("v1")).await.unwrap_err();
    assert!(matches!(err, Error::SubmitRejected { .. }), "{err:?}");
    assert_eq!(err.category(), deploy_core::Category::CheckFailed);
    assert_eq!(fx.channel("develop-latest").await, None);
    assert_eq!(fx.outcomes("dev").await, [("deploy".to_owned(), "rejected".to_owned())]);
    assert!(fx.registry.lease("dev").await.unwrap().unwrap().released, "the lock is released on failure");
}

#[tokio::test]
async fn parse_errors_roll_back_to_the_channel_version() {
    let fx = fixture();
    let dev = fx.environment("dev");
    // The second submission (v2) ingests 5 % unparseable records.
    let (druid, submitted) = druid(1, Some(2));
    let clock = TestClock::at(TUESDAY_MORNING);
    fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    fx.change_dimensions();
    let outcome = fx.deploy(&druid, &clock, &dev, version("v2")).await.unwrap();
    let DeployOutcome::RolledBack { failed, verification, restored, restored_verification } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!((failed.as_str(), restored.as_deref()), ("v2", Some("v1")));
    let unparseable = verification.checks.iter().find(|check| check.name == "unparseable_ratio").unwrap();
    assert_eq!(unparseable.verdict, Verdict::Fail);
    assert_eq!(unparseable.value, "5.00 % (50 of 1000)");
    assert!(restored_verification.unwrap().passed());
    let specs = submitted.lock().unwrap().clone();
    assert_eq!(specs.len(), 3);
    assert_ne!(specs[1], specs[0]);
    assert_eq!(specs[2], specs[0], "the restored spec is exactly v1's");
    assert_eq!(fx.channel("develop-latest").await.as_deref(), Some("v1"));
    assert_eq!(
        fx.outcomes("dev").await,
        [("deploy", "succeeded"), ("deploy", "rolled-back"), ("automatic-rollback", "succeeded")]
            .map(|(a, o)| (a.to_owned(), o.to_owned()))
    );
}

#[tokio::test]
async fn an_unreachable_druid_stops_everything_before_publishing() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let mut druid = MockDruidApi::new();
    druid.expect_version().returning(|| {
        Err(druid_client::Error::Http {
            method: "GET".into(),
            url: "http://druid:8888/status".into(),
            status: 502,
            body: "<html>502 Bad Gateway</html>".into(),
            druid: None,
            attempts: 5,
            elapsed: Duration::from_secs(20),
        })
    });
    druid.expect_submit_spec().times(0);
    let err = fx.deploy(&druid, &TestClock::at(TUESDAY_MORNING), &dev, version("v1")).await.unwrap_err();
    assert!(matches!(err, Error::Druid { .. }), "{err:?}");
    assert_eq!(err.category(), deploy_core::Category::External);
    assert!(fx.registry.list().await.unwrap().is_empty(), "nothing published");
    assert_eq!(fx.channel("develop-latest").await, None);
}

#[tokio::test]
async fn a_held_lock_refuses_naming_the_holder() {
    let fx = fixture();
    let dev = fx.environment("dev");
    fx.registry.acquire("dev", "alice@laptop pid 4242", Duration::from_mins(10)).await.unwrap();
    let mut druid = MockDruidApi::new();
    druid.expect_submit_spec().times(0);
    let err = fx.deploy(&druid, &TestClock::at(TUESDAY_MORNING), &dev, version("v1")).await.unwrap_err();
    assert!(err.to_string().contains("locked by alice@laptop pid 4242"), "{err}");
}

#[tokio::test]
async fn the_window_refuses_unless_overridden_with_a_recorded_reason() {
    let fx = fixture();
    let prod = fx.environment("prod");
    let friday = TestClock::at(FRIDAY_MORNING);
    let mut untouched = MockDruidApi::new();
    untouched.expect_submit_spec().times(0);
    let err = fx.deploy(&untouched, &friday, &prod, version("v1")).await.unwrap_err();
    assert!(matches!(err, Error::WindowClosed { .. }), "{err:?}");
    assert!(err.to_string().contains("Friday 11:00 CET"), "{err}");

    let (druid, _) = druid(8, None); // prod: taskCount 4 x replicas 2
    let options =
        DeployOptions { ignore_window: Some("INC-42: parse errors in prod".into()), ..version("v1") };
    let outcome = fx.deploy(&druid, &friday, &prod, options).await.unwrap();
    assert!(matches!(outcome, DeployOutcome::Deployed { .. }), "{outcome:?}");
    let history = fx.registry.history("prod").await.unwrap();
    assert_eq!(history[0].overrides["window"], "INC-42: parse errors in prod");
}

#[tokio::test]
async fn rollback_to_previous_resubmits_exactly_the_previous_spec() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let (druid, submitted) = druid(1, None);
    let clock = TestClock::at(TUESDAY_MORNING);
    fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    fx.change_dimensions();
    fx.deploy(&druid, &clock, &dev, version("v2")).await.unwrap();
    let (restored, verification) =
        fx.workflow(&druid, &clock, &dev).rollback("previous-develop-latest").await.unwrap();
    assert_eq!(restored, "v1");
    assert!(verification.passed());
    let specs = submitted.lock().unwrap().clone();
    assert_eq!(specs[2], specs[0]);
    assert_eq!(fx.channel("develop-latest").await.as_deref(), Some("v1"));
    let last = fx.registry.history("dev").await.unwrap().pop().unwrap();
    assert_eq!(
        (last.action.as_str(), last.from.as_deref(), last.to.as_deref()),
        ("rollback", Some("v2"), Some("v1"))
    );
}

#[tokio::test]
async fn redeploying_the_live_version_does_nothing() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let (druid, submitted) = druid(1, None);
    let clock = TestClock::at(TUESDAY_MORNING);
    fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    let outcome = fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    assert_eq!(outcome, DeployOutcome::AlreadyLive { version: "v1".into() });
    assert_eq!(submitted.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_deploy_that_died_after_submit_is_detected_as_drift() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let (druid, submitted) = druid(1, None);
    let clock = TestClock::at(TUESDAY_MORNING);
    fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    let workflow = fx.workflow(&druid, &clock, &dev);
    assert!(workflow.drift().await.unwrap().in_sync);
    // A second deploy published and submitted v2, then died before moving the channel.
    fx.change_dimensions();
    let checked = fx.project.check().unwrap();
    let published = deploy_core::versions::publish_to(
        &fx.registry,
        &checked,
        &dev,
        &fx.root,
        &deploy_core::versions::PublishOptions { version: Some("v2".into()), ..Default::default() },
    )
    .await
    .unwrap();
    let spec = workflow.render_version(&published.version).await.unwrap();
    submitted.lock().unwrap().push(spec);
    let drift = workflow.drift().await.unwrap();
    assert!(!drift.in_sync);
    assert_eq!((drift.live_version.as_deref(), drift.expected_version.as_deref()), (Some("v2"), Some("v1")));
    let hint = drift.hint.unwrap();
    assert!(hint.contains("druidctl deploy --env dev --schema-version v2"), "{hint}");
    assert!(hint.contains("druidctl rollback --env dev --version v1"), "{hint}");
    // The next deploy of v2 finishes the job: submit again (idempotent), verify, move the channel.
    let outcome = fx.deploy(&druid, &clock, &dev, version("v2")).await.unwrap();
    assert!(matches!(outcome, DeployOutcome::Deployed { .. }), "{outcome:?}");
    assert!(workflow.drift().await.unwrap().in_sync);
}

#[tokio::test]
async fn plan_shows_the_change_as_paths_and_the_descriptor_as_a_digest() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let (mock, _) = druid(1, None);
    let clock = TestClock::at(TUESDAY_MORNING);
    fx.deploy(&mock, &clock, &dev, version("v1")).await.unwrap();
    fx.change_dimensions();
    let plan = fx.workflow(&mock, &clock, &dev).plan(&fx.project.check().unwrap()).await.unwrap();
    assert_eq!(plan.channel_version.as_deref(), Some("v1"));
    assert!(!plan.compatibility.as_ref().unwrap().breaking);
    let paths: Vec<(&str, &str)> =
        plan.changes.iter().map(|change| (change.op, change.path.as_str())).collect();
    // The new dimension goes in after `country`: the list shifts by one from there.
    assert!(paths.contains(&("change", "/spec/dataSchema/dimensionsSpec/dimensions/15/name")), "{paths:?}");
    assert!(paths.contains(&("add", "/spec/dataSchema/dimensionsSpec/dimensions/16")), "{paths:?}");
    assert!(
        paths.iter().any(|(_, path)| path.starts_with("/spec/ioConfig/inputFormat/flattenSpec/fields")),
        "{paths:?}"
    );
    assert!(plan.action.starts_with("publish the working schema"), "{}", plan.action);
    // A brand-new environment: the whole spec is an addition, the descriptor a digest.
    let fresh = fixture();
    let (empty, _) = druid(1, None);
    let plan = fresh.workflow(&empty, &clock, &dev).plan(&fresh.project.check().unwrap()).await.unwrap();
    let whole = plan.changes[0].to.as_ref().unwrap();
    let descriptor = whole.pointer("/spec/ioConfig/inputFormat/protoBytesDecoder/descriptorString").unwrap();
    assert!(descriptor.as_str().unwrap().starts_with("sha256:"), "{descriptor}");
}

/// The steps of `kind` the workflow reported, in order.
fn steps(recorder: &Recorder, kind: Step) -> Vec<String> {
    recorder
        .events()
        .into_iter()
        .filter_map(|event| match event {
            Event::Step { step, detail } if step == kind => Some(detail),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_running_supervisor_without_tasks_is_waited_for_then_watched() {
    // A real Druid says RUNNING before its tasks exist: verifying then judges nothing.
    let fx = fixture();
    let dev = fx.environment("dev");
    let polls = Arc::new(Mutex::new(0_usize));
    let mut druid = MockDruidApi::new();
    druid.expect_version().returning(|| Ok("34.0.0".into()));
    druid.expect_get_spec().returning(|_| Ok(None));
    druid.expect_submit_spec().returning(|spec| Ok(spec.datasource().unwrap_or_default().to_owned()));
    let seen = polls.clone();
    druid.expect_supervisor_status().returning(move |_| {
        let mut polls = seen.lock().unwrap();
        *polls += 1;
        Ok(status(usize::from(*polls > 2)))
    });
    druid.expect_supervisor_health().returning(|_| Ok(true));
    druid.expect_supervisor_stats().returning(|_| Ok(stats(1000, 0)));
    druid.expect_tasks().returning(|_| Ok(Vec::new()));
    druid.expect_sql().returning(|_| Ok(vec![serde_json::from_value(json!({"rows": 1000})).unwrap()]));
    let clock = TestClock::at(TUESDAY_MORNING);
    let outcome = fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    assert!(matches!(outcome, DeployOutcome::Deployed { .. }), "{outcome:?}");
    let waiting = steps(&fx.recorder, Step::Waiting);
    assert_eq!(waiting.len(), 2, "{waiting:?}");
    assert!(waiting[0].contains("RUNNING, 0 of 1 task(s) running"), "{waiting:?}");
    let observing = steps(&fx.recorder, Step::Observing);
    // 60 s watched in 5 s polls.
    assert_eq!(observing.len(), 12, "{observing:?}");
    assert_eq!(observing.last().unwrap(), "1000 rows read, 0 unparseable (60s of 60s)");
    let elapsed = clock.now().duration_since(TUESDAY_MORNING.parse().unwrap());
    assert_eq!(elapsed.as_secs(), 70, "two waits and twelve observation polls");
}

#[tokio::test]
async fn watching_stops_early_once_parse_errors_are_over_the_threshold() {
    let fx = fixture();
    let dev = fx.environment("dev");
    // The first submission ingests 5 % unparseable records; no previous version to restore.
    let (mut druid, _) = druid(1, Some(1));
    druid.expect_suspend().returning(|_| Ok(()));
    let outcome = fx.deploy(&druid, &TestClock::at(TUESDAY_MORNING), &dev, version("v1")).await.unwrap();
    assert!(matches!(outcome, DeployOutcome::RolledBack { .. }), "{outcome:?}");
    let observing = steps(&fx.recorder, Step::Observing);
    assert_eq!(observing, ["950 rows read, 50 unparseable (5s of 60s)"]);
}

#[tokio::test]
async fn tasks_still_publishing_for_the_previous_spec_are_not_judged() {
    // After a spec change, Druid's /stats also lists the previous spec's tasks while they
    // publish; their parse errors are not the new version's.
    let fx = fixture();
    let dev = fx.environment("dev");
    let mut druid = MockDruidApi::new();
    druid.expect_version().returning(|| Ok("34.0.0".into()));
    druid.expect_get_spec().returning(|_| Ok(None));
    druid.expect_submit_spec().returning(|spec| Ok(spec.datasource().unwrap_or_default().to_owned()));
    druid.expect_supervisor_status().returning(|_| Ok(status(1)));
    druid.expect_supervisor_health().returning(|_| Ok(true));
    druid.expect_supervisor_stats().returning(|_| {
        let mut both = stats(1000, 0);
        let old = stats(950, 50).remove("0").unwrap().remove("index_kafka_settlement_0").unwrap();
        both.get_mut("0").unwrap().insert("index_kafka_previous_spec".into(), old);
        Ok(both)
    });
    druid.expect_tasks().returning(|_| Ok(Vec::new()));
    druid.expect_sql().returning(|_| Ok(vec![serde_json::from_value(json!({"rows": 1000})).unwrap()]));
    let outcome = fx.deploy(&druid, &TestClock::at(TUESDAY_MORNING), &dev, version("v1")).await.unwrap();
    let DeployOutcome::Deployed { verification, .. } = outcome else { panic!("{outcome:?}") };
    let unparseable = verification.checks.iter().find(|check| check.name == "unparseable_ratio").unwrap();
    assert_eq!(unparseable.value, "0.00 % (0 of 1000)");
}
