//! `druidctl`: ship Protobuf schema changes into Apache Druid safely.
//!
//! This binary parses arguments and prints; the work is done by `deploy-core`.

mod commands;
mod complete;
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

const COMPLETIONS_HELP: &str = "\
Completions that also know your environments, channels and versions (from the project file
and local registries) come from druidctl itself; install them once:
  bash:  echo 'source <(COMPLETE=bash druidctl)' >> ~/.bashrc
  zsh:   echo 'source <(COMPLETE=zsh druidctl)' >> ~/.zshrc
  fish:  echo 'COMPLETE=fish druidctl | source' >> ~/.config/fish/config.fish
The static script this command prints completes flags and subcommands only:
  druidctl completions bash > ~/.local/share/bash-completion/completions/druidctl";

/// Ship Protobuf schema changes into Apache Druid safely.
#[derive(Debug, Parser)]
#[command(name = "druidctl", version, after_help = EXIT_CODES)]
struct Cli {
    /// Project file; by default druidctl.toml in this directory or the nearest parent.
    #[arg(long, global = true, value_name = "PATH", help_heading = "Global options")]
    config: Option<PathBuf>,

    /// Environment to act on (dev, staging, prod, ... as defined in the project file).
    #[arg(long, short = 'e', global = true, value_name = "ENV", help_heading = "Global options",
          add = clap_complete::ArgValueCandidates::new(complete::environments))]
    env: Option<String>,

    /// Output format: text for people, json for scripts (one document on stdout).
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Format::Text, help_heading = "Global options")]
    output: Format,

    /// More detail on stderr.
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count, conflicts_with = "quiet", help_heading = "Global options")]
    verbose: u8,

    /// Only errors and the command's result.
    #[arg(long, short = 'q', global = true, help_heading = "Global options")]
    quiet: bool,

    /// The pipeline to act on, when the project file declares `[pipelines.NAME]` tables;
    /// repeatable on commands that run on several (docs/fleet.md).
    #[arg(long, short = 'p', global = true, value_name = "NAME", help_heading = "Global options")]
    pipeline: Vec<String>,

    /// When to colour: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto, help_heading = "Global options")]
    color: ColorWhen,

    /// Same as --color never.
    #[arg(long, global = true, hide = true)]
    no_color: bool,

    #[command(subcommand)]
    command: Command,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ColorWhen {
    Auto,
    Always,
    Never,
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
    #[command(after_help = "Examples:\n  druidctl compile
  druidctl compile --out - | sha256sum")]
    Compile(commands::compile::Args),
    /// Check dimensions.json and the environments against the schema, as Druid will read it.
    #[command(after_help = "Examples:\n  druidctl validate
  druidctl validate --env prod -o json")]
    Validate(commands::validate::Args),
    /// Breaking changes between two schemas: buf's rules (file, package, wire-json, wire) plus
    /// the Druid rules (a renamed or retyped field that feeds a dimension).
    #[command(after_help = "Examples:\n  druidctl check --against stable --env prod
  druidctl check --against old/proto --mode wire --no-druid")]
    Check(commands::check::Args),
    /// Print the Kafka supervisor spec of an environment.
    #[command(
        override_usage = "druidctl render --env <ENV> [OPTIONS]",
        after_help = "Examples:\n  druidctl render --env dev
  druidctl render --env prod --schema-version abc123f | jq .spec.ioConfig"
    )]
    Render(commands::render::Args),
    /// The schema registry of an environment: list, show, publish, promote.
    #[command(after_help = "Examples:\n  druidctl schemas list --env prod
  druidctl schemas publish --env dev
  druidctl schemas promote abc123f --channel staging-latest --env dev")]
    Schemas {
        #[command(subcommand)]
        command: commands::schemas::Command,
    },
    /// What deploy would do: validation, compatibility, the spec diff against Druid, drift;
    /// exits 1 when the deploy would be refused (and 4 on changes with --exit-code).
    #[command(
        override_usage = "druidctl plan --env <ENV> [OPTIONS]",
        after_help = "Examples:\n  druidctl plan --env prod
  druidctl plan --env dev --exit-code -o json"
    )]
    Plan(commands::plan::Args),
    /// Read a sample of the environment's topic and predict what Druid would store with the
    /// working schema, next to the live schema and Druid's own sampler; exits 1 on a failing
    /// verdict, 3 when Kafka cannot be read.
    #[command(
        override_usage = "druidctl preflight --env <ENV> [OPTIONS]",
        after_help = "Examples:\n  druidctl preflight --env dev
  druidctl preflight --env prod --sample 200 --from 2026-11-30T08:00:00Z -o json"
    )]
    Preflight(commands::preflight::Args),
    /// A post-mortem draft of a time window: druidctl's history, Druid's spec changes (console
    /// edits shown as such), failed tasks, parse errors, time to detect and to recover.
    #[command(
        override_usage = "druidctl incident --env <ENV> [OPTIONS]",
        after_help = "Examples:\n  druidctl incident --env prod --since 6h > incident.md
  druidctl incident --env prod --from 2026-11-30T02:00:00Z --to 2026-11-30T05:00:00Z -o json"
    )]
    Incident(commands::incident::Args),
    /// Notifications: `notify test` sends a test message to every notifier of the environment.
    #[command(after_help = "Examples:\n  DRUIDCTL_SLACK_WEBHOOK=... druidctl notify test --env prod")]
    Notify {
        #[command(subcommand)]
        command: commands::notify::Command,
    },
    /// Publish, submit, wait, verify and move the channel; roll back automatically on failure.
    #[command(
        override_usage = "druidctl deploy --env <ENV> [OPTIONS]",
        after_help = "Examples:\n  druidctl deploy --env dev
  druidctl deploy --env prod --yes
  druidctl deploy --env prod --ignore-window --reason \"INC-42 hotfix\""
    )]
    Deploy(commands::deploy::Args),
    /// Carry out a plan file written by `plan --out`, exactly, unless what it saw has moved.
    #[command(
        after_help = "Examples:\n  druidctl plan --env prod --out plan.json\n  druidctl apply plan.json --yes"
    )]
    Apply(commands::deploy::ApplyArgs),
    /// A migration to a new datasource (started by a deploy whose datasource changed in the
    /// project file): status, cutover, abort, and a SQL view over both datasources.
    #[command(after_help = "Examples:\n  druidctl migrate status --env dev
  druidctl migrate cutover --env prod --yes
  druidctl migrate sql --env prod > union.sql
  druidctl migrate abort --env dev")]
    Migrate {
        #[command(subcommand)]
        command: commands::migrate::Command,
    },
    /// Watch the running tasks until the verdict decides (pass, fail, or unverified at
    /// thresholds.observe_secs), then the post-deploy checklist: state, tasks, rate, parse
    /// errors, task failures, SQL probe. Settles an unverified deploy in the history.
    #[command(
        override_usage = "druidctl verify --env <ENV> [OPTIONS]",
        after_help = "Examples:\n  druidctl verify --env prod
  druidctl verify --env dev -o json
  druidctl verify --env prod --require-evidence"
    )]
    Verify(commands::verify::Args),
    /// Re-deploy an earlier version (default: the channel's previous one) and verify it.
    #[command(
        override_usage = "druidctl rollback --env <ENV> [OPTIONS]",
        after_help = "Examples:\n  druidctl rollback --env prod
  druidctl rollback --env prod --schema-version previous-stable --yes"
    )]
    Rollback(commands::rollback::Args),
    /// State, tasks, lag, rates, parse errors and the live version of an environment.
    #[command(
        override_usage = "druidctl status --env <ENV> [OPTIONS]",
        after_help = "Examples:\n  druidctl status --env prod
  druidctl status --all --env prod -o json"
    )]
    Status {
        /// Every pipeline of the project file on the environment (drift, state, lag, parse
        /// errors, last action), and the supervisors no pipeline declares.
        #[arg(long)]
        all: bool,
    },
    /// The team's alerts (state, task failures, lag, parse errors) with the action for each;
    /// exits 1 when one is breached.
    #[command(
        override_usage = "druidctl monitor --env <ENV> [OPTIONS]",
        after_help = "Examples:\n  druidctl monitor --env prod
  druidctl monitor --env prod --watch --interval 1m
  druidctl monitor --env prod --prometheus 127.0.0.1:9464"
    )]
    Monitor(commands::monitor::Args),
    /// Emergency: stop reading without removing the supervisor.
    #[command(
        override_usage = "druidctl suspend --env <ENV> [OPTIONS]",
        after_help = "Examples:\n  druidctl suspend --env prod"
    )]
    Suspend,
    /// Resume a suspended supervisor.
    #[command(
        override_usage = "druidctl resume --env <ENV> [OPTIONS]",
        after_help = "Examples:\n  druidctl resume --env prod"
    )]
    Resume,
    /// Forget stored offsets and restart the tasks (asks for confirmation).
    #[command(
        override_usage = "druidctl reset --env <ENV> [OPTIONS]",
        after_help = "Examples:\n  druidctl reset --env dev --yes"
    )]
    Reset(commands::control::ResetArgs),
    /// Deploys, rollbacks and emergency actions recorded for an environment.
    #[command(
        override_usage = "druidctl history --env <ENV> [OPTIONS]",
        after_help = "Examples:\n  druidctl history --env prod --limit 10"
    )]
    History(commands::history::Args),
    /// druidctl's version, and the Druid version of --env's cluster when it is reachable.
    #[command(after_help = "Examples:\n  druidctl version
  druidctl version --env prod")]
    Version,
    /// The project file as druidctl reads it: `config view --env E [--show-origin]`.
    #[command(
        override_usage = "druidctl config view --env <ENV> [OPTIONS]",
        after_help = "Examples:\n  druidctl config view --env prod --show-origin"
    )]
    Config {
        #[command(subcommand)]
        command: commands::config::Command,
    },
    /// Break an environment's deploy lock whose holder is gone (recorded with the reason).
    #[command(
        override_usage = "druidctl unlock --env <ENV> --reason <TEXT>",
        after_help = "Examples:\n  druidctl unlock --env prod --reason \"runner 4711 was killed, checked with the CI admins\""
    )]
    Unlock(commands::unlock::Args),
    /// A deploy whose process died (status shows it): put the channel's version back, or keep
    /// its version with --finish when it verifies; recorded.
    #[command(
        override_usage = "druidctl recover --env <ENV> [OPTIONS]",
        after_help = "Examples:\n  druidctl recover --env prod\n  druidctl recover --env dev --finish"
    )]
    Recover(commands::recover::Args),
    /// Every pipeline's channel version against what Druid runs: in sync, drifted (the diff,
    /// and who changed it when Druid's history says), missing, unmanaged; --apply heals.
    #[command(
        override_usage = "druidctl reconcile --env <ENV> [OPTIONS]",
        after_help = "Examples:\n  druidctl reconcile --env prod
  druidctl reconcile --env dev --apply
  druidctl reconcile --env prod -o json"
    )]
    Reconcile(commands::reconcile::Args),
    /// The reconcile service with a read-only web page: one row per pipeline (live and
    /// channel versions, drift, state, lag, parse errors, last deploy), /metrics, /api/status.
    #[command(
        override_usage = "druidctl serve --env <ENV> [OPTIONS]",
        after_help = "Examples:\n  druidctl serve --env prod --listen 0.0.0.0:8080
  druidctl serve --env dev --interval 30s --apply"
    )]
    Serve(commands::serve::Args),
    /// Scaffold druidctl.toml and dimensions.json for a proto root (asks nothing).
    Init(commands::init::Args),
    /// The end of the logs of the supervisor's running tasks (--follow to keep reading).
    #[command(
        override_usage = "druidctl logs --env <ENV> [OPTIONS]",
        after_help = "Examples:\n  druidctl logs --env prod --tail 50
  druidctl logs --env prod --follow -o json"
    )]
    Logs(commands::logs::Args),
    /// The parse errors the running tasks saved, with the raw input summarised.
    #[command(
        override_usage = "druidctl parse-errors --env <ENV> [OPTIONS]",
        after_help = "Examples:\n  druidctl parse-errors --env prod"
    )]
    ParseErrors,
    /// Print a static shell completion script (flags and subcommands only).
    #[command(after_help = COMPLETIONS_HELP)]
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    // `COMPLETE=bash druidctl` (and zsh, fish, ...) prints the shell's registration script;
    // the shell then calls druidctl back for candidates. A normal run goes on.
    {
        use clap::CommandFactory as _;
        clap_complete::CompleteEnv::with_factory(Cli::command).complete();
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() { 2 } else { 0 };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    let color = match (cli.no_color, cli.color) {
        (true, _) | (false, ColorWhen::Never) => anstream::ColorChoice::Never,
        (false, ColorWhen::Always) => anstream::ColorChoice::Always,
        (false, ColorWhen::Auto) => anstream::ColorChoice::Auto,
    };
    let out = Output::new(cli.output, cli.quiet, cli.verbose, color);
    let context = commands::Context { config: cli.config, env: cli.env, pipelines: cli.pipeline };
    let each = |all: bool, run: &dyn Fn(&commands::Context) -> Result<output::Status, output::CliError>| {
        commands::each_pipeline(&context, all, &out, run)
    };
    let result = match cli.command {
        Command::Compile(args) => commands::compile::run(&context, &args, &out),
        Command::Validate(args) => {
            each(args.fleet.all, &|context| commands::validate::run(context, &args, &out))
        }
        Command::Render(args) => commands::render::run(&context, &args, &out),
        // Two bare trees need no project file (how buf users compare them): only `--all` or a
        // found project selects pipelines.
        Command::Check(args)
            if !args.fleet.all && context.config.is_none() && context.project_file().is_err() =>
        {
            commands::check::run(&context, &args, &out)
        }
        Command::Check(args) => each(args.fleet.all, &|context| commands::check::run(context, &args, &out)),
        Command::Schemas { command } => commands::schemas::run(&context, &command, &out),
        Command::Plan(args) => match context.selection(args.fleet.all) {
            Ok(selection) if selection.len() > 1 => {
                commands::plan::run_fleet(&context, &args, &out, &selection)
            }
            Ok(_) => each(false, &|context| commands::plan::run(context, &args, &out)),
            Err(err) => Err(err),
        },
        Command::Preflight(args) => commands::preflight::run(&context, &args, &out),
        Command::Incident(args) => commands::incident::run(&context, &args, &out),
        Command::Notify { command } => commands::notify::run(&context, &command, &out),
        Command::Deploy(args) if args.plan_file.is_some() => commands::deploy::run(&context, &args, &out),
        Command::Apply(args) => commands::deploy::run_apply(&context, &args, &out),
        Command::Deploy(args) => match context.selection(args.fleet.all) {
            Ok(selection) if selection.len() > 1 => {
                commands::deploy::run_fleet(&context, &args, &out, selection)
            }
            Ok(selection) => commands::deploy::run(
                &context.with_pipeline(selection.into_iter().next().flatten()),
                &args,
                &out,
            ),
            Err(err) => Err(err),
        },
        Command::Migrate { command } => commands::migrate::run(&context, &command, &out),
        Command::Verify(args) => each(args.fleet.all, &|context| commands::verify::run(context, args, &out)),
        Command::Rollback(args) => commands::rollback::run(&context, &args, &out),
        Command::Status { all: false } => each(false, &|context| commands::status::run(context, &out)),
        Command::Status { all: true } => commands::status::run_all(&context, &out),
        Command::Monitor(args) => {
            each(args.fleet.all, &|context| commands::monitor::run(context, &args, &out))
        }
        Command::Suspend => commands::control::run(&context, Control::Suspend, true, &out),
        Command::Resume => commands::control::run(&context, Control::Resume, true, &out),
        Command::Reset(args) => commands::control::run(&context, Control::Reset, args.yes, &out),
        Command::History(args) => {
            each(args.fleet.all, &|context| commands::history::run(context, &args, &out))
        }
        Command::Version => commands::version::run(&context, &out),
        Command::Config { command } => commands::config::run(&context, &command, &out),
        Command::Init(args) => commands::init::run(&args, &out),
        Command::Unlock(args) => commands::unlock::run(&context, &args, &out),
        Command::Recover(args) => commands::recover::run(&context, &args, &out),
        Command::Reconcile(args) => commands::reconcile::run(&context, &args, &out),
        Command::Serve(args) => commands::serve::run(&context, &args, &out),
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

    /// Every subcommand's --help ends with examples (completions with how to install them).
    #[test]
    fn every_subcommand_has_examples() {
        let command = super::Cli::command();
        for sub in command.get_subcommands() {
            let after = sub.get_after_help().map(ToString::to_string).unwrap_or_default();
            assert!(
                after.contains("Examples:") || after.contains("COMPLETE=bash druidctl"),
                "`druidctl {} --help` shows no example",
                sub.get_name()
            );
        }
    }

    /// Every `druidctl ...` the README shows parses with this binary's flags, and every
    /// `make X` it shows is a target of the Makefile: the README cannot drift from the tool.
    #[test]
    fn the_readme_commands_exist() {
        use clap::Parser as _;
        let readme = include_str!("../../../README.md");
        let makefile = include_str!("../../../Makefile");
        let mut checked = 0;
        for command in readme.split('`').skip(1).step_by(2).filter(|text| text.starts_with("druidctl ")) {
            let command = command.split(" | ").next().unwrap_or_default().replace(['[', ']'], "");
            let args: Vec<String> = command
                .split_whitespace()
                .map(|word| match word {
                    "E" => "dev".to_owned(),
                    "PATH" | "OLD" => "some/path".to_owned(),
                    "ID" | "TEXT" => "x".to_owned(),
                    "N" => "5".to_owned(),
                    "V" => "v1".to_owned(),
                    "ADDR" => "127.0.0.1:9".to_owned(),
                    other => other.to_owned(),
                })
                .collect();
            if let Err(err) = super::Cli::try_parse_from(&args)
                && err.kind() != clap::error::ErrorKind::DisplayHelp
            {
                panic!("README: `{command}` does not parse: {err}");
            }
            checked += 1;
        }
        assert!(checked >= 15, "only {checked} druidctl commands found in the README");
        for line in readme.lines().filter(|line| line.starts_with("make ")) {
            let target = line.split_whitespace().nth(1).unwrap_or_default();
            assert!(
                makefile.contains(&format!("\n{target}:")),
                "README: `make {target}` is not a Makefile target"
            );
        }
    }
}
