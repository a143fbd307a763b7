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

use std::collections::BTreeMap;
use std::time::Duration;

use druid_client::releases::Release;
use druid_client::spec::SupervisorSpec;
use schema_registry::store::Etag;
use serde::Serialize;

mod cutover;
mod status;

use crate::events::Step;
use crate::session::Session;
use crate::{Error, Result};

pub use crate::ledger::state::{EnvironmentState, Migration, MigrationState, Placement};

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

pub use crate::ops::SideStatus;

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
}

/// Maps a Druid failure while doing `action` on the other side of a migration (a 404 is not
/// "this environment's supervisor does not exist").
fn druid(action: &'static str) -> impl FnOnce(druid_client::Error) -> Error {
    move |source| Error::Druid { action, source: Box::new(source) }
}
