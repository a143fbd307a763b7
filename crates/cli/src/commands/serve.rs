//! `druidctl serve --env E --listen ADDR`: the library's reconcile service
//! ([`deploy_core::fleet::runtime`]) with its read-only web page ([`deploy_core::fleet::page`],
//! docs/reconcile.md). Every `--interval` it reconciles every pipeline (and heals with
//! `--apply`), reads each supervisor and history, notifies drift.

use std::net::SocketAddr;
use std::time::Duration;

use deploy_core::fleet::runtime::{Round, Service, ServiceOptions};
use deploy_core::reconcile::State as Drift;
use deploy_core::session::Cancel;

use super::{Context, block_on};
use crate::output::{CliError, Output, Status};

/// Flags of `serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to listen (`127.0.0.1:8080`; `0.0.0.0:8080` in a container).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Time between two reconciles (`60s`, `5m`; at least 1s).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = super::reconcile::interval)]
    interval: Duration,
    /// Put the channel's version back on drifted and missing pipelines at each round.
    #[arg(long)]
    apply: bool,
}

pub fn run(context: &Context, args: &Args, out: &Output) -> Result<Status, CliError> {
    let pipelines = super::reconcile::sessions(context, out)?;
    let options = ServiceOptions {
        apply: args.apply,
        interval: args.interval,
        snapshot: true,
        ..ServiceOptions::default()
    };
    let mut service = Service::new(pipelines, options);
    block_on(async {
        let listener = deploy_core::observe::http::bind(args.listen)
            .await
            .map_err(|err| CliError::io(format_args!("listening on {}", args.listen), err))?;
        let address = listener.local_addr().map_err(|err| CliError::io("reading the bound address", err))?;
        out.note(format_args!(
            "serving {} pipeline(s) of {} at http://{address}/ (metrics at /metrics, JSON at /api/status)",
            service.pipelines().len(),
            service.pipelines()[0].1.environment.name
        ));
        deploy_core::observe::http::spawn(listener, deploy_core::fleet::page::router(service.latest()));
        // Until interrupted; a failed round is shown on the page and retried after a backoff.
        service
            .run(&Cancel::default(), |round| {
                match round {
                    Round::Reconciled(report) => out.note(format_args!(
                        "{}: {} in sync, {} drifted, {} missing",
                        report.at,
                        report.count(Drift::InSync),
                        report.count(Drift::Drifted),
                        report.count(Drift::Missing)
                    )),
                    Round::Failed { error, consecutive, retry_in } => out.error_line(format_args!(
                        "warning: reconcile failed ({consecutive} in a row), retrying in {}s: {error}",
                        retry_in.as_secs()
                    )),
                }
                true
            })
            .await;
        Ok(Status::Success)
    })
}
