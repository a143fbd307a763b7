//! Migrations (docs/migrations.md): a breaking change goes to a new datasource, declared in the
//! project file by the commit that makes it, while the old supervisor keeps running until
//! cutover.
//!
//! The registry keeps where each environment ingests (`environments/ENV.json`: datasource,
//! supervisor, topic, version) and its migration. A deploy whose configured datasource (or
//! supervisor id) differs from the recorded one starts a migration: publish (breaking allowed
//! for a new datasource, recorded), submit the new supervisor, verify it as any deploy; the
//! old one is not touched. The migration is then `dual` until [`Session::cutover`] (hand off
//! the old supervisor's task groups, wait, terminate it) or [`Session::abort_migration`]
//! (terminate the new supervisor, the old datasource current again). Each state is written
//! before the step it names and kept in `history/migrations/ENV/`, so an interrupted cutover
//! or abort is resumed by running it again (or by `druidctl recover`).
//!
//! On Druid 34+, a migration can keep the datasource and run a second supervisor on it
//! (`supervisor = "..."` in the environment, `deploy --same-datasource`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

use druid_client::releases::Release;
use druid_client::spec::SupervisorSpec;
use druid_client::tasks::{TaskFilter, TaskState, TaskStatus};
use schema_registry::Version;
use schema_registry::store::Etag;
use serde::{Deserialize, Serialize};

use crate::config::Environment;
use crate::events::Step;
use crate::journal::Journal;
use crate::ledger::{Action, Outcome};
use crate::session::Session;
use crate::{Error, Result};

/// Where an environment ingests: a datasource, the supervisor writing it, its topic, and the
/// version it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// Datasource.
    pub datasource: String,
    /// Supervisor id (the datasource unless the environment sets `supervisor`).
    pub supervisor: String,
    /// Kafka topic.
    pub topic: String,
    /// The registry version it runs, once known.
    #[serde(default)]
    pub version: Option<String>,
}

impl Placement {
    /// Where `environment`'s settings say it ingests.
    pub fn of(environment: &Environment, version: Option<String>) -> Self {
        Self {
            datasource: environment.datasource.clone(),
            supervisor: environment.supervisor_id().to_owned(),
            topic: environment.kafka.topic.clone(),
            version,
        }
    }

    /// Whether both name the same supervisor writing the same datasource.
    pub fn same_target(&self, other: &Self) -> bool {
        self.datasource == other.datasource && self.supervisor == other.supervisor
    }

    fn describe(&self) -> String {
        let version = self.version.as_deref().unwrap_or("no version");
        if self.supervisor == self.datasource {
            format!("{} ({version}, topic {})", self.datasource, self.topic)
        } else {
            format!("{} on {} ({version}, topic {})", self.supervisor, self.datasource, self.topic)
        }
    }
}

/// Where a migration is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MigrationState {
    /// The new supervisor is being submitted and verified.
    Starting,
    /// Both supervisors run; the new one is current.
    Dual,
    /// The old supervisor's task groups are handing off; it is terminated next.
    CuttingOver,
    /// The old supervisor is terminated; its rows stay queryable.
    Done,
    /// The new supervisor is being terminated.
    Aborting,
    /// The new supervisor was terminated (or never verified); the old one is current.
    Aborted,
}

impl MigrationState {
    /// Whether the migration has not ended.
    pub fn is_open(self) -> bool {
        !matches!(self, Self::Done | Self::Aborted)
    }

    /// The word stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Dual => "dual",
            Self::CuttingOver => "cutting-over",
            Self::Done => "done",
            Self::Aborting => "aborting",
            Self::Aborted => "aborted",
        }
    }
}

impl std::fmt::Display for MigrationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One migration of an environment from one placement to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Migration {
    /// Environment.
    pub environment: String,
    /// Where it ingested before.
    pub old: Placement,
    /// Where it ingests after.
    pub new: Placement,
    /// Where the migration is.
    pub state: MigrationState,
    /// Both supervisors write one datasource (Druid 34+).
    #[serde(default)]
    pub same_datasource: bool,
    /// Who started it.
    pub started_by: String,
    /// When (RFC 3339).
    pub started_at: String,
    /// When its state last changed.
    pub updated_at: String,
    /// Who ended it (cutover or abort).
    #[serde(default)]
    pub finished_by: Option<String>,
    /// When.
    #[serde(default)]
    pub finished_at: Option<String>,
    /// The old supervisor's tasks asked to hand off at cutover.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handoff_tasks: Vec<String>,
    /// The last step, in a sentence.
    #[serde(default)]
    pub detail: Option<String>,
}

/// What the registry says about an environment: where it ingests, and its migration (the
/// open one, or the last one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentState {
    /// Environment.
    pub environment: String,
    /// Where it ingests now (the new side while a migration is dual).
    pub live: Placement,
    /// Its migration.
    #[serde(default)]
    pub migration: Option<Migration>,
    /// When this was written.
    pub updated_at: String,
}

impl EnvironmentState {
    /// The migration, while it is open.
    pub fn open_migration(&self) -> Option<&Migration> {
        self.migration.as_ref().filter(|migration| migration.state.is_open())
    }
}

/// What a deploy of the configured placement is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The configured placement is the live one (or nothing is recorded): a plain deploy.
    InPlace,
    /// The configured placement is new: start a migration from `old`.
    Start {
        /// The placement recorded as live.
        old: Placement,
        /// Both on one datasource (Druid 34+).
        same_datasource: bool,
    },
}

/// How the old side of a migration ended at cutover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandedOff {
    /// Task id.
    pub task: String,
    /// `SUCCESS`, `FAILED`, or `None` when Druid no longer lists it.
    pub status: Option<String>,
}

/// What [`Session::cutover`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cutover {
    /// The migration, done.
    pub migration: Migration,
    /// The old supervisor's tasks that handed off, and how each ended.
    pub handed_off: Vec<HandedOff>,
    /// Whether the old supervisor was still there to terminate (an interrupted cutover may
    /// have terminated it already).
    pub terminated: bool,
}

/// Options of [`Session::cutover`].
#[derive(Debug, Clone, Copy)]
pub struct CutoverOptions {
    /// How long to wait for the handoff (Druid's own handoff wait is 15 minutes).
    pub timeout: Duration,
}

impl Default for CutoverOptions {
    fn default() -> Self {
        Self { timeout: Duration::from_mins(15) }
    }
}

/// One side of a migration, as Druid reports it now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideStatus {
    /// `old` or `new`.
    pub side: &'static str,
    /// Where it ingests.
    pub placement: Placement,
    /// What Druid reports (None when its supervisor is gone or Druid failed).
    pub ingestion: Option<crate::ops::Ingestion>,
    /// Why there is no report.
    pub error: Option<String>,
}

/// What `migrate status` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MigrationStatus {
    /// Environment.
    pub environment: String,
    /// What the registry records (None before the first deploy that records it).
    pub state: Option<EnvironmentState>,
    /// Both sides of the open (or last) migration.
    pub sides: Vec<SideStatus>,
    /// Every state the environment's migrations went through, oldest first.
    pub history: Vec<Migration>,
}

impl Session {
    /// What the registry records about where this environment ingests.
    pub async fn environment_state(&self) -> Result<Option<EnvironmentState>> {
        Ok(self.ledger.environment_state(&self.environment.name).await?.map(|(state, _)| state))
    }

    /// What a deploy of the configured placement would be: in place, or the start of a
    /// migration; refused (with the way out) when a migration is open elsewhere, when the
    /// project file names the old side again, or when Druid cannot run what it asks.
    pub async fn deploy_target(&self, same_datasource: bool, druid_version: &str) -> Result<Target> {
        let configured = Placement::of(&self.environment, None);
        let environment = &self.environment.name;
        let refuse = |reason: String, way_out: String| Error::Migration {
            environment: environment.clone(),
            reason,
            way_out,
        };
        let state = self.environment_state().await?;
        let live = match &state {
            None => {
                if same_datasource {
                    return Err(refuse(
                        "--same-datasource starts a migration, and nothing is recorded as live here yet"
                            .into(),
                        format!("deploy {environment} once without it; the deploy records where it ingests"),
                    ));
                }
                return Ok(Target::InPlace);
            }
            Some(state) => match state.open_migration() {
                Some(migration) if configured.same_target(&migration.new) => return Ok(Target::InPlace),
                Some(migration) if configured.same_target(&migration.old) => {
                    return Err(refuse(
                        format!(
                            "the project file names {} again, the old side of the migration to {} ({})",
                            migration.old.describe(),
                            migration.new.describe(),
                            migration.state
                        ),
                        format!(
                            "`druidctl migrate abort --env {environment}` ends the migration and makes the old side current"
                        ),
                    ));
                }
                Some(migration) => {
                    return Err(refuse(
                        format!(
                            "a migration from {} to {} is in progress ({}); the project file names a third place, {}",
                            migration.old.describe(),
                            migration.new.describe(),
                            migration.state,
                            configured.describe()
                        ),
                        format!(
                            "finish it first: `druidctl migrate cutover --env {environment}` or `druidctl migrate abort --env {environment}`"
                        ),
                    ));
                }
                None => &state.live,
            },
        };
        if configured.same_target(live) {
            if same_datasource {
                return Err(refuse(
                    format!(
                        "--same-datasource asks for a second supervisor, but the project file still names {}",
                        live.supervisor
                    ),
                    format!(
                        "set `supervisor` for {environment} in the project file to the new supervisor's id (for example \"{}-v2\") in the same commit",
                        live.datasource
                    ),
                ));
            }
            return Ok(Target::InPlace);
        }
        let release = Release::parse(druid_version);
        if configured.datasource == live.datasource {
            if !same_datasource {
                return Err(refuse(
                    format!(
                        "the project file gives {environment} a new supervisor ({}) on the live datasource {}",
                        configured.supervisor, live.datasource
                    ),
                    "pass --same-datasource to run both supervisors on it until cutover (Druid 34+), or change `datasource` instead".into(),
                ));
            }
            if !release.is_some_and(|release| release.capabilities().several_supervisors_per_datasource) {
                return Err(refuse(
                    format!(
                        "Druid {druid_version} runs one supervisor per datasource; several supervisors on one datasource need Druid 34 or later"
                    ),
                    format!(
                        "migrate to a new datasource instead: change `datasource` for {environment} in the project file (and drop `supervisor`)"
                    ),
                ));
            }
            return Ok(Target::Start { old: live.clone(), same_datasource: true });
        }
        if same_datasource {
            return Err(refuse(
                format!(
                    "--same-datasource keeps the datasource, but the project file changes it from {} to {}",
                    live.datasource, configured.datasource
                ),
                "leave out --same-datasource to migrate to the new datasource".into(),
            ));
        }
        Ok(Target::Start { old: live.clone(), same_datasource: false })
    }

    /// A topic change on a supervisor that exists: Druid 34+ refuses it with a 400, so it is
    /// refused here before anything is submitted; older releases take it (the stored offsets
    /// belong to the old topic: a warning).
    pub(crate) fn check_topic_change(
        &self,
        live: Option<&SupervisorSpec>,
        druid_version: &str,
    ) -> Result<()> {
        let live_topic =
            live.and_then(|spec| spec.spec.as_ref()).and_then(|spec| spec.io_config.topic.as_deref());
        let Some(live_topic) = live_topic.filter(|topic| *topic != self.environment.kafka.topic) else {
            return Ok(());
        };
        let environment = &self.environment.name;
        let refused =
            Release::parse(druid_version).is_some_and(|release| release.capabilities().topic_change_refused);
        let reason = format!(
            "the project file moves supervisor {} from topic {live_topic} to {}",
            self.environment.supervisor_id(),
            self.environment.kafka.topic
        );
        if refused {
            return Err(Error::Migration {
                environment: environment.clone(),
                reason: format!(
                    "{reason}: Druid {druid_version} refuses a topic change on an existing supervisor (400)"
                ),
                way_out: format!(
                    "change `datasource` for {environment} in the same commit: deploy then starts a migration to the new datasource on the new topic"
                ),
            });
        }
        self.warn(format!(
            "{reason}: the offsets Druid stored belong to the old topic; if the supervisor fails to start, `druidctl reset --env {environment}` (Druid 34+ refuses such a change: migrate to a new datasource instead)"
        ));
        Ok(())
    }

    /// Records that a migration from `old` to the configured placement starts with `version`
    /// (before its supervisor is submitted).
    pub(crate) async fn begin_migration(
        &self,
        old: &Placement,
        same_datasource: bool,
        version: &str,
    ) -> Result<()> {
        let now = self.clock.now().to_string();
        let (state, etag) = self.read_state().await?;
        let migration = Migration {
            environment: self.environment.name.clone(),
            old: old.clone(),
            new: Placement::of(&self.environment, Some(version.to_owned())),
            state: MigrationState::Starting,
            same_datasource,
            started_by: self.actor.clone(),
            started_at: now.clone(),
            updated_at: now.clone(),
            finished_by: None,
            finished_at: None,
            handoff_tasks: Vec::new(),
            detail: Some(format!("submitting {version}")),
        };
        let live = state.map_or_else(|| old.clone(), |state| state.live);
        let state = EnvironmentState {
            environment: self.environment.name.clone(),
            live,
            migration: Some(migration),
            updated_at: now,
        };
        self.ledger.write_environment_state(&state, etag.as_ref(), true).await?;
        self.step(
            Step::Migration,
            format!(
                "migration from {} to {} started",
                old.describe(),
                Placement::of(&self.environment, Some(version.to_owned())).describe()
            ),
        );
        Ok(())
    }

    /// Moves the open migration to `state` (and its new side to `live` when `current` is
    /// `new`), with `detail`.
    async fn set_migration(
        &self,
        to: MigrationState,
        current: Option<&str>,
        detail: String,
    ) -> Result<Migration> {
        let (state, etag) = self.read_state().await?;
        let Some(mut state) = state else {
            return Err(Error::NoMigration { environment: self.environment.name.clone() });
        };
        let Some(migration) = state.migration.as_mut() else {
            return Err(Error::NoMigration { environment: self.environment.name.clone() });
        };
        let now = self.clock.now().to_string();
        migration.state = to;
        migration.updated_at.clone_from(&now);
        migration.detail = Some(detail);
        if !to.is_open() {
            migration.finished_by = Some(self.actor.clone());
            migration.finished_at = Some(now.clone());
        }
        match current {
            Some("new") => state.live = migration.new.clone(),
            Some("old") => state.live = migration.old.clone(),
            _ => {}
        }
        let migration = migration.clone();
        state.updated_at = now;
        self.ledger.write_environment_state(&state, etag.as_ref(), true).await?;
        Ok(migration)
    }

    async fn read_state(&self) -> Result<(Option<EnvironmentState>, Option<Etag>)> {
        Ok(match self.ledger.environment_state(&self.environment.name).await? {
            Some((state, etag)) => (Some(state), Some(etag)),
            None => (None, None),
        })
    }

    /// After a verified deploy or rollback: the registry records that the configured
    /// placement runs `version` (the new side of an open migration follows). Best effort: a
    /// failure is a warning, the action's outcome stands.
    pub(crate) async fn note_live(&self, version: &str) {
        if let Err(err) = self.try_note_live(version).await {
            self.warn(format!("could not record where {} ingests: {err}", self.environment.name));
        }
    }

    async fn try_note_live(&self, version: &str) -> Result<()> {
        let placement = Placement::of(&self.environment, Some(version.to_owned()));
        let (state, etag) = self.read_state().await?;
        let now = self.clock.now().to_string();
        let mut state = state.unwrap_or_else(|| EnvironmentState {
            environment: self.environment.name.clone(),
            live: placement.clone(),
            migration: None,
            updated_at: now.clone(),
        });
        let mut archive = false;
        if let Some(migration) = state.migration.as_mut().filter(|migration| migration.state.is_open()) {
            if !placement.same_target(&migration.new) {
                // Only the new side of an open migration is deployed to (`deploy_target`).
                return Ok(());
            }
            if migration.new.version.as_deref() != Some(version) {
                migration.new.version = Some(version.to_owned());
                migration.updated_at.clone_from(&now);
                archive = true;
            }
        }
        if etag.is_some() && state.live == placement && !archive {
            return Ok(());
        }
        state.live = placement;
        state.updated_at = now;
        self.ledger.write_environment_state(&state, etag.as_ref(), archive).await?;
        Ok(())
    }

    /// The new supervisor of a starting migration verified: the migration is dual, the new
    /// side current.
    pub(crate) async fn complete_start(&self, version: &str) -> Result<Migration> {
        let migration = self
            .set_migration(
                MigrationState::Dual,
                Some("new"),
                format!("{version} verified on the new side; the old supervisor keeps running until cutover"),
            )
            .await?;
        self.step(
            Step::Migration,
            format!(
                "dual: {} and {} both run; `druidctl migrate cutover --env {}` ends the old one",
                migration.old.describe(),
                migration.new.describe(),
                self.environment.name
            ),
        );
        self.notify(
            crate::notify::EventKind::MigrationStarted,
            migration.old.version.clone(),
            migration.new.version.clone(),
            BTreeMap::new(),
            Some(format!("{} -> {}", migration.old.describe(), migration.new.describe())),
        );
        Ok(migration)
    }

    /// The new supervisor of a starting migration failed (refused, failed verification,
    /// interrupted): terminate it, leave the old one as it was, close the migration as
    /// aborted. Says what it did, for the record.
    pub(crate) async fn undo_start(&self, version: &str, reason: &str) -> String {
        let supervisor = self.environment.supervisor_id().to_owned();
        let terminated = match self.druid.terminate(&supervisor).await {
            Ok(()) => format!("the new supervisor {supervisor} was terminated"),
            Err(err) if err.is_not_found() => format!("no new supervisor {supervisor} was left"),
            Err(err) => format!("terminating the new supervisor {supervisor} failed: {err}"),
        };
        let detail = format!("{reason}; {terminated}; the old side was not touched");
        if let Err(err) = self.set_migration(MigrationState::Aborted, Some("old"), detail.clone()).await {
            self.warn(format!("could not record the migration as aborted: {err}"));
        }
        self.step(Step::RolledBack, format!("migration to {version} abandoned: {terminated}"));
        detail
    }

    /// Ends a dual migration: ask Druid to hand off the old supervisor's task groups, wait
    /// until their tasks end, terminate the old supervisor, mark the migration done. An
    /// interrupted cutover is resumed by running it again. Takes the lock.
    pub async fn cutover(&self, options: CutoverOptions) -> Result<Cutover> {
        let guard = self.lock().await?;
        self.close_abandoned().await;
        let result = self.cutover_locked(options, &guard.token).await;
        self.unlock(guard).await;
        result
    }

    pub(crate) async fn cutover_locked(&self, options: CutoverOptions, token: &str) -> Result<Cutover> {
        let environment = self.environment.name.clone();
        let state = self.environment_state().await?;
        let Some(migration) = state.as_ref().and_then(EnvironmentState::open_migration).cloned() else {
            return Err(Error::NoMigration { environment });
        };
        match migration.state {
            MigrationState::Dual | MigrationState::CuttingOver => {}
            other => {
                return Err(Error::Migration {
                    environment: environment.clone(),
                    reason: format!(
                        "the migration to {} is {other}: there is nothing to cut over",
                        migration.new.describe()
                    ),
                    way_out: format!(
                        "`druidctl migrate status --env {environment}` shows it; `druidctl recover --env {environment}` finishes a start that died"
                    ),
                });
            }
        }
        let old = migration.old.clone();
        let journal = self
            .begin(token, Action::Cutover, (old.version.clone(), migration.new.version.clone()), None)
            .await?;
        let steps = self.hand_off_and_terminate(&migration, options, &journal).await;
        let (detail, ended) = match steps {
            Ok((handed_off, terminated)) => (
                Ok(format!(
                    "{} handed off ({} task(s)) and terminated; {} is current",
                    old.describe(),
                    handed_off.len(),
                    migration.new.describe()
                )),
                Some((handed_off, terminated)),
            ),
            Err(err) => (Err(err), None),
        };
        let done = self.close_step(&journal, Action::Cutover, MigrationState::Done, "new", detail).await?;
        let (handed_off, terminated) = ended.expect("the steps succeeded when the step closed well");
        Ok(Cutover { migration: done, handed_off, terminated })
    }

    /// Ends a cutover or an abort: when its steps (`result`, their detail) went through, the
    /// migration moves to `state` with the `current` side live; either way the step is
    /// recorded and its journal entry closed, a failure with how to resume it.
    async fn close_step(
        &self,
        journal: &Journal,
        action: Action,
        state: MigrationState,
        current: &str,
        result: Result<String>,
    ) -> Result<Migration> {
        let command = if action == Action::Cutover { "cutover" } else { "abort" };
        let (outcome, detail, result) = match result {
            Ok(detail) => match self.set_migration(state, Some(current), detail.clone()).await {
                Ok(done) => (Outcome::Succeeded, detail, Ok(done)),
                Err(err) => (
                    Outcome::Failed,
                    format!("{detail}, but the registry could not record it: {err}"),
                    Err(err),
                ),
            },
            Err(err) => {
                let outcome =
                    if matches!(err, Error::Interrupted) { Outcome::Interrupted } else { Outcome::Failed };
                let detail = format!(
                    "{command} stopped: {err}; `druidctl migrate {command} --env {}` resumes it",
                    self.environment.name
                );
                (outcome, detail, Err(err))
            }
        };
        journal.close(self, outcome, Some(detail), None).await;
        result
    }

    /// The cutover's Druid part: the migration is `cutting-over` before anything is asked.
    async fn hand_off_and_terminate(
        &self,
        migration: &Migration,
        options: CutoverOptions,
        journal: &Journal,
    ) -> Result<(Vec<HandedOff>, bool)> {
        let old = &migration.old;
        let spec = self.druid.get_spec(&old.supervisor).await.map_err(druid("reading the old supervisor"))?;
        let Some(spec) = spec else {
            // Terminated by an earlier cutover that died before recording it.
            self.set_migration(
                MigrationState::CuttingOver,
                None,
                format!("{} was already terminated", old.supervisor),
            )
            .await?;
            self.step(Step::Migration, format!("{} is already terminated", old.supervisor));
            return Ok((Vec::new(), false));
        };
        let status = self
            .druid
            .supervisor_status(&old.supervisor)
            .await
            .map_err(druid("reading the old supervisor's status"))?;
        let mut tasks: Vec<String> = status.payload.active_tasks.iter().map(|task| task.id.clone()).collect();
        if migration.state == MigrationState::CuttingOver {
            // Resumed: the tasks asked to hand off the first time count too.
            for task in &migration.handoff_tasks {
                if !tasks.contains(task) {
                    tasks.push(task.clone());
                }
            }
        }
        let task_count = spec.spec.as_ref().and_then(|spec| spec.io_config.task_count).unwrap_or(1);
        let groups: Vec<u32> = (0..task_count).collect();
        {
            let (state, etag) = self.read_state().await?;
            let mut state =
                state.ok_or_else(|| Error::NoMigration { environment: self.environment.name.clone() })?;
            if let Some(open) = state.migration.as_mut() {
                open.state = MigrationState::CuttingOver;
                open.handoff_tasks.clone_from(&tasks);
                open.updated_at = self.clock.now().to_string();
                open.detail = Some(format!("handing off task groups {groups:?} of {}", old.supervisor));
            }
            self.ledger.write_environment_state(&state, etag.as_ref(), true).await?;
        }
        journal.submitted(self).await;
        if tasks.is_empty() {
            self.step(
                Step::Migration,
                format!("{} has no running task: nothing to hand off", old.supervisor),
            );
        } else {
            match self.druid.handoff(&old.supervisor, &groups).await {
                Ok(()) => self.step(
                    Step::Migration,
                    format!("handoff asked for task groups {groups:?} of {} ({} task(s))", old.supervisor, tasks.len()),
                ),
                // Before Druid 31 there is no such endpoint: terminating publishes too.
                Err(err) if err.is_not_found() || err.status() == Some(405) => self.warn(format!(
                    "this Druid has no early handoff (31+): {} is terminated directly, which also publishes its segments",
                    old.supervisor
                )),
                Err(err) => return Err(druid("asking the old supervisor's task groups to hand off")(err)),
            }
            self.wait_for_tasks_to_end(&old.supervisor, &tasks, options.timeout).await?;
        }
        let handed_off = self.how_tasks_ended(&old.datasource, &tasks).await;
        for task in handed_off.iter().filter(|task| task.status.as_deref() == Some("FAILED")) {
            self.warn(format!("task {} of {} failed while handing off: its rows are not published (see `druidctl incident`)", task.task, old.supervisor));
        }
        let terminated = match self.druid.terminate(&old.supervisor).await {
            Ok(()) => true,
            Err(err) if err.is_not_found() => false,
            Err(err) => return Err(druid("terminating the old supervisor")(err)),
        };
        self.step(
            Step::Migration,
            format!("{} terminated; the rows of {} stay queryable", old.supervisor, old.datasource),
        );
        Ok((handed_off, terminated))
    }

    /// Polls the supervisor until none of `tasks` is reading or publishing.
    async fn wait_for_tasks_to_end(
        &self,
        supervisor: &str,
        tasks: &[String],
        timeout: Duration,
    ) -> Result<()> {
        let started = self.clock.now();
        let waiting: BTreeSet<&str> = tasks.iter().map(String::as_str).collect();
        loop {
            let status = self
                .druid
                .supervisor_status(supervisor)
                .await
                .map_err(druid("reading the old supervisor's status"))?;
            let payload = &status.payload;
            let left: Vec<&str> = payload
                .active_tasks
                .iter()
                .chain(&payload.publishing_tasks)
                .map(|task| task.id.as_str())
                .filter(|id| waiting.contains(id))
                .collect();
            if left.is_empty() {
                self.step(Step::Migration, format!("{} task(s) of {supervisor} handed off", tasks.len()));
                return Ok(());
            }
            let waited = self.clock.now().duration_since(started).unsigned_abs();
            if waited >= timeout {
                return Err(Error::Migration {
                    environment: self.environment.name.clone(),
                    reason: format!(
                        "the handoff of {supervisor} did not finish within {} s: {} still running or publishing",
                        timeout.as_secs(),
                        left.join(", ")
                    ),
                    way_out: format!(
                        "nothing was terminated; `druidctl migrate cutover --env {}` resumes (pass --timeout for longer), `druidctl logs` shows the tasks",
                        self.environment.name
                    ),
                });
            }
            self.step(Step::Waiting, format!("{} task(s) of {supervisor} still handing off", left.len()));
            self.pause(self.poll_interval).await?;
        }
    }

    /// How each of `tasks` ended, as Druid's completed tasks say.
    async fn how_tasks_ended(&self, datasource: &str, tasks: &[String]) -> Vec<HandedOff> {
        let filter = TaskFilter {
            state: Some(TaskState::Complete),
            datasource: Some(datasource.to_owned()),
            max: Some(500),
            ..TaskFilter::default()
        };
        let complete = self.druid.tasks(&filter).await.unwrap_or_default();
        tasks
            .iter()
            .map(|task| HandedOff {
                task: task.clone(),
                status: complete.iter().find(|done| &done.id == task).and_then(|done| done.code()).map(
                    |code| match code {
                        TaskStatus::Success => "SUCCESS".to_owned(),
                        TaskStatus::Failed => "FAILED".to_owned(),
                        other => other.to_string(),
                    },
                ),
            })
            .collect()
    }

    /// Abandons an open migration: terminate the new supervisor, put the channel back on the
    /// old side's version, make the old side current. The old supervisor was never touched
    /// (a cutover that already terminated it cannot be aborted). Takes the lock.
    pub async fn abort_migration(&self) -> Result<Migration> {
        let guard = self.lock().await?;
        self.close_abandoned().await;
        let result = self.abort_locked(&guard.token).await;
        self.unlock(guard).await;
        result
    }

    pub(crate) async fn abort_locked(&self, token: &str) -> Result<Migration> {
        let environment = self.environment.name.clone();
        let state = self.environment_state().await?;
        let Some(migration) = state.as_ref().and_then(EnvironmentState::open_migration).cloned() else {
            return Err(Error::NoMigration { environment });
        };
        let old = migration.old.clone();
        let old_spec =
            self.druid.get_spec(&old.supervisor).await.map_err(druid("reading the old supervisor"))?;
        if old_spec.is_none() && migration.state == MigrationState::CuttingOver {
            return Err(Error::Migration {
                environment: environment.clone(),
                reason: format!("the cutover already terminated the old supervisor {}", old.supervisor),
                way_out: format!("finish it: `druidctl migrate cutover --env {environment}`"),
            });
        }
        let journal = self
            .begin(token, Action::MigrationAbort, (migration.new.version.clone(), old.version.clone()), None)
            .await?;
        let steps = self.abort_steps(&migration, &journal).await;
        let done =
            self.close_step(&journal, Action::MigrationAbort, MigrationState::Aborted, "old", steps).await?;
        if self.environment.datasource == migration.new.datasource
            && self.environment.supervisor_id() == migration.new.supervisor
        {
            self.warn(format!(
                "the project file still names {}: revert that change, or the next deploy starts the migration again",
                migration.new.describe()
            ));
        }
        Ok(done)
    }

    async fn abort_steps(&self, migration: &Migration, journal: &Journal) -> Result<String> {
        self.set_migration(
            MigrationState::Aborting,
            None,
            format!("terminating {}", migration.new.supervisor),
        )
        .await?;
        journal.submitted(self).await;
        let new = &migration.new;
        let terminated = match self.druid.terminate(&new.supervisor).await {
            Ok(()) => format!("{} terminated", new.supervisor),
            Err(err) if err.is_not_found() => format!("{} was already gone", new.supervisor),
            Err(err) => return Err(druid("terminating the new supervisor")(err)),
        };
        self.step(Step::Migration, terminated.clone());
        let mut detail = format!("{terminated}; {} is current again", migration.old.describe());
        if let Some(version) = &migration.old.version {
            let version = Version::parse(version)?;
            let channel = self.channel()?;
            let base = self.registry.channel(&channel).await?;
            if base.as_ref().map(|state| state.pointer.version.as_str()) != Some(version.as_str()) {
                self.fence(journal.token()).await?;
                self.move_channel(&channel, base.as_ref(), &version, Some("migration aborted")).await?;
            }
        }
        if migration.same_datasource {
            let _ = write!(detail, "; the rows {} wrote stay in {}", new.supervisor, new.datasource);
        } else {
            let _ = write!(detail, "; {} keeps the rows it ingested", new.datasource);
        }
        Ok(detail)
    }

    /// Where the migration is: the registry's record, both supervisors as Druid reports them,
    /// and every state it went through.
    pub async fn migration_status(&self) -> Result<MigrationStatus> {
        let state = self.environment_state().await?;
        let mut sides = Vec::new();
        if let Some(migration) = state.as_ref().and_then(|state| state.migration.as_ref()) {
            for (side, placement) in [("old", &migration.old), ("new", &migration.new)] {
                sides.push(self.side_status(side, placement).await);
            }
        }
        Ok(MigrationStatus {
            environment: self.environment.name.clone(),
            history: self.ledger.migrations(&self.environment.name).await?,
            state,
            sides,
        })
    }

    /// The old side of the open migration as Druid reports it (`status`, `monitor`, `plan`
    /// show it beside the current side).
    pub async fn old_side(&self) -> Result<Option<SideStatus>> {
        let Some(migration) =
            self.environment_state().await?.and_then(|state| state.open_migration().cloned())
        else {
            return Ok(None);
        };
        Ok(Some(self.side_status("old", &migration.old).await))
    }

    /// One side as Druid reports it (a terminated supervisor says so).
    pub(crate) async fn side_status(&self, side: &'static str, placement: &Placement) -> SideStatus {
        let (ingestion, error) = match self.ingestion_of(&placement.supervisor).await {
            Ok(ingestion) => (Some(ingestion), None),
            Err(Error::NoSupervisor { .. }) => (None, Some("no such supervisor (terminated)".to_owned())),
            Err(err) => (None, Some(err.to_string())),
        };
        SideStatus { side, placement: placement.clone(), ingestion, error }
    }

    /// The `UNION ALL` reading the open (or last) migration's old and new datasources in the
    /// new columns (renamed fields aliased, retyped columns cast).
    pub async fn migration_sql(&self) -> Result<druid_mapping::migration::UnionView> {
        let environment = self.environment.name.clone();
        let Some(migration) = self.environment_state().await?.and_then(|state| state.migration) else {
            return Err(Error::NoMigration { environment });
        };
        let (Some(old_version), Some(new_version)) = (&migration.old.version, &migration.new.version) else {
            return Err(Error::Migration {
                environment: environment.clone(),
                reason: "the migration does not record both versions".into(),
                way_out: "deploy the new side once; the deploy records its version".into(),
            });
        };
        let old = crate::publish::baseline(&self.registry, &Version::parse(old_version)?).await?;
        let new = crate::publish::baseline(&self.registry, &Version::parse(new_version)?).await?;
        let old_message = old.schema.message(&old.message_type)?;
        let new_message = new.schema.message(&new.message_type)?;
        Ok(druid_mapping::migration::union_all(
            &druid_mapping::migration::Side {
                datasource: &migration.old.datasource,
                dimensions: &old.dimensions,
                message: &old_message,
            },
            &druid_mapping::migration::Side {
                datasource: &migration.new.datasource,
                dimensions: &new.dimensions,
                message: &new_message,
            },
        ))
    }
}

/// Maps a Druid failure while doing `action` on the other side of a migration (a 404 is not
/// "this environment's supervisor does not exist").
fn druid(action: &'static str) -> impl FnOnce(druid_client::Error) -> Error {
    move |source| Error::Druid { action, source: Box::new(source) }
}
