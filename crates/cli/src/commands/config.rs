//! `druidctl config view`: an environment as druidctl reads it, key by key, optionally with
//! where each value came from.

use super::{Context, overrides};
use crate::output::{CliError, Output, Status};

/// `config` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The environment's settings merged over [defaults], with the DRUIDCTL_* variables
    /// applied (secrets shown as ***). Settings not listed take their built-in defaults.
    #[command(
        after_help = "Examples:\n  druidctl config view --env prod\n  druidctl config view --env dev --show-origin -o json"
    )]
    View {
        /// Say where each value came from: a key of the project file, or a variable.
        #[arg(long)]
        show_origin: bool,
    },
}

pub fn run(context: &Context, command: &Command, out: &Output) -> Result<Status, CliError> {
    let Command::View { show_origin } = command;
    let project = context.project()?;
    let environment = context.environment(&project)?;
    let view = project.config().view(&environment.name, &overrides())?;
    if out.is_json() {
        out.json(&view)?;
        return Ok(Status::Success);
    }
    let width =
        view.iter().map(|setting| setting.key.len() + 3 + setting.value.to_string().len()).max().unwrap_or(0);
    for setting in &view {
        let line = format!("{} = {}", setting.key, setting.value);
        if *show_origin {
            let origin =
                setting.origin.as_ref().map_or_else(|| "built-in default".to_owned(), ToString::to_string);
            out.line(format_args!("{line:<width$}  # {origin}"))?;
        } else {
            out.line(line)?;
        }
    }
    out.note(format_args!(
        "{} ({}): settings not listed take their built-in defaults",
        environment.name,
        project.config().path().display()
    ));
    Ok(Status::Success)
}
