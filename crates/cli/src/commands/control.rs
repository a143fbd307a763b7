//! `druidctl suspend`, `resume` and `reset`: the emergency controls.

use std::sync::Arc;

use deploy_core::controls::{Control, ControlOutcome, ControlReport};

use super::{Context, block_on, confirm};
use crate::output::{CliError, Output, Status};
use crate::reporter::Progress;

/// Flags of `reset`.
#[derive(Debug, clap::Args)]
pub struct ResetArgs {
    /// Do not ask for confirmation (needed when not on a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// `suspend`, `resume` or `reset` (asks for confirmation: offsets are forgotten).
pub fn run(context: &Context, control: Control, yes: bool, out: &Output) -> Result<Status, CliError> {
    let (_, session) = context.connect(out)?;
    if control == Control::Reset {
        confirm(
            &format!(
                "Reset {} ({}): stored offsets are forgotten, data may be skipped or re-read",
                session.environment.name, session.environment.datasource
            ),
            yes,
        )?;
    }
    let progress = Arc::new(Progress::new(out.clone(), false));
    let session = session.with_reporter(progress.clone());
    let outcome = block_on(async {
        let result = session.control(control).await;
        session.flush_notifications().await;
        Ok(result?)
    })?;
    progress.finish();
    if out.is_json() {
        out.json(&ControlReport {
            environment: &session.environment.name,
            supervisor: session.environment.supervisor_id(),
            action: control,
            outcome,
        })?;
    } else {
        let done = match outcome {
            ControlOutcome::AlreadySo => format!("was {}: nothing to do", control.already()),
            ControlOutcome::Applied => control.past().to_owned(),
        };
        out.line(format_args!("{} ({}) {done}", session.environment.datasource, session.environment.name))?;
    }
    Ok(Status::Success)
}
