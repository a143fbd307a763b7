//! `druidctl validate`.

use deploy_core::{Problem, Severity};
use serde::Serialize;

use super::{Context, overrides};
use crate::commands::compile::plural;
use crate::output::{CliError, Output, Status};

/// Flags of `validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run on every pipeline of the project file (docs/fleet.md).
    #[command(flatten)]
    pub fleet: super::FleetArgs,
}

#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    message_type: &'a str,
    dimensions: usize,
    environments: Vec<String>,
    errors: usize,
    warnings: usize,
    problems: &'a [Problem],
}

pub fn run(context: &Context, _args: &Args, out: &Output) -> Result<Status, CliError> {
    let project = context.project()?;
    // Every environment (or the one asked for) must load: a bad window or registry is caught
    // here rather than at deploy time.
    let names: Vec<String> = match &context.env {
        Some(name) => vec![name.clone()],
        None => project.config().environment_names().map(str::to_owned).collect(),
    };
    let overrides = overrides();
    // Every environment is loaded, and every problem reported, before giving up.
    let mut config_errors = Vec::new();
    for name in &names {
        if let Err(err) = project.environment(name, &overrides) {
            config_errors.push(err);
        }
    }
    if let Some(last) = config_errors.pop() {
        for err in &config_errors {
            out.error_line(format_args!("error: {err}"));
        }
        if config_errors.is_empty() {
            return Err(last.into());
        }
        let count = config_errors.len() + 1;
        return Err(CliError::from(last).with_hint(format!(
            "{count} environments have errors (all listed above); fix each key in the project file"
        )));
    }
    let checked = project.check()?;
    let errors = count(&checked.problems, Severity::Error);
    let warnings = count(&checked.problems, Severity::Warning);
    let report = Report {
        ok: errors == 0,
        message_type: checked.message.full_name(),
        dimensions: checked.dimensions.dimensions.len(),
        environments: names,
        errors,
        warnings,
        problems: &checked.problems,
    };
    if out.is_json() {
        out.json(&report)?;
    } else {
        print_problems(out, &checked.problems, &checked.dimensions_path.display().to_string(), false);
        out.line(format_args!(
            "{}: {} error{}, {} warning{} ({} dimension{} of {}; environment{} {})",
            if report.ok { "valid" } else { "invalid" },
            errors,
            plural(errors),
            warnings,
            plural(warnings),
            report.dimensions,
            plural(report.dimensions),
            report.message_type,
            plural(report.environments.len()),
            report.environments.join(", "),
        ))?;
    }
    Ok(if report.ok { Status::Success } else { Status::CheckFailed })
}

fn count(problems: &[Problem], severity: Severity) -> usize {
    problems.iter().filter(|problem| problem.severity == severity).count()
}

/// Prints findings as `severity: subject: message`, where, and the fix; to stderr when the
/// command's result is something else (`render`). Info lines are hidden by `-q`.
pub fn print_problems(out: &Output, problems: &[Problem], file: &str, to_stderr: bool) {
    for problem in problems {
        if problem.severity == Severity::Info && !out.shows_notes() {
            continue;
        }
        let mut text = format!(
            "{}: {}: {}\n  --> {file}: {}",
            Output::label(problem.severity),
            problem.subject,
            problem.message,
            problem.location
        );
        if let Some(help) = &problem.help {
            text.push_str("\n  help: ");
            text.push_str(help);
        }
        if to_stderr {
            out.error_line(text);
        } else {
            let _ = out.line(text);
        }
    }
}
