//! The fleet layer: many pipelines at once. This module deploys them (docs/fleet.md): plan
//! each first and deploy only those whose plan changes what Druid runs, at most `parallel` at
//! a time, one at a time per datasource; after the first failure no new deploy starts unless
//! `keep_going`. Each deploy is [`Session::apply`] of the plan that put it on the list (the
//! ordinary verified, rolled-back-on-failure deploy; stale if another deploy moved what the
//! plan saw). [`reconcile`] heals drift across them; [`service`] reads their state;
//! [`runtime`] is the loop `serve` and `reconcile --watch` run, and [`page`] what `serve`
//! shows.
pub mod page;
pub mod reconcile;
pub mod runtime;
pub mod service;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::StreamExt as _;
use serde::Serialize;

use crate::deploy::{DeployOptions, DeployOutcome};
use crate::{Checked, Session};

/// One pipeline of a fleet deploy.
#[derive(Debug)]
pub struct Member {
    /// Its name (`None`: the file's implicit pipeline).
    pub pipeline: Option<String>,
    /// Its session on the environment.
    pub session: Session,
    /// Its checked working copy (or why it could not be checked).
    pub checked: std::result::Result<Checked, String>,
    /// Where git is asked whether the schema is committed.
    pub project_dir: PathBuf,
}

impl Member {
    /// The members of a fleet: each pipeline's name, project and session, checked with each
    /// distinct proto root compiled once ([`check_all`]).
    pub fn all(connected: Vec<(Option<String>, crate::Project, Session)>) -> Vec<Self> {
        let projects: Vec<crate::Project> = connected.iter().map(|(_, project, _)| project.clone()).collect();
        let checked = check_all(&projects);
        connected
            .into_iter()
            .zip(checked)
            .map(|((pipeline, project, session), checked)| Self {
                pipeline,
                session,
                checked,
                project_dir: project.config().base_dir().to_owned(),
            })
            .collect()
    }
}

/// How a fleet deploy runs.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// At most this many deploys at once (at least 1).
    pub parallel: usize,
    /// Go on starting deploys after one failed.
    pub keep_going: bool,
    /// What each deploy is given (overrides with their reasons apply to every pipeline).
    pub deploy: DeployOptions,
}

/// How one pipeline's part ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RowOutcome {
    /// Deployed: verified, or unverified and kept (the detail has the verdict).
    Deployed,
    /// Its plan changes nothing: not deployed.
    Unchanged,
    /// Its plan refuses it (the reason is in the detail): not deployed.
    Refused,
    /// Verification failed; the previous version was restored.
    RolledBack,
    /// The deploy failed (the error is in the detail).
    Failed,
    /// Not started: an earlier pipeline failed (and not `keep_going`).
    NotStarted,
}

impl RowOutcome {
    /// Whether this pipeline stops a fleet that does not keep going.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Refused | Self::RolledBack | Self::Failed)
    }

    /// The word shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deployed => "deployed",
            Self::Unchanged => "unchanged",
            Self::Refused => "refused",
            Self::RolledBack => "rolled-back",
            Self::Failed => "failed",
            Self::NotStarted => "not-started",
        }
    }
}

/// One line of the final table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// Pipeline (`-` for the implicit one).
    pub pipeline: String,
    /// Its datasource in the environment.
    pub datasource: String,
    /// The channel's version before.
    pub from: Option<String>,
    /// The version deployed (or tried).
    pub to: Option<String>,
    /// How it ended.
    pub outcome: RowOutcome,
    /// Why, when it did not deploy.
    pub detail: Option<String>,
}

/// Checks every project (a pipeline each), compiling each distinct proto root once; the
/// errors as text, in order.
pub fn check_all(projects: &[crate::Project]) -> Vec<std::result::Result<Checked, String>> {
    let mut compiled: BTreeMap<PathBuf, std::result::Result<proto_schema::CompiledSchema, String>> =
        BTreeMap::new();
    projects
        .iter()
        .map(|project| {
            let schema = compiled
                .entry(project.proto_root())
                .or_insert_with(|| project.compile().map_err(|err| err.to_string()))
                .clone()?;
            project.check_compiled(schema).map_err(|err| err.to_string())
        })
        .collect()
}

/// Plans every member, at most `concurrency` at a time (`plan --all`); in the members' order.
pub async fn plan(
    members: &[Member],
    options: &DeployOptions,
    concurrency: usize,
) -> Vec<std::result::Result<crate::plan::Plan, String>> {
    let mut plans: Vec<(usize, std::result::Result<crate::plan::Plan, String>)> =
        futures_util::stream::iter(members.iter().enumerate())
            .map(|(index, member)| async move {
                let plan = match &member.checked {
                    Ok(checked) => member
                        .session
                        .plan(checked, &member.project_dir, options)
                        .await
                        .map_err(|err| err.to_string()),
                    Err(error) => Err(error.clone()),
                };
                (index, plan)
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    plans.sort_by_key(|(index, _)| *index);
    plans.into_iter().map(|(_, plan)| plan).collect()
}

/// Plans every member, then deploys those whose plan changes something (see the module
/// documentation). Rows come back in the members' order.
pub async fn deploy(members: Vec<Member>, options: &FleetOptions) -> Vec<Row> {
    let mut rows: Vec<Option<Row>> = vec![None; members.len()];
    let mut candidates = Vec::new();
    for (index, member) in members.into_iter().enumerate() {
        let row = |outcome, from: Option<String>, detail: Option<String>| Row {
            pipeline: member.pipeline.clone().unwrap_or_else(|| "-".to_owned()),
            datasource: member.session.environment.datasource.clone(),
            from,
            to: None,
            outcome,
            detail,
        };
        let checked = match &member.checked {
            Ok(checked) => checked,
            Err(error) => {
                rows[index] = Some(row(RowOutcome::Refused, None, Some(error.clone())));
                continue;
            }
        };
        match member.session.plan(checked, &member.project_dir, &options.deploy).await {
            Err(err) => rows[index] = Some(row(RowOutcome::Failed, None, Some(format!("plan: {err}")))),
            Ok(plan) => match (&plan.refused, plan.changes) {
                (Some(refusal), _) => {
                    rows[index] =
                        Some(row(RowOutcome::Refused, plan.channel_version, Some(refusal.reason.clone())));
                }
                (_, false) => {
                    rows[index] = Some(row(RowOutcome::Unchanged, plan.channel_version.clone(), None));
                    if let Some(row) = rows[index].as_mut() {
                        row.to = plan.channel_version;
                    }
                }
                _ => candidates.push((index, member, plan)),
            },
        }
    }
    let refused = rows.iter().flatten().any(|row| row.outcome.is_failure());
    let stop = Arc::new(AtomicBool::new(refused && !options.keep_going));
    let locks: BTreeMap<String, Arc<tokio::sync::Mutex<()>>> = candidates
        .iter()
        .map(|(_, member, _)| (member.session.environment.datasource.clone(), Arc::default()))
        .collect();
    let parallel = options.parallel.max(1);
    let deployed: Vec<(usize, Row)> = futures_util::stream::iter(candidates)
        .map(|(index, member, plan)| {
            let stop = stop.clone();
            let lock = locks[&member.session.environment.datasource].clone();
            async move { (index, deploy_one(member, &plan, options, &stop, &lock).await) }
        })
        .buffer_unordered(parallel)
        .collect()
        .await;
    for (index, row) in deployed {
        rows[index] = Some(row);
    }
    rows.into_iter().flatten().collect()
}

async fn deploy_one(
    member: Member,
    plan: &crate::plan::Plan,
    options: &FleetOptions,
    stop: &AtomicBool,
    lock: &tokio::sync::Mutex<()>,
) -> Row {
    let mut row = Row {
        pipeline: member.pipeline.clone().unwrap_or_else(|| "-".to_owned()),
        datasource: member.session.environment.datasource.clone(),
        from: None,
        to: None,
        outcome: RowOutcome::NotStarted,
        detail: None,
    };
    let _datasource = lock.lock().await;
    if stop.load(Ordering::SeqCst) {
        row.detail = Some("an earlier pipeline failed (--keep-going deploys the rest)".into());
        return row;
    }
    // The plan that put it on the list, carried out as it is (stale if another pipeline's
    // deploy moved what it saw).
    let result = member.session.apply(plan).await;
    member.session.flush_notifications().await;
    match result {
        Ok(DeployOutcome::Deployed { version, previous, verification }) => {
            (row.from, row.to, row.outcome) = (previous, Some(version), RowOutcome::Deployed);
            row.detail = Some(format!("verdict {}", verification.verdict.summary()));
        }
        Ok(DeployOutcome::AlreadyLive { version }) => {
            (row.from, row.to, row.outcome) = (Some(version.clone()), Some(version), RowOutcome::Unchanged);
        }
        Ok(DeployOutcome::RolledBack { failed, verification, restored, .. }) => {
            (row.from, row.to, row.outcome) = (restored, Some(failed), RowOutcome::RolledBack);
            row.detail = Some(match verification.failures() {
                failures if failures.is_empty() => format!("unverified: {}", verification.verdict.reason),
                failures => format!("verification failed: {}", failures.join(", ")),
            });
        }
        Err(err) => {
            row.outcome = RowOutcome::Failed;
            row.detail = Some(err.to_string());
        }
    }
    if row.outcome.is_failure() && !options.keep_going {
        stop.store(true, Ordering::SeqCst);
    }
    row
}
