//! Rollbacks: on demand (a version, a channel, `previous`), and the automatic restore of
//! the channel's version after a deploy failed verification.

use druid_client::spec::SupervisorSpec;
use schema_registry::Version;

use serde::Serialize;

use crate::events::Step;
use crate::ledger::{Action, DeployRecord, Outcome};
use crate::session::Session;
use crate::verify::{Sizing, Verification};
use crate::{Error, Result};

impl Session {
    /// Rolls back to `target` (a version, a channel or `previous-<channel>`): render it from
    /// the registry, submit, wait, verify, move the channel, record.
    pub async fn rollback(&self, target: &str) -> Result<(String, Verification)> {
        let version = self.rollback_target(target).await?;
        let guard = self.lock().await?;
        self.close_abandoned().await;
        let result = self.rollback_locked(&version, &guard.token, Action::Rollback).await;
        self.unlock(guard).await;
        result.map(|verification| (version.to_string(), verification))
    }

    /// Submits `version` (the channel's, as `reconcile --apply` does for a drifted or missing
    /// supervisor), waits, verifies, records a `reconcile`: the rollback's path under another
    /// name.
    pub async fn reapply(&self, version: &str) -> Result<Verification> {
        let version = Version::parse(version)?;
        let guard = self.lock().await?;
        self.close_abandoned().await;
        let result = self.rollback_locked(&version, &guard.token, Action::Reconcile).await;
        self.unlock(guard).await;
        result
    }

    /// [`Session::reapply`] of what a reconcile saw, as a deploy applies its plan: under the
    /// lock, the live spec must still differ from `version`'s as `seen` says (`None`: no
    /// supervisor ran). Already in sync again: nothing is submitted (`Ok(None)`). Changed
    /// otherwise (a deploy or a console edit since the reconcile read it): nothing is
    /// submitted, [`Error::PlanStale`] says so. Neither undoes the other's work.
    pub async fn reapply_seen(
        &self,
        version: &str,
        seen: Option<&[crate::plan::SpecChange]>,
    ) -> Result<Option<Verification>> {
        let version = Version::parse(version)?;
        let guard = self.lock().await?;
        self.close_abandoned().await;
        let result = async {
            let rendered = self.render_version(&version).await?;
            let live = self
                .druid
                .get_spec(self.environment.supervisor_id())
                .await
                .map_err(self.druid_failed("reading the live spec"))?;
            let now = live.as_ref().map(|live| crate::plan::spec_changes(Some(live), &rendered));
            match (seen, now) {
                (_, Some(now)) if now.is_empty() => return Ok(None),
                (None, None) => {}
                (Some(seen), Some(now)) if now.as_slice() == seen => {}
                (_, now) => {
                    let supervisor = self.environment.supervisor_id();
                    return Err(Error::PlanStale {
                        moved: vec![if now.is_none() {
                            format!("supervisor {supervisor} is gone from Druid since the reconcile read it")
                        } else {
                            format!("the live spec of {supervisor} changed since the reconcile read it")
                        }],
                    });
                }
            }
            self.rollback_locked(&version, &guard.token, Action::Reconcile).await.map(Some)
        }
        .await;
        self.unlock(guard).await;
        result
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

    async fn rollback_locked(&self, version: &Version, token: &str, action: Action) -> Result<Verification> {
        self.check_druid_version(false).await?;
        let channel = self.channel()?;
        let base = self.registry.channel(&channel).await?;
        let from = base.as_ref().map(|state| state.pointer.version.clone());
        let to = Some(version.to_string());
        let spec = self.render_version(version).await?;
        let live = self
            .druid
            .get_spec(self.environment.supervisor_id())
            .await
            .map_err(self.druid_failed("reading the live spec"))?;
        self.step(Step::Rendered, format!("supervisor spec of {version}"));
        // The intent, before Druid is touched (see `crate::recover`).
        let journal = self.begin(token, action, (from.clone(), to), live.as_ref()).await?;
        if let Err(source) = self.druid.submit_spec(&spec).await {
            journal.close(self, Outcome::Rejected, Some(source.to_string()), None).await;
            return Err(Error::SubmitRejected { version: version.to_string(), source: Box::new(source) });
        }
        self.step(Step::Submitted, format!("{version} submitted to the Overlord"));
        journal.submitted(self).await;
        let (verification, outcome, detail) = match self.wait_and_verify(Sizing::of(&spec)).await {
            Ok(verification) => {
                let outcome = outcome_of(&verification);
                (Some(verification), outcome, None)
            }
            Err(Error::Interrupted) => (
                None,
                Outcome::Interrupted,
                Some(format!("{version} submitted; its verification was interrupted (run verify)")),
            ),
            Err(err) => {
                let detail = format!("{version} submitted; its verification could not complete: {err}");
                journal.close(self, Outcome::Failed, Some(detail), None).await;
                return Err(err);
            }
        };
        // The spec is live either way: the channel says what runs (fenced: not under another
        // holder's feet).
        let already = from.as_deref() == Some(version.as_str());
        let moved = match self.fence(token).await {
            Ok(()) if already => Ok(()),
            Ok(()) => self.move_channel(&channel, base.as_ref(), version, Some(action.as_str())).await,
            Err(err) => Err(err),
        };
        if let Err(err) = moved {
            let detail = format!("{version} is live, but the channel could not move: {err}");
            journal.close(self, Outcome::Failed, Some(detail), None).await;
            return Err(err);
        }
        if matches!(outcome, Outcome::Succeeded | Outcome::Unverified) {
            self.note_live(version.as_str()).await;
        }
        let verdict = verification.as_ref().map(|verification| &verification.verdict);
        journal.close(self, outcome, detail, verdict).await;
        verification.ok_or(Error::Interrupted)
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
            let outcome = outcome_of(&restored_verification);
            self.record(
                DeployRecord::new(Action::AutomaticRollback, outcome)
                    .versions(Some(version.to_string()), Some(previous.to_string()))
                    .verdict(Some(&restored_verification.verdict)),
            )
            .await;
            self.step(Step::RolledBack, format!("{previous} restored ({outcome})"));
            (Some(previous.to_string()), Some(restored_verification))
        } else {
            // Nothing to go back to: stop ingesting rather than keep a failing version.
            self.druid
                .suspend(self.environment.supervisor_id())
                .await
                .map_err(self.druid_failed("suspending"))?;
            self.record(
                DeployRecord::new(Action::AutomaticRollback, Outcome::Succeeded)
                    .versions(Some(version.to_string()), None)
                    .detail("no previous version: supervisor suspended".to_owned()),
            )
            .await;
            self.step(Step::RolledBack, "no previous version: supervisor suspended");
            (None, None)
        };
        Ok(restored)
    }
}

/// How a verified submit is recorded: `succeeded` on a pass, `unverified` without
/// evidence either way, `failed` otherwise.
pub(crate) fn outcome_of(verification: &Verification) -> Outcome {
    if verification.verified() {
        Outcome::Succeeded
    } else if verification.unverified() {
        Outcome::Unverified
    } else {
        Outcome::Failed
    }
}

/// `rollback`'s outcome line: the version restored and its checks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollbackReport<'a> {
    /// Always `outcome` (the last JSON line after the step events).
    pub event: &'static str,
    /// The version now live.
    pub version: &'a str,
    /// No check failed and the verdict did not fail.
    pub passed: bool,
    /// Every check.
    pub checks: &'a [crate::verify::CheckResult],
    /// The verdict and its evidence.
    pub verdict: &'a crate::verdict::VerdictReport,
}

impl<'a> RollbackReport<'a> {
    /// The outcome of rolling back to `version`, verified as `verification`.
    pub fn new(version: &'a str, verification: &'a Verification) -> Self {
        Self {
            event: "outcome",
            version,
            passed: verification.passed(),
            checks: &verification.checks,
            verdict: &verification.verdict,
        }
    }
}
