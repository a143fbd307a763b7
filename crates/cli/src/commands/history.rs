//! `druidctl history`: deploys, rollbacks and emergency actions recorded for an environment.

use std::fmt::Write as _;

use deploy_core::ledger::Ledger;
use deploy_core::publish::open_registry_for;

use super::{Context, block_on};
use crate::output::{CliError, Output, Status, table};

/// Flags of `history`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run on every pipeline of the project file (docs/fleet.md).
    #[command(flatten)]
    pub fleet: super::FleetArgs,
    /// Only the last N records.
    #[arg(long, short = 'n', value_name = "N")]
    limit: Option<usize>,
}

pub fn run(context: &Context, args: &Args, out: &Output) -> Result<Status, CliError> {
    // The registry alone: history works while Druid is unreachable.
    let project = context.project()?;
    let environment = context.environment(&project)?;
    let records = block_on(async {
        let ledger = Ledger::new(open_registry_for(&environment).await);
        Ok(ledger.history(&environment.name).await?)
    })?;
    let skip = args.limit.map_or(0, |limit| records.len().saturating_sub(limit));
    let records = &records[skip..];
    if out.is_json() {
        out.json(&records)?;
        return Ok(Status::Success);
    }
    let mut rows = table(&["AT", "ACTION", "OUTCOME", "FROM", "TO", "BY", "DETAIL"]);
    for record in records {
        let mut detail = record.detail.clone().unwrap_or_default();
        for (what, reason) in &record.overrides {
            let _ = write!(detail, " [{what} override: {reason}]");
        }
        rows.add_row(vec![
            to_millis(&record.at),
            record.action.to_string(),
            record.outcome.to_string(),
            record.from.clone().unwrap_or_default(),
            record.to.clone().unwrap_or_default(),
            record.by.clone().unwrap_or_default(),
            detail.trim().to_owned(),
        ]);
    }
    out.line(rows)?;
    Ok(Status::Success)
}

/// An RFC 3339 time to the millisecond (the ledger keeps nanoseconds).
pub fn to_millis(at: &str) -> String {
    at.parse::<jiff::Timestamp>()
        .ok()
        .and_then(|time| time.round(jiff::Unit::Millisecond).ok())
        .map_or_else(|| at.to_owned(), |time| format!("{time:.3}"))
}
