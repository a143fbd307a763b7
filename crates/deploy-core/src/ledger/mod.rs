//! The deploy ledger, kept in the environment's registry store: one lease per environment
//! (who may deploy now) and an append-only, typed history of every deploy, rollback and
//! emergency action.
//!
//! ```text
//! locks/<env>.json                           deploy lease: owner, expiry (CAS-updated, never deleted)
//! journal/<env>.json                         the last deploy's intent: open until it ends (CAS-updated)
//! history/deploys/<env>/<time>-<n>.json      one record per action (never overwritten)
//! history/observations/<env>/<time>-<n>.json alerts monitor --watch saw, undelivered notifications
//! environments/<env>.json                    where the environment ingests, its migration (CAS-updated)
//! history/migrations/<env>/<time>-<n>.json   every state a migration went through (never overwritten)
//! ```

pub mod state;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use schema_registry::registry::to_json;
use schema_registry::store::{Etag, StoreError, list_all};
use schema_registry::{Channel, Registry};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A deploy lease on an environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Environment.
    pub environment: String,
    /// Who holds it (`user@host pid 123`).
    pub owner: String,
    /// Unique to this acquisition.
    pub token: String,
    /// When it was taken (RFC 3339).
    pub acquired_at: String,
    /// Unix seconds after which anyone may take it over.
    pub expires_at: i64,
    /// Released by its holder.
    pub released: bool,
}

impl Lease {
    /// Whether the lease still holds: not released and not expired. Leases are wall-clock
    /// (the ledger's), whatever a session's clock says.
    pub fn is_live(&self) -> bool {
        !self.released && self.expires_at > jiff::Timestamp::now().as_second()
    }
}

/// Proof of holding a lease; give it back with [`Ledger::release`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockGuard {
    /// The lease.
    pub lease: Lease,
    etag: Etag,
}

/// Something worth keeping that is not an action: what `monitor --watch` saw (an alert fired
/// or resolved) or a notification that could not be delivered. `incident` reads them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// Environment.
    pub environment: String,
    /// `alert-fired`, `alert-resolved`, `notification-failed`.
    pub kind: String,
    /// When (RFC 3339; set when stored).
    #[serde(default)]
    pub at: String,
    /// What, in words.
    pub detail: String,
}

/// What a history record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// A deploy of the working schema (or a named version).
    Deploy,
    /// A rollback asked for.
    Rollback,
    /// The restore of the channel's version after a failed verification.
    AutomaticRollback,
    /// The supervisor was suspended.
    Suspend,
    /// The supervisor was resumed.
    Resume,
    /// The supervisor's offsets were reset.
    Reset,
    /// A deploy lock was broken by hand.
    Unlock,
    /// A migration's cutover: the old supervisor handed off and terminated.
    Cutover,
    /// A migration abandoned: the new supervisor terminated, the old one current again.
    MigrationAbort,
    /// `reconcile --apply` put the channel's version back on a drifted or missing supervisor.
    Reconcile,
    /// `verify` settled an `unverified` deploy or rollback: verified, failed, or still
    /// unverified.
    Verify,
}

/// How an action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Done and verified.
    Succeeded,
    /// Nothing to do.
    NoOp,
    /// Druid refused the spec.
    Rejected,
    /// Done, but verification failed.
    Failed,
    /// Verification failed and the previous version was restored.
    RolledBack,
    /// Verification failed (or could not complete) and restoring the previous version failed
    /// too: the failing spec may still be live.
    RollbackFailed,
    /// Stopped by a signal while waiting; the detail says what was put back.
    Interrupted,
    /// Its process died (no record, an expired or broken lock): found and closed later.
    Abandoned,
    /// Done and live, but the verdict had too little evidence to say (a quiet topic):
    /// `druidctl verify` can settle it later.
    Unverified,
}

impl Action {
    /// The word stored and shown (`automatic-rollback`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deploy => "deploy",
            Self::Rollback => "rollback",
            Self::AutomaticRollback => "automatic-rollback",
            Self::Suspend => "suspend",
            Self::Resume => "resume",
            Self::Reset => "reset",
            Self::Unlock => "unlock",
            Self::Cutover => "cutover",
            Self::MigrationAbort => "migration-abort",
            Self::Reconcile => "reconcile",
            Self::Verify => "verify",
        }
    }
}

impl Outcome {
    /// The word stored and shown (`rolled-back`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::NoOp => "no-op",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
            Self::RolledBack => "rolled-back",
            Self::RollbackFailed => "rollback-failed",
            Self::Interrupted => "interrupted",
            Self::Abandoned => "abandoned",
            Self::Unverified => "unverified",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One deploy, rollback or emergency action on an environment, appended to its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeployRecord {
    /// Environment.
    pub environment: String,
    /// What was done.
    pub action: Action,
    /// How it ended.
    pub outcome: Outcome,
    /// Version live before (the channel's), if any.
    #[serde(default)]
    pub from: Option<String>,
    /// Version the action aimed at, if any.
    #[serde(default)]
    pub to: Option<String>,
    /// Who acted.
    #[serde(default)]
    pub by: Option<String>,
    /// When (RFC 3339); set by [`Ledger::record`].
    #[serde(default)]
    pub at: String,
    /// Recorded overrides and their reasons (`breaking`, `window`).
    #[serde(default)]
    pub overrides: BTreeMap<String, String>,
    /// What happened, in a sentence.
    #[serde(default)]
    pub detail: Option<String>,
    /// The verdict after the submit, with its evidence (records written before it have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<crate::verdict::VerdictReport>,
}

impl DeployRecord {
    /// A record of `action` ending with `outcome`; the session that records it fills in the
    /// environment, the actor and the time ([`crate::Session::record`]).
    pub fn new(action: Action, outcome: Outcome) -> Self {
        Self {
            environment: String::new(),
            action,
            outcome,
            from: None,
            to: None,
            by: None,
            at: String::new(),
            overrides: BTreeMap::new(),
            detail: None,
            verdict: None,
        }
    }

    /// The versions before (`from`) and aimed at (`to`).
    #[must_use]
    pub fn versions(mut self, from: Option<String>, to: Option<String>) -> Self {
        (self.from, self.to) = (from, to);
        self
    }

    /// The overrides used, with their reasons.
    #[must_use]
    pub fn overrides(mut self, overrides: BTreeMap<String, String>) -> Self {
        self.overrides = overrides;
        self
    }

    /// What happened, in a sentence.
    #[must_use]
    pub fn detail(mut self, detail: impl Into<Option<String>>) -> Self {
        self.detail = detail.into();
        self
    }

    /// The verdict that decided the outcome.
    #[must_use]
    pub fn verdict(mut self, verdict: Option<&crate::verdict::VerdictReport>) -> Self {
        self.verdict = verdict.cloned();
        self
    }
}

/// How far a deploy got, as its journal entry says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JournalStep {
    /// About to submit: nothing changed in Druid yet.
    Submitting,
    /// The new spec was accepted by the Overlord: it runs.
    Submitted,
    /// The deploy ended (see `outcome`).
    Closed,
}

/// A deploy's intent, written before it touches Druid and closed by every way out of it, so
/// that a deploy whose process died is found and can be finished or undone
/// ([`crate::Session::recover`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Environment.
    pub environment: String,
    /// A deploy or a rollback.
    pub action: Action,
    /// The deploy's lock token: whose entry this is.
    pub token: String,
    /// Who deployed.
    pub actor: String,
    /// The version being deployed.
    pub version: String,
    /// The channel's version before (what a recovery restores).
    pub previous: Option<String>,
    /// sha256 of the live spec before the submit (JSON), when one ran.
    pub previous_live_sha256: Option<String>,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// How far it got.
    pub step: JournalStep,
    /// How it ended, once closed.
    #[serde(default)]
    pub outcome: Option<Outcome>,
}

impl JournalEntry {
    /// Whether its deploy has not ended (or died before closing it).
    pub fn is_open(&self) -> bool {
        self.step != JournalStep::Closed
    }
}

/// Locks and history over a registry's store.
#[derive(Debug, Clone)]
pub struct Ledger {
    registry: Registry,
}

static TOKENS: AtomicU64 = AtomicU64::new(0);

impl Ledger {
    /// The ledger kept in `registry`'s store.
    pub fn new(registry: Registry) -> Self {
        Self { registry }
    }

    /// Takes the deploy lease of `environment` for `ttl`. Refused, naming the holder, while
    /// someone else holds an unexpired lease.
    pub async fn acquire(&self, environment: &str, owner: &str, ttl: Duration) -> Result<LockGuard> {
        let environment_name = Channel::parse(environment)?; // same naming rules
        let key = format!("locks/{environment_name}.json");
        let now = jiff::Timestamp::now();
        let lease = Lease {
            environment: environment.to_owned(),
            owner: owner.to_owned(),
            token: format!(
                "{}-{}-{}",
                now.as_nanosecond(),
                std::process::id(),
                TOKENS.fetch_add(1, Ordering::Relaxed)
            ),
            acquired_at: now.to_string(),
            expires_at: now.as_second() + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
            released: false,
        };
        let store = self.registry.store();
        let written = match self.registry.read_json::<Lease>(&key).await? {
            None => store.put_if_absent(&key, to_json(&lease)).await,
            Some((current, etag)) if !current.is_live() => {
                store.put_if_match(&key, to_json(&lease), &etag).await
            }
            Some((current, _)) => return Err(lock_held(current)),
        };
        match written {
            Ok(etag) => Ok(LockGuard { lease, etag }),
            Err(
                StoreError::AlreadyExists { .. }
                | StoreError::PreconditionFailed { .. }
                | StoreError::Conflict { .. },
            ) => {
                // Someone took it between our read and our write.
                let current = self.registry.read_json::<Lease>(&key).await?.map(|(lease, _)| lease);
                Err(current
                    .map_or_else(|| Error::LockLost { environment: environment.to_owned() }, lock_held))
            }
            Err(err) => Err(self.registry.store_error(err).into()),
        }
    }

    /// Extends the lease of `guard` by `ttl` from now (a heartbeat while the deploy runs).
    /// Refused once the lease was broken or taken over: its holder must stop writing.
    pub async fn renew(&self, guard: &LockGuard, ttl: Duration) -> Result<LockGuard> {
        let key = format!("locks/{}.json", guard.lease.environment);
        let now = jiff::Timestamp::now();
        let lease = Lease {
            expires_at: now.as_second().saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2)),
            ..guard.lease.clone()
        };
        match self.registry.store().put_if_match(&key, to_json(&lease), &guard.etag).await {
            Ok(etag) => Ok(LockGuard { lease, etag }),
            Err(
                StoreError::PreconditionFailed { .. }
                | StoreError::NotFound { .. }
                | StoreError::Conflict { .. },
            ) => Err(Error::LockLost { environment: guard.lease.environment.clone() }),
            Err(err) => Err(self.registry.store_error(err).into()),
        }
    }

    /// Whether the lease of `environment` is still `token`'s: the fence every channel move of
    /// a deploy passes, so that a holder whose lease was broken or taken over cannot write.
    pub async fn holds(&self, environment: &str, token: &str) -> Result<bool> {
        Ok(self.lease(environment).await?.is_some_and(|lease| lease.token == token && !lease.released))
    }

    /// Gives the lease back. A lease that expired and was taken over is not touched.
    pub async fn release(&self, guard: LockGuard) -> Result<()> {
        let key = format!("locks/{}.json", guard.lease.environment);
        let released = Lease { released: true, ..guard.lease };
        match self.registry.store().put_if_match(&key, to_json(&released), &guard.etag).await {
            Ok(_) => Ok(()),
            Err(StoreError::PreconditionFailed { .. } | StoreError::NotFound { .. }) => {
                Err(Error::LockLost { environment: released.environment })
            }
            Err(err) => Err(self.registry.store_error(err).into()),
        }
    }

    /// Breaks the lease of `environment` whoever holds it (its holder crashed, say) and
    /// records who did and why. Returns the lease that was broken, `None` when it was free.
    /// A holder still running finds its lock lost at its next write.
    pub async fn unlock(&self, environment: &str, by: &str, reason: &str) -> Result<Option<Lease>> {
        let name = Channel::parse(environment)?;
        let key = format!("locks/{name}.json");
        let Some((lease, etag)) = self.registry.read_json::<Lease>(&key).await? else { return Ok(None) };
        if lease.released {
            return Ok(None);
        }
        let released = Lease { released: true, ..lease.clone() };
        match self.registry.store().put_if_match(&key, to_json(&released), &etag).await {
            Ok(_) => {}
            Err(StoreError::PreconditionFailed { .. } | StoreError::Conflict { .. }) => {
                return Err(Error::LockLost { environment: environment.to_owned() });
            }
            Err(err) => return Err(self.registry.store_error(err).into()),
        }
        let record = DeployRecord {
            environment: environment.to_owned(),
            action: Action::Unlock,
            outcome: Outcome::Succeeded,
            from: None,
            to: None,
            by: Some(by.to_owned()),
            at: String::new(),
            overrides: BTreeMap::new(),
            detail: Some(format!(
                "broke the lock of {} (taken {}): {reason}",
                lease.owner, lease.acquired_at
            )),
            verdict: None,
        };
        self.record(&record).await?;
        Ok(Some(lease))
    }

    /// The journal entry of `environment`'s last deploy, if any.
    pub async fn journal(&self, environment: &str) -> Result<Option<JournalEntry>> {
        let name = Channel::parse(environment)?;
        Ok(self
            .registry
            .read_json::<JournalEntry>(&format!("journal/{name}.json"))
            .await?
            .map(|(entry, _)| entry))
    }

    /// Writes `entry` as the environment's journal (replacing a closed one, or an open one the
    /// caller has decided about: it holds the lock).
    pub async fn write_journal(&self, entry: &JournalEntry) -> Result<()> {
        let name = Channel::parse(&entry.environment)?;
        let key = format!("journal/{name}.json");
        let store = self.registry.store();
        let written = match self.registry.read_json::<JournalEntry>(&key).await? {
            None => store.put_if_absent(&key, to_json(entry)).await,
            Some((_, etag)) => store.put_if_match(&key, to_json(entry), &etag).await,
        };
        written.map(drop).map_err(|err| match err {
            StoreError::AlreadyExists { .. }
            | StoreError::PreconditionFailed { .. }
            | StoreError::Conflict { .. } => Error::LockLost { environment: entry.environment.clone() },
            other => self.registry.store_error(other).into(),
        })
    }

    /// Moves the entry of `token` to `step` (and closes it with `outcome` when given). An entry
    /// that is not `token`'s is left alone: the lock was lost to another deploy.
    pub async fn journal_step(
        &self,
        environment: &str,
        token: &str,
        step: JournalStep,
        outcome: Option<Outcome>,
    ) -> Result<()> {
        match self.journal(environment).await? {
            Some(entry) if entry.token == token => {
                self.write_journal(&JournalEntry { step, outcome: outcome.or(entry.outcome), ..entry }).await
            }
            _ => Err(Error::LockLost { environment: environment.to_owned() }),
        }
    }

    /// The current lease of `environment`, if any was ever taken.
    pub async fn lease(&self, environment: &str) -> Result<Option<Lease>> {
        let environment = Channel::parse(environment)?;
        Ok(self
            .registry
            .read_json::<Lease>(&format!("locks/{environment}.json"))
            .await?
            .map(|(lease, _)| lease))
    }

    /// [`Error::LockHeld`] while someone holds a live lease on `environment` (what a deploy
    /// checks before planning: the holder is the news, not what the plan would say).
    pub async fn ensure_free(&self, environment: &str) -> Result<()> {
        match self.lease(environment).await? {
            Some(lease) if lease.is_live() => Err(lock_held(lease)),
            _ => Ok(()),
        }
    }

    /// Appends `record` to its environment's history (time-ordered keys, never overwritten).
    pub async fn record(&self, record: &DeployRecord) -> Result<DeployRecord> {
        let environment = Channel::parse(&record.environment)?; // same naming rules
        let at = jiff::Timestamp::now();
        let stored = DeployRecord { at: at.to_string(), ..record.clone() };
        self.append("deploys", &environment, at, &stored).await?;
        Ok(stored)
    }

    /// Keeps `observation` (an alert transition, an undelivered notification) beside the
    /// history, under `history/observations/ENV/` (time-ordered keys, never overwritten).
    pub async fn observe(&self, observation: &Observation) -> Result<()> {
        let environment = Channel::parse(&observation.environment)?;
        let at = jiff::Timestamp::now();
        let stored = Observation { at: at.to_string(), ..observation.clone() };
        self.append("observations", &environment, at, &stored).await
    }

    /// Where `environment` ingests and its migration, with the version tag to write over it.
    pub async fn environment_state(
        &self,
        environment: &str,
    ) -> Result<Option<(state::EnvironmentState, Etag)>> {
        let name = Channel::parse(environment)?;
        Ok(self.registry.read_json(&format!("environments/{name}.json")).await?)
    }

    /// Writes `state` over the version `etag` names (`None`: there must be none yet), and
    /// with `archive`, keeps a copy of its migration in `history/migrations/ENV/`. Refused
    /// with [`Error::LockLost`] when someone wrote meanwhile.
    pub async fn write_environment_state(
        &self,
        state: &state::EnvironmentState,
        etag: Option<&Etag>,
        archive: bool,
    ) -> Result<Etag> {
        let name = Channel::parse(&state.environment)?;
        let key = format!("environments/{name}.json");
        let store = self.registry.store();
        let written = match etag {
            None => store.put_if_absent(&key, to_json(state)).await,
            Some(etag) => store.put_if_match(&key, to_json(state), etag).await,
        };
        let etag = written.map_err(|err| match err {
            StoreError::AlreadyExists { .. }
            | StoreError::PreconditionFailed { .. }
            | StoreError::Conflict { .. } => Error::LockLost { environment: state.environment.clone() },
            other => self.registry.store_error(other).into(),
        })?;
        if let Some(migration) = state.migration.as_ref().filter(|_| archive) {
            self.append("migrations", &name, jiff::Timestamp::now(), migration).await?;
        }
        Ok(etag)
    }

    /// Every state the migrations of `environment` went through, oldest first.
    pub async fn migrations(&self, environment: &str) -> Result<Vec<state::Migration>> {
        self.read_all("migrations", environment).await
    }

    /// The observations of `environment`, oldest first.
    pub async fn observations(&self, environment: &str) -> Result<Vec<Observation>> {
        self.read_all("observations", environment).await
    }

    /// The history of `environment`, oldest first.
    pub async fn history(&self, environment: &str) -> Result<Vec<DeployRecord>> {
        self.read_all("deploys", environment).await
    }

    /// Every document under `history/KIND/ENV/`, in key (time) order.
    async fn read_all<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
        environment: &str,
    ) -> Result<Vec<T>> {
        let environment = Channel::parse(environment)?;
        let prefix = format!("history/{kind}/{environment}/");
        let keys = list_all(self.registry.store().as_ref(), &prefix)
            .await
            .map_err(|err| self.registry.store_error(err))?;
        let mut documents = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some((document, _)) = self.registry.read_json::<T>(&key).await? {
                documents.push(document);
            }
        }
        Ok(documents)
    }

    /// Writes `document` under a new time-ordered key of `history/KIND/ENV/` (never over
    /// another).
    async fn append<T: Serialize>(
        &self,
        kind: &str,
        environment: &Channel,
        at: jiff::Timestamp,
        document: &T,
    ) -> Result<()> {
        let key = format!(
            "history/{kind}/{environment}/{}-{:06}.json",
            at.strftime("%Y%m%dT%H%M%S%.9fZ"),
            TOKENS.fetch_add(1, Ordering::Relaxed) % 1_000_000
        );
        match self.registry.store().put_if_absent(&key, to_json(document)).await {
            Ok(_) => Ok(()),
            Err(err) => Err(self.registry.store_error(err).into()),
        }
    }
}

fn lock_held(lease: Lease) -> Error {
    let expires = jiff::Timestamp::from_second(lease.expires_at)
        .map_or_else(|_| lease.expires_at.to_string(), |at| at.to_string());
    Error::LockHeld { environment: lease.environment, owner: lease.owner, since: lease.acquired_at, expires }
}

#[cfg(test)]
mod tests;
