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
#[command(group(clap::ArgGroup::new("override").args(["allow_breaking", "ignore_window"]).multiple(true)))]
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
    #[arg(long, value_name = "TEXT", requires = "override")]
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
            (
                Some(spinner),
                Event::Step {
                    step: deploy_core::workflow::Step::Waiting | deploy_core::workflow::Step::Observing,
                    detail,
                },
            ) => {
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
    let drift = &snapshot.drift;
    let snapshot = &snapshot.ingestion;
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
            optional(drift.live_version.clone()),
            session.environment.channel,
            optional(drift.expected_version.clone())
        ),
    ]);
    for error in &snapshot.recent_errors {
        rows.add_row(vec!["recent error".into(), error.clone()]);
    }
    out.line(rows)?;
    if let Some(hint) = &drift.hint {
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
    /// Lines from the end of each log.
    #[arg(long, value_name = "N", default_value_t = 100)]
    tail: usize,
    /// Keep printing what the tasks log, every 2 s, until interrupted.
    #[arg(long, short = 'f')]
    follow: bool,
}

/// Bytes read from the end of a log per requested line (Druid logs lines are long).
const BYTES_PER_LINE: usize = 512;

pub fn logs(context: &Context, args: &LogsArgs, out: &Output) -> Result<Status, CliError> {
    let session = session(context, out)?;
    let id = &session.environment.datasource;
    let druid = &session.druid;
    let failed =
        |action: &'static str| move |source| deploy_core::Error::Druid { action, source: Box::new(source) };
    block_on(async {
        let tasks = if let Some(task) = &args.task {
            vec![task.clone()]
        } else {
            let status =
                druid.supervisors().status(id).await.map_err(failed("reading the supervisor status"))?;
            status.payload.active_tasks.iter().map(|task| task.id.clone()).collect()
        };
        if tasks.is_empty() {
            out.note(format_args!("{id} has no running task"));
        }
        let window = i64::try_from(args.tail.saturating_mul(BYTES_PER_LINE).max(4096)).unwrap_or(i64::MAX);
        let mut logs = Vec::new();
        // Where each log was read up to, for --follow.
        let mut offsets = Vec::new();
        for task in &tasks {
            let log = druid.tasks().log(task, Some(-window)).await.map_err(failed("reading a task log"))?;
            let text = log.unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(args.tail)..].join("\n");
            if args.follow {
                // Druid reads from the start or the end only: the length says where to go on.
                let full = druid.tasks().log(task, Some(0)).await.map_err(failed("reading a task log"))?;
                offsets.push(full.map_or(0, |full| full.len()));
            }
            logs.push((task.clone(), tail));
        }
        if out.is_json() && !args.follow {
            let logs: Vec<_> =
                logs.iter().map(|(task, log)| serde_json::json!({ "task": task, "log": log })).collect();
            out.json(&logs)?;
            return Ok(Status::Success);
        }
        for (task, log) in &logs {
            out.line(format_args!("==> {task} <=="))?;
            out.line(if log.is_empty() { "(no log yet)" } else { log })?;
        }
        if !args.follow {
            return Ok(Status::Success);
        }
        // Until interrupted (Ctrl-C) or stdout closes.
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            for (task, offset) in tasks.iter().zip(offsets.iter_mut()) {
                let Some(more) = druid
                    .tasks()
                    .log(task, Some(i64::try_from(*offset).unwrap_or(i64::MAX)))
                    .await
                    .map_err(failed("reading a task log"))?
                else {
                    continue;
                };
                if !more.is_empty() {
                    *offset += more.len();
                    for line in more.lines() {
                        out.line(format_args!("[{task}] {line}"))?;
                    }
                }
            }
        }
    })
}

pub fn parse_errors(context: &Context, out: &Output) -> Result<Status, CliError> {
    let session = session(context, out)?;
    let id = &session.environment.datasource;
    let errors = block_on(async {
        session.druid.supervisors().parse_errors(id).await.map_err(|source| {
            CliError::from(deploy_core::Error::Druid {
                action: "reading parse errors",
                source: Box::new(source),
            })
        })
    })?;
    if out.is_json() {
        out.json(&errors)?;
        return Ok(Status::Success);
    }
    let mut rows = table(&["AT", "TYPE", "DETAILS", "INPUT"]);
    for error in &errors {
        let at = error
            .time_of_exception_millis
            .and_then(|millis| jiff::Timestamp::from_millisecond(millis).ok())
            .map(|at| at.to_string())
            .unwrap_or_default();
        rows.add_row(vec![
            at,
            error.error_type.clone().unwrap_or_default(),
            error.details.join("; "),
            summarise(error.input.as_deref()),
        ]);
    }
    out.line(rows)?;
    out.note(format_args!(
        "{} saved parse error(s) on {id} (tuningConfig.maxSavedParseExceptions per task)",
        errors.len()
    ));
    Ok(Status::Success)
}

/// The first 40 characters of a record, control bytes escaped, with its length: enough to
/// tell garbage from a Confluent 5-byte prefix from a real message.
fn summarise(input: Option<&str>) -> String {
    let Some(input) = input else { return String::new() };
    let shown: String = input.chars().take(40).flat_map(char::escape_debug).collect();
    let more = if input.chars().count() > 40 { "..." } else { "" };
    format!("{shown}{more} ({} chars)", input.chars().count())
}

/// Flags of `monitor`.
#[derive(Debug, clap::Args)]
pub struct MonitorArgs {
    /// Keep evaluating, every --interval, until interrupted.
    #[arg(long)]
    watch: bool,
    /// Time between two evaluations with --watch (`30s`, `2m`).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    interval: Duration,
    /// Serve the figures as Prometheus metrics at http://ADDR/metrics (implies --watch).
    #[arg(long, value_name = "ADDR")]
    prometheus: Option<std::net::SocketAddr>,
}

pub fn monitor(context: &Context, args: &MonitorArgs, out: &Output) -> Result<Status, CliError> {
    let session = session(context, out)?;
    let progress = Progress::new(out, false);
    progress.finish();
    let watch = args.watch || args.prometheus.is_some();
    block_on(async {
        let workflow = session.workflow(&progress);
        let latest = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        if let Some(address) = args.prometheus {
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .map_err(|err| CliError::io(format_args!("listening on {address}"), err))?;
            out.note(format_args!("serving Prometheus metrics at http://{address}/metrics"));
            tokio::spawn(serve_metrics(listener, latest.clone()));
        }
        loop {
            let report = workflow.monitor().await?;
            *latest.lock().expect("metrics lock") =
                deploy_core::monitor::prometheus(std::slice::from_ref(&report));
            if out.is_json() {
                if watch {
                    out.line(serde_json::to_string(&report).unwrap_or_default())?;
                } else {
                    out.json(&report)?;
                }
            } else {
                let mut rows = table(&["ALERT", "VALUE", "THRESHOLD", "STATUS", "ACTION"]);
                for alert in &report.alerts {
                    rows.add_row(vec![
                        alert.name.to_owned(),
                        alert.value.clone(),
                        alert.threshold.clone(),
                        if alert.breached { "BREACHED".into() } else { "ok".into() },
                        if alert.breached { alert.action.to_owned() } else { String::new() },
                    ]);
                }
                out.line(rows)?;
            }
            if !watch {
                return Ok(if report.breached { Status::CheckFailed } else { Status::Success });
            }
            tokio::time::sleep(args.interval).await;
        }
    })
}

/// Answers every HTTP request with the latest metrics (one request per connection).
async fn serve_metrics(listener: tokio::net::TcpListener, latest: std::sync::Arc<std::sync::Mutex<String>>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    while let Ok((mut stream, _)) = listener.accept().await {
        let body = latest.lock().map(|text| text.clone()).unwrap_or_default();
        tokio::spawn(async move {
            let mut request = [0_u8; 1024];
            let _ = stream.read(&mut request).await;
            let wanted = request.starts_with(b"GET /metrics ");
            let (status, body) =
                if wanted { ("200 OK", body) } else { ("404 Not Found", "try /metrics\n".to_owned()) };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
        });
    }
}

/// Every supervisor of the environment's cluster, fetched with at most this many requests at
/// a time.
const STATUS_CONCURRENCY: usize = 16;

pub fn status_all(context: &Context, out: &Output) -> Result<Status, CliError> {
    let session = session(context, out)?;
    let rows = block_on(async {
        let druid = &session.druid;
        let ids = druid.supervisors().list().await.map_err(|source| deploy_core::Error::Druid {
            action: "listing supervisors",
            source: Box::new(source),
        })?;
        Ok(druid.supervisors().status_many(&ids, STATUS_CONCURRENCY).await)
    })?;
    if out.is_json() {
        let json: Vec<_> = rows
            .iter()
            .map(|(id, result)| match result {
                Ok(status) => serde_json::json!({ "id": id, "status": status.payload }),
                Err(err) => serde_json::json!({ "id": id, "error": err.to_string() }),
            })
            .collect();
        out.json(&json)?;
        return Ok(Status::Success);
    }
    let mut table_rows = table(&["SUPERVISOR", "STATE", "DETAILED", "HEALTHY", "TASKS", "LAG"]);
    for (id, result) in &rows {
        match result {
            Ok(status) => {
                let payload = &status.payload;
                table_rows.add_row(vec![
                    id.clone(),
                    payload.state.as_ref().map(ToString::to_string).unwrap_or_default(),
                    payload.detailed_state.as_ref().map(ToString::to_string).unwrap_or_default(),
                    payload
                        .healthy
                        .map(|healthy| if healthy { "yes" } else { "NO" }.to_owned())
                        .unwrap_or_default(),
                    payload.active_tasks.len().to_string(),
                    payload.aggregate_lag.map(|lag| lag.to_string()).unwrap_or_default(),
                ]);
            }
            Err(err) => {
                table_rows.add_row(vec![id.clone(), format!("error: {err}")]);
            }
        }
    }
    out.line(table_rows)?;
    out.note(format_args!("{} supervisor(s), at most {STATUS_CONCURRENCY} requests at a time", rows.len()));
    Ok(Status::Success)
}
