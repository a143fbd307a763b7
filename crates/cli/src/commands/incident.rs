//! `druidctl incident`: a post-mortem draft (Markdown, or JSON with `-o json`) of a time
//! window, from druidctl's history and what Druid recorded.

use super::{Context, block_on};
use crate::output::{CliError, EXIT_INPUT, Output, Status};

/// Flags of `incident`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The window ends now and starts this long ago (`2h`, `30m`, `1d`).
    #[arg(long, value_name = "DURATION", default_value = "2h", conflicts_with = "from")]
    since: String,
    /// Start of the window (RFC 3339).
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// End of the window (RFC 3339) [default: now].
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
}

fn time(flag: &str, text: &str) -> Result<jiff::Timestamp, CliError> {
    text.parse().map_err(|_| {
        CliError::new(
            format!("{flag} `{text}`: expected an RFC 3339 time (2026-11-30T03:00:00Z)"),
            EXIT_INPUT,
            None,
        )
    })
}

pub fn run(context: &Context, args: &Args, out: &Output) -> Result<Status, CliError> {
    let to = match &args.to {
        Some(text) => time("--to", text)?,
        None => jiff::Timestamp::now(),
    };
    let from = if let Some(text) = &args.from {
        time("--from", text)?
    } else {
        let span: jiff::SignedDuration = args.since.parse().map_err(|_| {
            CliError::new(
                format!("--since `{}`: expected a duration (2h, 30m, 1d)", args.since),
                EXIT_INPUT,
                None,
            )
        })?;
        to.checked_sub(span)
            .map_err(|err| CliError::new(format!("--since `{}`: {err}", args.since), EXIT_INPUT, None))?
    };
    if from >= to {
        return Err(CliError::new("the window's start must come before its end", EXIT_INPUT, None));
    }
    let (_, session) = context.connect(out)?;
    let incident = block_on(async { Ok(session.incident(from, to).await?) })?;
    if out.is_json() {
        out.json(&incident)?;
    } else {
        out.line(incident.markdown())?;
    }
    Ok(Status::Success)
}
