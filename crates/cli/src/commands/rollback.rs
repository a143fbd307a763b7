//! `druidctl rollback`: re-deploy an earlier version and verify it.

use std::sync::Arc;

use deploy_core::policy;
use deploy_core::rollback::RollbackReport;

use deploy_core::session::Cancel;

use super::{Context, block_on, block_on_interruptible, confirm};
use crate::output::{CliError, Output, Status, print_checks};
use crate::reporter::Progress;

/// Flags of `rollback`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A version, a channel, or `previous` (the version the environment's channel pointed at
    /// before its last move; also `previous-<channel>`).
    #[arg(long = "schema-version", alias = "version", value_name = "VERSION", default_value = "previous", add = clap_complete::ArgValueCandidates::new(crate::complete::versions))]
    target: String,
    /// Do not ask for confirmation (needed for prod when not on a terminal).
    #[arg(long, short = 'y')]
    yes: bool,
}

pub fn run(context: &Context, args: &Args, out: &Output) -> Result<Status, CliError> {
    let (_, session) = context.connect(out)?;
    if policy::needs_confirmation(&session.environment) && !args.yes {
        // Say what `previous` (or a channel) means before asking.
        let (version, live) = block_on(async {
            let version = session.rollback_target(&args.target).await?;
            Ok((version, session.drift().await?.live_version))
        })?;
        confirm(
            &format!(
                "Roll {} ({}) back: {} -> {version}{}",
                session.environment.name,
                session.environment.datasource,
                live.as_deref().unwrap_or("no registry version live"),
                if args.target == version.as_str() { String::new() } else { format!(" (`{}`)", args.target) }
            ),
            args.yes,
        )?;
    }
    let progress = Arc::new(Progress::new(out.clone(), out.is_json()));
    let session = session.with_reporter(progress.clone());
    let cancel = Cancel::default();
    let session = session.with_cancel(cancel.clone());
    let (version, verification) = block_on_interruptible(&cancel, async {
        let result = session.rollback(&args.target).await;
        session.flush_notifications().await;
        Ok(result?)
    })?;
    progress.finish();
    if out.is_json() {
        out.line(serde_json::to_string(&RollbackReport::new(&version, &verification)).unwrap_or_default())?;
    } else {
        print_checks(out, &verification)?;
        out.line(format_args!("rolled {} back to {version}", session.environment.name))?;
    }
    Ok(if verification.passed() { Status::Success } else { Status::CheckFailed })
}
