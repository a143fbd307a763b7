//! The deploy: a [`Plan`] ([`Session::plan`]), then [`Session::apply`] of that plan: window
//! -> lock -> the plan still current -> publish -> submit -> wait, watch, verify
//! ([`crate::verify`]) -> move the channel -> record. When verification fails, the channel's
//! version is restored ([`crate::rollback`]); the channel does not move.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::events::Step;
use crate::journal::spec_sha256;
use crate::ledger::{Action, DeployRecord, Outcome};
use crate::plan::{Carry, Plan, RefusalKind};
use crate::session::Session;
use crate::verify::{Sizing, Verification};
use crate::{Checked, Error, Result};

/// Options of [`Session::deploy`].
#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    /// Version name instead of the git-derived one.
    pub version: Option<String>,
    /// Accept breaking changes, with this reason (recorded).
    pub allow_breaking: Option<String>,
    /// Deploy outside the window, with this reason (recorded).
    pub ignore_window: Option<String>,
    /// Skip preflight, with this reason (recorded).
    pub skip_preflight: Option<String>,
    /// A migration that keeps the datasource: the environment's new `supervisor` runs beside
    /// the old one on it (Druid 34+; docs/migrations.md).
    pub same_datasource: bool,
}

/// How a deploy ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum DeployOutcome {
    /// Live, channel moved: verified, or unverified (`verification.verdict` says which) and
    /// kept as `thresholds.on_unverified = "keep"` asks.
    Deployed {
        /// The new version.
        version: String,
        /// The channel's version before.
        previous: Option<String>,
        /// The checks.
        verification: Verification,
    },
    /// The version was already live: nothing was done.
    AlreadyLive {
        /// The version.
        version: String,
    },
    /// Verification failed; the previous version was restored.
    RolledBack {
        /// The version that failed.
        failed: String,
        /// Its checks.
        verification: Verification,
        /// The version restored (`None`: there was none, the supervisor was suspended).
        restored: Option<String>,
        /// The restored version's checks.
        restored_verification: Option<Verification>,
    },
}

impl Session {
    /// Deploys the checked working copy: [`Session::plan`] with `options`, then
    /// [`Session::apply`] of that plan.
    pub async fn deploy(
        &self,
        checked: &Checked,
        project_dir: &Path,
        options: &DeployOptions,
    ) -> Result<DeployOutcome> {
        self.ledger.ensure_free(&self.environment.name).await?;
        let plan = self.plan(checked, project_dir, options).await?;
        self.apply(&plan).await
    }

    /// Carries out `plan`, exactly: refuses what it refuses (the window is judged again now),
    /// takes the lock, checks that nothing it saw moved (the live spec, the channel, the
    /// registry's versions, Druid's release, the spec the environment renders), then
    /// publishes its version, submits its spec, verifies, and moves the channel or restores.
    ///
    /// # Errors
    /// The plan's refusal, [`Error::PlanStale`] with what moved, or what went wrong on the way.
    pub async fn apply(&self, plan: &Plan) -> Result<DeployOutcome> {
        let mut overrides = plan.overrides.clone();
        overrides.remove("window");
        if let Err(closed) = crate::policy::check_window(&self.environment, self.clock.now()) {
            let Some(reason) = plan.overrides.get("window") else { return Err(closed) };
            self.warn(format!("{closed}: proceeding, reason recorded: {reason}"));
            overrides.insert("window".to_owned(), reason.clone());
        }
        let refused = plan.refusals.iter().find(|refusal| {
            refusal.kind != RefusalKind::WindowClosed
                && refusal.lifted_by.as_ref().is_none_or(|key| !plan.overrides.contains_key(key))
        });
        if let Some(refusal) = refused {
            return Err(plan.refusal_error(refusal, &self.environment));
        }
        let Some(carry) = &plan.carry else {
            return Err(Error::Refused {
                environment: self.environment.name.clone(),
                reason: "the plan has nothing to apply".to_owned(),
            });
        };
        if carry.environment != self.environment.name || carry.pipeline != self.environment.pipeline {
            return Err(Error::Refused {
                environment: self.environment.name.clone(),
                reason: format!(
                    "the plan is for environment {}{}",
                    carry.environment,
                    carry
                        .pipeline
                        .as_ref()
                        .map(|pipeline| format!(" of pipeline {pipeline}"))
                        .unwrap_or_default()
                ),
            });
        }
        if let Some(reason) = plan.overrides.get("preflight") {
            self.warn(format!("preflight skipped, reason recorded: {reason}"));
        }
        let guard = self.lock().await?;
        let token = guard.token.clone();
        self.close_abandoned().await;
        let result = self.apply_locked(carry, &mut overrides, &token).await;
        self.unlock(guard).await;
        result
    }

    /// We hold the lock: an open journal entry is a deploy whose process died. Say so and
    /// close it as abandoned (a record says what it was); what Druid runs is then this
    /// deploy's business.
    pub(crate) async fn close_abandoned(&self) {
        let environment = &self.environment.name;
        let Ok(Some(entry)) = self.ledger.journal(environment).await else { return };
        if !entry.is_open() {
            return;
        }
        self.warn(format!(
            "the {} of {} by {} started {} died ({:?}); this one supersedes it",
            entry.action, entry.version, entry.actor, entry.started_at, entry.step
        ));
        // Best effort: this deploy goes on whether or not the old entry could be closed.
        let detail = format!("found by the next deploy: it died at {:?}", entry.step);
        let _ = self.close_recovered(&entry, &detail).await;
    }

    async fn apply_locked(
        &self,
        carry: &Carry,
        overrides: &mut BTreeMap<String, String>,
        token: &str,
    ) -> Result<DeployOutcome> {
        self.step(Step::Compiled, format!("{} ({} dimensions)", carry.bundle.message_type, carry.dimensions));
        // Druid first: when it is unreachable nothing is published or moved.
        let druid_version = self.check_druid_version(true).await?;
        let live = self
            .druid
            .get_spec(self.environment.supervisor_id())
            .await
            .map_err(self.druid_failed("reading the live spec"))?;
        let (base, spec) = self.check_current(carry, live.as_ref(), &druid_version).await?;
        let start = carry.start.as_ref();
        // A deploy that died after its submit left Druid ahead of the channel: say so.
        if start.is_none()
            && let Some(hint) = &carry.drift_hint
        {
            self.warn(format!("drift before this deploy: {hint}"));
        }
        let channel = self.channel()?;
        let mut breaking_override = overrides.get("breaking").cloned();
        if let Some(start) = start {
            let what = if start.same_datasource {
                format!("a new supervisor {} on {}", self.environment.supervisor_id(), start.old.datasource)
            } else {
                format!("a new datasource {}", self.environment.datasource)
            };
            let reason = format!("migration from {} to {what}", start.old.supervisor);
            overrides.insert("migration".to_owned(), reason.clone());
            breaking_override.get_or_insert(reason);
        }
        let version = schema_registry::Version::parse(&carry.version)?;
        let previous = base.as_ref().map(|state| state.pointer.version.clone());
        let meta = schema_registry::registry::PublishMeta {
            author: Some(self.actor.clone()),
            git_commit: carry.git_commit.clone(),
            parent: previous.as_deref().map(schema_registry::Version::parse).transpose()?,
            compatibility: carry.compatibility.clone(),
            breaking_override: breaking_override
                .map(|reason| schema_registry::registry::Override { reason, by: Some(self.actor.clone()) }),
        };
        let published = self.registry.publish(&version, &carry.bundle.to_bundle(), meta).await?;
        self.step(
            Step::Published,
            if published.created {
                format!("{version} published")
            } else {
                format!("{version} already in the registry")
            },
        );
        for note in &carry.preflight_notes {
            self.warn(format!("preflight: {note}"));
        }
        if let Some(passed) = &carry.preflight {
            self.step(Step::Preflight, passed.clone());
        }
        let same_version = previous.as_deref() == Some(version.as_str());
        if carry.nothing_to_do {
            self.step(
                Step::Unchanged,
                format!("{version} is already live on {}: nothing to do", self.environment.datasource),
            );
            self.record(
                DeployRecord::new(Action::Deploy, Outcome::NoOp)
                    .versions(previous.clone(), Some(version.to_string()))
                    .overrides(overrides.clone()),
            )
            .await;
            self.note_live(version.as_str()).await;
            return Ok(DeployOutcome::AlreadyLive { version: version.to_string() });
        }
        let changes = &carry.diff_paths;
        let applied = (same_version && live.is_some()).then(|| {
            format!("{version} re-submitted with {} spec change(s): {}", changes.len(), changes.join(", "))
        });
        self.step(
            Step::Rendered,
            match &applied {
                Some(applied) => applied.clone(),
                None => format!("supervisor spec for {}", self.environment.datasource),
            },
        );
        if let Some(start) = start {
            self.begin_migration(&start.old, start.same_datasource, version.as_str()).await?;
        }
        // The intent, before Druid is touched: a deploy whose process dies from here on is
        // found by the next command. Every way out from here records the deploy and closes
        // its journal entry.
        let journal = self
            .begin(token, Action::Deploy, (previous.clone(), Some(version.to_string())), live.as_ref())
            .await?
            .with_overrides(overrides.clone());
        let close_verdict =
            |outcome: Outcome, detail: Option<String>, verification: Option<&Verification>| {
                let verdict = verification.map(|verification| verification.verdict.clone());
                let journal = &journal;
                async move { journal.close(self, outcome, detail, verdict.as_ref()).await }
            };
        let close = |outcome: Outcome, detail: Option<String>| close_verdict(outcome, detail, None);
        self.notify(
            crate::notify::EventKind::DeployStarted,
            previous.clone(),
            Some(version.to_string()),
            overrides.clone(),
            applied.clone(),
        );
        if let Err(err) = self.druid.submit_spec(&spec).await {
            let mut detail = err.to_string();
            if start.is_some() {
                detail = self
                    .undo_start(version.as_str(), &format!("Druid refused the new supervisor: {detail}"))
                    .await;
            }
            close(Outcome::Rejected, Some(detail)).await;
            return Err(Error::SubmitRejected { version: version.to_string(), source: Box::new(err) });
        }
        self.step(Step::Submitted, format!("{version} submitted to the Overlord"));
        journal.submitted(self).await;
        // The version did not change (sizing, console edit): what to restore is the spec
        // that ran before, not a re-render of the same version.
        let previous_live = if same_version { live.as_ref() } else { None };
        let verification = match self.wait_and_verify(Sizing::of(&spec)).await {
            Ok(verification) => verification,
            Err(Error::Interrupted) => {
                // Stopped by a signal: put back what ran before without waiting on it, record
                // what was done, and let the caller exit within seconds.
                let detail = if start.is_some() {
                    self.undo_start(version.as_str(), "interrupted while verifying").await
                } else {
                    self.put_back(&version, previous.as_deref(), live.as_ref()).await
                };
                close(Outcome::Interrupted, Some(detail)).await;
                return Err(Error::Interrupted);
            }
            Err(err) if start.is_some() => {
                let reason = format!("verification could not complete: {err}");
                let detail = self.undo_start(version.as_str(), &reason).await;
                close(Outcome::RolledBack, Some(detail)).await;
                return Err(err);
            }
            Err(err) => {
                // The new spec is live and could not be verified: it is not kept. Restore what
                // ran before, record both, and report the error that stopped verification.
                let reason = format!("verification could not complete: {err}");
                self.warn(format!("{reason}; restoring {}", previous.as_deref().unwrap_or("nothing")));
                let restore = self
                    .restore_after_failed_verification(&version, previous.as_deref(), previous_live, &reason)
                    .await;
                let (outcome, detail) = restore_outcome(restore.as_ref().map(drop), reason);
                close(outcome, Some(detail)).await;
                return Err(err);
            }
        };
        let keep = verification.verified()
            || (verification.unverified()
                && self.environment.thresholds.on_unverified == crate::config::OnUnverified::Keep);
        if verification.unverified() {
            self.warn(format!(
                "{version} is unverified: {}; {}",
                verification.verdict.reason,
                if keep {
                    "kept live (thresholds.on_unverified = keep); `druidctl verify` can settle it"
                } else {
                    "rolling back (thresholds.on_unverified = rollback)"
                }
            ));
        }
        if keep {
            // Fenced: a deploy whose lock was broken or taken over meanwhile does not move the
            // channel under another deploy's feet.
            let moved = match self.fence(token).await {
                Ok(()) => self.move_channel(&channel, base.as_ref(), &version, None).await,
                Err(err) => Err(err),
            };
            if let Err(err) = moved {
                close_verdict(
                    Outcome::Failed,
                    Some(format!(
                        "{version} {} and live, but the channel could not move: {err}",
                        if verification.verified() { "verified" } else { "unverified" }
                    )),
                    Some(&verification),
                )
                .await;
                return Err(err);
            }
            let detail = if start.is_some() {
                match self.complete_start(version.as_str()).await {
                    Ok(migration) => Some(format!(
                        "migration started: {} runs beside {} until `druidctl migrate cutover`",
                        migration.new.supervisor, migration.old.supervisor
                    )),
                    Err(err) => {
                        self.warn(format!("could not record the migration as dual: {err}"));
                        None
                    }
                }
            } else {
                self.note_live(version.as_str()).await;
                applied.clone()
            };
            close_verdict(crate::rollback::outcome_of(&verification), detail, Some(&verification)).await;
            return Ok(DeployOutcome::Deployed { version: version.to_string(), previous, verification });
        }
        let failures = if verification.passed() {
            format!("unverified ({})", verification.verdict.reason)
        } else {
            verification.failures().join(", ")
        };
        if start.is_some() {
            // The old side was never touched: the new supervisor goes, the old stays current.
            let detail = self.undo_start(version.as_str(), &format!("verification failed: {failures}")).await;
            close_verdict(Outcome::RolledBack, Some(detail), Some(&verification)).await;
            return Ok(DeployOutcome::RolledBack {
                failed: version.to_string(),
                verification,
                restored: previous,
                restored_verification: None,
            });
        }
        // Recorded once the rollback is done: "rolled back" only when it was.
        let restore = self
            .restore_after_failed_verification(&version, previous.as_deref(), previous_live, &failures)
            .await;
        let (outcome, detail) =
            restore_outcome(restore.as_ref().map(drop), format!("verification failed: {failures}"));
        close_verdict(outcome, Some(detail), Some(&verification)).await;
        let (restored, restored_verification) = restore?;
        Ok(DeployOutcome::RolledBack {
            failed: version.to_string(),
            verification,
            restored,
            restored_verification,
        })
    }

    /// Under the lock: whether what `carry`'s plan saw still holds. Returns the channel's
    /// state (its tag moves the channel later) and the spec to submit (rendered again with the
    /// environment's secrets, which a plan file does not hold), or [`Error::PlanStale`]
    /// naming what moved.
    async fn check_current(
        &self,
        carry: &Carry,
        live: Option<&druid_client::spec::SupervisorSpec>,
        druid_version: &str,
    ) -> Result<(Option<schema_registry::registry::ChannelState>, druid_client::spec::SupervisorSpec)> {
        let expect = &carry.expect;
        let supervisor = self.environment.supervisor_id();
        let mut moved = Vec::new();
        let live_sha256 = live.map(spec_sha256);
        if live_sha256 != expect.live_sha256 {
            moved.push(match (&expect.live_sha256, &live_sha256) {
                (None, _) => format!("supervisor {supervisor} was created on Druid since the plan"),
                (_, None) => format!("supervisor {supervisor} is gone from Druid since the plan"),
                _ => format!(
                    "the live spec of {supervisor} changed since the plan (an edit in Druid's console, or another deploy)"
                ),
            });
        }
        let channel = self.channel()?;
        let base = self.registry.channel(&channel).await?;
        let (now, sequence) = (
            base.as_ref().map(|state| &state.pointer.version),
            base.as_ref().map(|state| state.pointer.sequence),
        );
        if now != expect.channel_version.as_ref() || sequence != expect.channel_sequence {
            let name = |version: Option<&String>| version.map_or_else(|| "nothing".to_owned(), Clone::clone);
            moved.push(format!(
                "channel {channel} moved from {} to {} since the plan",
                name(expect.channel_version.as_ref()),
                name(now)
            ));
        }
        let versions = self.registry.version_names().await?;
        let added: Vec<&str> = versions
            .iter()
            .filter(|name| expect.registry_versions.binary_search(name).is_err())
            .map(String::as_str)
            .collect();
        if !added.is_empty() {
            moved.push(format!("version(s) published since the plan: {}", added.join(", ")));
        }
        let gone: Vec<&str> = expect
            .registry_versions
            .iter()
            .filter(|name| versions.binary_search(name).is_err())
            .map(String::as_str)
            .collect();
        if !gone.is_empty() {
            moved.push(format!("version(s) no longer in the registry: {}", gone.join(", ")));
        }
        if druid_version != expect.druid_version {
            moved.push(format!("Druid went from {} to {druid_version} since the plan", expect.druid_version));
        }
        // The plan's spec is what its schema renders to with the environment's settings now.
        let dimensions = druid_mapping::DimensionsConfig::parse(
            &String::from_utf8_lossy(&carry.bundle.dimensions),
            &format!("{}/dimensions.json", carry.version),
        )?;
        let rendered = crate::render::render(&crate::render::RenderInput {
            environment: &self.environment,
            descriptor_set: &carry.bundle.descriptor_set,
            message_type: &carry.bundle.message_type,
            dimensions: &dimensions,
            version: &carry.version,
        });
        let masked = crate::workflow::plan_file::masked;
        if masked(&rendered) != masked(&carry.spec) {
            moved.push(format!(
                "the settings of {} changed since the plan: its schema renders another spec now",
                self.environment.name
            ));
        }
        if moved.is_empty() { Ok((base, rendered)) } else { Err(Error::PlanStale { moved }) }
    }

    /// After an interruption: re-submits exactly the spec that was live before the submit (or,
    /// without one, suspends the new supervisor); no waiting. Says what it did, for the record.
    async fn put_back(
        &self,
        version: &schema_registry::Version,
        previous: Option<&str>,
        previous_live: Option<&druid_client::spec::SupervisorSpec>,
    ) -> String {
        let restored = previous_live.map(|spec| {
            (spec.clone(), previous.map_or_else(|| "the previous spec".to_owned(), str::to_owned))
        });
        match restored {
            Some((spec, previous)) => match self.druid.submit_spec(&spec).await {
                Ok(_) => format!(
                    "interrupted while verifying {version}: {previous} re-submitted (not verified; run verify)"
                ),
                Err(err) => {
                    format!("interrupted while verifying {version}; re-submitting {previous} failed: {err}")
                }
            },
            None => match self.druid.suspend(self.environment.supervisor_id()).await {
                Ok(()) => format!(
                    "interrupted while verifying {version}: nothing ran before, the supervisor was suspended"
                ),
                Err(err) => format!("interrupted while verifying {version}; suspending failed: {err}"),
            },
        }
    }

    /// Reads the cluster's release and applies the release table: a release that cannot ingest
    /// protobuf refuses a deploy (`refuse`), or is warned about (a rollback still runs).
    pub(crate) async fn check_druid_version(&self, refuse: bool) -> Result<String> {
        let version = self
            .druid
            .version()
            .await
            .map_err(|source| Error::Druid { action: "reaching Druid", source: Box::new(source) })?;
        match druid_client::releases::Release::parse(&version) {
            Some(release) if release.capabilities().protobuf_descriptors_broken => {
                let error = Error::UnsupportedDruid {
                    version: version.clone(),
                    reason: "it cannot load protobuf descriptors (file, url or inline; apache/druid#18730): every record would fail",
                    fixed_in: "36.0.0 (apache/druid#18770)",
                };
                if refuse {
                    return Err(error);
                }
                self.warn(error.to_string());
                Ok(version)
            }
            Some(_) => Ok(version),
            None => {
                self.warn(format!("Druid reports version `{version}`, which druidctl cannot read: no release-specific checks"));
                Ok(version)
            }
        }
    }
}

/// `deploy`'s outcome line in JSON-lines output (after the step events).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeployReport<'a> {
    /// Always `outcome`.
    pub event: &'static str,
    /// How the deploy ended.
    pub result: &'a DeployOutcome,
}

impl<'a> DeployReport<'a> {
    /// The outcome line of `outcome`.
    pub fn new(result: &'a DeployOutcome) -> Self {
        Self { event: "outcome", result }
    }
}

/// How a deploy ended after a restore: `rolled-back` when the restore worked, else
/// `rollback-failed` with the restore's error after `reason`.
fn restore_outcome(restore: std::result::Result<(), &Error>, reason: String) -> (Outcome, String) {
    match restore {
        Ok(()) => (Outcome::RolledBack, reason),
        Err(err) => (Outcome::RollbackFailed, format!("{reason}; the rollback failed: {err}")),
    }
}
