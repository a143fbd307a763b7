//! Rollbacks: on demand (a version, a channel, `previous`), and the automatic restore of
//! the channel's version after a deploy failed verification.

use std::collections::BTreeMap;

use druid_client::spec::SupervisorSpec;
use schema_registry::Version;

use serde::Serialize;

use crate::events::Step;
use crate::ledger::{Action, Outcome};
use crate::session::Session;
use crate::verify::{Sizing, Verification};
use crate::{Error, Result};

impl Session {
    /// Rolls back to `target` (a version, a channel or `previous-<channel>`): render it from
    /// the registry, submit, wait, verify, move the channel, record.
    pub async fn rollback(&self, target: &str) -> Result<(String, Verification)> {
        let version = self.rollback_target(target).await?;
        let guard = self.lock().await?;
        let result = self.rollback_locked(&version).await;
        self.unlock(guard).await;
        result.map(|verification| (version.to_string(), verification))
    }

    /// The version `target` resolves to: a version, a channel, `previous-<channel>`, or
    /// `previous` (the version this environment's channel pointed at before its last move).
    pub async fn rollback_target(&self, target: &str) -> Result<Version> {
        let target = match target {
            "previous" => format!("{}{}", schema_registry::version::PREVIOUS, self.environment.channel),
            other => other.to_owned(),
        };
        Ok(self.registry.resolve(&target).await?)
    }

    async fn rollback_locked(&self, version: &Version) -> Result<Verification> {
        self.check_druid_version().await?;
        let channel = self.channel()?;
        let base = self.registry.channel(&channel).await?;
        let from = base.as_ref().map(|state| state.pointer.version.clone());
        let spec = self.render_version(version).await?;
        self.step(Step::Rendered, format!("supervisor spec of {version}"));
        self.druid.submit_spec(&spec).await.map_err(|source| Error::SubmitRejected {
            version: version.to_string(),
            source: Box::new(source),
        })?;
        self.step(Step::Submitted, format!("{version} submitted to the Overlord"));
        let verification = match self.wait_and_verify(Sizing::of(&spec)).await {
            Err(Error::Interrupted) => {
                // The spec is live: the channel says so; the verification is what was cut short.
                self.move_channel(&channel, base.as_ref(), version, Some("rollback (interrupted)")).await?;
                self.record(
                    Action::Rollback,
                    Outcome::Interrupted,
                    from,
                    Some(version.to_string()),
                    BTreeMap::new(),
                    Some(format!("{version} submitted; its verification was interrupted (run verify)")),
                )
                .await;
                return Err(Error::Interrupted);
            }
            other => other?,
        };
        let outcome = if verification.passed() { Outcome::Succeeded } else { Outcome::Failed };
        // The spec is live either way: the channel says what runs.
        self.move_channel(&channel, base.as_ref(), version, Some("rollback")).await?;
        self.record(Action::Rollback, outcome, from, Some(version.to_string()), BTreeMap::new(), None).await;
        Ok(verification)
    }

    /// After `version` failed verification: re-submit and verify the channel's version
    /// (`previous`), or suspend the supervisor when there is none; record it either way.
    /// With `previous_live` (the deploy changed the spec, not the version), that exact spec is
    /// re-submitted instead of a re-render.
    pub(crate) async fn restore_after_failed_verification(
        &self,
        version: &Version,
        previous: Option<&str>,
        previous_live: Option<&SupervisorSpec>,
        failures: &str,
    ) -> Result<(Option<String>, Option<Verification>)> {
        self.step(
            Step::RollingBack,
            format!("{version} failed {failures}; restoring {}", previous.unwrap_or("nothing")),
        );
        let restored = if let Some(previous) = previous {
            let previous = Version::parse(previous)?;
            let spec = match previous_live {
                Some(spec) => spec.clone(),
                None => self.render_version(&previous).await?,
            };
            self.druid
                .submit_spec(&spec)
                .await
                .map_err(self.druid_failed("submitting the previous version"))?;
            let restored_verification = self.wait_and_verify(Sizing::of(&spec)).await?;
            let outcome = if restored_verification.passed() { Outcome::Succeeded } else { Outcome::Failed };
            self.record(
                Action::AutomaticRollback,
                outcome,
                Some(version.to_string()),
                Some(previous.to_string()),
                BTreeMap::new(),
                None,
            )
            .await;
            self.step(Step::RolledBack, format!("{previous} restored ({outcome})"));
            (Some(previous.to_string()), Some(restored_verification))
        } else {
            // Nothing to go back to: stop ingesting rather than keep a failing version.
            self.druid
                .suspend(&self.environment.datasource)
                .await
                .map_err(self.druid_failed("suspending"))?;
            self.record(
                Action::AutomaticRollback,
                Outcome::Succeeded,
                Some(version.to_string()),
                None,
                BTreeMap::new(),
                Some("no previous version: supervisor suspended".into()),
            )
            .await;
            self.step(Step::RolledBack, "no previous version: supervisor suspended");
            (None, None)
        };
        Ok(restored)
    }
}

/// `rollback`'s outcome line: the version restored and its checks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollbackReport<'a> {
    /// Always `outcome` (the last JSON line after the step events).
    pub event: &'static str,
    /// The version now live.
    pub version: &'a str,
    /// No check failed.
    pub passed: bool,
    /// Every check.
    pub checks: &'a [crate::verify::CheckResult],
}

impl<'a> RollbackReport<'a> {
    /// The outcome of rolling back to `version`, verified as `verification`.
    pub fn new(version: &'a str, verification: &'a Verification) -> Self {
        Self { event: "outcome", version, passed: verification.passed(), checks: &verification.checks }
    }
}
