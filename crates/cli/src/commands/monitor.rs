//! `druidctl monitor`: the team's alerts, once or `--watch`ed, optionally served to
//! Prometheus.

use std::time::Duration;

use super::{Context, block_on};
use crate::output::{CliError, Output, Status, table};

/// Flags of `monitor`.
#[derive(Debug, clap::Args)]
pub struct MonitorArgs {
    /// Keep evaluating, every --interval, until interrupted.
    #[arg(long)]
    watch: bool,
    /// Time between two evaluations with --watch (`30s`, `2m`).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    interval: Duration,
    /// Serve the figures as Prometheus metrics at http://ADDR/metrics (implies --watch).
    #[arg(long, value_name = "ADDR")]
    prometheus: Option<std::net::SocketAddr>,
}

pub fn run(context: &Context, args: &MonitorArgs, out: &Output) -> Result<Status, CliError> {
    let (_, session) = context.connect(out)?;
    let watch = args.watch || args.prometheus.is_some();
    block_on(async {
        let latest = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        if let Some(address) = args.prometheus {
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .map_err(|err| CliError::io(format_args!("listening on {address}"), err))?;
            out.note(format_args!("serving Prometheus metrics at http://{address}/metrics"));
            tokio::spawn(deploy_core::monitor::serve_metrics(listener, latest.clone()));
        }
        loop {
            let report = session.monitor().await?;
            *latest.lock().expect("metrics lock") =
                deploy_core::monitor::prometheus(std::slice::from_ref(&report));
            if out.is_json() {
                if watch {
                    out.line(serde_json::to_string(&report).unwrap_or_default())?;
                } else {
                    out.json(&report)?;
                }
            } else {
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
                out.line(rows)?;
            }
            if !watch {
                return Ok(if report.breached { Status::CheckFailed } else { Status::Success });
            }
            tokio::time::sleep(args.interval).await;
        }
    })
}
