//! `druidctl notify test --env E`: sends a test event to every notifier of the environment.

use deploy_core::notify::EventKind;

use super::{Context, block_on};
use crate::output::{CliError, EXIT_EXTERNAL, EXIT_INPUT, Output, Status};

/// `notify` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Send a test message to every notifier of the environment.
    Test,
}

pub fn run(context: &Context, command: &Command, out: &Output) -> Result<Status, CliError> {
    let Command::Test = command;
    let (_, session) = context.connect(out)?;
    if session.notifier.is_empty() {
        return Err(CliError::new(
            format!("`{}` has no notifier", session.environment.name),
            EXIT_INPUT,
            Some(
                "add notify = [{ kind = \"slack\", url_env = \"DRUIDCTL_SLACK_WEBHOOK\" }] to the environment, or set DRUIDCTL_NOTIFY_WEBHOOK (docs/notifications.md)"
                    .into(),
            ),
        ));
    }
    let failures = block_on(async {
        session.notify(
            EventKind::Test,
            None,
            None,
            std::collections::BTreeMap::new(),
            Some("a test message from `druidctl notify test`".into()),
        );
        Ok(session.notifier.flush().await)
    })?;
    let targets = session.notifier.len();
    if out.is_json() {
        out.json(&serde_json::json!({"notifiers": targets, "failures": failures}))?;
    } else {
        out.line(format_args!(
            "sent a test message to {} of {targets} notifier(s)",
            targets - failures.len()
        ))?;
        for failure in &failures {
            out.error_line(format_args!("error: {failure}"));
        }
    }
    if failures.is_empty() {
        Ok(Status::Success)
    } else {
        Err(CliError::new(format!("{} notification(s) not delivered", failures.len()), EXIT_EXTERNAL, None))
    }
}
