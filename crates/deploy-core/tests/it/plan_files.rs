//! A deploy carries out its plan: plan files written and applied, stale plans (a console
//! edit, a channel move, a new registry version) and tampered files refused.

use deploy_core::deploy::{DeployOptions, DeployOutcome};
use deploy_core::plan::Plan;
use deploy_core::publish::{PublishOptions, publish_to};
use deploy_core::workflow::plan_file;
use deploy_core::{Error, Session};
use druid_client::DruidApi as _;
use schema_registry::{Channel, Version};
use sha2::Digest as _;

use crate::TestClock;
use crate::scenarios::{Fixture, TUESDAY_MORNING, druid, fixture, version};

/// v1 live on dev, then a new dimension in the working copy; the plan of v2 written to a file.
struct Planned {
    fx: Fixture,
    druid: std::sync::Arc<druid_client::testing::FakeDruid>,
    clock: std::sync::Arc<TestClock>,
    plan: Plan,
    file: std::path::PathBuf,
}

impl Planned {
    async fn new(options: DeployOptions) -> Self {
        let fx = fixture();
        let dev = fx.environment("dev");
        let druid = druid();
        let clock = TestClock::at(TUESDAY_MORNING);
        fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
        fx.change_dimensions();
        let plan = fx
            .session(&druid, &clock, &dev)
            .plan(&fx.project.check().unwrap(), &fx.root, &options)
            .await
            .unwrap();
        let file = fx.root.join("plan.json");
        plan_file::write(&plan, &dev, &file, "ci@runner", clock.as_ref().now()).unwrap();
        Self { fx, druid, clock, plan, file }
    }

    fn session(&self) -> Session {
        self.fx.session(&self.druid, &self.clock, &self.fx.environment("dev"))
    }

    /// Publishes the working copy as `name` behind the plan's back.
    async fn publish(&self, name: &str) {
        let checked = self.fx.project.check().unwrap();
        let options = PublishOptions { version: Some(name.into()), ..PublishOptions::default() };
        publish_to(&self.fx.registry, &checked, &self.fx.environment("dev"), &self.fx.root, &options)
            .await
            .unwrap();
    }

    async fn apply_file(&self) -> Result<DeployOutcome, Error> {
        let loaded = plan_file::read(&self.file)?;
        self.session().apply(&loaded.plan).await
    }
}

use deploy_core::clock::Clock as _;

#[tokio::test]
async fn a_plan_file_is_applied_exactly_as_planned() {
    let planned = Planned::new(version("v2")).await;
    let live_before = planned.druid.get_spec("settlement_transactions_dev").await.unwrap();
    let carry = planned.plan.carry.clone().unwrap();
    assert_eq!(carry.version, "v2");
    assert_eq!(planned.fx.channel("develop-latest").await.as_deref(), Some("v1"), "planning moved nothing");
    let submissions = planned.druid.submitted().len();
    let outcome = planned.apply_file().await.unwrap();
    let DeployOutcome::Deployed { version, previous, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!((version.as_str(), previous.as_deref()), ("v2", Some("v1")));
    // One submit, of the planned spec; the changes it made are the ones the plan showed.
    let submitted = planned.druid.submitted();
    assert_eq!(submitted.len(), submissions + 1);
    let spec = submitted.last().unwrap();
    assert_eq!(*spec, carry.spec);
    let made: Vec<String> = deploy_core::plan::spec_changes(live_before.as_ref(), spec)
        .into_iter()
        .map(|change| change.path)
        .collect();
    let shown: Vec<String> = planned.plan.diff.iter().map(|change| change.path.clone()).collect();
    assert_eq!(made, shown);
    assert!(!shown.is_empty());
    assert_eq!(planned.fx.channel("develop-latest").await.as_deref(), Some("v2"));
    // The version published is the plan's bundle, byte for byte.
    let contents = planned.fx.registry.get(&Version::parse("v2").unwrap()).await.unwrap();
    assert_eq!(contents.bundle, carry.bundle.to_bundle());
}

#[tokio::test]
async fn a_console_edit_makes_the_plan_stale() {
    let planned = Planned::new(version("v2")).await;
    let mut edited = planned.druid.get_spec("settlement_transactions_dev").await.unwrap().unwrap();
    edited.spec.as_mut().unwrap().io_config.task_count = Some(7);
    planned.druid.edit_live_spec("settlement_transactions_dev", edited);
    let submissions = planned.druid.submitted().len();
    let err = planned.apply_file().await.unwrap_err();
    assert!(matches!(err, Error::PlanStale { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("the plan is stale: the live spec of settlement_transactions_dev changed"),
        "{text}"
    );
    assert_eq!(planned.druid.submitted().len(), submissions, "nothing submitted");
    assert_eq!(planned.fx.channel("develop-latest").await.as_deref(), Some("v1"));
    assert!(
        planned.fx.registry.manifest(&Version::parse("v2").unwrap()).await.unwrap().is_none(),
        "nothing published"
    );
}

#[tokio::test]
async fn a_channel_move_makes_the_plan_stale() {
    let planned = Planned::new(version("v2")).await;
    // Someone publishes v9 and points the channel at it by hand.
    planned.publish("v9").await;
    let channel = Channel::parse("develop-latest").unwrap();
    let v9 = Version::parse("v9").unwrap();
    planned.fx.registry.promote(&channel, &v9, Some("someone"), Some("by hand")).await.unwrap();
    let err = planned.apply_file().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "the plan is stale: channel develop-latest moved from v1 to v9 since the plan; version(s) published since the plan: v9"
    );
}

#[tokio::test]
async fn a_new_registry_version_makes_the_plan_stale_and_so_does_an_in_memory_plan() {
    let planned = Planned::new(version("v2")).await;
    planned.publish("v9").await;
    let checked = planned.fx.project.check().unwrap();
    let err = planned.apply_file().await.unwrap_err();
    assert_eq!(err.to_string(), "the plan is stale: version(s) published since the plan: v9");
    // The plan in memory (what `deploy` applies after its prompt) is checked the same way.
    let err = planned.session().apply(&planned.plan).await.unwrap_err();
    assert!(matches!(err, Error::PlanStale { .. }), "{err:?}");
    // Planned again, it goes.
    let again = planned.session().plan(&checked, &planned.fx.root, &version("v2")).await.unwrap();
    assert!(matches!(planned.session().apply(&again).await.unwrap(), DeployOutcome::Deployed { .. }));
}

#[tokio::test]
async fn a_tampered_plan_file_is_refused() {
    let planned = Planned::new(version("v2")).await;
    let text = std::fs::read_to_string(&planned.file).unwrap();
    // An edit without the digest: refused as edited.
    std::fs::write(&planned.file, text.replace("\"taskCount\": 1", "\"taskCount\": 9")).unwrap();
    assert_ne!(std::fs::read_to_string(&planned.file).unwrap(), text, "the edit happened");
    let err = planned.apply_file().await.unwrap_err();
    assert!(err.to_string().contains("its digest does not match its content"), "{err}");
    // An edit with the digest made again: the spec is not what the plan's schema renders.
    let mut document: serde_json::Value = serde_json::from_str(&text).unwrap();
    document["carry"]["spec"]["spec"]["ioConfig"]["taskCount"] = serde_json::json!(9);
    let object = document.as_object_mut().unwrap();
    object.shift_remove("digest");
    let digest =
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(serde_json::to_vec(&document).unwrap())));
    document["digest"] = serde_json::json!(digest);
    std::fs::write(&planned.file, serde_json::to_string_pretty(&document).unwrap()).unwrap();
    let submissions = planned.druid.submitted().len();
    let err = planned.apply_file().await.unwrap_err();
    assert!(err.to_string().contains("its schema renders another spec now"), "{err}");
    assert_eq!(planned.druid.submitted().len(), submissions, "nothing submitted");
    // Another format, or not JSON.
    std::fs::write(&planned.file, text.replace("druidctl-plan/1", "druidctl-plan/9")).unwrap();
    let err = planned.apply_file().await.unwrap_err();
    assert!(
        err.to_string().contains("format `druidctl-plan/9`; this druidctl reads druidctl-plan/1"),
        "{err}"
    );
    std::fs::write(&planned.file, "{").unwrap();
    assert!(planned.apply_file().await.unwrap_err().to_string().contains("not a plan file"));
}

#[tokio::test]
async fn a_plan_file_holds_no_secret_and_apply_submits_it() {
    let fx = fixture();
    let mut dev = fx.environment("dev");
    let jaas = "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"hunter2\";";
    dev.kafka.consumer_properties.insert("sasl.jaas.config".into(), jaas.into());
    let druid = druid();
    let clock = TestClock::at(TUESDAY_MORNING);
    let session = fx.session(&druid, &clock, &dev);
    let plan = session.plan(&fx.project.check().unwrap(), &fx.root, &version("v1")).await.unwrap();
    let file = fx.root.join("plan.json");
    plan_file::write(&plan, &dev, &file, "ci@runner", clock.now()).unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("hunter2"), "the password is in the plan file");
    assert!(text.contains("sasl.jaas.config"));
    let loaded = plan_file::read(&file).unwrap();
    assert!(matches!(session.apply(&loaded.plan).await.unwrap(), DeployOutcome::Deployed { .. }));
    let submitted = druid.submitted();
    let properties = submitted[0].spec.as_ref().unwrap().io_config.consumer_properties.as_ref().unwrap();
    assert_eq!(properties["sasl.jaas.config"], serde_json::json!(jaas), "the secret goes to Druid");
}

#[tokio::test]
async fn a_refused_plan_is_not_written_and_a_plan_for_another_environment_is_not_applied() {
    let planned = Planned::new(version("v2")).await;
    // Breaking against v1 (a field renamed): the plan refuses, nothing written.
    let proto = planned.fx.root.join("schemas/proto/settlement_transaction.proto");
    let source = std::fs::read_to_string(&proto).unwrap();
    std::fs::write(&proto, source.replace("int64 amount_minor = 5;", "string amount_minor = 5;")).unwrap();
    let dev = planned.fx.environment("dev");
    let plan = planned
        .session()
        .plan(&planned.fx.project.check().unwrap(), &planned.fx.root, &version("v3"))
        .await
        .unwrap();
    assert!(plan.refused.is_some(), "{plan:?}");
    let other = planned.fx.root.join("refused.json");
    assert!(plan_file::write(&plan, &dev, &other, "ci@runner", planned.clock.now()).is_err());
    assert!(!other.exists());
    // The dev plan applied on staging: refused, naming the plan's environment.
    let staging = planned.fx.environment("staging");
    let loaded = plan_file::read(&planned.file).unwrap();
    let err =
        planned.fx.session(&planned.druid, &planned.clock, &staging).apply(&loaded.plan).await.unwrap_err();
    assert!(err.to_string().contains("the plan is for environment dev"), "{err}");
}

#[tokio::test]
async fn reconcile_heals_only_what_it_saw_and_never_undoes_a_later_deploy() {
    use deploy_core::reconcile::{Options, State, reconcile};
    let fx = fixture();
    let dev = fx.environment("dev");
    let druid = druid();
    let clock = TestClock::at(TUESDAY_MORNING);
    fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    let supervisor = "settlement_transactions_dev";
    let original = druid.get_spec(supervisor).await.unwrap().unwrap();
    let mut edited = original.clone();
    edited.spec.as_mut().unwrap().io_config.task_count = Some(7);
    druid.edit_live_spec(supervisor, edited.clone());
    let session = fx.session(&druid, &clock, &dev);
    let pipelines = vec![(None, session.clone())];
    let seen = reconcile(druid.as_ref(), &pipelines, Options::default()).await.unwrap();
    let entry = &seen.entries[0];
    assert_eq!(entry.state, State::Drifted);

    // The console edit is undone by hand before the heal: nothing to submit.
    druid.edit_live_spec(supervisor, original.clone());
    let submissions = druid.submitted().len();
    assert!(session.reapply_seen("v1", Some(&entry.diff)).await.unwrap().is_none());
    assert_eq!(druid.submitted().len(), submissions);

    // A deploy of v2 lands between the reconcile's read and its heal: the heal is refused.
    druid.edit_live_spec(supervisor, edited);
    let seen = reconcile(druid.as_ref(), &pipelines, Options::default()).await.unwrap();
    fx.change_dimensions();
    fx.deploy(&druid, &clock, &dev, version("v2")).await.unwrap();
    let submissions = druid.submitted().len();
    let err = session.reapply_seen("v1", Some(&seen.entries[0].diff)).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "the plan is stale: the live spec of settlement_transactions_dev changed since the reconcile read it"
    );
    assert_eq!(druid.submitted().len(), submissions, "v2 stays live");
    assert_eq!(fx.channel("develop-latest").await.as_deref(), Some("v2"));

    // What it saw still holds: healed.
    let mut edited = druid.get_spec(supervisor).await.unwrap().unwrap();
    edited.spec.as_mut().unwrap().io_config.task_count = Some(7);
    druid.edit_live_spec(supervisor, edited);
    let seen = reconcile(druid.as_ref(), &pipelines, Options::default()).await.unwrap();
    let healed = session.reapply_seen("v2", Some(&seen.entries[0].diff)).await.unwrap().unwrap();
    assert!(healed.passed());
    let live = druid.get_spec(supervisor).await.unwrap().unwrap();
    assert_eq!(live.spec.unwrap().io_config.task_count, Some(1));
}

#[tokio::test]
async fn preflight_out_of_reach_refuses_in_the_plan_and_publishes_nothing() {
    let fx = fixture();
    let mut dev = fx.environment("dev");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    dev.preflight.enabled = true;
    dev.kafka.bootstrap_servers = closed.to_string();
    let druid = druid();
    let clock = TestClock::at(TUESDAY_MORNING);
    let err = fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap_err();
    assert!(matches!(err, Error::Kafka(_)), "{err:?}");
    assert_eq!(err.category(), deploy_core::Category::External, "exit 3, as before the split");
    assert!(fx.registry.version_names().await.unwrap().is_empty(), "nothing published");
    assert!(druid.submitted().is_empty(), "nothing submitted");
    // Skipped with a recorded reason, the deploy goes on.
    let options = DeployOptions { skip_preflight: Some("Kafka maintenance".into()), ..version("v1") };
    assert!(matches!(
        fx.deploy(&druid, &clock, &dev, options).await.unwrap(),
        DeployOutcome::Deployed { .. }
    ));
    let last = fx.ledger().history("dev").await.unwrap().pop().unwrap();
    assert_eq!(last.overrides.get("preflight").map(String::as_str), Some("Kafka maintenance"));
}
