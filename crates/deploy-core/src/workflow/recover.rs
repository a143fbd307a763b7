//! Recovery of a deploy whose process died (SIGKILL, a lost machine): its journal entry is
//! still open and its lock is no longer held. [`Session::abandoned`] finds it (status shows
//! it); [`Session::recover`] finishes it when asked and its spec verifies, or else puts back
//! the channel's version, and closes the entry, recorded.

use schema_registry::Version;
use serde::Serialize;

use crate::Result;
use crate::events::Step;
use crate::journal::spec_sha256;
use crate::ledger::{Action, DeployRecord, JournalEntry, JournalStep, Outcome};
use crate::session::Session;
use crate::verify::{Sizing, Verification};

/// What [`Session::recover`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "done", rename_all = "kebab-case")]
pub enum Recovery {
    /// No deploy was left open.
    NothingToRecover,
    /// It died before Druid took its spec: nothing to undo.
    NothingSubmitted {
        /// The abandoned entry.
        entry: JournalEntry,
    },
    /// Its spec was live and verified: the channel now points at it.
    Finished {
        /// The abandoned entry.
        entry: JournalEntry,
        /// The checks.
        verification: Verification,
    },
    /// A migration's cutover or abort died part-way: it was run again to its end.
    Resumed {
        /// The abandoned entry.
        entry: JournalEntry,
        /// The migration now.
        migration: Box<crate::migrate::Migration>,
    },
    /// The channel's version was put back (or the supervisor suspended when there was none).
    RolledBack {
        /// The abandoned entry.
        entry: JournalEntry,
        /// The version restored.
        restored: Option<String>,
        /// Its checks.
        verification: Option<Verification>,
    },
}

impl Session {
    /// The deploy of this environment whose process died: its journal entry is open and its
    /// lock is released, expired, or held by someone else.
    pub async fn abandoned(&self) -> Result<Option<JournalEntry>> {
        let environment = &self.environment.name;
        let Some(entry) = self.ledger.journal(environment).await?.filter(JournalEntry::is_open) else {
            return Ok(None);
        };
        let held_by_it = self
            .ledger
            .lease(environment)
            .await?
            .is_some_and(|lease| lease.token == entry.token && lease.is_live());
        Ok((!held_by_it).then_some(entry))
    }

    /// Finishes (`finish`: when its spec is live and verifies, move the channel to it) or
    /// undoes (put the channel's version back) the deploy whose process died; closes its
    /// journal entry as abandoned and records what was done. Takes the lock.
    pub async fn recover(&self, finish: bool) -> Result<Recovery> {
        let guard = self.lock().await?;
        let result = self.recover_locked(finish, &guard.token).await;
        self.unlock(guard).await;
        result
    }

    async fn recover_locked(&self, finish: bool, token: &str) -> Result<Recovery> {
        let Some(entry) = self.ledger.journal(&self.environment.name).await?.filter(JournalEntry::is_open)
        else {
            return Ok(Recovery::NothingToRecover);
        };
        if matches!(entry.action, Action::Cutover | Action::MigrationAbort) {
            // Both resume from the migration's recorded state; neither can be undone once
            // Druid acted (a terminated supervisor does not come back).
            self.close_recovered(&entry, "resumed by recover").await?;
            let migration = if entry.action == Action::Cutover {
                self.cutover_locked(crate::migrate::CutoverOptions::default(), token).await?.migration
            } else {
                self.abort_locked(token).await?
            };
            return Ok(Recovery::Resumed { entry, migration: Box::new(migration) });
        }
        // A deploy that was starting a migration: its undo terminates the new supervisor, it
        // never re-submits the old version onto the new datasource.
        let starting =
            self.environment_state().await?.and_then(|state| state.migration).filter(|migration| {
                migration.state == crate::migrate::MigrationState::Starting
                    && migration.new.version.as_deref() == Some(entry.version.as_str())
            });
        let live = self
            .druid
            .get_spec(self.environment.supervisor_id())
            .await
            .map_err(self.druid_failed("reading the live spec"))?;
        let unchanged = live.as_ref().map(spec_sha256) == entry.previous_live_sha256;
        if entry.step == JournalStep::Submitting && unchanged {
            if starting.is_some() {
                self.undo_start(&entry.version, "its deploy died before Druid took the new supervisor").await;
            }
            self.close_recovered(&entry, "it died before Druid took its spec: nothing to undo").await?;
            return Ok(Recovery::NothingSubmitted { entry });
        }
        let version = Version::parse(&entry.version)?;
        if finish {
            let rendered = self.render_version(&version).await?;
            let is_live = live
                .as_ref()
                .is_some_and(|live| crate::drift::fingerprint(live) == crate::drift::fingerprint(&rendered));
            if is_live {
                let verification = self.verify_for(Sizing::of(&rendered)).await?;
                if verification.passed() {
                    let channel = self.channel()?;
                    let base = self.registry.channel(&channel).await?;
                    self.move_channel(&channel, base.as_ref(), &version, Some("recovered")).await?;
                    if starting.is_some() {
                        self.complete_start(version.as_str()).await?;
                    } else {
                        self.note_live(version.as_str()).await;
                    }
                    self.close_recovered(
                        &entry,
                        &format!("recovered: {version} was live and verifies; channel moved"),
                    )
                    .await?;
                    return Ok(Recovery::Finished { entry, verification });
                }
                self.warn(format!(
                    "{version} is live but fails {}: putting the channel's version back",
                    verification.failures().join(", ")
                ));
            } else {
                self.warn(format!("{version} is not what Druid runs: putting the channel's version back"));
            }
        }
        if starting.is_some() {
            let detail = self.undo_start(version.as_str(), "recovered").await;
            self.close_recovered(&entry, &detail).await?;
            return Ok(Recovery::RolledBack {
                entry,
                restored: starting.and_then(|m| m.old.version),
                verification: None,
            });
        }
        self.step(
            Step::RollingBack,
            format!(
                "recovering: {} back in place of {version}",
                entry.previous.as_deref().unwrap_or("nothing")
            ),
        );
        let (restored, verification) = if let Some(previous) = &entry.previous {
            let previous = Version::parse(previous)?;
            let spec = self.render_version(&previous).await?;
            self.druid
                .submit_spec(&spec)
                .await
                .map_err(self.druid_failed("submitting the previous version"))?;
            let verification = self.wait_and_verify(Sizing::of(&spec)).await?;
            (Some(previous.to_string()), Some(verification))
        } else {
            self.druid
                .suspend(self.environment.supervisor_id())
                .await
                .map_err(self.druid_failed("suspending"))?;
            (None, None)
        };
        let detail = match (&restored, &verification) {
            (Some(previous), Some(checks)) => format!(
                "recovered: {previous} put back in place of {version} ({})",
                if checks.passed() {
                    "verifies".to_owned()
                } else {
                    format!("fails {}", checks.failures().join(", "))
                }
            ),
            _ => format!("recovered: nothing ran before {version}; the supervisor was suspended"),
        };
        self.record(
            DeployRecord::new(Action::AutomaticRollback, Outcome::Succeeded)
                .versions(Some(version.to_string()), restored.clone())
                .detail(detail.clone()),
        )
        .await;
        self.close_recovered(&entry, &detail).await?;
        Ok(Recovery::RolledBack { entry, restored, verification })
    }

    /// Closes `entry` as abandoned, recorded with `detail` (by `recover`, and by the next
    /// deploy when it finds the entry open).
    pub(crate) async fn close_recovered(&self, entry: &JournalEntry, detail: &str) -> Result<()> {
        let closed =
            JournalEntry { step: JournalStep::Closed, outcome: Some(Outcome::Abandoned), ..entry.clone() };
        self.ledger.write_journal(&closed).await?;
        self.record(
            DeployRecord::new(entry.action, Outcome::Abandoned)
                .versions(entry.previous.clone(), Some(entry.version.clone()))
                .detail(format!(
                    "{} by {} started {}: {detail}",
                    entry.action, entry.actor, entry.started_at
                )),
        )
        .await;
        Ok(())
    }
}
