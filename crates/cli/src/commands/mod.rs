//! One module per subcommand: parse its flags, call deploy-core, print through `Output`.

use std::path::PathBuf;

use deploy_core::Project;
use deploy_core::config::{Config, Environment, Overrides};

use crate::output::{CliError, EXIT_INPUT};

pub mod check;
pub mod compile;
pub mod render;
pub mod schemas;
pub mod validate;
pub mod workflow;

/// The global flags commands share.
#[derive(Debug)]
pub struct Context {
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--env`.
    pub env: Option<String>,
}

impl Context {
    /// Opens the project file given with `--config`, or the nearest `druidctl.toml`.
    pub fn project(&self) -> Result<Project, CliError> {
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

/// The `DRUIDCTL_*` overrides of the process environment.
pub fn overrides() -> Overrides {
    Overrides::from_vars(std::env::vars())
}

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

/// Who is acting, for registry records: `DRUIDCTL_ACTOR`, the GitLab user in CI, the login
/// name, else git's `user.email` (containers often have no login name), else `unknown`.
pub fn whoami() -> String {
    ["DRUIDCTL_ACTOR", "GITLAB_USER_LOGIN", "USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|key| std::env::var(key).ok().filter(|value| !value.is_empty()))
        .or_else(git_email)
        .unwrap_or_else(|| "unknown".to_owned())
}

fn git_email() -> Option<String> {
    let output = std::process::Command::new("git").args(["config", "user.email"]).output().ok()?;
    let email = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (output.status.success() && !email.is_empty()).then_some(email)
}
