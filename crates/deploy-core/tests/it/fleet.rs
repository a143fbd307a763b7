//! Pipelines in one project file, fleet deploys and reconcile against the shared fake Druid:
//! the merge order and the implicit pipeline, a partial failure with and without keep-going,
//! the concurrency bound and the per-datasource lock, reconcile finding a console edit, a
//! missing supervisor and an unmanaged one, and `apply` healing.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use deploy_core::config::Overrides;
use deploy_core::deploy::DeployOptions;
use deploy_core::events::{Event, Reporter, Step};
use deploy_core::fleet::{FleetOptions, Member, RowOutcome};
use deploy_core::ledger::{Action, Ledger};
use deploy_core::reconcile::{Options, State};
use deploy_core::{Error, Project, Session};
use druid_client::DruidApi;
use druid_client::testing::{FakeDruid, Rows};
use schema_registry::{LocalStore, Registry};

const PIPELINES: [&str; 4] = ["payments", "refunds", "chargebacks", "payouts"];

/// A clock whose sleeps advance it and yield, so concurrent deploys interleave.
struct YieldingClock(Mutex<jiff::Timestamp>);

#[async_trait]
impl deploy_core::clock::Clock for YieldingClock {
    fn now(&self) -> jiff::Timestamp {
        *self.0.lock().unwrap()
    }
    async fn sleep(&self, duration: Duration) {
        *self.0.lock().unwrap() += jiff::SignedDuration::try_from(duration).unwrap();
        tokio::task::yield_now().await;
    }
}

/// Counts deploys between their lock and their record, overall and per datasource.
#[derive(Default)]
struct InFlight {
    now: Mutex<(usize, usize, BTreeMap<String, usize>)>,
    most_per_datasource: Mutex<usize>,
}

struct Counting {
    shared: Arc<InFlight>,
    datasource: String,
}

impl Reporter for Counting {
    fn report(&self, event: Event) {
        let Event::Step { step, detail } = event else { return };
        let mut now = self.shared.now.lock().unwrap();
        match step {
            Step::Locked => {
                now.0 += 1;
                now.1 = now.1.max(now.0);
                let here = now.2.entry(self.datasource.clone()).or_default();
                *here += 1;
                let mut most = self.shared.most_per_datasource.lock().unwrap();
                *most = (*most).max(*here);
            }
            Step::Recorded if detail.starts_with("deploy ") => {
                now.0 -= 1;
                *now.2.get_mut(&self.datasource).unwrap() -= 1;
            }
            _ => {}
        }
    }
}

struct Fleet {
    _dir: tempfile::TempDir,
    root: PathBuf,
    druid: Arc<FakeDruid>,
    clock: Arc<YieldingClock>,
    counts: Arc<InFlight>,
}

/// A project with four pipelines on one proto root, each with its datasource and topic in
/// `dev` (merged over the environment and `[defaults]`).
fn fleet() -> Fleet {
    let dir = crate::sample_copy();
    let root = dir.path().to_owned();
    let mut text = String::from(
        "[schema]\nproto_root = \"schemas/proto\"\nmessage = \"settlement.v1.SettlementTransaction\"\n\n\
         [defaults]\nregistry = \"file://.registry\"\n[defaults.druid]\nurl = \"http://druid:8888\"\n\
         [defaults.kafka]\nbootstrap_servers = \"kafka:9092\"\n[defaults.preflight]\nenabled = false\n\
         [defaults.window]\ndays = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]\n\n\
         [environments.dev]\ndatasource = \"unused\"\nkafka.topic = \"unused\"\ningestion.task_count = 2\n\n",
    );
    for name in PIPELINES {
        let _ = write!(
            text,
            "[pipelines.{name}]\ndimensions = \"config/dimensions.json\"\n[pipelines.{name}.environments.dev]\ndatasource = \"{name}_dev\"\nkafka.topic = \"{name}-dev\"\n\n"
        );
    }
    std::fs::write(root.join("druidctl.toml"), text).unwrap();
    let druid = FakeDruid::new();
    druid.set_rows(Rows { processed: 1000, unparseable: 0, rates: [10.0, 8.5, 8.0] }).set_sql_rows(1000);
    Fleet {
        _dir: dir,
        root,
        druid: Arc::new(druid),
        clock: Arc::new(YieldingClock(Mutex::new("2026-12-01T10:00:00Z".parse().unwrap()))),
        counts: Arc::default(),
    }
}

impl Fleet {
    fn project(&self) -> Project {
        Project::open(&self.root.join("druidctl.toml")).unwrap()
    }

    fn session(&self, pipeline: &str) -> Session {
        let environment =
            self.project().pipeline(pipeline).unwrap().environment("dev", &Overrides::default()).unwrap();
        let registry = match &environment.registry {
            deploy_core::config::RegistryLocation::File(path) => {
                Registry::new(Arc::new(LocalStore::new(path)))
            }
            other @ deploy_core::config::RegistryLocation::S3 { .. } => panic!("{other}"),
        };
        let reporter = Counting { shared: self.counts.clone(), datasource: environment.datasource.clone() };
        Session::new(environment, self.druid.clone(), registry)
            .with_reporter(Arc::new(reporter))
            .with_clock(self.clock.clone())
            .with_actor("ci@runner")
            .with_poll_interval(Duration::from_secs(5))
    }

    fn member(&self, pipeline: &str) -> Member {
        Member {
            pipeline: Some(pipeline.to_owned()),
            session: self.session(pipeline),
            checked: self.project().pipeline(pipeline).unwrap().check().map_err(|err| err.to_string()),
            project_dir: self.root.clone(),
        }
    }

    async fn deploy(
        &self,
        pipelines: &[&str],
        parallel: usize,
        keep_going: bool,
    ) -> Vec<(String, RowOutcome)> {
        let options = FleetOptions {
            parallel,
            keep_going,
            deploy: DeployOptions { version: Some("v1".into()), ..DeployOptions::default() },
        };
        let members = pipelines.iter().map(|name| self.member(name)).collect();
        deploy_core::fleet::deploy(members, &options)
            .await
            .into_iter()
            .map(|row| (row.pipeline, row.outcome))
            .collect()
    }

    fn sessions(&self) -> Vec<(Option<String>, Session)> {
        PIPELINES.iter().map(|name| (Some((*name).to_owned()), self.session(name))).collect()
    }
}

#[test]
fn pipelines_merge_over_the_environment_and_keep_their_own_registry() {
    let fx = fleet();
    let project = fx.project();
    assert_eq!(project.pipeline_names(), ["chargebacks", "payments", "payouts", "refunds"]);
    let payments = project.pipeline("payments").unwrap().environment("dev", &Overrides::default()).unwrap();
    assert_eq!(payments.datasource, "payments_dev");
    assert_eq!(payments.kafka.topic, "payments-dev");
    assert_eq!(payments.ingestion.task_count, 2, "from [environments.dev]");
    assert_eq!(payments.druid.url, "http://druid:8888", "from [defaults]");
    assert_eq!(payments.pipeline.as_deref(), Some("payments"));
    assert!(payments.registry.to_string().ends_with(".registry/pipelines/payments"), "{}", payments.registry);
    assert_eq!(payments.origins["datasource"].to_string(), "pipelines.payments.environments.dev.datasource");
    // The single-pipeline sample is one implicit pipeline, as before.
    let sample = crate::sample_copy();
    let single = Project::open(&sample.path().join("druidctl.toml")).unwrap();
    assert!(single.pipeline_names().is_empty());
    let dev = single.environment("dev", &Overrides::default()).unwrap();
    assert_eq!((dev.pipeline, dev.registry.to_string().contains("pipelines")), (None, false));
}

#[test]
fn pipeline_mistakes_name_the_pipeline() {
    let fx = fleet();
    let path = fx.root.join("druidctl.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let check = |edited: String| {
        std::fs::write(&path, edited).unwrap();
        let result = Project::open(&path)
            .and_then(|project| project.pipeline("refunds"))
            .and_then(|project| project.environment("dev", &Overrides::default()));
        result.map(drop).unwrap_err().to_string()
    };
    let err = check(text.replace("datasource = \"refunds_dev\"", "datasource = \"payments_dev\""));
    assert!(
        err.contains("pipelines `payments` and `refunds` both ingest into `payments_dev` in dev"),
        "{err}"
    );
    let err =
        check(text.replace("[pipelines.refunds.environments.dev]", "[pipelines.refunds.environments.qa]"));
    assert!(
        err.contains("pipelines.refunds.environments.qa") && err.contains("no [environments.qa] table"),
        "{err}"
    );
    let err =
        check(text.replace("kafka.topic = \"refunds-dev\"", "kafka.topic = \"refunds-dev\"\ntask_cuont = 3"));
    assert!(err.contains("pipelines.refunds.environments.dev"), "{err}");
    std::fs::write(&path, &text).unwrap();
    let err = fx.project().pipeline("refund").unwrap_err();
    assert!(matches!(err, Error::UnknownPipeline { .. }), "{err:?}");
    assert!(err.to_string().contains("did you mean `refunds`?"), "{err}");
}

#[tokio::test]
async fn a_fleet_deploys_what_changed_within_the_concurrency_bound() {
    let fx = fleet();
    let rows = fx.deploy(&PIPELINES, 2, false).await;
    assert!(rows.iter().all(|(_, outcome)| *outcome == RowOutcome::Deployed), "{rows:?}");
    let (_, most, _) = *fx.counts.now.lock().unwrap();
    assert_eq!(most, 2, "at most --parallel deploys at once, and that many did run together");
    assert_eq!(fx.druid.submitted().len(), 4);
    // Each pipeline has its own registry: its own channel and history.
    let history = Ledger::new(fx.session("refunds").registry.clone()).history("dev").await.unwrap();
    assert_eq!(history.len(), 1);
    // Nothing changed: plan says so and nothing is deployed.
    let again = fx.deploy(&PIPELINES, 2, false).await;
    assert!(again.iter().all(|(_, outcome)| *outcome == RowOutcome::Unchanged), "{again:?}");
    assert_eq!(fx.druid.submitted().len(), 4);
}

#[tokio::test]
async fn one_datasource_is_deployed_once_at_a_time() {
    let fx = fleet();
    // Two members on the same datasource (a fleet built by hand: the project file refuses it).
    let members = vec![fx.member("payments"), fx.member("payments"), fx.member("refunds")];
    let options = FleetOptions {
        parallel: 3,
        keep_going: true,
        deploy: DeployOptions { version: Some("v1".into()), ..DeployOptions::default() },
    };
    let rows = deploy_core::fleet::deploy(members, &options).await;
    assert_eq!(rows.len(), 3);
    assert_eq!(*fx.counts.most_per_datasource.lock().unwrap(), 1);
    let (_, most, _) = *fx.counts.now.lock().unwrap();
    assert!(
        most >= 2,
        "deploys did run together (refunds beside payments): the lock is what kept payments apart"
    );
}

#[tokio::test]
async fn a_failure_stops_new_deploys_unless_keep_going() {
    let fx = fleet();
    // One at a time, in order: the second submission (refunds) ingests garbage.
    fx.druid.poison(2, Rows { processed: 900, unparseable: 100, rates: [10.0, 8.5, 8.0] });
    let rows = fx.deploy(&["payments", "refunds", "payouts"], 1, false).await;
    let outcomes: Vec<RowOutcome> = rows.iter().map(|(_, outcome)| *outcome).collect();
    assert_eq!(outcomes, [RowOutcome::Deployed, RowOutcome::RolledBack, RowOutcome::NotStarted]);
    assert!(fx.druid.get_spec("payouts_dev").await.unwrap().is_none(), "payouts was not touched");
    // --keep-going: the rest still deploys.
    let rows = fx.deploy(&["refunds", "payouts", "chargebacks"], 1, true).await;
    let outcomes: Vec<RowOutcome> = rows.iter().map(|(_, outcome)| *outcome).collect();
    assert_eq!(outcomes[1..], [RowOutcome::Deployed, RowOutcome::Deployed], "{rows:?}");
}

#[tokio::test]
async fn reconcile_finds_a_console_edit_a_missing_and_an_unmanaged_supervisor_and_apply_heals() {
    let fx = fleet();
    fx.deploy(&PIPELINES, 4, false).await;
    let report = deploy_core::reconcile::reconcile(fx.druid.as_ref(), &fx.sessions(), Options::default())
        .await
        .unwrap();
    assert_eq!(report.count(State::InSync), 4, "{report:#?}");
    assert!(report.in_sync());

    // Someone edits payments in the console; refunds' supervisor is terminated; a supervisor
    // no pipeline declares appears.
    let mut edited = fx.druid.get_spec("payments_dev").await.unwrap().unwrap();
    edited.spec.as_mut().unwrap().io_config.task_count = Some(7);
    fx.druid.edit_live_spec("payments_dev", edited);
    fx.druid.terminate("refunds_dev").await.unwrap();
    let mut foreign = fx.druid.get_spec("payouts_dev").await.unwrap().unwrap();
    foreign.spec.as_mut().unwrap().data_schema.data_source = "someone_elses".into();
    fx.druid.submit_spec(&foreign).await.unwrap();

    let report = deploy_core::reconcile::reconcile(fx.druid.as_ref(), &fx.sessions(), Options::default())
        .await
        .unwrap();
    let state = |supervisor: &str| {
        report.entries.iter().find(|entry| entry.supervisor == supervisor).unwrap().clone()
    };
    let payments = state("payments_dev");
    assert_eq!(payments.state, State::Drifted);
    assert_eq!(payments.diff[0].path, "/spec/ioConfig/taskCount");
    assert!(payments.changed.as_deref().unwrap().contains("outside druidctl"), "{payments:?}");
    assert_eq!(state("refunds_dev").state, State::Missing);
    assert_eq!(state("someone_elses").state, State::Unmanaged);
    assert!(!report.in_sync());

    let options = Options { apply: true, ..Options::default() };
    let healed = deploy_core::reconcile::reconcile(fx.druid.as_ref(), &fx.sessions(), options).await.unwrap();
    assert!(healed.in_sync(), "{healed:#?}");
    let task_count =
        fx.druid.get_spec("payments_dev").await.unwrap().unwrap().spec.unwrap().io_config.task_count;
    assert_eq!(task_count, Some(2), "the channel's version is back");
    assert!(fx.druid.get_spec("refunds_dev").await.unwrap().is_some());
    assert_eq!(
        fx.druid.submitted().iter().filter(|spec| spec.id() == Some("someone_elses")).count(),
        1,
        "never touched"
    );
    let last =
        Ledger::new(fx.session("payments").registry.clone()).history("dev").await.unwrap().pop().unwrap();
    assert_eq!(last.action, Action::Reconcile);
    let report = deploy_core::reconcile::reconcile(fx.druid.as_ref(), &fx.sessions(), Options::default())
        .await
        .unwrap();
    assert_eq!(report.count(State::InSync), 4);
}
