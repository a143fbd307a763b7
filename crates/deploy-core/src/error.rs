//! The errors of deploy-core: one enum, each variant with its context, a [`Category`] for
//! exit codes and a hint of what to do next ([`Error::hint`]).

use std::path::PathBuf;

use druid_mapping::Problem;

use crate::config;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No `druidctl.toml` in the directory or its ancestors.
    #[error("no {} found in {} or any parent directory", config::CONFIG_FILE, start.display())]
    ConfigNotFound {
        /// Where the search started.
        start: PathBuf,
    },
    /// The configuration file could not be read.
    #[error("cannot read {}", path.display())]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML or has unknown tables.
    #[error("{}: {message}", path.display())]
    ConfigSyntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value in the configuration is wrong.
    #[error("{}: {at}: {message}", path.display())]
    ConfigInvalid {
        /// The file.
        path: PathBuf,
        /// Dotted key (`environments.prod.ingestion.task_count`).
        at: String,
        /// What is wrong.
        message: String,
    },
    /// A `DRUIDCTL_*` variable holds a value that cannot be used.
    #[error("${name}: {message}")]
    ConfigVariable {
        /// The variable.
        name: &'static str,
        /// What is wrong (credentials hidden).
        message: String,
    },
    /// `--env` names no environment of the file.
    #[error(
        "unknown environment `{name}`{}; known: {}",
        suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default(),
        known.join(", ")
    )]
    UnknownEnvironment {
        /// The name given.
        name: String,
        /// The environments the file defines.
        known: Vec<String>,
        /// The closest one, when it looks like a typo.
        suggestion: Option<String>,
    },
    /// `--pipeline NAME` names no `[pipelines.NAME]` table.
    #[error(
        "unknown pipeline `{name}`{}; the project file defines: {}",
        suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default(),
        known.join(", ")
    )]
    UnknownPipeline {
        /// The name given.
        name: String,
        /// The pipelines the file defines.
        known: Vec<String>,
        /// The closest one, when it looks like a typo.
        suggestion: Option<String>,
    },
    /// Compiling the schema failed.
    #[error(transparent)]
    Proto(#[from] proto_schema::Error),
    /// Reading `dimensions.json` failed.
    #[error(transparent)]
    Mapping(#[from] druid_mapping::Error),
    /// The registry failed or refused.
    #[error(transparent)]
    Registry(#[from] schema_registry::Error),
    /// Someone else holds the environment's deploy lock.
    #[error("environment `{environment}` is locked by {owner} since {since} (until {expires})")]
    LockHeld {
        /// Environment.
        environment: String,
        /// Holder.
        owner: String,
        /// Taken at.
        since: String,
        /// Expires at.
        expires: String,
    },
    /// Our lease expired and was taken over, or vanished.
    #[error("the deploy lock of `{environment}` was lost (expired and taken over)")]
    LockLost {
        /// Environment.
        environment: String,
    },
    /// A temporary directory could not be written.
    #[error("cannot write a temporary copy of the sources")]
    Scratch {
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The change breaks the environment's compatibility policy against the channel's version;
    /// refused without an override. Druid's data is intact (else [`Error::DruidDamage`]).
    #[error("the schema change breaks the compatibility policy against {parent}: {}", verdict.summary())]
    Breaking {
        /// The version compared against.
        parent: String,
        /// Both verdicts (the policy breaks; Druid's data is intact).
        verdict: druid_mapping::compat::Verdict,
    },
    /// The topic could not be read for preflight.
    #[error(transparent)]
    Kafka(#[from] crate::kafka::KafkaError),
    /// Preflight predicts that Druid would not ingest the topic's records well.
    #[error("preflight failed: {}", findings.join("; "))]
    PreflightFailed {
        /// Why, one line each.
        findings: Vec<String>,
    },
    /// The cluster's Druid release cannot run what druidctl deploys.
    #[error("Druid {version} is not supported for protobuf ingestion: {reason}")]
    UnsupportedDruid {
        /// The version `/status` reports.
        version: String,
        /// Why.
        reason: &'static str,
        /// The release that fixes it.
        fixed_in: &'static str,
    },
    /// A migration rule refused (docs/migrations.md): one in progress, a topic change Druid
    /// refuses, several supervisors per datasource on a Druid that cannot run them, ...
    #[error("{environment}: {reason}")]
    Migration {
        /// Environment.
        environment: String,
        /// Why, in a sentence.
        reason: String,
        /// The way out.
        way_out: String,
    },
    /// No migration is in progress where one was asked about.
    #[error("{environment}: no migration in progress")]
    NoMigration {
        /// Environment.
        environment: String,
    },
    /// The change damages what Druid stores for the baseline's columns (never overridden).
    #[error("the schema change damages what Druid stores, compared with {parent}: {}", verdict.summary())]
    DruidDamage {
        /// The version compared against.
        parent: String,
        /// Both verdicts.
        verdict: druid_mapping::compat::Verdict,
    },
    /// Druid failed or could not be reached.
    #[error("Druid failed while {action}")]
    Druid {
        /// What was being done.
        action: &'static str,
        /// Druid's error.
        #[source]
        source: Box<druid_client::Error>,
    },
    /// No environment follows this channel.
    #[error(
        "no environment follows channel `{channel}`{}; the channels are: {}",
        suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default(),
        known.join(", ")
    )]
    UnknownChannel {
        /// The channel given.
        channel: String,
        /// The channels the environments declare.
        known: Vec<String>,
        /// The closest one.
        suggestion: Option<String>,
    },
    /// A promotion the target environment's rules allow only with a recorded reason.
    #[error("promoting {version} to {channel} needs a recorded reason: {}", why.join("; "))]
    PromotionNeedsReason {
        /// The channel.
        channel: String,
        /// The version.
        version: String,
        /// Why.
        why: Vec<String>,
    },
    /// Stopped by a signal (or [`crate::session::Cancel`]) while waiting; what was done to
    /// Druid is recorded in the history.
    #[error("interrupted: the wait was stopped")]
    Interrupted,
    /// Druid has no supervisor for the environment's datasource.
    #[error("no supervisor `{datasource}` on Druid ({environment}) while {action}")]
    NoSupervisor {
        /// The datasource (supervisor id).
        datasource: String,
        /// The environment.
        environment: String,
        /// What was being done.
        action: &'static str,
    },
    /// The Overlord refused the spec; the channel did not move.
    #[error("the Overlord refused the spec of {version}; the channel was not moved")]
    SubmitRejected {
        /// The version.
        version: String,
        /// Druid's error (its message says what is wrong with the spec).
        #[source]
        source: Box<druid_client::Error>,
    },
    /// Outside the environment's deployment window.
    #[error("`{environment}` is outside its deployment window ({now}; allowed {window})")]
    WindowClosed {
        /// Environment.
        environment: String,
        /// Local time now.
        now: String,
        /// The window.
        window: String,
    },
    /// Staging and prod take only committed schemas.
    #[error("the working tree has uncommitted changes: `{environment}` takes only committed schemas")]
    DirtyTree {
        /// The environment.
        environment: String,
    },
    /// A plan's refusal, where no more specific error applies.
    #[error("{environment}: refused: {reason}")]
    Refused {
        /// Environment.
        environment: String,
        /// The refusal.
        reason: String,
    },
    /// What a plan saw changed before it was applied: it is not carried out.
    #[error("the plan is stale: {}", moved.join("; "))]
    PlanStale {
        /// What moved since the plan, one sentence each.
        moved: Vec<String>,
    },
    /// A plan file cannot be applied: unreadable, of another format, edited, or for another
    /// environment.
    #[error("plan file {}: {reason}", path.display())]
    PlanFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// `dimensions.json` does not match the schema; the problems say how.
    #[error("{} does not match the schema ({errors} error{})", path.display(), if *errors == 1 { "" } else { "s" })]
    InvalidMapping {
        /// `dimensions.json`.
        path: PathBuf,
        /// How many problems are errors.
        errors: usize,
        /// Every finding, errors first.
        problems: Vec<Problem>,
    },
}

impl Error {
    /// What kind of failure this is, for exit codes.
    pub fn category(&self) -> Category {
        use schema_registry::Error as Registry;
        match self {
            Self::Interrupted => Category::Interrupted,
            Self::InvalidMapping { .. }
            | Self::Breaking { .. }
            | Self::DruidDamage { .. }
            | Self::UnsupportedDruid { .. }
            | Self::WindowClosed { .. }
            | Self::PreflightFailed { .. }
            | Self::Migration { .. }
            | Self::Refused { .. }
            | Self::PlanStale { .. }
            | Self::NoMigration { .. }
            | Self::PromotionNeedsReason { .. } => Category::CheckFailed,
            Self::SubmitRejected { source, .. } if !source.is_retryable() => Category::CheckFailed,
            Self::Druid { .. }
            | Self::Kafka(crate::kafka::KafkaError::Unreachable { .. })
            | Self::SubmitRejected { .. }
            | Self::LockHeld { .. }
            | Self::LockLost { .. }
            | Self::Registry(
                Registry::Store { .. }
                | Registry::Digest { .. }
                | Registry::Corrupt { .. }
                | Registry::ChannelMoved { .. },
            ) => Category::External,
            _ => Category::Input,
        }
    }

    /// What to do next, in words that name no command-line flag (the CLI adds those).
    pub fn hint(&self) -> Option<String> {
        use schema_registry::Error as Registry;
        if let Self::NoSupervisor { datasource, environment, .. } = self {
            return Some(format!(
                "nothing was deployed to `{datasource}` yet: `druidctl deploy --env {environment}` creates it, or check `datasource` for {environment} in the project file"
            ));
        }
        match self {
            Self::Migration { way_out, .. } => return Some(way_out.clone()),
            Self::NoMigration { environment } => {
                return Some(format!(
                    "a migration starts when `datasource` (or `supervisor`) for {environment} changes in the project file and `druidctl deploy --env {environment}` runs; `druidctl migrate status --env {environment}` shows the last one"
                ));
            }
            _ => {}
        }
        if let Self::UnsupportedDruid { fixed_in, .. } = self {
            return Some(format!(
                "upgrade Druid to {fixed_in} or later, or stay on 34; nothing was submitted"
            ));
        }
        let text: &str = match self {
            Self::ConfigInvalid { .. } | Self::ConfigSyntax { .. } => {
                "fix that key in the project file (the keys an environment takes are in docs/configuration.md of druidctl's repository)"
            }
            Self::ConfigVariable { .. } => "fix or unset the variable: it overrides the project file",
            Self::Proto(proto_schema::Error::Compile { .. }) => "fix the .proto file at that location",
            Self::Mapping(druid_mapping::Error::Dimensions { .. }) => {
                "fix dimensions.json at that location (the keys it takes are in docs/dimensions.md of druidctl's repository, and in the JSON Schema docs/schemas/dimensions.schema.json)"
            }
            Self::Proto(proto_schema::Error::UnknownMessage { .. }) => {
                "set [schema] message in the project file to a message the sources define"
            }
            Self::InvalidMapping { .. } => "run `druidctl validate` for every problem with its fix",
            Self::DruidDamage { .. } => {
                "keep what Druid reads: the field's JSON name (json_name = \"...\"), its number, type and presence, the enum's names and numbers; or point dimensions.json at the renamed field. A change Druid cannot absorb needs a new datasource: change `datasource` for the environment in the project file in the same commit, and deploy starts a migration (docs/migrations.md). `druidctl check` lists each column and what Druid would store"
            }
            Self::Registry(Registry::UnknownVersion { .. } | Registry::EmptyChannel { .. }) => {
                "`druidctl schemas list` shows the published versions and channels"
            }
            Self::Registry(Registry::Store { .. }) => {
                "check the registry location and credentials (AWS_* variables, DRUIDCTL_REGISTRY)"
            }
            Self::SubmitRejected { .. } => {
                "Druid's message says what it refused; `druidctl render --env E` shows the spec (an unknown type \
                 'protobuf' means druid-protobuf-extensions is not loaded on the Overlord)"
            }
            Self::Druid { .. } => {
                "check the Druid URL and credentials (DRUIDCTL_DRUID_URL, ...) and that the Overlord is up"
            }
            Self::Registry(Registry::ChannelMoved { .. }) => {
                "someone else moved it meanwhile: look with `druidctl schemas list`, then retry"
            }
            Self::DirtyTree { .. } => {
                "commit the schema, or publish to an environment with allow_dirty = true"
            }
            Self::PlanStale { .. } => "plan again: the new plan shows the change against what is there now",
            Self::PlanFile { .. } => {
                "make a new plan file with `druidctl plan --out`; a plan file is applied as written, not edited"
            }
            Self::LockHeld { .. } => {
                "wait for that deploy to end; if its holder is gone (a crashed job), `druidctl unlock --env E --reason TEXT` breaks the lock, recorded"
            }
            _ => return None,
        };
        Some(text.to_owned())
    }
}

/// Broad kinds of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Category {
    /// Usage, configuration or input the user must fix.
    Input,
    /// The input is well formed but a check refused it.
    CheckFailed,
    /// An external system (Druid, S3) failed or was unreachable.
    External,
    /// Interrupted by a signal.
    Interrupted,
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
