//! `druidctl reconcile --env E [--apply]`: every pipeline's channel version against what Druid
//! runs (docs/reconcile.md).

use deploy_core::fleet::runtime::{Round, Service, ServiceOptions};
use deploy_core::reconcile::{Options, State};
use deploy_core::session::Cancel;
use deploy_core::{Session, policy};

use super::{Context, block_on, confirm};
use crate::output::{CliError, Output, Status, table};

/// Flags of `reconcile`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Put the channel's version back on drifted and missing pipelines (verified, recorded;
    /// never outside the window, never an unmanaged supervisor).
    #[arg(long)]
    apply: bool,
    /// Do not ask for confirmation (needed with --apply where the environment asks, off a
    /// terminal).
    #[arg(long, short = 'y')]
    yes: bool,
    /// Keep reconciling every --interval, as a service: notifications when a pipeline drifts
    /// and when it is back, one summary line per round.
    #[arg(long)]
    watch: bool,
    /// Time between two rounds with --watch (`60s`, `5m`; at least 1s).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = interval)]
    interval: std::time::Duration,
    /// Serve Prometheus metrics at http://ADDR/metrics (pipelines by state, drift age, last
    /// reconcile; implies --watch).
    #[arg(long, value_name = "ADDR")]
    prometheus: Option<std::net::SocketAddr>,
}

/// `--interval`: a duration of at least a second.
pub fn interval(text: &str) -> Result<std::time::Duration, String> {
    let interval = humantime::parse_duration(text).map_err(|err| err.to_string())?;
    if interval < std::time::Duration::from_secs(1) {
        return Err("must be at least 1s: a shorter interval hammers the Overlord".into());
    }
    Ok(interval)
}

/// Every pipeline of the project file on the `--env` environment: (name, session).
pub fn sessions(context: &Context, out: &Output) -> Result<Vec<(Option<String>, Session)>, CliError> {
    let names = context.project_file()?.pipeline_names();
    let selection: Vec<Option<String>> =
        if names.is_empty() { vec![None] } else { names.into_iter().map(Some).collect() };
    selection
        .into_iter()
        .map(|pipeline| {
            let (_, session) = context.with_pipeline(pipeline.clone()).connect(out)?;
            Ok((pipeline, session))
        })
        .collect()
}

pub fn run(context: &Context, args: &Args, out: &Output) -> Result<Status, CliError> {
    let mut sessions = sessions(context, out)?;
    let progress = std::sync::Arc::new(crate::reporter::Progress::new(out.clone(), false));
    if args.apply {
        // What --apply does, pipeline by pipeline, as a deploy shows it.
        sessions = sessions
            .into_iter()
            .map(|(pipeline, session)| {
                let name = pipeline.clone().unwrap_or_else(|| "-".into());
                let reporter =
                    std::sync::Arc::new(deploy_core::events::Prefixed { inner: progress.clone(), name });
                (pipeline, session.with_reporter(reporter))
            })
            .collect();
    }
    let first = &sessions[0].1;
    if args.apply && policy::needs_confirmation(&first.environment) && !args.yes {
        confirm(
            &format!(
                "Put the channel's version back on every drifted or missing pipeline of {}",
                first.environment.name
            ),
            args.yes,
        )?;
    }
    let druid = first.druid.clone();
    let options = Options { apply: args.apply, ..Options::default() };
    if args.watch || args.prometheus.is_some() {
        return watch(sessions, args, options, out);
    }
    let report = block_on(async {
        let report = deploy_core::reconcile::reconcile(druid.as_ref(), &sessions, options).await;
        for (_, session) in &sessions {
            session.flush_notifications().await;
        }
        Ok(report?)
    })?;
    progress.finish();
    let status = if report.in_sync() { Status::Success } else { Status::CheckFailed };
    if out.is_json() {
        out.json(&report)?;
        return Ok(status);
    }
    let mut rows = table(&["PIPELINE", "SUPERVISOR", "STATE", "CHANNEL", "CHANGED", "APPLIED"]);
    for entry in &report.entries {
        rows.add_row(vec![
            entry.pipeline.clone().unwrap_or_else(|| "-".into()),
            entry.supervisor.clone(),
            entry.state.as_str().to_owned(),
            entry.channel_version.clone().unwrap_or_else(|| "-".into()),
            entry.changed.clone().or_else(|| entry.detail.clone()).unwrap_or_default(),
            entry.applied.clone().unwrap_or_default(),
        ]);
    }
    out.line(rows)?;
    for entry in report.entries.iter().filter(|entry| entry.state == State::Drifted) {
        out.line(format_args!(
            "{} ({}) differs from {}:",
            entry.supervisor,
            entry.pipeline.as_deref().unwrap_or("-"),
            entry.channel_version.as_deref().unwrap_or("-")
        ))?;
        super::plan::print_diff(out, &entry.diff, "  ")?;
    }
    let healed = report
        .entries
        .iter()
        .filter(|entry| entry.applied.as_deref().is_some_and(|applied| applied.starts_with("healed")))
        .count();
    let unreadable = report.count(State::Error);
    out.line(format_args!(
        "{} in sync, {} drifted, {} missing, {} without a version, {} unmanaged (left alone){}{}",
        report.count(State::InSync),
        report.count(State::Drifted),
        report.count(State::Missing),
        report.count(State::NoVersion),
        report.count(State::Unmanaged),
        if unreadable > 0 { format!(", {unreadable} unreadable") } else { String::new() },
        if args.apply { format!("; {healed} healed") } else { String::new() }
    ))?;
    Ok(status)
}

/// `--watch`: the library's reconcile service, a round every interval (a backoff after failed
/// rounds) until interrupted; metrics served with `--prometheus`.
fn watch(
    sessions: Vec<(Option<String>, Session)>,
    args: &Args,
    options: Options,
    out: &Output,
) -> Result<Status, CliError> {
    block_on(async {
        let metrics = super::serve_prometheus(args.prometheus, out).await?;
        let service_options = ServiceOptions {
            apply: options.apply,
            interval: args.interval,
            snapshot: false,
            concurrency: options.concurrency,
        };
        let mut service = Service::new(sessions, service_options);
        let latest = service.latest();
        let mut printed = Ok(());
        service
            .run(&Cancel::default(), |round| {
                metrics
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone_from(&latest.read().unwrap_or_else(std::sync::PoisonError::into_inner).metrics);
                printed = match round {
                    Round::Reconciled(report) if out.is_json() => {
                        out.line(serde_json::to_string(report).unwrap_or_default())
                    }
                    Round::Reconciled(report) => out.line(format_args!(
                        "{}: {} in sync, {} drifted, {} missing, {} unmanaged",
                        report.at,
                        report.count(State::InSync),
                        report.count(State::Drifted),
                        report.count(State::Missing),
                        report.count(State::Unmanaged)
                    )),
                    Round::Failed { error, consecutive, retry_in } => {
                        out.error_line(format_args!(
                            "warning: reconcile failed ({consecutive} in a row), retrying in {}s: {error}",
                            retry_in.as_secs()
                        ));
                        Ok(())
                    }
                };
                // Stdout closed: stop.
                printed.is_ok()
            })
            .await;
        printed?;
        Ok(Status::Success)
    })
}
