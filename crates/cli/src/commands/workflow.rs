//! The commands that talk to Druid: plan, deploy, verify, rollback, status, suspend, resume,
//! reset, history.

use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

use deploy_core::config::Environment;
use deploy_core::workflow::{
    CheckResult, DeployOptions, DeployOutcome, Event, Reporter, SystemClock, Verdict, Verification, Workflow,
};
use deploy_core::{Project, versions};
use schema_registry::Registry;

use super::schemas::table;
use super::{Context, block_on, whoami};
use crate::output::{CliError, EXIT_INPUT, Output, Status};

/// Flags of `deploy`.
#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// Version name [default: the short git commit].
    #[arg(long = "schema-version", value_name = "VERSION")]
    schema_version: Option<String>,
    /// Accept breaking changes (needs --reason; recorded).
    #[arg(long, requires = "reason")]
    allow_breaking: bool,
    /// Deploy outside the deployment window (needs --reason; recorded).
    #[arg(long, requires = "reason")]
    ignore_window: bool,
    /// Why an override is acceptable.
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
    /// Do not ask for confirmation (needed for prod when not on a terminal).
    #[arg(long, short = 'y')]
    yes: bool,
}

/// Flags of `rollback`.
#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    /// A version, a channel, or `previous` (the version the environment's channel pointed at
    /// before its last move; also `previous-<channel>`).
    #[arg(long = "version", value_name = "VERSION", default_value = "previous")]
    target: String,
    /// Do not ask for confirmation (needed for prod when not on a terminal).
    #[arg(long, short = 'y')]
    yes: bool,
}

/// Flags of `reset`.
#[derive(Debug, clap::Args)]
pub struct ResetArgs {
    /// Do not ask for confirmation (needed when not on a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// Everything a Druid command needs, built once.
struct Session {
    project: Project,
    environment: Environment,
    druid: druid_client::DruidClient,
    registry: Registry,
}

fn session(context: &Context, out: &Output) -> Result<Session, CliError> {
    let project = context.project()?;
    let environment = context.environment(&project)?;
    let druid = deploy_core::connect::druid_client(&environment)?;
    let registry = block_on(async { Ok(versions::open_registry(&environment.registry).await) })?;
    if out.is_verbose() {
        let mut url = druid.base_url(druid_client::Service::Router).clone();
        let _ = url.set_password(None);
        out.note(format_args!(
            "project {}, environment {} (datasource {}, channel {}), Druid {url}, registry {}",
            project.config().path().display(),
            environment.name,
            environment.datasource,
            environment.channel,
            registry.location()
        ));
    }
    Ok(Session { project, environment, druid, registry })
}

impl Session {
    fn workflow<'a>(&'a self, reporter: &'a dyn Reporter) -> Workflow<'a> {
        Workflow {
            druid: &self.druid,
            registry: &self.registry,
            environment: &self.environment,
            reporter,
            clock: &SystemClock,
            actor: whoami(),
            poll_interval: Duration::from_secs(5),
        }
    }
}

/// Progress: a spinner with the current step and the elapsed time on a terminal, plain lines
/// on stderr otherwise, JSON lines on stdout with `--output json`.
struct Progress<'a> {
    out: &'a Output,
    json_lines: bool,
    spinner: Option<indicatif::ProgressBar>,
}

impl<'a> Progress<'a> {
    fn new(out: &'a Output, json_lines: bool) -> Self {
        let spinner = (!json_lines && out.shows_notes() && std::io::stderr().is_terminal()).then(|| {
            let spinner = indicatif::ProgressBar::new_spinner();
            spinner.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            spinner.enable_steady_tick(Duration::from_millis(120));
            spinner
        });
        Self { out, json_lines, spinner }
    }

    /// Removes the spinner before the command prints its result.
    fn finish(&self) {
        if let Some(spinner) = &self.spinner {
            spinner.finish_and_clear();
        }
    }
}

impl Drop for Progress<'_> {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Reporter for Progress<'_> {
    fn report(&self, event: Event) {
        if self.json_lines {
            if let Ok(line) = serde_json::to_string(&event) {
                let _ = self.out.line(line);
            }
            return;
        }
        match (&self.spinner, event) {
            (Some(spinner), Event::Step { step: deploy_core::workflow::Step::Waiting, detail }) => {
                spinner.set_message(detail);
            }
            (Some(spinner), Event::Step { step, detail }) => {
                spinner.println(format!("  {:<12} {detail}", format!("{step:?}").to_lowercase()));
                spinner.set_message(detail);
            }
            (None, Event::Step { step, detail }) => {
                self.out.note(format_args!("  {:<12} {detail}", format!("{step:?}").to_lowercase()));
            }
            (Some(spinner), Event::Warning { message }) => spinner.println(format!("warning: {message}")),
            (None, Event::Warning { message }) => self.out.error_line(format_args!("warning: {message}")),
            (_, Event::Check { .. }) => {}
        }
    }
}

/// Asks on a terminal; refuses elsewhere unless `--yes`.
fn confirm(question: &str, yes: bool) -> Result<(), CliError> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::new(
            format!("{question}: refusing without confirmation on a non-interactive run"),
            EXIT_INPUT,
            Some("pass --yes to confirm".into()),
        ));
    }
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "{question}? [y/N] ");
    let _ = stderr.flush();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).map_err(|err| CliError::io("reading the answer", err))?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(CliError::new("cancelled", EXIT_INPUT, None))
    }
}

fn print_checks(out: &Output, verification: &Verification) -> Result<(), CliError> {
    let mut rows = table(&["CHECK", "VALUE", "THRESHOLD", "VERDICT"]);
    for CheckResult { name, value, threshold, verdict } in &verification.checks {
        let verdict = match verdict {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
        };
        rows.add_row(vec![(*name).to_owned(), value.clone(), threshold.clone(), verdict.to_owned()]);
    }
    out.line(rows)?;
    Ok(())
}

pub fn plan(context: &Context, out: &Output) -> Result<Status, CliError> {
    let session = session(context, out)?;
    let checked = session.project.check()?;
    let progress = Progress::new(out, false);
    let plan = block_on(async { Ok(session.workflow(&progress).plan(&checked).await?) })?;
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
        plan.problems.iter().filter(|problem| problem.severity == schema_registry::Severity::Error).count();
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
            "add" if change.path.is_empty() => out.line("+ the whole supervisor spec (no supervisor yet)")?,
            "add" => out.line(format_args!("+ {}: {}", change.path, value(&change.to)))?,
            "remove" => out.line(format_args!("- {}: {}", change.path, value(&change.from)))?,
            _ => {
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

pub fn deploy(context: &Context, args: &DeployArgs, out: &Output) -> Result<Status, CliError> {
    let session = session(context, out)?;
    let checked = session.project.check()?;
    if session.environment.name == "prod" {
        confirm(&format!("Deploy to prod ({})", session.environment.datasource), args.yes)?;
    }
    let options = DeployOptions {
        version: args.schema_version.clone(),
        allow_breaking: args.allow_breaking.then(|| args.reason.clone()).flatten(),
        ignore_window: args.ignore_window.then(|| args.reason.clone()).flatten(),
    };
    let progress = Progress::new(out, out.is_json());
    let project_dir = session.project.config().base_dir().to_owned();
    let result =
        block_on(async { Ok(session.workflow(&progress).deploy(&checked, &project_dir, &options).await) })?;
    progress.finish();
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(err) => {
            if let deploy_core::Error::Breaking { report, .. } = &err {
                for finding in &report.findings {
                    out.error_line(finding);
                }
            }
            return Err(err.into());
        }
    };
    if out.is_json() {
        out.line(
            serde_json::to_string(&serde_json::json!({ "event": "outcome", "result": &outcome }))
                .unwrap_or_default(),
        )?;
    }
    match &outcome {
        DeployOutcome::Deployed { version, previous, verification } => {
            if !out.is_json() {
                print_checks(out, verification)?;
                out.line(format_args!(
                    "deployed {version} to {} ({} -> {version})",
                    session.environment.name,
                    previous.as_deref().unwrap_or("nothing")
                ))?;
            }
            Ok(Status::Success)
        }
        DeployOutcome::AlreadyLive { version } => {
            if !out.is_json() {
                out.line(format_args!(
                    "{version} is already live on {}: nothing to do",
                    session.environment.name
                ))?;
            }
            Ok(Status::Success)
        }
        DeployOutcome::RolledBack { failed, verification, restored, restored_verification } => {
            if !out.is_json() {
                print_checks(out, verification)?;
                if let Some(restored_verification) = restored_verification {
                    out.line(format_args!("restored {}:", restored.as_deref().unwrap_or("-")))?;
                    print_checks(out, restored_verification)?;
                }
                out.line(format_args!(
                    "{failed} failed verification ({}); {}",
                    verification.failures().join(", "),
                    restored.as_ref().map_or_else(
                        || "the supervisor was suspended".to_owned(),
                        |version| format!("rolled back to {version}")
                    )
                ))?;
            }
            Ok(Status::CheckFailed)
        }
    }
}

pub fn verify(context: &Context, out: &Output) -> Result<Status, CliError> {
    let session = session(context, out)?;
    let progress = Progress::new(out, false);
    let verification = block_on(async { Ok(session.workflow(&progress).verify().await?) })?;
    progress.finish();
    if out.is_json() {
        out.json(&serde_json::json!({ "passed": verification.passed(), "checks": verification.checks }))?;
    } else {
        print_checks(out, &verification)?;
    }
    Ok(if verification.passed() { Status::Success } else { Status::CheckFailed })
}

pub fn rollback(context: &Context, args: &RollbackArgs, out: &Output) -> Result<Status, CliError> {
    let session = session(context, out)?;
    if session.environment.name == "prod" {
        confirm(
            &format!("Roll prod ({}) back to {}", session.environment.datasource, args.target),
            args.yes,
        )?;
    }
    let progress = Progress::new(out, out.is_json());
    let (version, verification) =
        block_on(async { Ok(session.workflow(&progress).rollback(&args.target).await?) })?;
    progress.finish();
    if out.is_json() {
        out.line(serde_json::json!({ "event": "outcome", "version": version, "passed": verification.passed(), "checks": verification.checks }))?;
    } else {
        print_checks(out, &verification)?;
        out.line(format_args!("rolled {} back to {version}", session.environment.name))?;
    }
    Ok(if verification.passed() { Status::Success } else { Status::CheckFailed })
}

pub fn status(context: &Context, out: &Output) -> Result<Status, CliError> {
    let session = session(context, out)?;
    let progress = Progress::new(out, false);
    let snapshot = block_on(async { Ok(session.workflow(&progress).status().await?) })?;
    progress.finish();
    if out.is_json() {
        out.json(&snapshot)?;
        return Ok(Status::Success);
    }
    let mut rows = table(&["", ""]);
    let optional = |value: Option<String>| value.unwrap_or_else(|| "-".into());
    rows.add_row(vec!["environment".into(), format!("{} ({})", snapshot.environment, snapshot.datasource)]);
    rows.add_row(vec![
        "state".into(),
        format!(
            "{} / {}, {}",
            optional(snapshot.state.clone()),
            optional(snapshot.detailed_state.clone()),
            match snapshot.healthy {
                Some(true) => "healthy",
                Some(false) => "UNHEALTHY",
                None => "health unknown",
            }
        ),
    ]);
    rows.add_row(vec![
        "tasks".into(),
        format!(
            "{} active (expected {}), {} publishing",
            snapshot.active_tasks, snapshot.expected_tasks, snapshot.publishing_tasks
        ),
    ]);
    let by_partition: Vec<String> =
        snapshot.lag_by_partition.iter().map(|(partition, lag)| format!("{partition}:{lag}")).collect();
    rows.add_row(vec![
        "lag".into(),
        format!(
            "{} records [{}], {}",
            optional(snapshot.total_lag.map(|lag| lag.to_string())),
            by_partition.join(" "),
            snapshot.lag_seconds.map_or_else(
                || "time unknown".to_owned(),
                |seconds| format!(
                    "{seconds:.0} s{}",
                    if snapshot.lag_estimated { " (estimated)" } else { "" }
                )
            )
        ),
    ]);
    rows.add_row(vec![
        "rate".into(),
        format!(
            "{:.1} / {:.1} / {:.1} rows/s (1m / 5m / 15m)",
            snapshot.rates["1m"], snapshot.rates["5m"], snapshot.rates["15m"]
        ),
    ]);
    rows.add_row(vec![
        "parse errors".into(),
        format!(
            "{:.2} % unparseable, {:.2} % thrown away",
            snapshot.unparseable_ratio * 100.0,
            snapshot.thrown_away_ratio * 100.0
        ),
    ]);
    rows.add_row(vec![
        "version".into(),
        format!(
            "live {}, {} {}",
            optional(snapshot.drift.live_version.clone()),
            session.environment.channel,
            optional(snapshot.drift.expected_version.clone())
        ),
    ]);
    for error in &snapshot.recent_errors {
        rows.add_row(vec!["recent error".into(), error.clone()]);
    }
    out.line(rows)?;
    if let Some(hint) = &snapshot.drift.hint {
        out.error_line(format_args!("drift: {hint}"));
    }
    Ok(Status::Success)
}

/// suspend, resume or reset.
pub fn control(context: &Context, action: &str, yes: bool, out: &Output) -> Result<Status, CliError> {
    let session = session(context, out)?;
    if action == "reset" {
        confirm(
            &format!(
                "Reset {} ({}): stored offsets are forgotten, data may be skipped or re-read",
                session.environment.name, session.environment.datasource
            ),
            yes,
        )?;
    }
    let progress = Progress::new(out, false);
    block_on(async {
        let workflow = session.workflow(&progress);
        progress.finish();
        match action {
            "suspend" => workflow.suspend().await?,
            "resume" => workflow.resume().await?,
            _ => workflow.reset().await?,
        }
        Ok(())
    })?;
    let done = match action {
        "suspend" => "suspended",
        "resume" => "resumed",
        _ => "reset",
    };
    if out.is_json() {
        out.json(&serde_json::json!({ "environment": session.environment.name, "supervisor": session.environment.datasource, "action": action }))?;
    } else {
        out.line(format_args!("{} ({}) {done}", session.environment.datasource, session.environment.name))?;
    }
    Ok(Status::Success)
}

pub fn history(context: &Context, out: &Output) -> Result<Status, CliError> {
    let project = context.project()?;
    let environment = context.environment(&project)?;
    let records = block_on(async {
        let registry = versions::open_registry(&environment.registry).await;
        Ok(registry.history(&environment.name).await.map_err(deploy_core::Error::from)?)
    })?;
    if out.is_json() {
        out.json(&records)?;
        return Ok(Status::Success);
    }
    let mut rows = table(&["AT", "ACTION", "OUTCOME", "FROM", "TO", "BY", "DETAIL"]);
    for record in &records {
        let mut detail = record.detail.clone().unwrap_or_default();
        for (what, reason) in &record.overrides {
            let _ = write!(detail, " [{what} override: {reason}]");
        }
        rows.add_row(vec![
            record.at.clone(),
            record.action.clone(),
            record.outcome.clone(),
            record.from.clone().unwrap_or_default(),
            record.to.clone().unwrap_or_default(),
            record.by.clone().unwrap_or_default(),
            detail.trim().to_owned(),
        ]);
    }
    out.line(rows)?;
    Ok(Status::Success)
}

/// Flags of `logs`.
#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// One task [default: every running task of the supervisor].
    #[arg(long, value_name = "ID")]
    task: Option<String>,
    /// Bytes from the end of each log.
    #[arg(long, value_name = "BYTES", default_value_t = 8192)]
    tail: i64,
}

pub fn logs(context: &Context, args: &LogsArgs, out: &Output) -> Result<Status, CliError> {
    let session = session(context, out)?;
    let id = &session.environment.datasource;
    let druid = &session.druid;
    let logs = block_on(async {
        let tasks = if let Some(task) = &args.task {
            vec![task.clone()]
        } else {
            let status =
                druid.supervisors().status(id).await.map_err(|source| deploy_core::Error::Druid {
                    action: "reading the supervisor status",
                    source: Box::new(source),
                })?;
            status.payload.active_tasks.iter().map(|task| task.id.clone()).collect()
        };
        let mut logs = Vec::new();
        for task in tasks {
            let log = druid.tasks().log(&task, Some(-args.tail.abs())).await.map_err(|source| {
                deploy_core::Error::Druid { action: "reading a task log", source: Box::new(source) }
            })?;
            logs.push((task, log));
        }
        Ok(logs)
    })?;
    if out.is_json() {
        let logs: Vec<_> =
            logs.iter().map(|(task, log)| serde_json::json!({ "task": task, "log": log })).collect();
        out.json(&logs)?;
        return Ok(Status::Success);
    }
    if logs.is_empty() {
        out.note(format_args!("{id} has no running task"));
    }
    for (task, log) in logs {
        out.line(format_args!("==> {task} <=="))?;
        out.line(log.as_deref().unwrap_or("(no log yet)"))?;
    }
    Ok(Status::Success)
}
