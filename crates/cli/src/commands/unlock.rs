//! `druidctl unlock`: break an environment's deploy lock by hand (its holder crashed),
//! recorded in the history with the reason.

use deploy_core::ledger::Ledger;
use deploy_core::publish::open_registry_for;
use deploy_core::session::whoami;

use super::{Context, block_on};
use crate::output::{CliError, Output, Status};

/// Flags of `unlock`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Why (recorded): who checked that the holder is gone.
    #[arg(long, value_name = "TEXT")]
    reason: String,
}

pub fn run(context: &Context, args: &Args, out: &Output) -> Result<Status, CliError> {
    let project = context.project()?;
    let environment = context.environment(&project)?;
    let broken = block_on(async {
        let ledger = Ledger::new(open_registry_for(&environment).await);
        Ok(ledger.unlock(&environment.name, &whoami(), &args.reason).await?)
    })?;
    if out.is_json() {
        out.json(&serde_json::json!({ "environment": environment.name, "broken": broken }))?;
        return Ok(Status::Success);
    }
    match broken {
        Some(lease) => out.line(format_args!(
            "broke the lock of {} held by {} since {} (recorded)",
            environment.name, lease.owner, lease.acquired_at
        ))?,
        None => out.line(format_args!("{} is not locked: nothing to do", environment.name))?,
    }
    Ok(Status::Success)
}
