//! `druidctl plan`: what deploy would do (validation, compatibility, the spec diff against
//! Druid, drift), without doing it.

use std::sync::Arc;

use deploy_core::plan::{ChangeOp, RefusalKind};

use super::{Context, block_on};
use crate::commands::validate::print_problems;
use crate::output::{CliError, FindingStyle, Output, Sink, Status, print_findings};
use crate::reporter::Progress;

/// Flags of `plan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run on every pipeline of the project file (docs/fleet.md).
    #[command(flatten)]
    pub fleet: super::FleetArgs,
    /// Exit 0 when a deploy would change nothing, 1 when it would be refused, 4 when it would
    /// change something (as `terraform plan -detailed-exitcode`, for pipelines).
    #[arg(long)]
    exit_code: bool,
    /// What the deploy would be asked: the same flags as `deploy` (overrides with --reason,
    /// --schema-version, --same-datasource).
    #[command(flatten)]
    options: super::deploy::DeployOptionArgs,
    /// Write the plan to FILE for `druidctl apply FILE` (docs/plan-files.md). A plan that
    /// would be refused is not written (exit 1); a closed window does not stop it (exit 0):
    /// apply judges the window when it runs.
    #[arg(long, value_name = "FILE", conflicts_with = "all")]
    out: Option<std::path::PathBuf>,
}

pub fn run(context: &Context, args: &Args, out: &Output) -> Result<Status, CliError> {
    let (project, session) = context.connect(out)?;
    let checked = project.check()?;
    let progress = Arc::new(Progress::new(out.clone(), false));
    let session = session.with_reporter(progress.clone());
    let options = args.options.options();
    let plan = block_on(async { Ok(session.plan(&checked, project.config().base_dir(), &options).await?) })?;
    progress.finish();
    let status = if out.is_json() {
        out.json(&plan)?;
        status_of(&plan, args)
    } else {
        print(out, &plan, &project, &session.environment, args)?
    };
    if let Some(path) = &args.out {
        write_plan(&session, &plan, path, out)?;
        // Written: nothing refuses but maybe the window, which `apply` judges when it runs.
        return Ok(if plan.changes && args.exit_code { Status::Changes } else { Status::Success });
    }
    Ok(status)
}

/// Writes the plan file, or says why not (the plan's refusal, exit 1).
fn write_plan(
    session: &deploy_core::Session,
    plan: &deploy_core::plan::Plan,
    path: &std::path::Path,
    out: &Output,
) -> Result<(), CliError> {
    let now = session.clock.now();
    match deploy_core::workflow::plan_file::write(plan, &session.environment, path, &session.actor, now) {
        Ok(()) => {
            out.note(format_args!(
                "plan written to {}: `druidctl apply {}` carries it out while what it saw holds",
                path.display(),
                path.display()
            ));
            Ok(())
        }
        Err(err) => {
            out.error_line(format_args!("plan not written to {}", path.display()));
            Err(err.into())
        }
    }
}

fn status_of(plan: &deploy_core::plan::Plan, args: &Args) -> Status {
    match (&plan.refused, plan.changes) {
        (Some(_), _) => Status::CheckFailed,
        (None, true) if args.exit_code => Status::Changes,
        (None, _) => Status::Success,
    }
}

/// `plan` of several pipelines: each proto root compiled once, the plans made 16 at a time,
/// then printed in order under a heading each (`-o json`: one document with every plan).
pub fn run_fleet(
    context: &Context,
    args: &Args,
    out: &Output,
    selection: &[Option<String>],
) -> Result<Status, CliError> {
    let mut connected = Vec::new();
    let mut projects = Vec::new();
    for pipeline in selection {
        let (project, session) = context.with_pipeline(pipeline.clone()).connect(out)?;
        projects.push(project.clone());
        connected.push((pipeline.clone(), project, session));
    }
    let members = deploy_core::fleet::Member::all(connected);
    let plans =
        block_on(async { Ok(deploy_core::fleet::plan(&members, &args.options.options(), 16).await) })?;
    let mut worst = Status::Success;
    let mut failed = Vec::new();
    let mut documents = Vec::new();
    for ((member, project), plan) in members.iter().zip(&projects).zip(plans) {
        let name = member.pipeline.clone().unwrap_or_else(|| "-".into());
        match plan {
            Ok(plan) => {
                worst = worst.max(status_of(&plan, args));
                if out.is_json() {
                    documents.push(serde_json::json!({"pipeline": name, "plan": plan}));
                } else {
                    out.note(format_args!("== pipeline {name} =="));
                    print(out, &plan, project, &member.session.environment, args)?;
                }
            }
            Err(error) => {
                if out.is_json() {
                    documents.push(serde_json::json!({"pipeline": name, "error": error}));
                } else {
                    out.note(format_args!("== pipeline {name} =="));
                    out.error_line(format_args!("error: {error}"));
                }
                failed.push(name);
            }
        }
    }
    if out.is_json() {
        out.json(&documents)?;
    }
    if failed.is_empty() {
        Ok(worst)
    } else {
        Err(CliError::new(
            format!(
                "{} of {} pipelines could not be planned: {}",
                failed.len(),
                selection.len(),
                failed.join(", ")
            ),
            crate::output::EXIT_EXTERNAL,
            None,
        ))
    }
}

/// One plan as text; the status it means.
fn print(
    out: &Output,
    plan: &deploy_core::plan::Plan,
    project: &deploy_core::Project,
    environment: &deploy_core::config::Environment,
    args: &Args,
) -> Result<Status, CliError> {
    let status = status_of(plan, args);
    out.line(format_args!(
        "{} ({}): channel {} at {}",
        plan.environment,
        environment.datasource,
        environment.channel,
        plan.channel_version.as_deref().unwrap_or("no version yet")
    ))?;
    let file = project.dimensions_path().display().to_string();
    let errors: Vec<_> = plan
        .problems
        .iter()
        .filter(|problem| problem.severity == deploy_core::Severity::Error)
        .cloned()
        .collect();
    print_problems(out, &errors, &file, false);
    if let Some(verdict) = &plan.compatibility {
        let style = FindingStyle { prefix: "compat: ", ..FindingStyle::default() };
        print_findings(out, verdict, Sink::Line, style)?;
    }
    print_diff(out, &plan.diff, "")?;
    if let Some(hint) = &plan.drift.hint {
        out.line(format_args!("drift: {hint}"))?;
    }
    if let Some(preflight) = &plan.preflight {
        let report = &preflight.report;
        out.line(format_args!(
            "preflight: {} on {} records of `{}`: {:.2} % unparseable predicted (live schema: {})",
            if preflight.passed() { "pass" } else { "FAIL" },
            report.records_sampled,
            environment.kafka.topic,
            report.unparseable_ratio * 100.0,
            report
                .live_unparseable_ratio
                .map_or_else(|| "-".to_owned(), |ratio| format!("{:.2} %", ratio * 100.0))
        ))?;
        for finding in &report.findings {
            out.line(format_args!("preflight: {finding}"))?;
        }
    }
    if let Some(error) = &plan.preflight_error {
        out.line(format_args!("preflight: {error}"))?;
    }
    if let Some(migration) = &plan.migration {
        out.line(format_args!("migration: {migration}"))?;
    }
    if let Some(side) = plan.old_side.as_ref().and_then(|side| side.ingestion.as_ref()) {
        out.line(format_args!(
            "old side: {} {}, {} task(s)",
            side.datasource,
            side.state.as_deref().unwrap_or("-"),
            side.active_tasks
        ))?;
    }
    out.line(format_args!("deploy would: {}", plan.action))?;
    if let Some(refusal) = &plan.refused {
        let hint = match refusal.kind {
            RefusalKind::InvalidMapping => "`druidctl validate` lists every problem with its fix",
            RefusalKind::DirtyTree => "commit the schema and dimensions.json first",
            RefusalKind::Breaking => {
                "change `datasource` in the project file: deploy then starts a migration to the new datasource (docs/migrations.md); or `druidctl deploy --allow-breaking --reason TEXT` deploys in place, recorded"
            }
            RefusalKind::DruidRelease => {
                "upgrade Druid to 36.0.0 or later (or stay on 34); nothing can ingest protobuf on 35.0.x"
            }
            RefusalKind::DruidDamage => {
                "keep the JSON names, numbers, types, presence and enum names Druid reads, or point dimensions.json at the renamed field, or change `datasource` in the project file to migrate to a new datasource; `druidctl check` shows each column"
            }
            RefusalKind::WindowClosed => {
                "`druidctl deploy --ignore-window --reason TEXT` overrides it, recorded"
            }
            RefusalKind::Preflight => {
                "`druidctl preflight` shows every column; `druidctl deploy --skip-preflight --reason TEXT` overrides it, recorded"
            }
            RefusalKind::Migration => {
                "`druidctl migrate status` shows the migration; docs/migrations.md says what each rule protects"
            }
        };
        out.error_line(format_args!("hint: {hint}"));
    }
    Ok(status)
}

/// A spec diff, one line per change (`+ path: value`, `- path: value`, `~ path: from -> to`),
/// each after `indent`.
pub fn print_diff(
    out: &Output,
    diff: &[deploy_core::plan::SpecChange],
    indent: &str,
) -> Result<(), CliError> {
    for change in diff {
        let value =
            |value: &Option<serde_json::Value>| value.as_ref().map(ToString::to_string).unwrap_or_default();
        match change.op {
            ChangeOp::Add if change.path.is_empty() => {
                out.line(format_args!("{indent}+ the whole supervisor spec (no supervisor yet)"))?;
            }
            ChangeOp::Add => out.line(format_args!("{indent}+ {}: {}", change.path, value(&change.to)))?,
            ChangeOp::Remove => {
                out.line(format_args!("{indent}- {}: {}", change.path, value(&change.from)))?;
            }
            ChangeOp::Change => {
                out.line(format_args!(
                    "{indent}~ {}: {} -> {}",
                    change.path,
                    value(&change.from),
                    value(&change.to)
                ))?;
            }
        }
    }
    Ok(())
}
