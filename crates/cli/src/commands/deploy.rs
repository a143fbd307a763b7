//! `druidctl deploy`: publish, submit, wait, verify and move the channel; roll back
//! automatically when verification fails.

use std::path::PathBuf;
use std::sync::Arc;

use deploy_core::deploy::{DeployOptions, DeployOutcome, DeployReport};
use deploy_core::plan::Plan;
use deploy_core::session::Cancel;
use deploy_core::{Session, policy};

use super::{Context, block_on, block_on_interruptible, confirm};
use crate::output::{CliError, FindingStyle, Output, Sink, Status, print_checks, print_findings};
use crate::reporter::Progress;

/// What a deploy is asked to do, shared by `plan` and `deploy` (a plan made with these flags
/// is the deploy made with them). Each override is its own flag, as the user types them.
#[derive(Debug, Clone, Default, clap::Args)]
#[allow(clippy::struct_excessive_bools)]
#[command(group(clap::ArgGroup::new("override").args(["allow_breaking", "ignore_window", "skip_preflight"]).multiple(true)))]
pub struct DeployOptionArgs {
    /// Version name [default: the short git commit].
    #[arg(long = "schema-version", value_name = "VERSION", add = clap_complete::ArgValueCandidates::new(crate::complete::versions))]
    schema_version: Option<String>,
    /// Accept breaking changes (needs --reason; recorded).
    #[arg(long, requires = "reason")]
    allow_breaking: bool,
    /// Deploy outside the deployment window (needs --reason; recorded).
    #[arg(long, requires = "reason")]
    ignore_window: bool,
    /// Do not run preflight on the topic before the submit (needs --reason; recorded).
    #[arg(long, requires = "reason")]
    skip_preflight: bool,
    /// A migration that keeps the datasource: the environment's new `supervisor` runs beside
    /// the old one on it until cutover (Druid 34+).
    #[arg(long)]
    pub same_datasource: bool,
    /// Why an override is acceptable.
    #[arg(long, value_name = "TEXT", requires = "override")]
    reason: Option<String>,
}

impl DeployOptionArgs {
    /// The library's options.
    pub fn options(&self) -> DeployOptions {
        let reason = |given: bool| given.then(|| self.reason.clone()).flatten();
        DeployOptions {
            version: self.schema_version.clone(),
            allow_breaking: reason(self.allow_breaking),
            ignore_window: reason(self.ignore_window),
            skip_preflight: reason(self.skip_preflight),
            same_datasource: self.same_datasource,
        }
    }
}

/// Flags of `deploy`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    options: DeployOptionArgs,
    /// Carry out this plan file (`druidctl plan --out FILE`) instead of planning now; the
    /// same as `druidctl apply FILE`.
    #[arg(long = "plan", value_name = "FILE", conflicts_with_all = ["schema_version", "override", "same_datasource", "all"])]
    pub plan_file: Option<PathBuf>,
    /// Exit 1 when the verdict is `unverified` (too few records to decide by
    /// thresholds.observe_secs), not 0; the spec stays live as `on_unverified` says.
    #[arg(long)]
    require_evidence: bool,
    /// Do not ask for confirmation (needed for prod when not on a terminal).
    #[arg(long, short = 'y')]
    yes: bool,
    /// Deploy every pipeline of the project file whose plan changes something (docs/fleet.md).
    #[command(flatten)]
    pub fleet: super::FleetArgs,
    /// With several pipelines: at most this many deploys at a time.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    parallel: u16,
    /// With several pipelines: go on starting deploys after one fails.
    #[arg(long)]
    keep_going: bool,
}

/// Flags of `apply`.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// The plan file (`druidctl plan --env E --out FILE`).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Exit 1 when the verdict is `unverified`, not 0.
    #[arg(long)]
    require_evidence: bool,
    /// Do not ask for confirmation (needed for prod when not on a terminal).
    #[arg(long, short = 'y')]
    yes: bool,
}

/// `deploy`: the plan, a confirmation where the environment asks for one, then the same plan
/// carried out ([`Session::apply`]).
pub fn run(context: &Context, args: &Args, out: &Output) -> Result<Status, CliError> {
    if let Some(file) = &args.plan_file {
        let apply = ApplyArgs { file: file.clone(), require_evidence: args.require_evidence, yes: args.yes };
        return run_apply(context, &apply, out);
    }
    let (project, session) = context.connect(out)?;
    let checked = project.check()?;
    let project_dir = project.config().base_dir().to_owned();
    let options = args.options.options();
    let plan = block_on(async {
        // Another deploy running is the news: no plan (nor preflight on Kafka) for nothing.
        session.ledger.ensure_free(&session.environment.name).await?;
        Ok(session.plan(&checked, &project_dir, &options).await?)
    })?;
    carry_out(&session, &plan, args.yes, args.require_evidence, out)
}

/// `apply FILE` (and `deploy --plan FILE`): the plan file read and checked, then carried out.
pub fn run_apply(context: &Context, args: &ApplyArgs, out: &Output) -> Result<Status, CliError> {
    let loaded = deploy_core::workflow::plan_file::read(&args.file)?;
    let environment = loaded.plan.environment.clone();
    if context.env.as_ref().is_some_and(|env| *env != environment) {
        return Err(CliError::new(
            format!(
                "the plan file is for environment {environment}, not {}",
                context.env.as_deref().unwrap_or_default()
            ),
            crate::output::EXIT_INPUT,
            Some("leave out --env: the plan file names its environment".into()),
        ));
    }
    let pipeline = loaded.plan.carry.as_ref().and_then(|carry| carry.pipeline.clone());
    let context =
        Context { env: Some(environment), pipelines: pipeline.into_iter().collect(), ..context.clone() };
    let (_, session) = context.connect(out)?;
    out.note(format_args!(
        "plan {} made by {} at {}: {}",
        args.file.display(),
        loaded.created_by,
        loaded.created_at,
        loaded.plan.action
    ));
    carry_out(&session, &loaded.plan, args.yes, args.require_evidence, out)
}

/// Asks where the environment wants it (unless the plan is refused: applying it fails with
/// the refusal), applies the plan, and prints how it ended.
fn carry_out(
    session: &Session,
    plan: &Plan,
    yes: bool,
    require_evidence: bool,
    out: &Output,
) -> Result<Status, CliError> {
    if policy::needs_confirmation(&session.environment) && !yes && plan.refused.is_none() {
        ask(session, plan)?;
    }
    let progress = Arc::new(Progress::new(out.clone(), out.is_json()));
    let session = session.clone().with_reporter(progress.clone());
    let cancel = Cancel::default();
    let session = session.with_cancel(cancel.clone());
    let result = block_on_interruptible(&cancel, async {
        let result = session.apply(plan).await;
        session.flush_notifications().await;
        Ok(result)
    })?;
    progress.finish();
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(err) => {
            if let deploy_core::Error::PreflightFailed { findings } = &err {
                for finding in findings {
                    out.error_line(finding);
                }
            }
            if let deploy_core::Error::Breaking { verdict, .. }
            | deploy_core::Error::DruidDamage { verdict, .. } = &err
            {
                print_findings(out, verdict, Sink::Error, FindingStyle::default())?;
            }
            return Err(err.into());
        }
    };
    if out.is_json() {
        out.line(serde_json::to_string(&DeployReport::new(&outcome)).unwrap_or_default())?;
    }
    match &outcome {
        DeployOutcome::Deployed { version, previous, verification } => {
            if !out.is_json() {
                print_checks(out, verification)?;
                let env = &session.environment.name;
                out.line(format_args!(
                    "deployed {version} to {env} ({} -> {version}){}",
                    previous.as_deref().unwrap_or("nothing"),
                    if verification.unverified() {
                        format!(
                            ", UNVERIFIED: {}; once records flow, `druidctl verify --env {env}` settles it",
                            verification.verdict.reason
                        )
                    } else {
                        String::new()
                    }
                ))?;
            }
            Ok(status_of(verification, require_evidence))
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
                let env = &session.environment.name;
                let after = match (restored, restored_verification) {
                    (None, _) => "no earlier version to restore: the supervisor was suspended".to_owned(),
                    (Some(version), Some(checks)) if !checks.passed() => format!(
                        "{version} was restored but fails verification too ({}): {env} is UNHEALTHY; look with \
                         `druidctl status --env {env}` and `druidctl logs --env {env}`, then `druidctl suspend --env {env}` \
                         or `druidctl rollback --env {env} --schema-version <an earlier version>`",
                        checks.failures().join(", ")
                    ),
                    // A migration's new side: terminated; the old side never stopped.
                    (Some(version), None) => format!(
                        "the new supervisor was terminated; {version} kept running on the old datasource, untouched"
                    ),
                    (Some(version), _) => format!("rolled back to {version}, which verifies"),
                };
                out.line(format_args!(
                    "{failed} failed verification ({}); {after}",
                    verification.failures().join(", ")
                ))?;
            }
            Ok(Status::CheckFailed)
        }
    }
}

/// Asks with the plan that will be applied: the channel's version, the spec changes.
fn ask(session: &Session, plan: &Plan) -> Result<(), CliError> {
    let environment = &session.environment;
    let paths = plan.carry.as_ref().map(|carry| carry.diff_paths.as_slice()).unwrap_or_default();
    let shown: Vec<&str> = paths.iter().take(5).map(String::as_str).collect();
    let changes = match paths.len() {
        0 => "no spec change (nothing to do)".to_owned(),
        count if paths[0].is_empty() => format!("a new supervisor ({count} change)"),
        count => format!(
            "{count} spec change(s): {}{}",
            shown.join(", "),
            if count > shown.len() { ", ..." } else { "" }
        ),
    };
    confirm(
        &format!(
            "Deploy to {} ({}): {} {} -> {}; {changes}",
            environment.name,
            environment.datasource,
            environment.channel,
            plan.channel_version.as_deref().unwrap_or("no version"),
            plan.version.as_deref().unwrap_or("the working schema"),
        ),
        false,
    )
}

/// `deploy` of several pipelines: each planned first, those with changes deployed at most
/// `--parallel` at a time, stopping new ones after a failure unless `--keep-going`; a table
/// at the end (or the rows as JSON).
pub fn run_fleet(
    context: &Context,
    args: &Args,
    out: &Output,
    selection: Vec<Option<String>>,
) -> Result<Status, CliError> {
    use deploy_core::fleet::{FleetOptions, Member, RowOutcome};
    let progress = Arc::new(Progress::new(out.clone(), out.is_json()));
    let mut connected = Vec::new();
    for pipeline in selection {
        let (project, session) = context.with_pipeline(pipeline.clone()).connect(out)?;
        connected.push((pipeline, project, session));
    }
    let mut members = Member::all(connected);
    for member in &mut members {
        let name = member.pipeline.clone().unwrap_or_else(|| "-".into());
        let reporter = Arc::new(deploy_core::events::Prefixed { inner: progress.clone(), name });
        member.session = member.session.clone().with_reporter(reporter);
    }
    if members.iter().any(|member| policy::needs_confirmation(&member.session.environment)) && !args.yes {
        confirm(
            &format!(
                "Deploy {} pipeline(s) to {} (each planned first; only those with changes)",
                members.len(),
                members[0].session.environment.name
            ),
            false,
        )?;
    }
    let options = FleetOptions {
        parallel: usize::from(args.parallel),
        keep_going: args.keep_going,
        deploy: args.options.options(),
    };
    let rows = block_on(async { Ok(deploy_core::fleet::deploy(members, &options).await) })?;
    progress.finish();
    let failed = rows.iter().any(|row| row.outcome.is_failure() || row.outcome == RowOutcome::NotStarted);
    if out.is_json() {
        out.line(
            serde_json::to_string(&serde_json::json!({"event": "outcome", "pipelines": rows}))
                .unwrap_or_default(),
        )?;
    } else {
        let mut table = crate::output::table(&["PIPELINE", "DATASOURCE", "FROM", "TO", "OUTCOME", "DETAIL"]);
        for row in &rows {
            table.add_row(vec![
                row.pipeline.clone(),
                row.datasource.clone(),
                row.from.clone().unwrap_or_else(|| "-".into()),
                row.to.clone().unwrap_or_else(|| "-".into()),
                row.outcome.as_str().to_owned(),
                row.detail.clone().unwrap_or_default(),
            ]);
        }
        out.line(table)?;
    }
    Ok(if failed { Status::CheckFailed } else { Status::Success })
}

/// The exit status of a verification: 1 when it failed, and when it is unverified and
/// `require_evidence` asks for evidence.
pub fn status_of(verification: &deploy_core::verify::Verification, require_evidence: bool) -> Status {
    if !verification.passed() || (require_evidence && verification.unverified()) {
        Status::CheckFailed
    } else {
        Status::Success
    }
}
