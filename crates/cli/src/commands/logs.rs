//! `druidctl logs`: the end of the supervisor's task logs, `--follow` to keep reading.

use std::time::Duration;

use super::{Context, block_on};
use crate::output::{CliError, Output, Status};

/// Flags of `logs`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// One task [default: every running task of the supervisor].
    #[arg(long, value_name = "ID")]
    task: Option<String>,
    /// Lines from the end of each log.
    #[arg(long, value_name = "N", default_value_t = 100)]
    tail: usize,
    /// Keep printing what the tasks log, every 2 s, until interrupted (with --output json:
    /// one `{"task", "line"}` JSON line per log line).
    #[arg(long, short = 'f')]
    follow: bool,
}

pub fn run(context: &Context, args: &Args, out: &Output) -> Result<Status, CliError> {
    let (_, session) = context.connect(out)?;
    block_on(async {
        let tasks = session.log_tasks(args.task.as_deref()).await?;
        if tasks.is_empty() {
            out.note(format_args!("{} has no running task", session.environment.datasource));
        }
        let logs = session.task_logs(&tasks, args.tail).await?;
        let mut follower = if args.follow { Some(session.follow_logs(&tasks).await?) } else { None };
        if out.is_json() && !args.follow {
            out.json(&logs)?;
            return Ok(Status::Success);
        }
        if out.is_json() {
            // Following: one JSON line per log line, the tails first.
            for log in &logs {
                for line in log.log.lines() {
                    out.line(serde_json::json!({ "task": log.task, "line": line }))?;
                }
            }
        } else {
            for log in &logs {
                out.line(format_args!("==> {} <==", log.task))?;
                out.line(if log.log.is_empty() { "(no log yet)" } else { &log.log })?;
            }
        }
        let Some(follower) = &mut follower else { return Ok(Status::Success) };
        // Until interrupted (Ctrl-C) or stdout closes.
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            for (task, line) in follower.poll().await? {
                if out.is_json() {
                    out.line(serde_json::json!({ "task": task, "line": line }))?;
                } else {
                    out.line(format_args!("[{task}] {line}"))?;
                }
            }
        }
    })
}
