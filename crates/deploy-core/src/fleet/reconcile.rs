//! Reconcile (docs/reconcile.md): what each pipeline should run in an environment (its
//! channel's version, rendered for the environment) against what Druid runs (one
//! `GET /supervisor?full` for the whole cluster). Each pipeline is in sync, drifted (the diff
//! in `plan`'s format, and when and by whom Druid's history says it changed), missing (its
//! channel has a version but no supervisor runs), or has nothing published yet; a supervisor
//! no pipeline declares is unmanaged and left alone. With `apply`, drifted and missing
//! pipelines get their channel's version back through the ordinary verified submit, never
//! outside the deploy window, never a breaking change (the version is the channel's own),
//! never an unmanaged supervisor.

use std::collections::{BTreeMap, BTreeSet};

use druid_client::DruidApi;
use druid_client::spec::SupervisorSpec;
use futures_util::StreamExt as _;
use schema_registry::Version;
use serde::Serialize;

use crate::plan::{SpecChange, spec_changes};
use crate::{Error, Result, Session};

/// Where a pipeline stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Druid runs the channel's version as druidctl renders it.
    InSync,
    /// Druid runs something else (a console edit, a deploy that died).
    Drifted,
    /// The channel has a version, no supervisor runs it.
    Missing,
    /// Nothing published to the channel yet: nothing to run.
    NoVersion,
    /// A supervisor no pipeline declares.
    Unmanaged,
    /// The pipeline could not be read (registry, render).
    Error,
}

impl State {
    /// The word shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InSync => "in-sync",
            Self::Drifted => "drifted",
            Self::Missing => "missing",
            Self::NoVersion => "no-version",
            Self::Unmanaged => "unmanaged",
            Self::Error => "error",
        }
    }

    /// Whether `apply` acts on it.
    pub fn needs_apply(self) -> bool {
        matches!(self, Self::Drifted | Self::Missing)
    }
}

/// One pipeline (or unmanaged supervisor) of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// Pipeline (`None`: an unmanaged supervisor, or the file's implicit pipeline).
    pub pipeline: Option<String>,
    /// Supervisor id.
    pub supervisor: String,
    /// Where it stands.
    pub state: State,
    /// What its channel points at.
    pub channel_version: Option<String>,
    /// How the live spec differs from the rendered one (drifted only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diff: Vec<SpecChange>,
    /// When the live spec was last submitted and by whom, as far as Druid's history and
    /// druidctl's say (drifted only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed: Option<String>,
    /// What `apply` did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied: Option<String>,
    /// Why it is in error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One reconcile of an environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Environment.
    pub environment: String,
    /// When (RFC 3339).
    pub at: String,
    /// Every pipeline, then every unmanaged supervisor.
    pub entries: Vec<Entry>,
}

impl Report {
    /// How many entries are in `state`.
    pub fn count(&self, state: State) -> usize {
        self.entries.iter().filter(|entry| entry.state == state).count()
    }

    /// Whether every pipeline runs its channel's version now (after `apply`, the ones it
    /// healed count as in sync).
    pub fn in_sync(&self) -> bool {
        self.entries.iter().all(|entry| {
            !(entry.state.needs_apply() || entry.state == State::Error)
                || entry.applied.as_deref().is_some_and(|applied| applied.starts_with("healed"))
        })
    }
}

/// How to reconcile.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Re-deploy drifted and missing pipelines.
    pub apply: bool,
    /// At most this many pipelines read at a time.
    pub concurrency: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self { apply: false, concurrency: 16 }
    }
}

/// Reconciles `pipelines` (one session each, on the same environment and cluster) against
/// what `druid` runs.
pub async fn reconcile(
    druid: &dyn DruidApi,
    pipelines: &[(Option<String>, Session)],
    options: Options,
) -> Result<Report> {
    let environment =
        pipelines.first().map(|(_, session)| session.environment.name.clone()).unwrap_or_default();
    let live: BTreeMap<String, SupervisorSpec> = druid
        .supervisors_full()
        .await
        .map_err(|source| Error::Druid { action: "listing the supervisors", source: Box::new(source) })?
        .into_iter()
        .filter_map(|summary| summary.spec.map(|spec| (summary.id, spec)))
        .collect();
    let live = &live;
    let mut entries: Vec<(usize, Entry, BTreeSet<String>)> =
        futures_util::stream::iter(pipelines.iter().enumerate())
            .map(|(index, (pipeline, session))| async move {
                let (entry, claimed) = examine(pipeline.clone(), session, live).await;
                (index, entry, claimed)
            })
            .buffer_unordered(options.concurrency.max(1))
            .collect()
            .await;
    entries.sort_by_key(|(index, _, _)| *index);
    let claimed: BTreeSet<String> =
        entries.iter().flat_map(|(_, _, claimed)| claimed.iter().cloned()).collect();
    let mut entries: Vec<Entry> = entries.into_iter().map(|(_, entry, _)| entry).collect();
    if options.apply {
        for (entry, (_, session)) in entries.iter_mut().zip(pipelines) {
            if entry.state.needs_apply() {
                entry.applied = Some(apply(session, entry).await);
            }
        }
    }
    entries.extend(live.keys().filter(|id| !claimed.contains(*id)).map(|id| Entry {
        pipeline: None,
        supervisor: id.clone(),
        state: State::Unmanaged,
        channel_version: None,
        diff: Vec::new(),
        changed: None,
        applied: None,
        detail: None,
    }));
    Ok(Report { environment, at: jiff::Timestamp::now().to_string(), entries })
}

/// One pipeline against the live specs; the supervisor ids it claims (its own, and the old
/// side of its open migration).
async fn examine(
    pipeline: Option<String>,
    session: &Session,
    live: &BTreeMap<String, SupervisorSpec>,
) -> (Entry, BTreeSet<String>) {
    let supervisor = session.environment.supervisor_id().to_owned();
    let mut claimed = BTreeSet::from([supervisor.clone()]);
    let mut entry = Entry {
        pipeline,
        supervisor: supervisor.clone(),
        state: State::Error,
        channel_version: None,
        diff: Vec::new(),
        changed: None,
        applied: None,
        detail: None,
    };
    let result: Result<()> = async {
        if let Some(migration) =
            session.environment_state().await?.and_then(|state| state.open_migration().cloned())
        {
            claimed.insert(migration.old.supervisor);
        }
        let channel = session.channel()?;
        let Some(version) = session.registry.channel(&channel).await?.map(|state| state.pointer.version)
        else {
            entry.state = State::NoVersion;
            return Ok(());
        };
        entry.channel_version = Some(version.clone());
        let Some(spec) = live.get(&supervisor) else {
            entry.state = State::Missing;
            return Ok(());
        };
        let rendered = session.render_version(&Version::parse(&version)?).await?;
        entry.diff = spec_changes(Some(spec), &rendered);
        if entry.diff.is_empty() {
            entry.state = State::InSync;
        } else {
            entry.state = State::Drifted;
            entry.changed = attribution(session, &supervisor, spec).await;
        }
        Ok(())
    }
    .await;
    if let Err(err) = result {
        entry.state = State::Error;
        entry.detail = Some(err.to_string());
    }
    (entry, claimed)
}

/// When the live spec was submitted (Druid's history), and whether druidctl submitted it: a
/// druidctl action of this environment near that time (two minutes, as `incident` judges)
/// whose version renders exactly the live spec. Anything else came from elsewhere (the
/// console, curl).
async fn attribution(session: &Session, supervisor: &str, live: &SupervisorSpec) -> Option<String> {
    let history = session.druid.supervisor_history(supervisor).await.ok()?;
    let at = history.first()?.version.clone()?;
    let when: jiff::Timestamp = at.parse().ok()?;
    let records = session.history().await.unwrap_or_default();
    let mut by = None;
    for record in records.iter().rev() {
        let near = record
            .at
            .parse::<jiff::Timestamp>()
            .is_ok_and(|time| time.duration_since(when).abs() <= jiff::SignedDuration::from_mins(2));
        let Some(version) = record.to.as_deref().filter(|_| near) else { continue };
        let Ok(version) = Version::parse(version) else { continue };
        if let Ok(rendered) = session.render_version(&version).await
            && spec_changes(Some(live), &rendered).is_empty()
        {
            by = Some(record);
            break;
        }
    }
    Some(match by {
        Some(record) => format!(
            "submitted at {at}, matching druidctl's {} by {}",
            record.action,
            record.by.as_deref().unwrap_or("someone")
        ),
        None => format!("changed at {at} outside druidctl (Druid console or API)"),
    })
}

/// Puts the channel's version back for a drifted or missing pipeline: never outside the
/// window; the ordinary verified submit. Says what it did.
async fn apply(session: &Session, entry: &Entry) -> String {
    let Some(version) = &entry.channel_version else { return "skipped: no version".into() };
    if let Err(closed) = crate::policy::check_window(&session.environment, session.clock.now()) {
        return format!("skipped: {closed}");
    }
    // What this reconcile saw must still hold under the lock: a deploy since is not undone.
    let seen = (entry.state == State::Drifted).then_some(entry.diff.as_slice());
    match session.reapply_seen(version, seen).await {
        Ok(None) => format!("skipped: {} runs {version} again", entry.supervisor),
        Ok(Some(verification)) if verification.passed() => {
            format!("healed: {version} submitted and verified")
        }
        Ok(Some(verification)) => {
            format!("failed: {version} submitted, verification fails {}", verification.failures().join(", "))
        }
        Err(err) => format!("failed: {err}"),
    }
}
