//! Migrations against the shared fake Druid: a breaking change with a new datasource starts
//! one (both supervisors run), cutover hands off and terminates the old side, abort terminates
//! the new one; failures of the new side, an interrupted cutover, Druid 34's supervisors per
//! datasource and topic changes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use deploy_core::config::{Environment, Overrides};
use deploy_core::deploy::{DeployOptions, DeployOutcome};
use deploy_core::events::{Event, Recorder};
use deploy_core::ledger::{Action, Ledger, Outcome};
use deploy_core::migrate::{CutoverOptions, MigrationState, Target};
use deploy_core::{Error, Project, Session};
use druid_client::DruidApi;
use druid_client::testing::{Call, FakeDruid, Rows};
use schema_registry::{Channel, MemoryStore, Registry};

use crate::TestClock;

const TUESDAY: &str = "2026-12-01T10:00:00Z";
const OLD: &str = "settlement_transactions_dev";
const NEW: &str = "settlement_transactions_dev_v2";

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    registry: Registry,
    druid: Arc<FakeDruid>,
    clock: Arc<TestClock>,
    recorder: Arc<Recorder>,
}

fn fixture() -> Fixture {
    let dir = crate::sample_copy();
    let druid = FakeDruid::new();
    druid.set_rows(Rows { processed: 1000, unparseable: 0, rates: [10.0, 8.5, 8.0] }).set_sql_rows(1000);
    Fixture {
        root: dir.path().to_owned(),
        _dir: dir,
        registry: Registry::new(Arc::new(MemoryStore::new())),
        druid: Arc::new(druid),
        clock: TestClock::at(TUESDAY),
        recorder: Arc::default(),
    }
}

impl Fixture {
    /// Rewrites the project file: `from` becomes `to`.
    fn edit_config(&self, from: &str, to: &str) {
        let path = self.root.join("druidctl.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{from} is not in the project file");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    /// The commit of a migration: `country` gets a new field number (wire-breaking), the
    /// datasource and the topic change.
    fn breaking_change(&self) {
        self.break_the_schema();
        self.edit_config(&format!("datasource = \"{OLD}\""), &format!("datasource = \"{NEW}\""));
        self.edit_config(
            "kafka.topic = \"settlement-transactions-dev\"",
            "kafka.topic = \"settlement-transactions-dev-v2\"",
        );
    }

    fn break_the_schema(&self) {
        let path = self.root.join("schemas/proto/settlement_transaction.proto");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("string country = 14;", "string country = 17;")).unwrap();
    }

    /// A new column reading a field already mapped under another name.
    fn add_dimension(&self) {
        let path = self.root.join("config/dimensions.json");
        let text = std::fs::read_to_string(&path).unwrap();
        let added = r#"{ "name": "channel" }, { "name": "acquirerRef", "from": "acquirerId" }"#;
        std::fs::write(&path, text.replace(r#"{ "name": "channel" }"#, added)).unwrap();
    }

    fn project(&self) -> Project {
        Project::open(&self.root.join("druidctl.toml")).unwrap()
    }

    fn environment(&self) -> Environment {
        self.project().environment("dev", &Overrides::default()).unwrap()
    }

    fn session(&self) -> Session {
        Session::new(self.environment(), self.druid.clone(), self.registry.clone())
            .with_reporter(self.recorder.clone())
            .with_clock(self.clock.clone())
            .with_actor("ci@runner")
            .with_poll_interval(Duration::from_secs(5))
    }

    async fn deploy(&self, version: &str) -> Result<DeployOutcome, Error> {
        self.deploy_with(DeployOptions { version: Some(version.to_owned()), ..DeployOptions::default() })
            .await
    }

    async fn deploy_with(&self, options: DeployOptions) -> Result<DeployOutcome, Error> {
        let checked = self.project().check().unwrap();
        self.session().deploy(&checked, &self.root, &options).await
    }

    async fn channel(&self) -> Option<String> {
        let channel = Channel::parse("develop-latest").unwrap();
        self.registry.channel(&channel).await.unwrap().map(|state| state.pointer.version)
    }

    fn ledger(&self) -> Ledger {
        Ledger::new(self.registry.clone())
    }

    async fn live(&self, id: &str) -> bool {
        self.druid.get_spec(id).await.unwrap().is_some()
    }

    /// v1 on the old datasource, then the breaking change deployed as v2: both run.
    async fn dual(&self) {
        self.deploy("v1").await.unwrap();
        self.breaking_change();
        let outcome = self.deploy("v2").await.unwrap();
        assert!(matches!(outcome, DeployOutcome::Deployed { .. }), "{outcome:?}");
    }

    fn warnings(&self) -> Vec<String> {
        self.recorder
            .events()
            .into_iter()
            .filter_map(|event| match event {
                Event::Warning { message } => Some(message),
                _ => None,
            })
            .collect()
    }
}

#[tokio::test]
async fn a_breaking_change_in_place_is_refused_naming_the_new_datasource() {
    let fx = fixture();
    fx.deploy("v1").await.unwrap();
    fx.break_the_schema();
    // `country` moved to a new number: the column would mix two fields (a Druid rule).
    let err = fx.deploy("v2").await.unwrap_err();
    assert!(matches!(err, Error::DruidDamage { .. }), "{err:?}");
    assert_eq!(err.category(), deploy_core::Category::CheckFailed);
    assert!(
        err.hint().unwrap().contains("change `datasource` for the environment in the project file"),
        "{err}"
    );
    assert_eq!(fx.druid.submitted().len(), 1, "nothing submitted");
    // plan says the same.
    let plan = fx
        .session()
        .plan(&fx.project().check().unwrap(), &fx.root, &deploy_core::deploy::DeployOptions::default())
        .await
        .unwrap();
    assert_eq!(plan.refused.unwrap().kind, deploy_core::plan::RefusalKind::DruidDamage);
}

#[tokio::test]
async fn a_new_datasource_starts_a_migration_and_cutover_ends_it() {
    let fx = fixture();
    fx.deploy("v1").await.unwrap();
    fx.breaking_change();
    // plan first: a migration, not a refusal.
    let plan = fx
        .session()
        .plan(&fx.project().check().unwrap(), &fx.root, &deploy_core::deploy::DeployOptions::default())
        .await
        .unwrap();
    assert_eq!(plan.refused, None, "{plan:?}");
    assert!(plan.migration.as_deref().unwrap().contains(&format!("to the new datasource {NEW}")), "{plan:?}");

    let outcome = fx.deploy("v2").await.unwrap();
    let DeployOutcome::Deployed { previous, .. } = &outcome else { panic!("{outcome:?}") };
    assert_eq!(previous.as_deref(), Some("v1"));
    // Both supervisors run; the old one was submitted once, never touched again.
    assert!(fx.live(OLD).await && fx.live(NEW).await);
    let old_submissions = fx.druid.submitted().iter().filter(|spec| spec.id() == Some(OLD)).count();
    assert_eq!(old_submissions, 1);
    let new_spec = fx.druid.get_spec(NEW).await.unwrap().unwrap();
    assert_eq!(new_spec.spec.unwrap().io_config.topic.as_deref(), Some("settlement-transactions-dev-v2"));
    assert_eq!(fx.channel().await.as_deref(), Some("v2"));
    // The registry records it, and the history shows it (with the breaking reason).
    let state = fx.session().environment_state().await.unwrap().unwrap();
    let migration = state.migration.clone().unwrap();
    assert_eq!(migration.state, MigrationState::Dual);
    assert_eq!((migration.old.datasource.as_str(), migration.old.version.as_deref()), (OLD, Some("v1")));
    assert_eq!((migration.new.datasource.as_str(), migration.new.version.as_deref()), (NEW, Some("v2")));
    assert_eq!(migration.started_by, "ci@runner");
    assert_eq!(state.live.datasource, NEW);
    let last = fx.ledger().history("dev").await.unwrap().pop().unwrap();
    assert_eq!((last.action, last.outcome), (Action::Deploy, Outcome::Succeeded));
    assert!(last.overrides["migration"].contains(NEW), "{last:?}");
    assert!(last.detail.unwrap().contains("migration started"));
    let manifest = fx.registry.get(&schema_registry::Version::parse("v2").unwrap()).await.unwrap().manifest;
    assert!(
        manifest.breaking_override.unwrap().reason.contains("migration from"),
        "the breaking change is recorded"
    );

    // While dual: status and plan show both sides; another deploy goes to the new side.
    let status = fx.session().status().await.unwrap();
    assert_eq!(status.ingestion.datasource, NEW);
    assert_eq!(status.old_side.unwrap().ingestion.unwrap().datasource, OLD);
    let plan = fx
        .session()
        .plan(&fx.project().check().unwrap(), &fx.root, &deploy_core::deploy::DeployOptions::default())
        .await
        .unwrap();
    assert!(plan.migration.unwrap().contains("in progress"));
    let report = fx.session().monitor().await.unwrap();
    assert_eq!(report.old_side.unwrap().placement.supervisor, OLD);
    fx.add_dimension();
    fx.deploy("v3").await.unwrap();
    let state = fx.session().environment_state().await.unwrap().unwrap();
    assert_eq!(state.migration.unwrap().new.version.as_deref(), Some("v3"));
    assert_eq!(fx.druid.submitted().last().unwrap().datasource(), Some(NEW));

    // Cutover: the old side hands off, then goes; its tasks succeeded.
    let tasks_before = fx.druid.supervisor_status(OLD).await.unwrap().payload.active_tasks.len();
    assert!(tasks_before > 0);
    let cutover = fx.session().cutover(CutoverOptions::default()).await.unwrap();
    assert_eq!(fx.druid.calls(Call::Handoff), 1);
    assert!(cutover.terminated);
    assert_eq!(cutover.handed_off.len(), tasks_before);
    assert!(cutover.handed_off.iter().all(|task| task.status.as_deref() == Some("SUCCESS")), "{cutover:?}");
    assert!(!fx.live(OLD).await && fx.live(NEW).await);
    assert_eq!(cutover.migration.state, MigrationState::Done);
    assert_eq!(cutover.migration.finished_by.as_deref(), Some("ci@runner"));
    let last = fx.ledger().history("dev").await.unwrap().pop().unwrap();
    assert_eq!((last.action, last.outcome), (Action::Cutover, Outcome::Succeeded));
    let states: Vec<MigrationState> =
        fx.ledger().migrations("dev").await.unwrap().into_iter().map(|migration| migration.state).collect();
    assert_eq!(
        states,
        [
            MigrationState::Starting,
            MigrationState::Dual,
            MigrationState::Dual, // v3 on the new side
            MigrationState::CuttingOver,
            MigrationState::Done
        ]
    );
    // Nothing left to cut over; the SQL view still reads both.
    let again = fx.session().cutover(CutoverOptions::default()).await.unwrap_err();
    assert!(matches!(again, Error::NoMigration { .. }), "{again:?}");
    let view = fx.session().migration_sql().await.unwrap();
    assert!(view.sql.contains(&format!("FROM \"{OLD}\"\nUNION ALL")), "{}", view.sql);
    let country = view.columns.iter().find(|column| column.column == "country").unwrap();
    assert_eq!(country.matched_by, Some("same-name"), "a new field number: matched by name");
    // A column added in v3 reads a field the old mapping had under another name.
    let added = view.columns.iter().find(|column| column.column == "acquirerRef").unwrap();
    assert_eq!((added.old_expression.as_str(), added.matched_by), ("\"acquirerId\"", Some("same-field")));
}

#[tokio::test]
async fn a_new_side_that_fails_verification_is_terminated_and_the_old_one_stays() {
    let fx = fixture();
    fx.deploy("v1").await.unwrap();
    fx.breaking_change();
    fx.druid.poison(2, Rows { processed: 900, unparseable: 100, rates: [10.0, 8.5, 8.0] });
    let outcome = fx.deploy("v2").await.unwrap();
    let DeployOutcome::RolledBack { failed, restored, .. } = &outcome else { panic!("{outcome:?}") };
    assert_eq!((failed.as_str(), restored.as_deref()), ("v2", Some("v1")));
    assert!(fx.live(OLD).await, "the old supervisor was never touched");
    assert!(!fx.live(NEW).await, "the new one is terminated");
    assert_eq!(fx.druid.submitted().len(), 2, "v1 was not re-submitted anywhere");
    assert_eq!(fx.channel().await.as_deref(), Some("v1"));
    let state = fx.session().environment_state().await.unwrap().unwrap();
    assert_eq!(state.migration.unwrap().state, MigrationState::Aborted);
    assert_eq!(state.live.datasource, OLD);
    let last = fx.ledger().history("dev").await.unwrap().pop().unwrap();
    assert_eq!((last.action, last.outcome), (Action::Deploy, Outcome::RolledBack));
    assert!(last.detail.unwrap().contains("the old side was not touched"));
}

#[tokio::test]
async fn a_refused_new_supervisor_leaves_the_old_one_current() {
    let fx = fixture();
    fx.deploy("v1").await.unwrap();
    fx.breaking_change();
    fx.druid.fail(
        Call::SubmitSpec,
        1,
        400,
        r#"{"error":"Cannot construct instance of `KafkaSupervisorSpec`"}"#,
    );
    let err = fx.deploy("v2").await.unwrap_err();
    assert!(matches!(err, Error::SubmitRejected { .. }), "{err:?}");
    assert!(fx.live(OLD).await && !fx.live(NEW).await);
    let state = fx.session().environment_state().await.unwrap().unwrap();
    let migration = state.migration.unwrap();
    assert_eq!(migration.state, MigrationState::Aborted);
    assert!(migration.detail.unwrap().contains("Druid refused the new supervisor"));
    assert_eq!(state.live.datasource, OLD);
    assert_eq!(fx.channel().await.as_deref(), Some("v1"));
}

#[tokio::test]
async fn abort_terminates_the_new_side_and_makes_the_old_one_current() {
    let fx = fixture();
    fx.dual().await;
    let migration = fx.session().abort_migration().await.unwrap();
    assert_eq!(migration.state, MigrationState::Aborted);
    assert!(fx.live(OLD).await && !fx.live(NEW).await);
    assert_eq!(fx.channel().await.as_deref(), Some("v1"), "the channel is back on the old side's version");
    let state = fx.session().environment_state().await.unwrap().unwrap();
    assert_eq!(state.live.datasource, OLD);
    assert!(
        fx.warnings().iter().any(|warning| warning.contains("the project file still names")),
        "{:?}",
        fx.warnings()
    );
    let last = fx.ledger().history("dev").await.unwrap().pop().unwrap();
    assert_eq!((last.action, last.outcome), (Action::MigrationAbort, Outcome::Succeeded));
    // The project file still names the new datasource: the next deploy would start again.
    let target = fx.session().deploy_target(false, "33.0.0").await.unwrap();
    assert!(matches!(target, Target::Start { .. }), "{target:?}");
}

#[tokio::test]
async fn an_interrupted_cutover_is_resumed() {
    let fx = fixture();
    fx.dual().await;
    // The handoff went through; terminating the old supervisor failed.
    fx.druid.fail(Call::Terminate, 1, 500, "overlord restarting");
    let err = fx.session().cutover(CutoverOptions::default()).await.unwrap_err();
    assert!(matches!(err, Error::Druid { .. }), "{err:?}");
    let state = fx.session().environment_state().await.unwrap().unwrap();
    let migration = state.migration.unwrap();
    assert_eq!(migration.state, MigrationState::CuttingOver);
    assert!(!migration.handoff_tasks.is_empty());
    assert!(fx.live(OLD).await, "nothing terminated yet");
    let last = fx.ledger().history("dev").await.unwrap().pop().unwrap();
    assert_eq!((last.action, last.outcome), (Action::Cutover, Outcome::Failed));
    assert!(last.detail.unwrap().contains("resumes it"));
    // A deploy meanwhile still goes to the new side.
    assert_eq!(fx.session().deploy_target(false, "33.0.0").await.unwrap(), Target::InPlace);
    // Run again: it resumes (the first handoff's tasks count) and ends.
    let cutover = fx.session().cutover(CutoverOptions::default()).await.unwrap();
    assert_eq!(cutover.migration.state, MigrationState::Done);
    assert!(!fx.live(OLD).await);
    assert!(cutover.handed_off.iter().any(|task| migration.handoff_tasks.contains(&task.task)));
}

#[tokio::test]
async fn a_cutover_whose_process_died_is_finished_by_recover() {
    let fx = fixture();
    fx.dual().await;
    // The cutover's process died after the handoff: its journal entry is open, the lock gone.
    let session = fx.session();
    fx.druid.fail(Call::Terminate, 1, 500, "overlord restarting");
    session.cutover(CutoverOptions::default()).await.unwrap_err();
    let journal = fx.ledger().journal("dev").await.unwrap().unwrap();
    let reopened = deploy_core::ledger::JournalEntry {
        step: deploy_core::ledger::JournalStep::Submitted,
        outcome: None,
        ..journal
    };
    fx.ledger().write_journal(&reopened).await.unwrap();
    assert!(fx.session().abandoned().await.unwrap().is_some());
    let recovery = fx.session().recover(false).await.unwrap();
    let deploy_core::recover::Recovery::Resumed { entry, migration } = recovery else {
        panic!("{recovery:?}")
    };
    assert_eq!(entry.action, Action::Cutover);
    assert_eq!(migration.state, MigrationState::Done);
    assert!(!fx.live(OLD).await);
}

#[tokio::test]
async fn the_old_side_named_again_or_a_third_datasource_is_refused_while_dual() {
    let fx = fixture();
    fx.dual().await;
    fx.edit_config(&format!("datasource = \"{NEW}\""), "datasource = \"settlement_transactions_dev_v3\"");
    let err = fx.deploy("v3").await.unwrap_err();
    assert!(matches!(err, Error::Migration { .. }), "{err:?}");
    assert!(err.to_string().contains("is in progress"), "{err}");
    fx.edit_config("datasource = \"settlement_transactions_dev_v3\"", &format!("datasource = \"{OLD}\""));
    let err = fx.deploy("v3").await.unwrap_err();
    assert!(err.hint().unwrap().contains("druidctl migrate abort --env dev"), "{err}");
    assert_eq!(fx.druid.submitted().len(), 2, "nothing submitted");
}

#[tokio::test]
async fn a_second_supervisor_on_the_same_datasource_needs_druid_34_and_the_flag() {
    let fx = fixture();
    fx.deploy("v1").await.unwrap();
    // A change the datasource absorbs: a second supervisor on it, blue/green.
    fx.add_dimension();
    fx.edit_config(
        &format!("datasource = \"{OLD}\""),
        &format!("datasource = \"{OLD}\"\nsupervisor = \"{OLD}-v2\""),
    );
    let same =
        DeployOptions { version: Some("v2".into()), same_datasource: true, ..DeployOptions::default() };
    // Druid 33: one supervisor per datasource.
    let err = fx.deploy_with(same.clone()).await.unwrap_err();
    assert!(err.to_string().contains("need Druid 34 or later"), "{err}");
    fx.druid.set_version("34.0.0");
    // Without the flag: the way out names it.
    let err = fx.deploy("v2").await.unwrap_err();
    assert!(err.hint().unwrap().contains("--same-datasource"), "{err}");
    let outcome = fx.deploy_with(same).await.unwrap();
    assert!(matches!(outcome, DeployOutcome::Deployed { .. }), "{outcome:?}");
    let spec = fx.druid.get_spec(&format!("{OLD}-v2")).await.unwrap().unwrap();
    assert_eq!(spec.datasource(), Some(OLD));
    assert_eq!(spec.extra["context"]["useConcurrentLocks"], true);
    assert!(fx.live(OLD).await, "both supervisors write the datasource");
    let migration = fx.session().environment_state().await.unwrap().unwrap().migration.unwrap();
    assert!(migration.same_datasource);
    assert_eq!(migration.new.supervisor, format!("{OLD}-v2"));
    fx.session().cutover(CutoverOptions::default()).await.unwrap();
    assert!(!fx.live(OLD).await && fx.live(&format!("{OLD}-v2")).await);
}

#[tokio::test]
async fn a_topic_change_in_place_is_refused_on_druid_34_before_submitting() {
    let fx = fixture();
    fx.deploy("v1").await.unwrap();
    fx.edit_config(
        "kafka.topic = \"settlement-transactions-dev\"",
        "kafka.topic = \"settlement-transactions-dev-2\"",
    );
    fx.druid.set_version("34.0.0");
    let err = fx.deploy("v1").await.unwrap_err();
    assert!(err.to_string().contains("refuses a topic change"), "{err}");
    assert!(err.hint().unwrap().contains("change `datasource`"), "{err}");
    assert_eq!(fx.druid.submitted().len(), 1);
    let plan = fx
        .session()
        .plan(&fx.project().check().unwrap(), &fx.root, &deploy_core::deploy::DeployOptions::default())
        .await
        .unwrap();
    assert_eq!(plan.refused.unwrap().kind, deploy_core::plan::RefusalKind::Migration);
    // Druid 33 takes it: a warning about the stored offsets.
    fx.druid.set_version("33.0.0");
    fx.deploy("v1").await.unwrap();
    assert!(
        fx.warnings().iter().any(|warning| warning.contains("offsets Druid stored belong to the old topic"))
    );
}
