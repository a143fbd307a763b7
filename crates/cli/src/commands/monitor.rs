//! `druidctl monitor`: the team's alerts, once or `--watch`ed, optionally served to
//! Prometheus.

use std::time::Duration;

use deploy_core::monitor::watch::MIN_INTERVAL;
use deploy_core::monitor::{Tick, Watcher};

use super::{Context, block_on};
use crate::output::{CliError, Output, Status, table};

/// Flags of `monitor`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run on every pipeline of the project file (docs/fleet.md).
    #[command(flatten)]
    pub fleet: super::FleetArgs,
    /// Keep evaluating, every --interval, until interrupted.
    #[arg(long)]
    watch: bool,
    /// Time between two evaluations with --watch (`30s`, `2m`; at least 1s). After a failed
    /// evaluation the wait doubles, up to ten intervals.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = interval)]
    interval: Duration,
    /// Serve the figures as Prometheus metrics at http://ADDR/metrics (implies --watch).
    #[arg(long, value_name = "ADDR")]
    prometheus: Option<std::net::SocketAddr>,
}

fn interval(text: &str) -> Result<Duration, String> {
    let interval = humantime::parse_duration(text).map_err(|err| err.to_string())?;
    if interval < MIN_INTERVAL {
        return Err(format!(
            "must be at least {}s: a shorter interval hammers the Overlord",
            MIN_INTERVAL.as_secs()
        ));
    }
    Ok(interval)
}

pub fn run(context: &Context, args: &Args, out: &Output) -> Result<Status, CliError> {
    let (_, session) = context.connect(out)?;
    let watch = args.watch || args.prometheus.is_some();
    if !watch {
        let report = block_on(async { Ok(session.monitor().await?) })?;
        if out.is_json() {
            out.json(&report)?;
        } else {
            out.line(alerts_table(&report))?;
        }
        return Ok(if report.breached { Status::CheckFailed } else { Status::Success });
    }
    block_on(async {
        let latest = super::serve_prometheus(args.prometheus, out).await?;
        let mut watcher = Watcher::new(session, args.interval);
        // Until interrupted (Ctrl-C) or stdout closes; Druid's failures do not end it.
        loop {
            let tick = watcher.tick().await;
            watcher.flush_notifications().await;
            *latest.write().unwrap_or_else(std::sync::PoisonError::into_inner) = watcher.metrics();
            if out.is_json() {
                out.line(serde_json::to_string(&tick).unwrap_or_default())?;
            } else {
                match &tick {
                    Tick::Report { at, report } => {
                        out.line(format_args!("{at}"))?;
                        out.line(alerts_table(report))?;
                    }
                    Tick::Failed { at, error, consecutive, retry_in_secs } => out.error_line(format_args!(
                        "{at} warning: evaluation failed ({consecutive} in a row), retrying in {retry_in_secs}s: {error}"
                    )),
                }
            }
            watcher.wait().await;
        }
    })
}

fn alerts_table(report: &deploy_core::monitor::MonitorReport) -> comfy_table::Table {
    let mut rows = table(&["ALERT", "VALUE", "THRESHOLD", "STATUS", "ACTION"]);
    for alert in &report.alerts {
        rows.add_row(vec![
            alert.name.as_str().to_owned(),
            alert.value.clone(),
            alert.threshold.clone(),
            if alert.breached { "BREACHED".into() } else { "ok".into() },
            if alert.breached { alert.action.to_owned() } else { String::new() },
        ]);
    }
    if let Some(side) = &report.old_side {
        // A migration is open: its old supervisor runs until cutover (not alerted on).
        let state = side.ingestion.as_ref().map_or_else(
            || side.error.clone().unwrap_or_default(),
            |ingestion| {
                format!(
                    "{}, {:.2} % unparseable",
                    ingestion.state.as_deref().unwrap_or("-"),
                    ingestion.unparseable_ratio * 100.0
                )
            },
        );
        rows.add_row(vec![
            "old side (migration)".to_owned(),
            format!("{}: {state}", side.placement.supervisor),
            String::new(),
            "info".into(),
            "`druidctl migrate cutover` when the new side carries the traffic".into(),
        ]);
    }
    rows
}
