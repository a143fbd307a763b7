use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use deploy_core::clock::Clock as _;
use deploy_core::config::{Environment, Overrides};
use deploy_core::deploy::{DeployOptions, DeployOutcome};
use deploy_core::events::{Event, Recorder, Step};
use deploy_core::ledger::{Action, Outcome};
use deploy_core::verify::Verdict;
use deploy_core::{Error, Project, Session};
use druid_client::DruidApi;
use druid_client::testing::{Call, FakeDruid, Rows};
use jiff::Timestamp;
use schema_registry::{Channel, MemoryStore, Registry};
use serde_json::json;

use crate::TestClock;

/// Tuesday 2026-12-01 11:00 in Paris: inside every window of the sample.
pub(crate) const TUESDAY_MORNING: &str = "2026-12-01T10:00:00Z";
/// Friday 2026-12-04 11:00 in Paris: outside production's window.
const FRIDAY_MORNING: &str = "2026-12-04T10:00:00Z";

pub(crate) struct Fixture {
    _dir: tempfile::TempDir,
    pub(crate) root: PathBuf,
    pub(crate) project: Project,
    pub(crate) registry: Registry,
    pub(crate) recorder: Arc<Recorder>,
}

pub(crate) fn fixture() -> Fixture {
    let dir = crate::sample_copy();
    let root = dir.path().to_owned();
    let project = Project::open(&root.join("druidctl.toml")).unwrap();
    Fixture {
        _dir: dir,
        root,
        project,
        registry: Registry::new(Arc::new(MemoryStore::new())),
        recorder: Arc::default(),
    }
}

impl Fixture {
    pub(crate) fn environment(&self, name: &str) -> Environment {
        self.project.environment(name, &Overrides::default()).unwrap()
    }

    /// Adds a dimension, so the next version renders a different spec.
    pub(crate) fn change_dimensions(&self) {
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

    pub(crate) async fn deploy(
        &self,
        druid: &Arc<FakeDruid>,
        clock: &Arc<TestClock>,
        environment: &Environment,
        options: DeployOptions,
    ) -> Result<DeployOutcome, Error> {
        let checked = self.project.check().unwrap();
        self.session(druid, clock, environment).deploy(&checked, &self.root, &options).await
    }

    pub(crate) fn session(
        &self,
        druid: &Arc<FakeDruid>,
        clock: &Arc<TestClock>,
        environment: &Environment,
    ) -> Session {
        Session::new(environment.clone(), druid.clone(), self.registry.clone())
            .with_reporter(self.recorder.clone())
            .with_clock(clock.clone())
            .with_actor("ci@runner")
            .with_poll_interval(Duration::from_secs(1))
    }

    pub(crate) fn ledger(&self) -> deploy_core::ledger::Ledger {
        deploy_core::ledger::Ledger::new(self.registry.clone())
    }

    pub(crate) async fn channel(&self, name: &str) -> Option<String> {
        self.registry
            .channel(&Channel::parse(name).unwrap())
            .await
            .unwrap()
            .map(|state| state.pointer.version)
    }

    pub(crate) async fn outcomes(&self, environment: &str) -> Vec<(Action, Outcome)> {
        self.ledger()
            .history(environment)
            .await
            .unwrap()
            .into_iter()
            .map(|record| (record.action, record.outcome))
            .collect()
    }
}

pub(crate) fn version(name: &str) -> DeployOptions {
    DeployOptions { version: Some(name.to_owned()), ..DeployOptions::default() }
}

/// The shared fake Druid with the sample's figures: tasks read 1000 rows, none unparseable;
/// one completed task that succeeded; SQL counts 1000 rows.
pub(crate) fn druid() -> Arc<FakeDruid> {
    let druid = FakeDruid::new();
    druid.set_rows(Rows { processed: 1000, unparseable: 0, rates: [10.0, 8.5, 8.0] }).set_sql_rows(1000);
    druid.set_completed_tasks(
        serde_json::from_value(
            json!([{"id": "t1", "statusCode": "SUCCESS", "dataSource": "settlement_transactions_dev"}]),
        )
        .unwrap(),
    );
    Arc::new(druid)
}

/// 5 % of the records unparseable.
fn poisoned() -> Rows {
    Rows { processed: 950, unparseable: 50, rates: [10.0, 8.5, 8.0] }
}

#[tokio::test]
async fn a_happy_deploy_moves_the_channel_and_records_it() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let druid = druid();
    let outcome = fx.deploy(&druid, &TestClock::at(TUESDAY_MORNING), &dev, version("v1")).await.unwrap();
    let DeployOutcome::Deployed { version, previous, verification } = outcome else { panic!("{outcome:?}") };
    assert_eq!((version.as_str(), previous), ("v1", None));
    assert!(verification.checks.iter().all(|check| check.verdict == Verdict::Pass), "{verification:#?}");
    assert_eq!(verification.checks.len(), 6);
    assert_eq!(druid.submitted().len(), 1);
    assert_eq!(fx.channel("develop-latest").await.as_deref(), Some("v1"));
    assert_eq!(fx.outcomes("dev").await, [(Action::Deploy, Outcome::Succeeded)]);
    assert!(fx.ledger().lease("dev").await.unwrap().unwrap().released, "the lock is released");
}

#[tokio::test]
async fn a_rejected_spec_leaves_the_channel_alone() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let druid = druid();
    druid.fail(Call::SubmitSpec, 1, 400, r#"{"error":"Cannot construct instance of `KafkaSupervisorSpec`"}"#);
    let err = fx.deploy(&druid, &TestClock::at(TUESDAY_MORNING), &dev, version("v1")).await.unwrap_err();
    assert!(matches!(err, Error::SubmitRejected { .. }), "{err:?}");
    assert_eq!(err.category(), deploy_core::Category::CheckFailed);
    assert_eq!(druid.calls(Call::SubmitSpec), 1);
    assert!(druid.submitted().is_empty());
    assert_eq!(fx.channel("develop-latest").await, None);
    assert_eq!(fx.outcomes("dev").await, [(Action::Deploy, Outcome::Rejected)]);
    assert!(fx.ledger().lease("dev").await.unwrap().unwrap().released, "the lock is released on failure");
}

#[tokio::test]
async fn parse_errors_roll_back_to_the_channel_version() {
    let fx = fixture();
    let dev = fx.environment("dev");
    // The second submission (v2) ingests 5 % unparseable records.
    let druid = druid();
    druid.poison(2, poisoned());
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
    assert!(unparseable.value.starts_with("5.00 % (50 of 1000), "), "{unparseable:?}");
    assert!(restored_verification.unwrap().passed());
    let specs = druid.submitted();
    assert_eq!(specs.len(), 3);
    assert_ne!(specs[1], specs[0]);
    assert_eq!(specs[2], specs[0], "the restored spec is exactly v1's");
    assert_eq!(fx.channel("develop-latest").await.as_deref(), Some("v1"));
    assert_eq!(
        fx.outcomes("dev").await,
        [
            (Action::Deploy, Outcome::Succeeded),
            (Action::AutomaticRollback, Outcome::Succeeded),
            (Action::Deploy, Outcome::RolledBack)
        ]
    );
}

#[tokio::test]
async fn an_unreachable_druid_stops_everything_before_publishing() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let druid = druid();
    druid.fail(Call::Version, 1, 502, "<html>502 Bad Gateway</html>");
    let err = fx.deploy(&druid, &TestClock::at(TUESDAY_MORNING), &dev, version("v1")).await.unwrap_err();
    assert!(matches!(err, Error::Druid { .. }), "{err:?}");
    assert_eq!(err.category(), deploy_core::Category::External);
    assert_eq!(druid.calls(Call::SubmitSpec), 0);
    assert!(fx.registry.list().await.unwrap().is_empty(), "nothing published");
    assert_eq!(fx.channel("develop-latest").await, None);
}

#[tokio::test]
async fn a_held_lock_refuses_naming_the_holder() {
    let fx = fixture();
    let dev = fx.environment("dev");
    fx.ledger().acquire("dev", "alice@laptop pid 4242", Duration::from_mins(10)).await.unwrap();
    let druid = druid();
    let err = fx.deploy(&druid, &TestClock::at(TUESDAY_MORNING), &dev, version("v1")).await.unwrap_err();
    assert!(err.to_string().contains("locked by alice@laptop pid 4242"), "{err}");
    assert_eq!(druid.calls(Call::SubmitSpec), 0);
}

#[tokio::test]
async fn the_window_refuses_unless_overridden_with_a_recorded_reason() {
    let fx = fixture();
    let prod = fx.environment("prod");
    let friday = TestClock::at(FRIDAY_MORNING);
    let untouched = druid();
    let err = fx.deploy(&untouched, &friday, &prod, version("v1")).await.unwrap_err();
    assert!(matches!(err, Error::WindowClosed { .. }), "{err:?}");
    assert!(err.to_string().contains("Friday 11:00 CET"), "{err}");
    assert_eq!(untouched.calls(Call::SubmitSpec), 0);

    let druid = druid(); // prod: taskCount 4 x replicas 2
    let options =
        DeployOptions { ignore_window: Some("INC-42: parse errors in prod".into()), ..version("v1") };
    let outcome = fx.deploy(&druid, &friday, &prod, options).await.unwrap();
    let DeployOutcome::Deployed { verification, .. } = &outcome else { panic!("{outcome:?}") };
    let tasks = verification.checks.iter().find(|check| check.name == "running_tasks").unwrap();
    assert_eq!(tasks.value, "8");
    let history = fx.ledger().history("prod").await.unwrap();
    assert_eq!(history[0].overrides["window"], "INC-42: parse errors in prod");
}

#[tokio::test]
async fn rollback_to_previous_resubmits_exactly_the_previous_spec() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let druid = druid();
    let clock = TestClock::at(TUESDAY_MORNING);
    fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    fx.change_dimensions();
    fx.deploy(&druid, &clock, &dev, version("v2")).await.unwrap();
    let (restored, verification) =
        fx.session(&druid, &clock, &dev).rollback("previous-develop-latest").await.unwrap();
    assert_eq!(restored, "v1");
    assert!(verification.passed());
    let specs = druid.submitted();
    assert_eq!(specs[2], specs[0]);
    assert_eq!(fx.channel("develop-latest").await.as_deref(), Some("v1"));
    let last = fx.ledger().history("dev").await.unwrap().pop().unwrap();
    assert_eq!(
        (last.action, last.from.as_deref(), last.to.as_deref()),
        (Action::Rollback, Some("v2"), Some("v1"))
    );
    // Druid's own history agrees: v1's spec, then v2's, then v1's again.
    let history = druid.supervisor_history("settlement_transactions_dev").await.unwrap();
    assert_eq!(history.len(), 3);
    assert_eq!(history[0].spec, history[2].spec);
}

#[tokio::test]
async fn redeploying_the_live_version_does_nothing() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let druid = druid();
    let clock = TestClock::at(TUESDAY_MORNING);
    fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    let outcome = fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    assert_eq!(outcome, DeployOutcome::AlreadyLive { version: "v1".into() });
    assert_eq!(druid.submitted().len(), 1);
}

#[tokio::test]
async fn a_deploy_that_died_after_submit_is_detected_as_drift() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let druid = druid();
    let clock = TestClock::at(TUESDAY_MORNING);
    fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    let session = fx.session(&druid, &clock, &dev);
    assert!(session.drift().await.unwrap().in_sync);
    // A second deploy published and submitted v2, then died before moving the channel.
    fx.change_dimensions();
    let checked = fx.project.check().unwrap();
    let published = deploy_core::publish::publish_to(
        &fx.registry,
        &checked,
        &dev,
        &fx.root,
        &deploy_core::publish::PublishOptions { version: Some("v2".into()), ..Default::default() },
    )
    .await
    .unwrap();
    let spec = session.render_version(&published.version).await.unwrap();
    druid.submit_spec(&spec).await.unwrap();
    let drift = session.drift().await.unwrap();
    assert!(!drift.in_sync);
    assert_eq!((drift.live_version.as_deref(), drift.expected_version.as_deref()), (Some("v2"), Some("v1")));
    let hint = drift.hint.unwrap();
    assert!(hint.contains("druidctl deploy --env dev --schema-version v2"), "{hint}");
    assert!(hint.contains("druidctl rollback --env dev --schema-version v1"), "{hint}");
    // The next deploy of v2 finishes the job: submit again (idempotent), verify, move the channel.
    let outcome = fx.deploy(&druid, &clock, &dev, version("v2")).await.unwrap();
    assert!(matches!(outcome, DeployOutcome::Deployed { .. }), "{outcome:?}");
    assert!(session.drift().await.unwrap().in_sync);
}

#[tokio::test]
async fn plan_shows_the_change_as_paths_and_the_descriptor_as_a_digest() {
    use deploy_core::plan::ChangeOp;
    let fx = fixture();
    let dev = fx.environment("dev");
    let druid = druid();
    let clock = TestClock::at(TUESDAY_MORNING);
    fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    fx.change_dimensions();
    let plan = fx
        .session(&druid, &clock, &dev)
        .plan(&fx.project.check().unwrap(), &fx.root, &deploy_core::deploy::DeployOptions::default())
        .await
        .unwrap();
    assert_eq!(plan.channel_version.as_deref(), Some("v1"));
    assert!(!plan.compatibility.as_ref().unwrap().stops);
    let paths: Vec<(ChangeOp, &str)> =
        plan.diff.iter().map(|change| (change.op, change.path.as_str())).collect();
    // The new dimension goes in after `country`: the list shifts by one from there.
    assert!(
        paths.contains(&(ChangeOp::Change, "/spec/dataSchema/dimensionsSpec/dimensions/15/name")),
        "{paths:?}"
    );
    assert!(paths.contains(&(ChangeOp::Add, "/spec/dataSchema/dimensionsSpec/dimensions/16")), "{paths:?}");
    assert!(
        paths.iter().any(|(_, path)| path.starts_with("/spec/ioConfig/inputFormat/flattenSpec/fields")),
        "{paths:?}"
    );
    assert!(plan.action.starts_with("publish the working schema"), "{}", plan.action);
    // A brand-new environment: the whole spec is an addition, the descriptor a digest.
    let fresh = fixture();
    let empty = self::druid();
    let plan = fresh
        .session(&empty, &clock, &dev)
        .plan(&fresh.project.check().unwrap(), &fresh.root, &deploy_core::deploy::DeployOptions::default())
        .await
        .unwrap();
    let whole = plan.diff[0].to.as_ref().unwrap();
    let descriptor = whole.pointer("/spec/ioConfig/inputFormat/protoBytesDecoder/descriptorString").unwrap();
    assert!(descriptor.as_str().unwrap().starts_with("sha256:"), "{descriptor}");
}

/// The steps of `kind` the workflow reported, in order.
pub(crate) fn steps(recorder: &Recorder, kind: Step) -> Vec<String> {
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
    let druid = druid();
    druid.tasks_after_polls(2);
    let clock = TestClock::at(TUESDAY_MORNING);
    let outcome = fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    assert!(matches!(outcome, DeployOutcome::Deployed { .. }), "{outcome:?}");
    let waiting = steps(&fx.recorder, Step::Waiting);
    assert_eq!(waiting.len(), 2, "{waiting:?}");
    assert!(waiting[0].contains("RUNNING, 0 of 1 task(s) running"), "{waiting:?}");
    let observing = steps(&fx.recorder, Step::Observing);
    // Reading from the third poll (2 s); a pass needs 5 s of reading: decided at 7 s.
    assert_eq!(observing.len(), 6, "{observing:?}");
    assert!(
        observing[0]
            .starts_with("1000 records read, 0 unparseable, share 0.00-0.61 % at 99 %: deciding... (2s)"),
        "{observing:?}"
    );
    assert!(observing.last().unwrap().contains("pass in 7.0 s: 0 of 1000 unparseable"), "{observing:?}");
    let elapsed = clock.now().duration_since(TUESDAY_MORNING.parse().unwrap());
    assert_eq!(elapsed.as_secs(), 7, "two waits, five polls deciding, the decision");
}

#[tokio::test]
async fn watching_stops_early_once_parse_errors_are_over_the_threshold() {
    let fx = fixture();
    let dev = fx.environment("dev");
    // The first submission ingests 5 % unparseable records; no previous version to restore.
    let druid = druid();
    druid.poison(1, poisoned());
    let outcome = fx.deploy(&druid, &TestClock::at(TUESDAY_MORNING), &dev, version("v1")).await.unwrap();
    assert!(matches!(outcome, DeployOutcome::RolledBack { .. }), "{outcome:?}");
    let observing = steps(&fx.recorder, Step::Observing);
    assert_eq!(observing.len(), 1, "decided on the first look: {observing:?}");
    assert!(observing[0].contains("fail in 0.0 s: 50 of 1000 unparseable"), "{observing:?}");
    // Nothing to restore: the supervisor was suspended.
    assert_eq!(druid.calls(Call::Suspend), 1);
    let status = druid.supervisor_status("settlement_transactions_dev").await.unwrap();
    assert_eq!(status.payload.state.map(|state| state.to_string()).as_deref(), Some("SUSPENDED"));
}

#[tokio::test]
async fn tasks_still_publishing_for_the_previous_spec_are_not_judged() {
    // After a spec change, Druid's /stats also lists the previous spec's tasks while they
    // publish; their parse errors are not the new version's.
    let fx = fixture();
    let dev = fx.environment("dev");
    let druid = druid();
    druid.publishing_previous(poisoned());
    let clock = TestClock::at(TUESDAY_MORNING);
    fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    fx.change_dimensions();
    let outcome = fx.deploy(&druid, &clock, &dev, version("v2")).await.unwrap();
    let DeployOutcome::Deployed { verification, .. } = outcome else { panic!("{outcome:?}") };
    let unparseable = verification.checks.iter().find(|check| check.name == "unparseable_ratio").unwrap();
    assert!(unparseable.value.starts_with("0.00 % (0 of 1000), "), "{unparseable:?}");
    // The publishing task was there to be ignored.
    let stats = druid.supervisor_stats("settlement_transactions_dev").await.unwrap();
    assert_eq!(stats["0"].len(), 2);
}

#[tokio::test]
async fn a_sizing_change_alone_is_deployed_as_plan_shows() {
    use deploy_core::plan::ChangeOp;
    let fx = fixture();
    let druid = druid();
    let clock = TestClock::at(TUESDAY_MORNING);
    let dev = fx.environment("dev");
    fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    // The runbook's answer to lag: raise taskCount, then deploy (same schema, same version).
    let mut bigger = dev.clone();
    bigger.ingestion.task_count = 2;
    let plan = fx
        .session(&druid, &clock, &bigger)
        .plan(&fx.project.check().unwrap(), &fx.root, &deploy_core::deploy::DeployOptions::default())
        .await
        .unwrap();
    let planned: Vec<(ChangeOp, &str)> =
        plan.diff.iter().map(|change| (change.op, change.path.as_str())).collect();
    assert_eq!(planned, [(ChangeOp::Change, "/spec/ioConfig/taskCount")]);
    let outcome = fx.deploy(&druid, &clock, &bigger, version("v1")).await.unwrap();
    let DeployOutcome::Deployed { verification, .. } = &outcome else { panic!("{outcome:?}") };
    let tasks = verification.checks.iter().find(|check| check.name == "running_tasks").unwrap();
    assert_eq!((tasks.value.as_str(), tasks.verdict), ("2", Verdict::Pass));
    let live = druid.get_spec("settlement_transactions_dev").await.unwrap().unwrap();
    assert_eq!(live.spec.unwrap().io_config.task_count, Some(2));
    let last = fx.ledger().history("dev").await.unwrap().pop().unwrap();
    assert_eq!((last.action, last.outcome), (Action::Deploy, Outcome::Succeeded));
    assert!(last.detail.unwrap().contains("/spec/ioConfig/taskCount"), "the change is recorded");
    // And now plan and deploy agree there is nothing left to do.
    let plan = fx
        .session(&druid, &clock, &bigger)
        .plan(&fx.project.check().unwrap(), &fx.root, &deploy_core::deploy::DeployOptions::default())
        .await
        .unwrap();
    assert!(!plan.changes && plan.diff.is_empty(), "{:?}", plan.diff);
    let again = fx.deploy(&druid, &clock, &bigger, version("v1")).await.unwrap();
    assert_eq!(again, DeployOutcome::AlreadyLive { version: "v1".into() });
    assert_eq!(druid.submitted().len(), 2);
}

#[tokio::test]
async fn an_edit_in_druids_console_is_undone_by_the_next_deploy() {
    let fx = fixture();
    let druid = druid();
    let clock = TestClock::at(TUESDAY_MORNING);
    let dev = fx.environment("dev");
    fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    let rendered = druid.submitted()[0].clone();
    let mut edited = rendered.clone();
    edited.spec.as_mut().unwrap().io_config.task_duration = Some("PT5M".into());
    druid.edit_live_spec("settlement_transactions_dev", edited);
    let outcome = fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    assert!(matches!(outcome, DeployOutcome::Deployed { .. }), "{outcome:?}");
    assert_eq!(druid.get_spec("settlement_transactions_dev").await.unwrap().unwrap(), rendered);
}

#[tokio::test]
async fn a_sizing_change_that_fails_restores_the_spec_that_ran_before() {
    let fx = fixture();
    let druid = druid();
    let clock = TestClock::at(TUESDAY_MORNING);
    let dev = fx.environment("dev");
    fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    // The second submission (taskCount 3) reads 5 % garbage.
    druid.poison(2, poisoned());
    let mut bigger = dev.clone();
    bigger.ingestion.task_count = 3;
    let outcome = fx.deploy(&druid, &clock, &bigger, version("v1")).await.unwrap();
    let DeployOutcome::RolledBack { restored, restored_verification, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(restored.as_deref(), Some("v1"));
    assert!(restored_verification.unwrap().passed());
    let specs = druid.submitted();
    assert_eq!(specs.len(), 3);
    assert_eq!(specs[2], specs[0], "the spec that ran before, not the failing sizing again");
}

#[tokio::test]
async fn plan_refuses_what_deploy_would_refuse() {
    use deploy_core::plan::RefusalKind;
    let fx = fixture();
    let druid = druid();
    let tuesday = TestClock::at(TUESDAY_MORNING);
    let dev = fx.environment("dev");
    fx.deploy(&druid, &tuesday, &dev, version("v1")).await.unwrap();
    // The window: prod on a Friday.
    let friday = TestClock::at(FRIDAY_MORNING);
    let prod = fx.environment("prod");
    let plan = fx
        .session(&druid, &friday, &prod)
        .plan(&fx.project.check().unwrap(), &fx.root, &deploy_core::deploy::DeployOptions::default())
        .await
        .unwrap();
    let refused = plan.refused.expect("refused on a Friday");
    assert_eq!(refused.kind, RefusalKind::WindowClosed);
    assert!(refused.reason.contains("Friday 11:00 CET"), "{}", refused.reason);
    assert!(plan.action.starts_with("refuse: "), "{}", plan.action);
    // A wire-json break (a field renamed) against the channel's version.
    let proto = fx.root.join("schemas/proto/settlement_transaction.proto");
    let text = std::fs::read_to_string(&proto).unwrap();
    std::fs::write(&proto, text.replace("string last4 = 2;", "string last_four = 2;")).unwrap();
    let plan = fx
        .session(&druid, &tuesday, &dev)
        .plan(&fx.project.check().unwrap(), &fx.root, &deploy_core::deploy::DeployOptions::default())
        .await
        .unwrap();
    assert_eq!(plan.refused.map(|refusal| refusal.kind), Some(RefusalKind::Breaking));
    let err = fx.deploy(&druid, &tuesday, &dev, version("v2")).await.unwrap_err();
    assert!(matches!(err, Error::Breaking { .. }), "and deploy refuses it too: {err:?}");
    // A Druid release that cannot ingest protobuf, from the release table.
    std::fs::write(&proto, &text).unwrap();
    druid.set_version("35.0.0");
    let plan = fx
        .session(&druid, &tuesday, &dev)
        .plan(&fx.project.check().unwrap(), &fx.root, &deploy_core::deploy::DeployOptions::default())
        .await
        .unwrap();
    let refused = plan.refused.expect("refused on 35.0.0");
    assert_eq!(refused.kind, RefusalKind::DruidRelease);
    assert!(refused.reason.contains("36.0.0"), "{}", refused.reason);
    let err = fx.deploy(&druid, &tuesday, &dev, version("v2")).await.unwrap_err();
    assert!(matches!(err, Error::UnsupportedDruid { .. }), "and deploy refuses it too: {err:?}");
}

#[tokio::test]
async fn promoting_a_version_that_failed_verification_needs_a_reason() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let druid = druid();
    druid.poison(2, poisoned());
    let clock = TestClock::at(TUESDAY_MORNING);
    fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    fx.change_dimensions();
    fx.deploy(&druid, &clock, &dev, version("v2")).await.unwrap();
    let config = fx.project.config();
    let v2 = schema_registry::Version::parse("v2").unwrap();
    let promotion = deploy_core::promote::check(config, &fx.registry, &v2, "stable").await.unwrap();
    assert_eq!(promotion.environments, ["prod"]);
    assert!(promotion.needs_confirmation, "prod sets confirm");
    assert!(
        promotion.reasons_needed.iter().any(|why| why.contains("v2 failed verification in dev")),
        "{promotion:?}"
    );
    let err = deploy_core::promote::apply(&fx.registry, &promotion, "ci", None).await.unwrap_err();
    assert!(matches!(err, Error::PromotionNeedsReason { .. }), "{err:?}");
    assert_eq!(fx.channel("stable").await, None);
    deploy_core::promote::apply(&fx.registry, &promotion, "ci", Some("known bad, INC-9")).await.unwrap();
    assert_eq!(fx.channel("stable").await.as_deref(), Some("v2"));
    // v1 verified: no reason needed.
    let v1 = schema_registry::Version::parse("v1").unwrap();
    let promotion = deploy_core::promote::check(config, &fx.registry, &v1, "staging-latest").await.unwrap();
    assert!(promotion.reasons_needed.is_empty(), "{promotion:?}");
    assert!(!promotion.needs_confirmation);
}

#[tokio::test]
async fn an_error_after_the_submit_rolls_back_and_is_recorded() {
    // The Overlord answers 500 to status reads right after the new spec is submitted (the
    // client gives up on 5xx after its retries; the fake fails the call itself).
    let fx = fixture();
    let dev = fx.environment("dev");
    let druid = druid();
    let clock = TestClock::at(TUESDAY_MORNING);
    fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    fx.change_dimensions();
    druid.fail(Call::SupervisorStatus, 1, 500, "Overlord is having a moment");
    let err = fx.deploy(&druid, &clock, &dev, version("v2")).await.unwrap_err();
    assert!(matches!(err, Error::Druid { .. }), "{err:?}");
    let specs = druid.submitted();
    assert_eq!(specs.len(), 3, "v1, v2, then v1 again");
    assert_eq!(specs[2], specs[0], "v1 is live again");
    assert_eq!(fx.channel("develop-latest").await.as_deref(), Some("v1"));
    let history = fx.ledger().history("dev").await.unwrap();
    let last = history.last().unwrap();
    assert_eq!((last.action, last.outcome), (Action::Deploy, Outcome::RolledBack));
    assert!(last.detail.as_deref().unwrap().contains("verification could not complete"), "{last:?}");
    assert!(fx.ledger().lease("dev").await.unwrap().unwrap().released);
}

#[tokio::test]
async fn a_rollback_whose_submit_fails_is_recorded_as_failed_not_done() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let druid = druid();
    let clock = TestClock::at(TUESDAY_MORNING);
    fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    fx.change_dimensions();
    // v2 reads garbage, and the restore's submit (the third) is refused.
    druid.poison(2, poisoned());
    druid.fail_after(Call::SubmitSpec, 1, 1, 500, "Overlord down");
    let err = fx.deploy(&druid, &clock, &dev, version("v2")).await.unwrap_err();
    assert!(matches!(err, Error::Druid { .. }), "{err:?}");
    let last = fx.ledger().history("dev").await.unwrap().pop().unwrap();
    assert_eq!((last.action, last.outcome), (Action::Deploy, Outcome::RollbackFailed));
    assert!(last.detail.as_deref().unwrap().contains("the rollback failed"), "{last:?}");
    // What Druid runs is v2's spec, and the history does not claim otherwise.
    let live = druid.get_spec("settlement_transactions_dev").await.unwrap().unwrap();
    assert_eq!(live, druid.submitted()[1]);
    assert_eq!(fx.channel("develop-latest").await.as_deref(), Some("v1"));
}

/// Cancels (as a Ctrl-C would) when the workflow reports `step` the first time.
struct CancelOn {
    step: Step,
    cancel: deploy_core::session::Cancel,
}

impl deploy_core::events::Reporter for CancelOn {
    fn report(&self, event: Event) {
        if matches!(event, Event::Step { step, .. } if step == self.step) {
            self.cancel.cancel();
        }
    }
}

#[tokio::test]
async fn an_interrupted_deploy_puts_back_what_ran_records_it_and_frees_the_lock() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let druid = druid();
    let clock = TestClock::at(TUESDAY_MORNING);
    fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    fx.change_dimensions();
    let cancel = deploy_core::session::Cancel::default();
    let session = fx
        .session(&druid, &clock, &dev)
        .with_reporter(Arc::new(CancelOn { step: Step::Observing, cancel: cancel.clone() }))
        .with_cancel(cancel);
    let err = session.deploy(&fx.project.check().unwrap(), &fx.root, &version("v2")).await.unwrap_err();
    assert!(matches!(err, Error::Interrupted), "{err:?}");
    assert_eq!(err.category(), deploy_core::Category::Interrupted);
    let specs = druid.submitted();
    assert_eq!(specs.len(), 3, "v1, v2, then v1 put back");
    assert_eq!(specs[2], specs[0]);
    assert_eq!(fx.channel("develop-latest").await.as_deref(), Some("v1"));
    let last = fx.ledger().history("dev").await.unwrap().pop().unwrap();
    assert_eq!((last.action, last.outcome), (Action::Deploy, Outcome::Interrupted));
    assert!(last.detail.as_deref().unwrap().contains("v1 re-submitted"), "{last:?}");
    assert!(fx.ledger().lease("dev").await.unwrap().unwrap().released, "the lock is released");
}

#[tokio::test]
async fn an_interrupted_first_deploy_suspends_the_new_supervisor() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let druid = druid();
    let cancel = deploy_core::session::Cancel::default();
    let session = fx
        .session(&druid, &TestClock::at(TUESDAY_MORNING), &dev)
        .with_reporter(Arc::new(CancelOn { step: Step::Submitted, cancel: cancel.clone() }))
        .with_cancel(cancel);
    let err = session.deploy(&fx.project.check().unwrap(), &fx.root, &version("v1")).await.unwrap_err();
    assert!(matches!(err, Error::Interrupted), "{err:?}");
    assert_eq!(druid.calls(Call::Suspend), 1, "nothing ran before: the new supervisor is suspended");
    let last = fx.ledger().history("dev").await.unwrap().pop().unwrap();
    assert_eq!(last.outcome, Outcome::Interrupted);
    assert!(last.detail.as_deref().unwrap().contains("suspended"), "{last:?}");
}

/// A deploy of v2 whose process was killed right after its submit: v2 published and live,
/// the channel still at v1, its journal entry open, its lock expired.
async fn a_deploy_killed_after_its_submit(fx: &Fixture, druid: &Arc<FakeDruid>, dev: &Environment) {
    use deploy_core::ledger::{JournalEntry, JournalStep};
    fx.change_dimensions();
    let published = deploy_core::publish::publish_to(
        &fx.registry,
        &fx.project.check().unwrap(),
        dev,
        &fx.root,
        &deploy_core::publish::PublishOptions { version: Some("v2".into()), ..Default::default() },
    )
    .await
    .unwrap();
    let lease = fx.ledger().acquire("dev", "ci pid 4711", Duration::ZERO).await.unwrap().lease;
    fx.ledger()
        .write_journal(&JournalEntry {
            environment: "dev".into(),
            action: Action::Deploy,
            token: lease.token,
            actor: "ci pid 4711".into(),
            version: "v2".into(),
            previous: Some("v1".into()),
            previous_live_sha256: None,
            started_at: "2026-12-01T10:00:00Z".into(),
            step: JournalStep::Submitted,
            outcome: None,
        })
        .await
        .unwrap();
    let session = fx.session(druid, &TestClock::at(TUESDAY_MORNING), dev);
    druid.submit_spec(&session.render_version(&published.version).await.unwrap()).await.unwrap();
}

#[tokio::test]
async fn every_deploy_leaves_a_closed_journal_entry() {
    use deploy_core::ledger::JournalStep;
    let fx = fixture();
    let dev = fx.environment("dev");
    let druid = druid();
    fx.deploy(&druid, &TestClock::at(TUESDAY_MORNING), &dev, version("v1")).await.unwrap();
    let entry = fx.ledger().journal("dev").await.unwrap().unwrap();
    assert_eq!(
        (entry.step, entry.outcome, entry.version.as_str()),
        (JournalStep::Closed, Some(Outcome::Succeeded), "v1")
    );
    assert_eq!(entry.actor, "ci@runner");
}

#[tokio::test]
async fn a_killed_deploy_is_found_and_recover_puts_the_channel_version_back() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let druid = druid();
    let clock = TestClock::at(TUESDAY_MORNING);
    fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    let v1_spec = druid.submitted()[0].clone();
    a_deploy_killed_after_its_submit(&fx, &druid, &dev).await;
    let session = fx.session(&druid, &clock, &dev);
    let abandoned = session.abandoned().await.unwrap().expect("found");
    assert_eq!((abandoned.version.as_str(), abandoned.actor.as_str()), ("v2", "ci pid 4711"));
    assert!(session.status().await.unwrap().abandoned.is_some(), "status shows it");
    let recovery = session.recover(false).await.unwrap();
    let deploy_core::recover::Recovery::RolledBack { restored, verification, .. } = recovery else {
        panic!("{recovery:?}")
    };
    assert_eq!(restored.as_deref(), Some("v1"));
    assert!(verification.unwrap().passed());
    assert_eq!(druid.get_spec("settlement_transactions_dev").await.unwrap().unwrap(), v1_spec);
    assert_eq!(fx.channel("develop-latest").await.as_deref(), Some("v1"));
    assert!(session.abandoned().await.unwrap().is_none(), "closed");
    let last = fx.ledger().history("dev").await.unwrap().pop().unwrap();
    assert_eq!((last.action, last.outcome), (Action::Deploy, Outcome::Abandoned));
    assert!(last.detail.unwrap().contains("v1 put back in place of v2"));
}

#[tokio::test]
async fn recover_finish_keeps_a_killed_deploy_that_verifies() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let druid = druid();
    let clock = TestClock::at(TUESDAY_MORNING);
    fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    a_deploy_killed_after_its_submit(&fx, &druid, &dev).await;
    let recovery = fx.session(&druid, &clock, &dev).recover(true).await.unwrap();
    assert!(matches!(recovery, deploy_core::recover::Recovery::Finished { .. }), "{recovery:?}");
    assert_eq!(fx.channel("develop-latest").await.as_deref(), Some("v2"));
    assert_eq!(druid.submitted().len(), 2, "nothing re-submitted");
}

#[tokio::test]
async fn the_next_deploy_closes_a_killed_one_as_abandoned() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let druid = druid();
    let clock = TestClock::at(TUESDAY_MORNING);
    fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    a_deploy_killed_after_its_submit(&fx, &druid, &dev).await;
    let outcome = fx.deploy(&druid, &clock, &dev, version("v2")).await.unwrap();
    assert!(matches!(outcome, DeployOutcome::Deployed { .. }), "{outcome:?}");
    let outcomes = fx.outcomes("dev").await;
    assert!(
        outcomes.ends_with(&[(Action::Deploy, Outcome::Abandoned), (Action::Deploy, Outcome::Succeeded)]),
        "{outcomes:?}"
    );
    let warned = fx
        .recorder
        .events()
        .iter()
        .any(|event| matches!(event, Event::Warning { message } if message.contains("died")));
    assert!(warned);
}

/// Breaks the deploy's lock and gives it to someone else when the workflow reports `step`
/// (an operator's `unlock` while the deploy still runs).
struct TakeOverOn {
    step: Step,
    ledger: deploy_core::ledger::Ledger,
}

impl deploy_core::events::Reporter for TakeOverOn {
    fn report(&self, event: Event) {
        if matches!(event, Event::Step { step, .. } if step == self.step) {
            tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(async {
                    self.ledger.unlock("dev", "alice", "looked stuck").await.unwrap();
                    self.ledger.acquire("dev", "bob", Duration::from_mins(10)).await.unwrap();
                });
            });
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_that_lost_its_lock_does_not_move_the_channel() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let druid = druid();
    let clock = TestClock::at(TUESDAY_MORNING);
    fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    fx.change_dimensions();
    let session = fx
        .session(&druid, &clock, &dev)
        .with_reporter(Arc::new(TakeOverOn { step: Step::Observing, ledger: fx.ledger() }));
    let err = session.deploy(&fx.project.check().unwrap(), &fx.root, &version("v2")).await.unwrap_err();
    assert!(matches!(err, Error::LockLost { .. }), "{err:?}");
    assert_eq!(fx.channel("develop-latest").await.as_deref(), Some("v1"), "the channel did not move");
    let last = fx.ledger().history("dev").await.unwrap().pop().unwrap();
    assert_eq!((last.action, last.outcome), (Action::Deploy, Outcome::Failed));
    assert!(last.detail.unwrap().contains("lock"), "the record says why");
    assert_eq!(fx.ledger().lease("dev").await.unwrap().unwrap().owner, "bob", "bob keeps the lock");
}

#[tokio::test]
async fn status_shows_who_holds_the_lock() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let druid = druid();
    let clock = TestClock::at(TUESDAY_MORNING);
    fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    let session = fx.session(&druid, &clock, &dev);
    assert!(session.status().await.unwrap().lock.is_none(), "released after the deploy");
    fx.ledger().acquire("dev", "alice@laptop pid 7", Duration::from_mins(10)).await.unwrap();
    assert_eq!(session.status().await.unwrap().lock.unwrap().owner, "alice@laptop pid 7");
}

#[tokio::test]
async fn a_rolled_back_deploy_is_sent_to_slack_and_the_webhook() {
    use deploy_core::notify::{EventKind, Notifier, NotifierKind, NotifierSettings};
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let receiver = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&receiver).await;
    let fx = fixture();
    let mut dev = fx.environment("dev");
    let settings = |kind, url_env: &str, events| NotifierSettings {
        kind,
        url_env: url_env.to_owned(),
        events,
        timeout_secs: 5,
        remind_minutes: None,
    };
    dev.notify = vec![
        settings(NotifierKind::Slack, "TEST_SLACK_URL", Some(vec![EventKind::DeployRolledBack])),
        settings(NotifierKind::Webhook, "TEST_HOOK_URL", None),
    ];
    let base = receiver.uri();
    let lookup = move |name: &str| match name {
        "TEST_SLACK_URL" => Some(format!("{base}/slack/T000/B000/secret-token")),
        "TEST_HOOK_URL" => Some(format!("{base}/hook")),
        _ => None,
    };
    let notifier = Arc::new(Notifier::new(&dev, &lookup, None));
    assert!(notifier.missing().is_empty());
    let druid = druid();
    druid.poison(2, poisoned());
    let clock = TestClock::at(TUESDAY_MORNING);
    let checked = fx.project.check().unwrap();
    let session = fx.session(&druid, &clock, &dev).with_notifier(notifier.clone());
    session.deploy(&checked, &fx.root, &version("v1")).await.unwrap();
    fx.change_dimensions();
    let checked = fx.project.check().unwrap();
    let outcome = session.deploy(&checked, &fx.root, &version("v2")).await.unwrap();
    assert!(matches!(outcome, DeployOutcome::RolledBack { .. }), "{outcome:?}");
    session.flush_notifications().await;

    let requests = receiver.received_requests().await.unwrap();
    let bodies = |prefix: &str| -> Vec<serde_json::Value> {
        requests
            .iter()
            .filter(|request| request.url.path().starts_with(prefix))
            .map(|request| serde_json::from_slice(&request.body).unwrap())
            .collect()
    };
    let mut hook = bodies("/hook");
    hook.sort_by_key(|event| event["at"].as_str().unwrap_or_default().to_owned());
    let kinds: Vec<&str> = hook.iter().map(|event| event["event"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["deploy-started", "deploy-succeeded", "deploy-started", "deploy-rolled-back"],
        "{hook:#?}"
    );
    let rolled_back = &hook[3];
    assert_eq!(rolled_back["schema"], "druidctl.event.v1");
    assert_eq!((rolled_back["environment"].as_str(), rolled_back["to"].as_str()), (Some("dev"), Some("v2")));
    assert_eq!(rolled_back["actor"], "ci@runner");
    assert!(rolled_back["next"].as_str().unwrap().contains("parse-errors --env dev"), "{rolled_back}");
    // How the verdict was reached travels with it.
    assert!(
        rolled_back["detail"].as_str().unwrap().contains("verdict fail in 0.0 s: 50 of 1000 unparseable"),
        "{rolled_back}"
    );
    // Slack takes only what it asked for, as blocks.
    let slack = bodies("/slack");
    assert_eq!(slack.len(), 1, "{slack:#?}");
    assert_eq!(slack[0]["blocks"][0]["text"]["text"], "druidctl: deploy rolled back on dev");
    let text = serde_json::to_string(&slack[0]).unwrap();
    assert!(text.contains("v2") && text.contains("ci@runner"), "{text}");
    // The URL is a secret: no event and no progress line carries it.
    let events = format!("{:?}", fx.recorder.events());
    assert!(!events.contains("secret-token") && !format!("{notifier:?}").contains("secret-token"));
}

#[tokio::test]
async fn the_incident_report_tells_the_rollback_with_its_failed_task_and_parse_errors() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let druid = druid();
    druid.poison(2, poisoned());
    let clock = TestClock::at(TUESDAY_MORNING);
    let started = Timestamp::now();
    fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    fx.change_dimensions();
    let outcome = fx.deploy(&druid, &clock, &dev, version("v2")).await.unwrap();
    assert!(matches!(outcome, DeployOutcome::RolledBack { .. }), "{outcome:?}");
    let now = Timestamp::now();
    druid.set_completed_tasks(
        serde_json::from_value(json!([
            {"id": "index_kafka_t2", "statusCode": "FAILED", "dataSource": "settlement_transactions_dev",
             "createdTime": now.to_string(), "errorMsg": "java.lang.ClassCastException: class java.lang.Integer cannot be cast to class java.lang.String"},
            {"id": "index_kafka_t1", "statusCode": "SUCCESS", "dataSource": "settlement_transactions_dev",
             "createdTime": now.to_string()}
        ]))
        .unwrap(),
    );
    druid.set_parse_errors(
        serde_json::from_value(json!([
            {"timeOfExceptionMillis": now.as_millisecond(), "input": "\u{0}\u{0}\u{0}\u{0}\u{1}garbage",
             "errorType": "PARSE_EXCEPTION", "details": ["Fail to decode protobuf message!"]}
        ]))
        .unwrap(),
    );
    fx.ledger()
        .observe(&deploy_core::ledger::Observation {
            environment: "dev".into(),
            kind: "alert-fired".into(),
            at: String::new(),
            detail: "unparseable_ratio: 5.00 % (threshold 1.00 %)".into(),
        })
        .await
        .unwrap();
    let window_start = started - jiff::SignedDuration::from_mins(1);
    let incident = fx
        .session(&druid, &clock, &dev)
        .incident(window_start, now + jiff::SignedDuration::from_mins(1))
        .await
        .unwrap();
    assert_eq!(incident.versions, ["v1", "v2"]);
    assert_eq!((incident.failed_tasks, incident.parse_errors), (1, 1));
    let lines: Vec<String> =
        incident.timeline.iter().map(|entry| format!("{} {}", entry.source, entry.what)).collect();
    assert!(lines.iter().any(|line| line.starts_with("druidctl deploy rolled-back v1 -> v2")), "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("druidctl deploy rolled-back") && line.contains("verdict fail in")),
        "the incident says how the verdict was reached: {lines:#?}"
    );
    assert!(
        lines.iter().any(|line| line.contains("index_kafka_t2 failed: java.lang.ClassCastException")),
        "{lines:#?}"
    );
    assert!(lines.iter().any(|line| line.contains("Fail to decode protobuf message!")), "{lines:#?}");
    assert!(
        lines.iter().any(|line| line.starts_with("druidctl-monitor alert-fired: unparseable_ratio")),
        "{lines:#?}"
    );
    assert!(incident.detected_at.is_some() && incident.time_to_detect_minutes.is_some(), "{incident:#?}");
    let markdown = incident.markdown();
    for heading in ["## Summary", "## Timeline (UTC)", "## Root cause", "## Action items"] {
        assert!(markdown.contains(heading), "{markdown}");
    }
    assert!(markdown.contains("Versions involved: v1, v2"), "{markdown}");
}

#[tokio::test]
async fn an_undelivered_notification_is_a_warning_kept_for_the_incident() {
    use deploy_core::notify::{EventKind, Notifier, NotifierKind, NotifierSettings};
    let fx = fixture();
    let mut dev = fx.environment("dev");
    dev.notify = vec![NotifierSettings {
        kind: NotifierKind::Webhook,
        url_env: "TEST_DEAD_HOOK".into(),
        events: None,
        timeout_secs: 1,
        remind_minutes: None,
    }];
    // Nothing listens on port 9 (discard): the connection is refused.
    let notifier = Notifier::new(&dev, &|_| Some("http://127.0.0.1:9/hook/secret-token".into()), None);
    let session =
        fx.session(&druid(), &TestClock::at(TUESDAY_MORNING), &dev).with_notifier(Arc::new(notifier));
    let started = Timestamp::now();
    session.notify(EventKind::Suspend, None, None, std::collections::BTreeMap::new(), None);
    session.flush_notifications().await;
    let warnings: Vec<String> = fx
        .recorder
        .events()
        .into_iter()
        .filter_map(|event| match event {
            Event::Warning { message } => Some(message),
            _ => None,
        })
        .collect();
    assert!(warnings.iter().any(|warning| warning.contains("$TEST_DEAD_HOOK")), "{warnings:?}");
    assert!(!format!("{warnings:?}").contains("secret-token"));
    let observations = fx.ledger().observations("dev").await.unwrap();
    assert_eq!(observations.len(), 1, "{observations:?}");
    assert_eq!(observations[0].kind, "notification-failed");
    let now = Timestamp::now() + jiff::SignedDuration::from_secs(1);
    let incident = session.incident(started - jiff::SignedDuration::from_secs(1), now).await.unwrap();
    assert!(
        incident.timeline.iter().any(|entry| entry.source == "druidctl-notify" && entry.problem),
        "{:#?}",
        incident.timeline
    );
}
