//! Ending a migration: the cutover (hand off the old supervisor's task groups, wait, terminate
//! it) and the abort (terminate the new supervisor, the old side current again). Both are
//! journaled and resumed by running them again.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

use druid_client::tasks::{TaskFilter, TaskState, TaskStatus};
use schema_registry::Version;

use super::{Cutover, CutoverOptions, EnvironmentState, HandedOff, Migration, MigrationState, druid};
use crate::events::Step;
use crate::journal::Journal;
use crate::ledger::{Action, Outcome};
use crate::session::Session;
use crate::{Error, Result};

impl Session {
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
}
