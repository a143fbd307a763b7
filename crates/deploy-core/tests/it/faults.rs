//! The fault matrix of a deploy: a failure at each step (Druid before the submit, the submit,
//! the wait after it, the observation, the channel move, the rollback's submit), and after
//! each, what the journal, the lock, the channel and Druid say. Druid is the shared fake
//! (failures injected per call); the registry is an in-memory store that can be told to fail
//! writes to chosen keys.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use deploy_core::deploy::DeployOptions;
use deploy_core::ledger::{Action, JournalStep, Ledger, Outcome};
use deploy_core::{Error, Project, Session};
use druid_client::DruidApi;
use druid_client::testing::{Call, FakeDruid, Rows};
use schema_registry::store::{Etag, ListPage, Object, SchemaStore, StoreError, StoreResult};
use schema_registry::{Channel, MemoryStore, Registry};

/// A memory store whose writes to keys containing one of `failing` fail.
#[derive(Debug, Default)]
struct FailingStore {
    inner: MemoryStore,
    failing: Mutex<Vec<String>>,
}

impl FailingStore {
    fn fail_writes_to(&self, key_part: &str) {
        self.failing.lock().unwrap().push(key_part.to_owned());
    }

    fn check(&self, key: &str) -> StoreResult<()> {
        if self.failing.lock().unwrap().iter().any(|part| key.contains(part.as_str())) {
            return Err(StoreError::backend("put", key, "injected: the store is down"));
        }
        Ok(())
    }
}

#[async_trait]
impl SchemaStore for FailingStore {
    async fn get(&self, key: &str) -> StoreResult<Option<Object>> {
        self.inner.get(key).await
    }
    async fn put_if_absent(&self, key: &str, bytes: Vec<u8>) -> StoreResult<Etag> {
        self.check(key)?;
        self.inner.put_if_absent(key, bytes).await
    }
    async fn put_if_match(&self, key: &str, bytes: Vec<u8>, etag: &Etag) -> StoreResult<Etag> {
        self.check(key)?;
        self.inner.put_if_match(key, bytes, etag).await
    }
    async fn list(&self, prefix: &str, after: Option<String>) -> StoreResult<ListPage> {
        self.inner.list(prefix, after).await
    }
    fn location(&self) -> String {
        "failing-memory://".into()
    }
}

struct Case {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    project: Project,
    store: Arc<FailingStore>,
    registry: Registry,
    druid: Arc<FakeDruid>,
}

impl Case {
    /// The sample project with v1 deployed to dev.
    async fn with_v1() -> Self {
        let dir = crate::sample_copy();
        let root = dir.path().to_owned();
        let project = Project::open(&root.join("druidctl.toml")).unwrap();
        let store = Arc::new(FailingStore::default());
        let druid = Arc::new(FakeDruid::new());
        druid.set_rows(Rows::new(1000, 0)).set_sql_rows(1000);
        let case = Self { _dir: dir, root, project, registry: Registry::new(store.clone()), store, druid };
        case.deploy("v1").await.unwrap();
        let text = std::fs::read_to_string(case.root.join("config/dimensions.json")).unwrap();
        std::fs::write(
            case.root.join("config/dimensions.json"),
            text.replace(
                r#"{ "name": "country" },"#,
                r#"{ "name": "country" }, { "name": "acq", "from": "acquirerId" },"#,
            ),
        )
        .unwrap();
        case
    }

    fn session(&self) -> Session {
        let mut dev = self.project.environment("dev", &deploy_core::config::Overrides::default()).unwrap();
        // One look decides: the fake's 990 clean records are enough evidence.
        dev.thresholds.observe_secs = 0;
        dev.thresholds.min_observe_secs = 0;
        dev.thresholds.healthy_polls = 1;
        // Monday to Friday: override the window, the test runs any day.
        Session::new(dev, self.druid.clone(), self.registry.clone())
            .with_poll_interval(std::time::Duration::ZERO)
    }

    async fn deploy(&self, name: &str) -> Result<deploy_core::deploy::DeployOutcome, Error> {
        let options = DeployOptions {
            version: Some(name.into()),
            ignore_window: Some("fault tests run any day".into()),
            ..DeployOptions::default()
        };
        self.session().deploy(&self.project.check().unwrap(), &self.root, &options).await
    }

    /// (journal step and outcome, lock released, channel, live spec is v1's).
    async fn state(&self) -> (Option<(JournalStep, Option<Outcome>)>, bool, Option<String>, bool) {
        let ledger = Ledger::new(self.registry.clone());
        let journal = ledger.journal("dev").await.unwrap().map(|entry| (entry.step, entry.outcome));
        let released = ledger.lease("dev").await.unwrap().is_none_or(|lease| lease.released);
        let channel = self
            .registry
            .channel(&Channel::parse("develop-latest").unwrap())
            .await
            .unwrap()
            .map(|state| state.pointer.version);
        let live = self.druid.get_spec("settlement_transactions_dev").await.unwrap();
        let v1_live = live.as_ref() == self.druid.submitted().first();
        (journal, released, channel, v1_live)
    }

    async fn last(&self) -> (Action, Outcome) {
        let record = Ledger::new(self.registry.clone()).history("dev").await.unwrap().pop().unwrap();
        (record.action, record.outcome)
    }
}

const CLOSED_V1_OK: Option<(JournalStep, Option<Outcome>)> =
    Some((JournalStep::Closed, Some(Outcome::Succeeded)));

#[tokio::test]
async fn druid_unreachable_before_the_submit_changes_nothing() {
    let case = Case::with_v1().await;
    case.druid.fail(Call::Version, 1, 502, "bad gateway");
    assert!(matches!(case.deploy("v2").await.unwrap_err(), Error::Druid { .. }));
    // v1's entry untouched, lock free, channel v1, v1 live.
    assert_eq!(case.state().await, (CLOSED_V1_OK, true, Some("v1".into()), true));
}

#[tokio::test]
async fn druid_35_0_refuses_the_deploy_before_anything_changes() {
    let case = Case::with_v1().await;
    let submitted = case.druid.submitted().len();
    case.druid.set_version("35.0.1");
    let err = case.deploy("v2").await.unwrap_err();
    assert!(matches!(&err, Error::UnsupportedDruid { version, .. } if version == "35.0.1"), "{err:?}");
    assert!(err.to_string().contains("apache/druid#18730"), "{err}");
    assert!(err.hint().unwrap().contains("36.0.0"), "{:?}", err.hint());
    assert_eq!(case.druid.submitted().len(), submitted, "nothing submitted");
    assert_eq!(case.state().await, (CLOSED_V1_OK, true, Some("v1".into()), true));
}

#[tokio::test]
async fn a_refused_submit_closes_the_journal_as_rejected() {
    let case = Case::with_v1().await;
    case.druid.fail(Call::SubmitSpec, 1, 400, r#"{"error":"bad spec"}"#);
    assert!(matches!(case.deploy("v2").await.unwrap_err(), Error::SubmitRejected { .. }));
    assert_eq!(
        case.state().await,
        (Some((JournalStep::Closed, Some(Outcome::Rejected))), true, Some("v1".into()), true)
    );
    assert_eq!(case.last().await, (Action::Deploy, Outcome::Rejected));
}

#[tokio::test]
async fn a_failure_after_the_submit_restores_v1() {
    let case = Case::with_v1().await;
    case.druid.fail(Call::SupervisorStatus, 1, 500, "overlord hiccup");
    assert!(matches!(case.deploy("v2").await.unwrap_err(), Error::Druid { .. }));
    assert_eq!(
        case.state().await,
        (Some((JournalStep::Closed, Some(Outcome::RolledBack))), true, Some("v1".into()), true)
    );
}

#[tokio::test]
async fn a_failed_verification_restores_v1() {
    let case = Case::with_v1().await;
    case.druid.poison(2, Rows::new(900, 100));
    case.deploy("v2").await.unwrap();
    assert_eq!(
        case.state().await,
        (Some((JournalStep::Closed, Some(Outcome::RolledBack))), true, Some("v1".into()), true)
    );
}

#[tokio::test]
async fn a_store_failure_at_the_channel_move_leaves_v2_live_and_says_so() {
    let case = Case::with_v1().await;
    case.store.fail_writes_to("develop-latest/channel.json");
    let err = case.deploy("v2").await.unwrap_err();
    assert!(matches!(err, Error::Registry(schema_registry::Error::Store { .. })), "{err:?}");
    // v2 verified and runs; the channel could not move; the journal and history say so.
    let (journal, released, channel, v1_live) = case.state().await;
    assert_eq!(
        (journal, released, channel, v1_live),
        (Some((JournalStep::Closed, Some(Outcome::Failed))), true, Some("v1".into()), false)
    );
    assert_eq!(case.last().await, (Action::Deploy, Outcome::Failed));
    let drift = case.session().drift().await.unwrap();
    assert_eq!(
        (drift.live_version.as_deref(), drift.in_sync),
        (Some("v2"), false),
        "drift shows the way out"
    );
}

#[tokio::test]
async fn a_failing_rollback_submit_is_recorded_and_the_journal_says_rollback_failed() {
    let case = Case::with_v1().await;
    case.druid.poison(2, Rows::new(900, 100));
    case.druid.fail_after(Call::SubmitSpec, 1, 1, 500, "overlord down");
    assert!(case.deploy("v2").await.is_err());
    let (journal, released, channel, v1_live) = case.state().await;
    assert_eq!(
        (journal, released, channel, v1_live),
        (Some((JournalStep::Closed, Some(Outcome::RollbackFailed))), true, Some("v1".into()), false)
    );
}

#[tokio::test]
async fn a_history_store_failure_never_changes_the_outcome() {
    let case = Case::with_v1().await;
    case.store.fail_writes_to("history/deploys/");
    let outcome = case.deploy("v2").await.unwrap();
    assert!(matches!(outcome, deploy_core::deploy::DeployOutcome::Deployed { .. }), "{outcome:?}");
    let (journal, released, channel, _) = case.state().await;
    assert_eq!(
        (journal, released, channel),
        (Some((JournalStep::Closed, Some(Outcome::Succeeded))), true, Some("v2".into()))
    );
}

impl Case {
    /// v1 then v2 deployed: a rollback to `previous` goes back to v1.
    async fn with_v2() -> Self {
        let case = Self::with_v1().await;
        case.deploy("v2").await.unwrap();
        case
    }
}

#[tokio::test]
async fn a_refused_rollback_submit_is_recorded_and_closes_its_journal() {
    let case = Case::with_v2().await;
    case.druid.fail(Call::SubmitSpec, 1, 400, r#"{"error":"bad spec"}"#);
    assert!(matches!(case.session().rollback("previous").await.unwrap_err(), Error::SubmitRejected { .. }));
    let (journal, released, channel, v1_live) = case.state().await;
    assert_eq!(
        (journal, released, channel, v1_live),
        (Some((JournalStep::Closed, Some(Outcome::Rejected))), true, Some("v2".into()), false)
    );
    assert_eq!(case.last().await, (Action::Rollback, Outcome::Rejected));
}

#[tokio::test]
async fn a_store_failure_at_the_rollbacks_channel_move_says_so() {
    let case = Case::with_v2().await;
    case.store.fail_writes_to("develop-latest/channel.json");
    assert!(case.session().rollback("previous").await.is_err());
    let (journal, released, channel, v1_live) = case.state().await;
    assert_eq!(
        (journal, released, channel, v1_live),
        (Some((JournalStep::Closed, Some(Outcome::Failed))), true, Some("v2".into()), true)
    );
    assert_eq!(case.last().await, (Action::Rollback, Outcome::Failed));
}

#[tokio::test]
async fn a_rollback_that_fails_verification_still_says_what_runs() {
    let case = Case::with_v2().await;
    case.druid.poison(3, Rows::new(900, 100));
    let (version, verification) = case.session().rollback("previous").await.unwrap();
    assert_eq!(version, "v1");
    assert!(!verification.passed());
    let (journal, released, channel, v1_live) = case.state().await;
    assert_eq!(
        (journal, released, channel, v1_live),
        (Some((JournalStep::Closed, Some(Outcome::Failed))), true, Some("v1".into()), true)
    );
}
