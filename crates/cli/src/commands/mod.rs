//! One module per subcommand: parse its flags, call deploy-core, print through `Output`.

use std::path::PathBuf;

use std::io::{IsTerminal as _, Write as _};

use deploy_core::config::{Config, Environment, Overrides};
use deploy_core::{Project, Session};

use crate::output::{CliError, EXIT_DECLINED, EXIT_INPUT, Output};

pub mod check;
pub mod compile;
pub mod config;
pub mod control;
pub mod deploy;
pub mod history;
pub mod incident;
pub mod init;
pub mod logs;
pub mod migrate;
pub mod monitor;
pub mod notify;
pub mod parse_errors;
pub mod plan;
pub mod preflight;
pub mod reconcile;
pub mod recover;
pub mod render;
pub mod rollback;
pub mod schemas;
pub mod serve;
pub mod status;
pub mod unlock;
pub mod validate;
pub mod verify;
pub mod version;

/// `--all`: every pipeline of the project file.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct FleetArgs {
    /// Every pipeline of the project file (docs/fleet.md).
    #[arg(long)]
    pub all: bool,
}

/// The global flags commands share.
#[derive(Debug, Clone)]
pub struct Context {
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--env`.
    pub env: Option<String>,
    /// `--pipeline` (repeatable): the pipelines selected.
    pub pipelines: Vec<String>,
}

impl Context {
    /// The project file's selected pipeline: the one `--pipeline` names, the only one, or the
    /// file itself when it declares none. Several pipelines and no selection is an error
    /// naming them (fleet commands take `--all`, [`each_pipeline`]).
    pub fn project(&self) -> Result<Project, CliError> {
        let project = self.project_file()?;
        let names = project.pipeline_names();
        match (self.pipelines.as_slice(), names.as_slice()) {
            ([], []) => Ok(project),
            ([], [only]) => Ok(project.pipeline(only)?),
            ([], several) => Err(CliError::new(
                format!("the project file defines {} pipelines", several.len()),
                EXIT_INPUT,
                Some(format!(
                    "pass --pipeline NAME (one of: {}), or --all where the command takes it (docs/fleet.md)",
                    several.join(", ")
                )),
            )),
            (_, []) => Err(CliError::new(
                "--pipeline: the project file declares no [pipelines.NAME] table",
                EXIT_INPUT,
                Some("leave out --pipeline: the file is one pipeline".into()),
            )),
            ([one], _) => Ok(project.pipeline(one)?),
            (several, _) => Err(CliError::new(
                format!("this command acts on one pipeline, {} were selected", several.len()),
                EXIT_INPUT,
                Some("pass one --pipeline".into()),
            )),
        }
    }

    /// The pipelines a fleet command runs on: `--all` (every one), the `--pipeline`s given, or
    /// the single one; `None` names the implicit pipeline of a file that declares none.
    pub fn selection(&self, all: bool) -> Result<Vec<Option<String>>, CliError> {
        let names = self.project_file()?.pipeline_names();
        if names.is_empty() {
            if !self.pipelines.is_empty() {
                return Err(CliError::new(
                    "--pipeline: the project file declares no [pipelines.NAME] table",
                    EXIT_INPUT,
                    Some("leave out --pipeline: the file is one pipeline".into()),
                ));
            }
            return Ok(vec![None]);
        }
        if all {
            return Ok(names.into_iter().map(Some).collect());
        }
        if self.pipelines.is_empty() {
            // One pipeline, or the usual error naming them.
            return self
                .project()
                .map(|project| vec![project.config().selected_pipeline().map(str::to_owned)]);
        }
        let project = self.project_file()?;
        for name in &self.pipelines {
            project.pipeline(name)?;
        }
        Ok(self.pipelines.iter().cloned().map(Some).collect())
    }

    /// This context with only `pipeline` selected.
    pub fn with_pipeline(&self, pipeline: Option<String>) -> Self {
        Self { pipelines: pipeline.into_iter().collect(), ..self.clone() }
    }

    /// Opens the project file given with `--config`, or the nearest `druidctl.toml`.
    pub fn project_file(&self) -> Result<Project, CliError> {
        let path = if let Some(path) = &self.config {
            path.clone()
        } else {
            let cwd =
                std::env::current_dir().map_err(|err| CliError::io("reading the current directory", err))?;
            let found = Config::discover(&cwd)?;
            // Show paths relative to where the user stands when the file is here.
            found.strip_prefix(&cwd).map(PathBuf::from).unwrap_or(found)
        };
        Ok(Project::open(&path)?)
    }

    /// The environment named by `--env`, required by the caller.
    pub fn environment(&self, project: &Project) -> Result<Environment, CliError> {
        let Some(name) = &self.env else {
            let known: Vec<&str> = project.config().environment_names().collect();
            return Err(CliError::new(
                "this command needs --env",
                EXIT_INPUT,
                Some(format!("pass --env with one of: {}", known.join(", "))),
            ));
        };
        Ok(project.environment(name, &overrides())?)
    }
}

impl Context {
    /// The project and a session on the `--env` environment (its Druid client and registry,
    /// as deploy-core builds them for every embedder).
    pub fn connect(&self, out: &Output) -> Result<(Project, Session), CliError> {
        let project = self.project()?;
        let environment = self.environment(&project)?;
        let session = block_on(async { Ok(Session::connect(environment).await?) })?;
        for name in session.notifier.missing() {
            out.error_line(format_args!(
                "warning: notifier variable ${name} is not set: that notifier is left out"
            ));
        }
        if out.is_verbose() {
            let environment = &session.environment;
            let druid = druid_client::config::parse_url(&environment.druid.url)
                .map_or_else(|_| "(invalid URL)".to_owned(), |url| druid_client::redact::url(&url));
            out.note(format_args!(
                "project {}, environment {} (datasource {}, channel {}), Druid {druid}, registry {}",
                project.config().path().display(),
                environment.name,
                environment.datasource,
                environment.channel,
                session.registry.location()
            ));
        }
        Ok((project, session))
    }
}

/// Runs `run` once per selected pipeline ([`Context::selection`]), each under a heading on
/// stderr; a failure is reported and the next pipeline runs. The status is the worst one;
/// when any pipeline failed, an error naming them with the highest exit code.
pub fn each_pipeline(
    context: &Context,
    all: bool,
    out: &Output,
    run: impl Fn(&Context) -> Result<crate::output::Status, CliError>,
) -> Result<crate::output::Status, CliError> {
    use crate::output::Status;
    let selection = context.selection(all)?;
    if let [one] = selection.as_slice() {
        return run(&context.with_pipeline(one.clone()));
    }
    let mut worst = Status::Success;
    let mut failed = Vec::new();
    let mut code = 0;
    for pipeline in &selection {
        let name = pipeline.as_deref().unwrap_or("-");
        out.note(format_args!("== pipeline {name} =="));
        match run(&context.with_pipeline(pipeline.clone())) {
            Ok(status) => worst = worst.max(status),
            Err(error) => {
                code = code.max(error.code());
                out.print_error(&error);
                failed.push(name.to_owned());
            }
        }
    }
    if failed.is_empty() {
        Ok(worst)
    } else {
        Err(CliError::new(
            format!("{} of {} pipelines failed: {}", failed.len(), selection.len(), failed.join(", ")),
            code,
            None,
        ))
    }
}

/// The text served as Prometheus metrics at `http://ADDRESS/metrics` while a watch runs
/// (`monitor --prometheus`, `reconcile --prometheus`), on the library's HTTP server: replace
/// it after each round.
pub async fn serve_prometheus(
    address: Option<std::net::SocketAddr>,
    out: &Output,
) -> Result<deploy_core::observe::http::LatestMetrics, CliError> {
    let latest = deploy_core::observe::http::LatestMetrics::default();
    if let Some(address) = address {
        let listener = deploy_core::observe::http::bind(address)
            .await
            .map_err(|err| CliError::io(format_args!("listening on {address}"), err))?;
        out.note(format_args!("serving Prometheus metrics at http://{address}/metrics"));
        deploy_core::observe::http::spawn(
            listener,
            deploy_core::observe::http::metrics_router(latest.clone()),
        );
    }
    Ok(latest)
}

/// Asks on a terminal; refuses elsewhere unless `--yes`.
pub fn confirm(question: &str, yes: bool) -> Result<(), CliError> {
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
        Err(CliError::new("declined: nothing was done", EXIT_DECLINED, None))
    }
}

/// The `DRUIDCTL_*` overrides of the process environment.
pub fn overrides() -> Overrides {
    Overrides::from_vars(std::env::vars())
}

/// Exit code after SIGINT (Ctrl-C), as shells report it.
pub const EXIT_SIGINT: u8 = 130;
/// Exit code after SIGTERM.
pub const EXIT_SIGTERM: u8 = 143;

/// Runs a deploy or rollback body so that the first Ctrl-C or SIGTERM stops its waits through
/// `cancel` (the workflow puts Druid back, records `interrupted`, releases the lock) and the
/// command exits 130 or 143; a second signal exits at once.
pub fn block_on_interruptible<T>(
    cancel: &deploy_core::session::Cancel,
    future: impl std::future::Future<Output = Result<T, CliError>>,
) -> Result<T, CliError> {
    let watcher = &SIGNAL_RECEIVED;
    let cancel = cancel.clone();
    block_on(async move {
        tokio::spawn(async move {
            let Ok(mut terminate) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            else {
                return;
            };
            loop {
                let code = tokio::select! {
                    _ = tokio::signal::ctrl_c() => EXIT_SIGINT,
                    _ = terminate.recv() => EXIT_SIGTERM,
                };
                if watcher.swap(code, std::sync::atomic::Ordering::SeqCst) != 0 {
                    // The second signal: the user wants out now.
                    #[allow(clippy::exit)]
                    std::process::exit(i32::from(code));
                }
                cancel.cancel();
            }
        });
        future.await
    })
}

/// The exit code of the signal that interrupted the command (0: none), for the error's exit
/// code (130 after SIGINT, 143 after SIGTERM).
pub static SIGNAL_RECEIVED: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Runs an async command body on a runtime of its own (commands that need no network never
/// start one).
pub fn block_on<T>(future: impl std::future::Future<Output = Result<T, CliError>>) -> Result<T, CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|err| CliError::io("starting the async runtime", err))?;
    runtime.block_on(future)
}
