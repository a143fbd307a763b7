//! `druidctl`: ship Protobuf schema changes into Apache Druid safely.
//!
//! This binary parses arguments and prints; the work is done by `deploy-core`.

mod commands;
mod output;
mod reporter;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use deploy_core::controls::Control;

use crate::output::Output;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  a check failed (invalid dimension mapping, breaking change, failed verification)
  2  usage, configuration or input error (bad flag, unknown environment, .proto syntax error)
  3  an external system failed or was unreachable (Druid, S3)
  4  plan --exit-code: a deploy would change what Druid runs
  5  declined at a confirmation prompt: nothing was done";

/// Ship Protobuf schema changes into Apache Druid safely.
#[derive(Debug, Parser)]
#[command(name = "druidctl", version, after_help = EXIT_CODES)]
struct Cli {
    /// Project file; by default druidctl.toml in this directory or the nearest parent.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,

    /// Environment to act on (dev, staging, prod, ... as defined in the project file).
    #[arg(long, short = 'e', global = true, value_name = "ENV")]
    env: Option<String>,

    /// Output format: text for people, json for scripts (one document on stdout).
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Format::Text)]
    output: Format,

    /// More detail on stderr.
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    verbose: u8,

    /// Only errors and the command's result.
    #[arg(long, short = 'q', global = true)]
    quiet: bool,

    /// No colours (NO_COLOR is honoured too).
    #[arg(long, global = true)]
    no_color: bool,

    #[command(subcommand)]
    command: Command,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compile every .proto under the proto root into a FileDescriptorSet (imports included).
    Compile(commands::compile::Args),
    /// Check dimensions.json and the environments against the schema, as Druid will read it.
    Validate(commands::validate::Args),
    /// Breaking changes between two schemas: buf's rules (file, package, wire-json, wire) plus
    /// the Druid rules (a renamed or retyped field that feeds a dimension).
    Check(commands::check::Args),
    /// Print the Kafka supervisor spec of an environment.
    Render(commands::render::Args),
    /// The schema registry of an environment: list, show, publish, promote.
    Schemas {
        #[command(subcommand)]
        command: commands::schemas::Command,
    },
    /// What deploy would do: validation, compatibility, the spec diff against Druid, drift;
    /// exits 1 when the deploy would be refused (and 4 on changes with --exit-code).
    Plan(commands::plan::Args),
    /// Publish, submit, wait, verify and move the channel; roll back automatically on failure.
    Deploy(commands::deploy::DeployArgs),
    /// The post-deploy checklist: state, tasks, rate, parse errors, task failures, SQL probe.
    Verify,
    /// Re-deploy an earlier version (default: the channel's previous one) and verify it.
    Rollback(commands::rollback::RollbackArgs),
    /// State, tasks, lag, rates, parse errors and the live version of an environment.
    Status {
        /// Every supervisor of the environment's cluster, in one table.
        #[arg(long)]
        all: bool,
    },
    /// The team's alerts (state, task failures, lag, parse errors) with the action for each;
    /// exits 1 when one is breached.
    Monitor(commands::monitor::MonitorArgs),
    /// Emergency: stop reading without removing the supervisor.
    Suspend,
    /// Resume a suspended supervisor.
    Resume,
    /// Forget stored offsets and restart the tasks (asks for confirmation).
    Reset(commands::control::ResetArgs),
    /// Deploys, rollbacks and emergency actions recorded for an environment.
    History,
    /// The end of the logs of the supervisor's running tasks (--follow to keep reading).
    Logs(commands::logs::LogsArgs),
    /// The parse errors the running tasks saved, with the raw input summarised.
    ParseErrors,
    /// Print a shell completion script.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() { 2 } else { 0 };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    let out = Output::new(cli.output, cli.quiet, cli.verbose, cli.no_color);
    let context = commands::Context { config: cli.config, env: cli.env };
    let result = match cli.command {
        Command::Compile(args) => commands::compile::run(&context, &args, &out),
        Command::Validate(args) => commands::validate::run(&context, &args, &out),
        Command::Render(args) => commands::render::run(&context, &args, &out),
        Command::Check(args) => commands::check::run(&context, &args, &out),
        Command::Schemas { command } => commands::schemas::run(&context, &command, &out),
        Command::Plan(args) => commands::plan::run(&context, &args, &out),
        Command::Deploy(args) => commands::deploy::run(&context, &args, &out),
        Command::Verify => commands::verify::run(&context, &out),
        Command::Rollback(args) => commands::rollback::run(&context, &args, &out),
        Command::Status { all: false } => commands::status::run(&context, &out),
        Command::Status { all: true } => commands::status::run_all(&context, &out),
        Command::Monitor(args) => commands::monitor::run(&context, &args, &out),
        Command::Suspend => commands::control::run(&context, Control::Suspend, true, &out),
        Command::Resume => commands::control::run(&context, Control::Resume, true, &out),
        Command::Reset(args) => commands::control::run(&context, Control::Reset, args.yes, &out),
        Command::History => commands::history::run(&context, &out),
        Command::Logs(args) => commands::logs::run(&context, &args, &out),
        Command::ParseErrors => commands::parse_errors::run(&context, &out),
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            clap_complete::generate(shell, &mut Cli::command(), "druidctl", &mut std::io::stdout());
            Ok(output::Status::Success)
        }
    };
    out.finish(result)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
