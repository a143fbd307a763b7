//! `druidctl check`: breaking changes between two schemas, buf's rules plus Druid's.

use std::path::{Path, PathBuf};

use druid_mapping::DimensionsConfig;
use druid_mapping::compat::{self, DruidMapping, Verdict};
use proto_schema::CompiledSchema;
use proto_schema::compat::Mode;

use super::{Context, block_on};
use crate::output::{CliError, EXIT_INPUT, FindingStyle, Output, Sink, Status, print_findings};

/// Strictness, as buf's categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    /// Generated code per file.
    File,
    /// Generated code per package.
    Package,
    /// Binary and JSON encoding (the deploy gate).
    WireJson,
    /// Binary encoding only.
    Wire,
}

impl From<ModeArg> for Mode {
    fn from(mode: ModeArg) -> Self {
        match mode {
            ModeArg::File => Mode::File,
            ModeArg::Package => Mode::Package,
            ModeArg::WireJson => Mode::WireJson,
            ModeArg::Wire => Mode::Wire,
        }
    }
}

/// Flags of `check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run on every pipeline of the project file (docs/fleet.md).
    #[command(flatten)]
    pub fleet: super::FleetArgs,
    /// Import root of the new schema: every .proto below it is compiled [default: the project's
    /// proto root].
    #[arg(long, value_name = "DIR")]
    proto_root: Option<PathBuf>,
    /// Import root of the old schema; with --env, also a registry version, a channel or
    /// previous-<channel>.
    #[arg(long, value_name = "OLD")]
    against: String,
    /// Which changes count as breaking.
    #[arg(long, value_enum, default_value_t = ModeArg::WireJson)]
    mode: ModeArg,
    /// The old dimension mapping, for the Druid rules [default: the registry version's, or the
    /// project's dimensions.json when there is a project file].
    #[arg(long, value_name = "FILE")]
    dimensions: Option<PathBuf>,
    /// The record's message type, for the Druid rules [default: the project's].
    #[arg(long, value_name = "NAME")]
    message: Option<String>,
    /// Only buf's rules.
    #[arg(long)]
    no_druid: bool,
}

pub fn run(context: &Context, args: &Args, out: &Output) -> Result<Status, CliError> {
    // A project is optional: `check` also works on two bare directories.
    let project = context.project().ok();
    let new_root = match (&args.proto_root, &project) {
        (Some(root), _) => root.clone(),
        (None, Some(project)) => project.proto_root(),
        (None, None) => {
            return Err(CliError::new(
                "no --proto-root and no druidctl.toml to take it from",
                EXIT_INPUT,
                Some("pass --proto-root DIR".into()),
            ));
        }
    };
    let against = Path::new(&args.against);
    if !against.is_dir() && (project.is_none() || context.env.is_none()) {
        return Err(not_a_directory(&args.against));
    }
    let (old, new, old_root, registry_mapping, _baseline) = if against.is_dir() {
        // Both sides at once: compiling is most of the work, and there are two cores.
        let (old, new) = std::thread::scope(|scope| {
            let old = scope.spawn(|| CompiledSchema::compile_dir_lean(against));
            let new = CompiledSchema::compile_dir_lean(&new_root);
            (old.join().expect("the compiler does not panic"), new)
        });
        let new = new.map_err(deploy_core::Error::from)?;
        let old = old.map_err(deploy_core::Error::from)?;
        (old, new, against.to_owned(), None, None)
    } else {
        let new = CompiledSchema::compile_dir(&new_root).map_err(deploy_core::Error::from)?;
        let project = project.as_ref().expect("checked above");
        let environment = context.environment(project)?;
        let baseline = block_on(async {
            Ok(deploy_core::publish::resolve_baseline(&environment, &args.against).await?)
        })?;
        let root = PathBuf::from(format!("{}@{}", environment.registry, baseline.version));
        let mapping = (baseline.message_type.clone(), baseline.dimensions.clone());
        (baseline.schema.clone(), new, root, Some(mapping), Some(baseline))
    };

    let registry_mapping_known = registry_mapping.is_some();
    let mapping = if args.no_druid {
        None
    } else if let Some(mapping) = registry_mapping {
        Some(mapping)
    } else {
        druid_mapping(args, project.as_ref())?
    };
    // The new mapping: the project's, when the old one came from the registry; else the same.
    let new_dimensions = match (&project, registry_mapping_known) {
        (Some(project), true) => {
            Some(DimensionsConfig::load(&project.dimensions_path()).map_err(deploy_core::Error::from)?)
        }
        _ => None,
    };
    let verdict = compat::check(
        &old,
        &new,
        args.mode.into(),
        mapping.as_ref().map(|(message, dimensions)| DruidMapping {
            message,
            dimensions,
            new_dimensions: new_dimensions.as_ref(),
        }),
    );
    print(out, &verdict, &old_root, &new_root)?;
    // Two large descriptor pools are about to be freed one allocation at a time; the process
    // is ending, so let it hand the memory back at once instead.
    std::mem::forget(old);
    std::mem::forget(new);
    Ok(if verdict.stops { Status::CheckFailed } else { Status::Success })
}

fn not_a_directory(against: &str) -> CliError {
    CliError::new(
        format!("--against `{against}` is not a directory"),
        EXIT_INPUT,
        Some("pass an import root, or --env E to compare with a registry version or channel".into()),
    )
}

fn druid_mapping(
    args: &Args,
    project: Option<&deploy_core::Project>,
) -> Result<Option<(String, DimensionsConfig)>, CliError> {
    let path = match (&args.dimensions, project) {
        (Some(path), _) => path.clone(),
        (None, Some(project)) => project.dimensions_path(),
        (None, None) => return Ok(None),
    };
    let message = match (&args.message, project) {
        (Some(message), _) => message.clone(),
        (None, Some(project)) => project.config().schema.message.clone(),
        (None, None) => {
            return Err(CliError::new(
                "--dimensions needs --message (the record's message type)",
                EXIT_INPUT,
                None,
            ));
        }
    };
    let dimensions = DimensionsConfig::load(&path).map_err(deploy_core::Error::from)?;
    Ok(Some((message, dimensions)))
}

/// Prints the policy's `path:line:col: RULE message` lines, then the Druid findings (stdout),
/// and a summary that names which verdict stops (stderr); or the JSON document.
pub fn print(out: &Output, verdict: &Verdict, old_root: &Path, new_root: &Path) -> Result<(), CliError> {
    if out.is_json() {
        out.json(verdict)?;
        return Ok(());
    }
    let style = FindingStyle { located: Some((old_root, new_root)), prefix: "", info: out.shows_notes() };
    print_findings(out, verdict, Sink::Line, style)?;
    out.note(verdict.summary());
    Ok(())
}
