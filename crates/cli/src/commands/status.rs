//! `druidctl status`: one environment's state, tasks, lag, rates, parse errors and live
//! version; `--all`, every supervisor of the cluster.

use super::{Context, block_on};
use crate::output::{CliError, Output, Status, table};

pub fn run(context: &Context, out: &Output) -> Result<Status, CliError> {
    let (_, session) = context.connect(out)?;
    let snapshot = block_on(async { Ok(session.status().await?) })?;
    if out.is_json() {
        out.json(&snapshot)?;
        return Ok(Status::Success);
    }
    let drift = &snapshot.drift;
    let abandoned = snapshot.abandoned.clone();
    let snapshot_druid = (snapshot.druid_version.clone(), snapshot.druid_warnings.clone());
    let lock = snapshot.lock.clone();
    let migration = (snapshot.migration.clone(), snapshot.old_side.clone());
    let snapshot = &snapshot.ingestion;
    let mut rows = table(&["", ""]);
    let optional = |value: Option<String>| value.unwrap_or_else(|| "-".into());
    rows.add_row(vec!["environment".into(), format!("{} ({})", snapshot.environment, snapshot.datasource)]);
    rows.add_row(vec![
        "state".into(),
        format!(
            "{} / {}, {}",
            optional(snapshot.state.clone()),
            optional(snapshot.detailed_state.clone()),
            match snapshot.healthy {
                Some(true) => "healthy",
                Some(false) => "UNHEALTHY",
                None => "health unknown",
            }
        ),
    ]);
    rows.add_row(vec![
        "tasks".into(),
        format!(
            "{} active (expected {}), {} publishing",
            snapshot.active_tasks, snapshot.expected_tasks, snapshot.publishing_tasks
        ),
    ]);
    let by_partition: Vec<String> =
        snapshot.lag_by_partition.iter().map(|(partition, lag)| format!("{partition}:{lag}")).collect();
    rows.add_row(vec![
        "lag".into(),
        format!(
            "{} records [{}], {}",
            optional(snapshot.total_lag.map(|lag| lag.to_string())),
            by_partition.join(" "),
            snapshot.lag_seconds.map_or_else(
                || "time unknown".to_owned(),
                |seconds| format!(
                    "{seconds:.0} s{}",
                    if snapshot.lag_estimated { " (estimated)" } else { "" }
                )
            )
        ),
    ]);
    rows.add_row(vec![
        "rate".into(),
        format!(
            "{:.1} / {:.1} / {:.1} rows/s (1m / 5m / 15m)",
            snapshot.rates["1m"], snapshot.rates["5m"], snapshot.rates["15m"]
        ),
    ]);
    rows.add_row(vec![
        "parse errors".into(),
        format!(
            "{:.2} % unparseable, {:.2} % thrown away",
            snapshot.unparseable_ratio * 100.0,
            snapshot.thrown_away_ratio * 100.0
        ),
    ]);
    rows.add_row(vec![
        "version".into(),
        format!(
            "live {}, {} {}",
            optional(drift.live_version.clone()),
            session.environment.channel,
            optional(drift.expected_version.clone())
        ),
    ]);
    rows.add_row(vec!["druid".into(), optional(snapshot_druid.0.clone())]);
    for warning in &snapshot_druid.1 {
        rows.add_row(vec!["warning".into(), warning.clone()]);
    }
    if let Some(lease) = &lock {
        let until = jiff::Timestamp::from_second(lease.expires_at)
            .map_or_else(|_| "?".to_owned(), |at| at.to_string());
        rows.add_row(vec![
            "lock".into(),
            format!("held by {} since {} (until {until})", lease.owner, lease.acquired_at),
        ]);
    }
    for error in &snapshot.recent_errors {
        rows.add_row(vec!["recent error".into(), error.clone()]);
    }
    if let (Some(open), old_side) = &migration {
        rows.add_row(vec![
            "migration".into(),
            format!(
                "{}: {} -> {} (`druidctl migrate cutover` or `abort`)",
                open.state, open.old.datasource, open.new.datasource
            ),
        ]);
        rows.add_row(vec![
            "old side".into(),
            match old_side.as_ref().map(|side| (&side.ingestion, &side.error)) {
                Some((Some(ingestion), _)) => format!(
                    "{}: {}, {} task(s), {:.2} % unparseable",
                    open.old.supervisor,
                    ingestion.state.as_deref().unwrap_or("-"),
                    ingestion.active_tasks,
                    ingestion.unparseable_ratio * 100.0
                ),
                Some((None, error)) => {
                    format!("{}: {}", open.old.supervisor, error.as_deref().unwrap_or("-"))
                }
                None => "-".into(),
            },
        ]);
    }
    out.line(rows)?;
    if let Some(hint) = &drift.hint {
        out.error_line(format_args!("drift: {hint}"));
    }
    if let Some(entry) = &abandoned {
        out.error_line(format_args!(
            "abandoned deploy: {} by {} started {} died ({:?}); `druidctl recover --env {}` puts {} back (--finish keeps {} if it verifies)",
            entry.version,
            entry.actor,
            entry.started_at,
            entry.step,
            session.environment.name,
            entry.previous.as_deref().unwrap_or("the previous state"),
            entry.version
        ));
    }
    Ok(Status::Success)
}

/// At most this many pipelines read at a time.
const STATUS_CONCURRENCY: usize = 16;

/// `status --all`: every pipeline of the project file on the environment (what Druid runs,
/// what the channel says, drift, state, lag, parse errors, the last action) and the
/// supervisors of the cluster no pipeline declares; the JSON is what `serve` answers at
/// `/api/status`.
pub fn run_all(context: &Context, out: &Output) -> Result<Status, CliError> {
    let sessions = super::reconcile::sessions(context, out)?;
    let druid = sessions[0].1.druid.clone();
    let (snapshot, _) = block_on(async {
        Ok(deploy_core::service::snapshot(druid.as_ref(), &sessions, STATUS_CONCURRENCY).await?)
    })?;
    if out.is_json() {
        out.json(&snapshot)?;
        return Ok(Status::Success);
    }
    let mut rows = table(&[
        "PIPELINE",
        "DATASOURCE",
        "LIVE",
        "CHANNEL",
        "DRIFT",
        "STATE",
        "LAG",
        "UNPARSEABLE",
        "LAST",
        "BY",
    ]);
    let optional = |value: Option<String>| value.unwrap_or_else(|| "-".into());
    for row in &snapshot.pipelines {
        rows.add_row(vec![
            row.pipeline.clone(),
            row.datasource.clone(),
            optional(row.live_version.clone()),
            optional(row.channel_version.clone()),
            row.drift.as_str().to_owned(),
            optional(row.state.clone()),
            optional(row.lag_records.map(|lag| lag.to_string())),
            optional(row.unparseable_ratio.map(|ratio| format!("{:.2} %", ratio * 100.0))),
            optional(row.last_action.clone()),
            optional(row.last_by.clone()),
        ]);
    }
    out.line(rows)?;
    if !snapshot.unmanaged.is_empty() {
        out.line(format_args!("not declared by any pipeline: {}", snapshot.unmanaged.join(", ")))?;
    }
    out.note(format_args!(
        "{} pipeline(s), at most {STATUS_CONCURRENCY} read at a time",
        snapshot.pipelines.len()
    ));
    Ok(Status::Success)
}
