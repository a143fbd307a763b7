//! The fleet's state for people and machines (docs/reconcile.md): one row per pipeline with
//! what Druid runs and what its channel says ([`snapshot`], what `status --all` prints and
//! `serve` shows at `/` and `/api/status`), and the reconcile service ([`Watch`]: reconcile
//! every interval, drift age, Prometheus metrics, a notification when a pipeline drifts and
//! when it is back in sync).

use std::collections::BTreeMap;

use druid_client::DruidApi;
use futures_util::StreamExt as _;
use serde::Serialize;

use crate::observe::prometheus::Exposition;
use crate::reconcile::{Options, Report, State};
use crate::{Result, Session};

/// One pipeline on one environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PipelineRow {
    /// Pipeline (`-` for the file's implicit one).
    pub pipeline: String,
    /// Datasource.
    pub datasource: String,
    /// Supervisor id.
    pub supervisor: String,
    /// What its channel points at.
    pub channel_version: Option<String>,
    /// The version Druid runs: the channel's when in sync, unknown otherwise.
    pub live_version: Option<String>,
    /// Reconcile's verdict (`in-sync`, `drifted`, `missing`, `no-version`, `error`).
    pub drift: State,
    /// When and by whom the drift came (drifted only).
    pub changed: Option<String>,
    /// The supervisor's state.
    pub state: Option<String>,
    /// Druid's health verdict.
    pub healthy: Option<bool>,
    /// Offset lag, records.
    pub lag_records: Option<i64>,
    /// Lag in seconds (reported or estimated).
    pub lag_seconds: Option<f64>,
    /// Unparseable over processed records of the running tasks.
    pub unparseable_ratio: Option<f64>,
    /// The last action of the history: `deploy succeeded abc123f`.
    pub last_action: Option<String>,
    /// Who did it.
    pub last_by: Option<String>,
    /// When (RFC 3339).
    pub last_at: Option<String>,
}

/// Every pipeline of an environment, and the supervisors no pipeline declares.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// Environment.
    pub environment: String,
    /// When it was taken (RFC 3339).
    pub at: String,
    /// One row per pipeline, in the file's order.
    pub pipelines: Vec<PipelineRow>,
    /// Supervisors of the cluster no pipeline declares (left alone).
    pub unmanaged: Vec<String>,
}

/// Reconciles (without acting) and reads each pipeline's supervisor and history, at most
/// `concurrency` pipelines at a time; one `/supervisor?full` for the whole cluster.
pub async fn snapshot(
    druid: &dyn DruidApi,
    pipelines: &[(Option<String>, Session)],
    concurrency: usize,
) -> Result<(Snapshot, Report)> {
    let report = crate::reconcile::reconcile(druid, pipelines, Options { apply: false, concurrency }).await?;
    Ok((rows(&report, pipelines, concurrency).await, report))
}

/// The snapshot rows of a reconcile `report` of `pipelines`.
pub async fn rows(report: &Report, pipelines: &[(Option<String>, Session)], concurrency: usize) -> Snapshot {
    let mut rows: Vec<(usize, PipelineRow)> =
        futures_util::stream::iter(pipelines.iter().zip(&report.entries).enumerate())
            .map(|(index, ((pipeline, session), entry))| async move {
                let ingestion = match entry.state {
                    State::Missing | State::NoVersion => None,
                    _ => session.ingestion().await.ok(),
                };
                let last = session.history().await.ok().and_then(|mut history| history.pop());
                let row = PipelineRow {
                    pipeline: pipeline.clone().unwrap_or_else(|| "-".to_owned()),
                    datasource: session.environment.datasource.clone(),
                    supervisor: entry.supervisor.clone(),
                    channel_version: entry.channel_version.clone(),
                    live_version: (entry.state == State::InSync)
                        .then(|| entry.channel_version.clone())
                        .flatten(),
                    drift: entry.state,
                    changed: entry.changed.clone(),
                    state: ingestion.as_ref().and_then(|ingestion| ingestion.state.clone()),
                    healthy: ingestion.as_ref().and_then(|ingestion| ingestion.healthy),
                    lag_records: ingestion.as_ref().and_then(|ingestion| ingestion.total_lag),
                    lag_seconds: ingestion.as_ref().and_then(|ingestion| ingestion.lag_seconds),
                    unparseable_ratio: ingestion.as_ref().map(|ingestion| ingestion.unparseable_ratio),
                    last_action: last.as_ref().map(|record| {
                        format!("{} {} {}", record.action, record.outcome, record.to.as_deref().unwrap_or(""))
                            .trim_end()
                            .to_owned()
                    }),
                    last_by: last.as_ref().and_then(|record| record.by.clone()),
                    last_at: last.map(|record| record.at),
                };
                (index, row)
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    rows.sort_by_key(|(index, _)| *index);
    Snapshot {
        environment: report.environment.clone(),
        at: report.at.clone(),
        pipelines: rows.into_iter().map(|(_, row)| row).collect(),
        unmanaged: report
            .entries
            .iter()
            .filter(|entry| entry.state == State::Unmanaged)
            .map(|entry| entry.supervisor.clone())
            .collect(),
    }
}

/// The reconcile service's memory between two rounds: since when each pipeline drifts.
#[derive(Debug, Default)]
pub struct Watch {
    drifting_since: BTreeMap<String, jiff::Timestamp>,
    last: Option<(jiff::Timestamp, f64)>,
}

impl Watch {
    /// Takes in one round's report (taken at `now`, in `seconds`): notes which pipelines
    /// started or stopped drifting and notifies through their sessions.
    pub fn observe(
        &mut self,
        report: &Report,
        pipelines: &[(Option<String>, Session)],
        now: jiff::Timestamp,
        seconds: f64,
    ) {
        self.last = Some((now, seconds));
        for (entry, (_, session)) in report.entries.iter().zip(pipelines) {
            let out_of_sync = entry.state.needs_apply()
                && !entry.applied.as_deref().is_some_and(|applied| applied.starts_with("healed"));
            let key = entry.supervisor.clone();
            match (out_of_sync, self.drifting_since.contains_key(&key)) {
                (true, false) => {
                    self.drifting_since.insert(key, now);
                    session.notify(
                        crate::notify::EventKind::DriftDetected,
                        entry.channel_version.clone(),
                        None,
                        BTreeMap::new(),
                        Some(format!(
                            "{} is {}{}",
                            entry.supervisor,
                            entry.state.as_str(),
                            entry
                                .changed
                                .as_deref()
                                .map(|changed| format!(": {changed}"))
                                .unwrap_or_default()
                        )),
                    );
                }
                (false, true) => {
                    self.drifting_since.remove(&key);
                    session.notify(
                        crate::notify::EventKind::DriftResolved,
                        None,
                        entry.channel_version.clone(),
                        BTreeMap::new(),
                        Some(format!("{} runs its channel's version again", entry.supervisor)),
                    );
                }
                _ => {}
            }
        }
    }

    /// How long `supervisor` has drifted, in seconds (0 when in sync).
    pub fn drift_age(&self, supervisor: &str, now: jiff::Timestamp) -> f64 {
        self.drifting_since
            .get(supervisor)
            .map_or(0.0, |since| now.duration_since(*since).as_secs_f64().max(0.0))
    }

    /// Prometheus text exposition (format 0.0.4) of the last round.
    pub fn metrics(&self, report: &Report, now: jiff::Timestamp) -> String {
        let mut exposition = Exposition::new();
        let env = report.environment.as_str();
        exposition.gauge("druidctl_pipelines", "Pipelines by reconcile state");
        for state in
            [State::InSync, State::Drifted, State::Missing, State::NoVersion, State::Unmanaged, State::Error]
        {
            #[allow(clippy::cast_precision_loss)]
            let count = report.count(state) as f64;
            exposition.sample("druidctl_pipelines", &[("env", env), ("state", state.as_str())], count);
        }
        let managed: Vec<_> = report.entries.iter().filter(|entry| entry.state != State::Unmanaged).collect();
        let labels = |entry: &crate::reconcile::Entry| {
            [entry.pipeline.clone().unwrap_or_else(|| "-".to_owned()), entry.supervisor.clone()]
        };
        exposition.gauge("druidctl_pipeline_in_sync", "1 when the pipeline runs its channel's version");
        for entry in &managed {
            let [pipeline, supervisor] = labels(entry);
            exposition.sample(
                "druidctl_pipeline_in_sync",
                &[("env", env), ("pipeline", &pipeline), ("supervisor", &supervisor)],
                f64::from(u8::from(entry.state == State::InSync)),
            );
        }
        exposition.gauge(
            "druidctl_pipeline_drift_age_seconds",
            "How long the pipeline has been out of sync (0 in sync)",
        );
        for entry in &managed {
            let [pipeline, supervisor] = labels(entry);
            exposition.sample(
                "druidctl_pipeline_drift_age_seconds",
                &[("env", env), ("pipeline", &pipeline), ("supervisor", &supervisor)],
                self.drift_age(&entry.supervisor, now),
            );
        }
        if let Some((at, seconds)) = self.last {
            exposition.gauge("druidctl_reconcile_last_timestamp_seconds", "When the last reconcile ended");
            #[allow(clippy::cast_precision_loss)]
            let at = at.as_second() as f64;
            exposition.sample("druidctl_reconcile_last_timestamp_seconds", &[("env", env)], at);
            exposition.gauge("druidctl_reconcile_duration_seconds", "How long the last reconcile took");
            exposition.sample("druidctl_reconcile_duration_seconds", &[("env", env)], seconds);
        }
        exposition.finish()
    }
}
