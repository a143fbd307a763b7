//! `druidctl recover`: deal with a deploy whose process died (its journal entry is open and
//! its lock gone): put the channel's version back, or keep the new one with --finish when it
//! is live and verifies.

use deploy_core::policy;
use deploy_core::recover::Recovery;

use super::{Context, block_on, confirm};
use crate::output::{CliError, Output, Status, print_checks};

/// Flags of `recover`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep the abandoned deploy's version when it is what Druid runs and it verifies (moves
    /// the channel to it); otherwise the channel's version is put back.
    #[arg(long)]
    finish: bool,
    /// Do not ask for confirmation (needed where the environment asks, off a terminal).
    #[arg(long, short = 'y')]
    yes: bool,
}

pub fn run(context: &Context, args: &Args, out: &Output) -> Result<Status, CliError> {
    let (_, session) = context.connect(out)?;
    let Some(entry) = block_on(async { Ok(session.abandoned().await?) })? else {
        out.line(format_args!("{}: no abandoned deploy to recover", session.environment.name))?;
        return Ok(Status::Success);
    };
    if policy::needs_confirmation(&session.environment) {
        confirm(
            &format!(
                "Recover {}: the deploy of {} by {} ({:?}); {}",
                session.environment.name,
                entry.version,
                entry.actor,
                entry.step,
                if args.finish {
                    format!("keep {} if it verifies", entry.version)
                } else {
                    format!("put {} back", entry.previous.as_deref().unwrap_or("the previous state"))
                }
            ),
            args.yes,
        )?;
    }
    let recovery = block_on(async {
        let result = session.recover(args.finish).await;
        session.flush_notifications().await;
        Ok(result?)
    })?;
    if out.is_json() {
        out.json(&recovery)?;
        return Ok(Status::Success);
    }
    match &recovery {
        Recovery::NothingToRecover => out.line("nothing to recover")?,
        Recovery::NothingSubmitted { entry } => {
            out.line(format_args!(
                "the deploy of {} died before Druid took it: closed, nothing to undo",
                entry.version
            ))?;
        }
        Recovery::Finished { entry, verification } => {
            print_checks(out, verification)?;
            out.line(format_args!("{} was live and verifies: the channel now points at it", entry.version))?;
        }
        Recovery::Resumed { entry, migration } => {
            out.line(format_args!(
                "the {} that died was run again: the migration to {} is {}",
                entry.action, migration.new.datasource, migration.state
            ))?;
        }
        Recovery::RolledBack { entry, restored, verification } => {
            if let Some(verification) = verification {
                print_checks(out, verification)?;
            }
            out.line(match restored {
                Some(version) => format!("{version} put back in place of {}", entry.version),
                None => format!("nothing ran before {}: the supervisor was suspended", entry.version),
            })?;
            if verification.as_ref().is_some_and(|checks| !checks.passed()) {
                return Ok(Status::CheckFailed);
            }
        }
    }
    Ok(Status::Success)
}
