//! `druidctl verify`: the post-deploy checklist.

use std::sync::Arc;

use super::{Context, block_on};
use crate::output::{CliError, Output, Status, print_checks};
use crate::reporter::Progress;

pub fn run(context: &Context, out: &Output) -> Result<Status, CliError> {
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
    Ok(if verification.passed() { Status::Success } else { Status::CheckFailed })
}
