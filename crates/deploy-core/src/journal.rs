//! The journal of an action that touches Druid (deploy, rollback, restore, cutover, abort):
//! the intent written before the submit, marked once Druid accepted it, closed with the record
//! of how the action ended. A process that dies in between leaves an open entry that the next
//! command finds ([`crate::recover`], docs/reliability.md). One guard, [`Journal`], for every
//! action.

use std::collections::BTreeMap;

use druid_client::spec::SupervisorSpec;

use crate::Result;
use crate::ledger::{Action, DeployRecord, JournalEntry, JournalStep, Outcome};
use crate::session::Session;

/// An open journal entry: [`Session::begin`] writes it, [`Journal::submitted`] marks it,
/// [`Journal::close`] records the outcome and closes it.
#[derive(Debug, Clone)]
pub(crate) struct Journal {
    token: String,
    action: Action,
    from: Option<String>,
    to: Option<String>,
    overrides: BTreeMap<String, String>,
}

impl Session {
    /// Writes the intent of `action` under the lock `token`, from `from` to `to`, before
    /// Druid is touched; `previous_live` is the spec running before (a recovery compares it).
    pub(crate) async fn begin(
        &self,
        token: &str,
        action: Action,
        (from, to): (Option<String>, Option<String>),
        previous_live: Option<&SupervisorSpec>,
    ) -> Result<Journal> {
        self.ledger
            .write_journal(&JournalEntry {
                environment: self.environment.name.clone(),
                action,
                token: token.to_owned(),
                actor: self.actor.clone(),
                version: to.clone().unwrap_or_default(),
                previous: from.clone(),
                previous_live_sha256: previous_live.map(spec_sha256),
                started_at: self.clock.now().to_string(),
                step: JournalStep::Submitting,
                outcome: None,
            })
            .await?;
        Ok(Journal { token: token.to_owned(), action, from, to, overrides: BTreeMap::new() })
    }
}

impl Journal {
    /// The overrides the action used, recorded when it closes.
    pub(crate) fn with_overrides(mut self, overrides: BTreeMap<String, String>) -> Self {
        self.overrides = overrides;
        self
    }

    /// The lock token the entry belongs to.
    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    /// Druid accepted the change: it runs. A failure to write is a warning.
    pub(crate) async fn submitted(&self, session: &Session) {
        let environment = &session.environment.name;
        if let Err(err) =
            session.ledger.journal_step(environment, &self.token, JournalStep::Submitted, None).await
        {
            session.warn(format!("could not update the {} journal entry: {err}", self.action));
        }
    }

    /// Records how the action ended (with the verdict that decided it) and closes the entry.
    pub(crate) async fn close(
        &self,
        session: &Session,
        outcome: Outcome,
        detail: Option<String>,
        verdict: Option<&crate::verdict::VerdictReport>,
    ) {
        session
            .record(
                DeployRecord::new(self.action, outcome)
                    .versions(self.from.clone(), self.to.clone())
                    .overrides(self.overrides.clone())
                    .detail(detail)
                    .verdict(verdict),
            )
            .await;
        let environment = &session.environment.name;
        if let Err(err) =
            session.ledger.journal_step(environment, &self.token, JournalStep::Closed, Some(outcome)).await
        {
            session.warn(format!("could not close the journal entry: {err}"));
        }
    }
}

/// sha256 of a spec's JSON: says whether the live spec changed since an entry was written.
pub(crate) fn spec_sha256(spec: &druid_client::spec::SupervisorSpec) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(serde_json::to_vec(spec).expect("specs serialise")))
}
