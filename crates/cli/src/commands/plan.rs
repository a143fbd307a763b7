//! `druidctl plan`: what deploy would do (validation, compatibility, the spec diff against
//! Druid, drift), without doing it.

use std::sync::Arc;

use deploy_core::plan::ChangeOp;

use super::{Context, block_on};
use crate::output::{CliError, Output, Status};
use crate::reporter::Progress;

pub fn run(context: &Context, out: &Output) -> Result<Status, CliError> {
    let (project, session) = context.connect(out)?;
    let checked = project.check()?;
    let progress = Arc::new(Progress::new(out.clone(), false));
    let session = session.with_reporter(progress.clone());
    let plan = block_on(async { Ok(session.plan(&checked).await?) })?;
    progress.finish();
    if out.is_json() {
        out.json(&plan)?;
        return Ok(Status::Success);
    }
    out.line(format_args!(
        "{} ({}): channel {} at {}",
        plan.environment,
        session.environment.datasource,
        session.environment.channel,
        plan.channel_version.as_deref().unwrap_or("no version yet")
    ))?;
    let errors =
        plan.problems.iter().filter(|problem| problem.severity == deploy_core::Severity::Error).count();
    if errors > 0 {
        out.line(format_args!("validation: {errors} error(s); run `druidctl validate`"))?;
    }
    if let Some(report) = &plan.compatibility {
        for finding in &report.findings {
            out.line(format_args!("compat: {finding}"))?;
        }
    }
    for change in &plan.changes {
        let value =
            |value: &Option<serde_json::Value>| value.as_ref().map(ToString::to_string).unwrap_or_default();
        match change.op {
            ChangeOp::Add if change.path.is_empty() => {
                out.line("+ the whole supervisor spec (no supervisor yet)")?;
            }
            ChangeOp::Add => out.line(format_args!("+ {}: {}", change.path, value(&change.to)))?,
            ChangeOp::Remove => out.line(format_args!("- {}: {}", change.path, value(&change.from)))?,
            ChangeOp::Change => {
                out.line(format_args!(
                    "~ {}: {} -> {}",
                    change.path,
                    value(&change.from),
                    value(&change.to)
                ))?;
            }
        }
    }
    if let Some(hint) = &plan.drift.hint {
        out.line(format_args!("drift: {hint}"))?;
    }
    out.line(format_args!("deploy would: {}", plan.action))?;
    Ok(Status::Success)
}
