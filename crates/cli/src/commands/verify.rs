//! `druidctl verify`: the verdict on the running tasks, then the post-deploy checklist.

use std::sync::Arc;

use super::{Context, block_on};
use crate::output::{CliError, Output, Status, print_checks};
use crate::reporter::Progress;

/// `druidctl verify`'s flags.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Args {
    /// Every pipeline of the project file.
    #[command(flatten)]
    pub fleet: super::FleetArgs,
    /// Exit 1 when the verdict is `unverified` (too few records to decide), not 0.
    #[arg(long)]
    pub require_evidence: bool,
}

pub fn run(context: &Context, args: Args, out: &Output) -> Result<Status, CliError> {
    let (_, session) = context.connect(out)?;
    let progress = Arc::new(Progress::new(out.clone(), false));
    let session = session.with_reporter(progress.clone());
    let verification = block_on(async { Ok(session.verify().await?) })?;
    progress.finish();
    if out.is_json() {
        out.json(&verification.report())?;
    } else {
        print_checks(out, &verification)?;
    }
    Ok(super::deploy::status_of(&verification, args.require_evidence))
}
