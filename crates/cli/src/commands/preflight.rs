//! `druidctl preflight`: what Druid would store from the live topic with the candidate schema,
//! next to the live schema and to Druid's own sampler. Exit 0 pass, 1 fail, 3 Kafka or Druid
//! unreachable.

use std::sync::Arc;

use deploy_core::kafka::Start;
use deploy_core::preflight::{Options, Preflight};
use druid_mapping::preflight::Verdict;

use super::{Context, block_on};
use crate::output::{CliError, EXIT_INPUT, Output, Status, table};
use crate::reporter::Progress;

/// Flags of `preflight`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Records read per partition [default: the environment's preflight.sample, 1000].
    #[arg(long, value_name = "N")]
    sample: Option<usize>,
    /// Where each partition's sample starts: latest (its last records), earliest, or an RFC
    /// 3339 time.
    #[arg(long, value_name = "WHERE", default_value = "latest")]
    from: String,
    /// Do not ask Druid's sampler (the prediction only).
    #[arg(long)]
    no_druid: bool,
}

pub fn run(context: &Context, args: &Args, out: &Output) -> Result<Status, CliError> {
    let start = Start::parse(&args.from)
        .map_err(|message| CliError::new(format!("--from {message}"), EXIT_INPUT, None))?;
    if args.sample == Some(0) {
        return Err(CliError::new("--sample must be at least 1", EXIT_INPUT, None));
    }
    let (project, session) = context.connect(out)?;
    let checked = project.check()?;
    checked.ensure_valid()?;
    let progress = Arc::new(Progress::new(out.clone(), false));
    let session = session.with_reporter(progress.clone());
    let options = Options { sample: args.sample, start, druid_sampler: !args.no_druid };
    let preflight = block_on(async { Ok(session.preflight(&checked, options).await?) })?;
    progress.finish();
    if out.is_json() {
        out.json(&preflight)?;
    } else {
        print(out, &session.environment.name, &session.environment.kafka.topic, &preflight)?;
    }
    Ok(if preflight.passed() { Status::Success } else { Status::CheckFailed })
}

/// The report as text.
pub fn print(out: &Output, environment: &str, topic: &str, preflight: &Preflight) -> std::io::Result<()> {
    let report = &preflight.report;
    let percent = |ratio: f64| format!("{:.2} %", ratio * 100.0);
    out.line(format_args!(
        "preflight {environment}: {} records from {} partition(s) of `{topic}`; live version {}",
        report.records_sampled,
        report.partitions.len(),
        preflight.live_version.as_deref().unwrap_or("unknown")
    ))?;
    let reasons: Vec<String> =
        report.reasons.iter().map(|(reason, count)| format!("{reason} {count}")).collect();
    out.line(format_args!(
        "unparseable: {} predicted (live schema: {}){}",
        percent(report.unparseable_ratio),
        report.live_unparseable_ratio.map_or_else(|| "-".to_owned(), percent),
        if reasons.is_empty() { String::new() } else { format!(": {}", reasons.join(", ")) }
    ))?;
    if report.task_failures > 0 {
        out.line(format_args!(
            "task failures: {} record(s) would fail the ingestion task: {}",
            report.task_failures,
            report.task_failure_reason.as_deref().unwrap_or_default()
        ))?;
    }
    let mut rows = table(&["DIMENSION", "TYPE", "NULL", "LIVE NULL", "TYPE MISMATCHES", "DISTINCT"]);
    for dimension in &report.dimensions {
        rows.add_row(vec![
            dimension.name.clone(),
            dimension.kind.clone(),
            percent(dimension.null_ratio),
            dimension.live_null_ratio.map_or_else(|| "-".to_owned(), percent),
            dimension.type_mismatches.to_string(),
            dimension.distinct_estimate.to_string(),
        ]);
    }
    out.line(rows)?;
    if let (Some(earliest), Some(latest)) = (&report.timestamp.earliest, &report.timestamp.latest) {
        out.line(format_args!("time: {earliest} .. {latest}; {} unreadable", report.timestamp.unparseable))?;
    }
    if !report.new_columns.is_empty() {
        out.line(format_args!("new columns: {}", report.new_columns.join(", ")))?;
    }
    if !report.vanished_columns.is_empty() {
        out.line(format_args!("vanished columns: {}", report.vanished_columns.join(", ")))?;
    }
    match &preflight.druid_sampler {
        Some(sampler) => out.line(format_args!(
            "Druid's sampler: {} records ({} rows, {} unparseable); {}/{} agree with the prediction ({})",
            sampler.records,
            sampler.rows,
            sampler.unparseable,
            sampler.agreeing,
            sampler.records,
            percent(sampler.agreement)
        ))?,
        None => out.line("Druid's sampler: not asked or no answer")?,
    }
    for note in &preflight.notes {
        out.line(format_args!("note: {note}"))?;
    }
    out.line(format_args!(
        "verdict: {}",
        match report.verdict {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
        }
    ))?;
    for finding in &report.findings {
        out.line(format_args!("  - {finding}"))?;
    }
    Ok(())
}
