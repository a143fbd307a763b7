//! The druidctl workflow as a library: configuration, validation and spec rendering today;
//! plan, deploy, verify and rollback next. Nothing here prints or exits.
//!
//! ```no_run
//! use std::path::Path;
//! use deploy_core::{Project, config::Overrides};
//!
//! let project = Project::open(Path::new("druidctl.toml"))?;
//! let environment = project.environment("prod", &Overrides::from_vars(std::env::vars()))?;
//! let checked = project.check()?;
//! let spec = checked.render(&environment, None)?;
//! println!("{}", serde_json::to_string_pretty(&spec).unwrap());
//! # Ok::<(), deploy_core::Error>(())
//! ```
#![warn(missing_docs)]

use std::path::{Path, PathBuf};

use druid_client::spec::SupervisorSpec;
use prost_reflect::MessageDescriptor;
use schema_registry::{CompiledSchema, DimensionsConfig, Problem, Severity};

pub mod compat;
pub mod config;
pub mod connect;
pub mod monitor;
pub mod policy;
pub mod render;
pub mod versions;
pub mod workflow;

use config::{Config, Environment, Overrides};

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
    /// `--env` names no environment of the file.
    #[error("unknown environment `{name}`; known: {}", known.join(", "))]
    UnknownEnvironment {
        /// The name given.
        name: String,
        /// The environments the file defines.
        known: Vec<String>,
    },
    /// Compiling the schema or reading `dimensions.json` failed.
    #[error(transparent)]
    Schema(#[from] schema_registry::Error),
    /// A temporary directory could not be written.
    #[error("cannot write a temporary copy of the sources")]
    Scratch {
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The change breaks what the channel's version ingests; refused without an override.
    #[error(
        "{} breaking change{} against {parent} (wire-json + Druid rules); pass --allow-breaking --reason TEXT to publish anyway",
        report.findings.iter().filter(|f| f.severity == schema_registry::Severity::Error).count(),
        if report.findings.iter().filter(|f| f.severity == schema_registry::Severity::Error).count() == 1 { "" } else { "s" }
    )]
    Breaking {
        /// The version compared against.
        parent: String,
        /// The findings.
        report: schema_registry::compat::Report,
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
    #[error(
        "`{environment}` is outside its deployment window ({now}; allowed {window}); pass --ignore-window --reason TEXT in an emergency"
    )]
    WindowClosed {
        /// Environment.
        environment: String,
        /// Local time now.
        now: String,
        /// The window.
        window: String,
    },
    /// Staging and prod take only committed schemas.
    #[error(
        "the working tree has uncommitted changes: `{environment}` takes only committed schemas (commit, or publish to dev)"
    )]
    DirtyTree {
        /// The environment.
        environment: String,
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
            Self::InvalidMapping { .. } | Self::Breaking { .. } | Self::WindowClosed { .. } => {
                Category::CheckFailed
            }
            Self::SubmitRejected { source, .. } if !source.is_retryable() => Category::CheckFailed,
            Self::Druid { .. }
            | Self::SubmitRejected { .. }
            | Self::Schema(
                Registry::Store { .. }
                | Registry::Digest { .. }
                | Registry::Corrupt { .. }
                | Registry::ChannelMoved { .. }
                | Registry::LockHeld { .. }
                | Registry::LockLost { .. },
            ) => Category::External,
            _ => Category::Input,
        }
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
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A project: `druidctl.toml` and the files it points at.
#[derive(Debug, Clone)]
pub struct Project {
    config: Config,
}

impl Project {
    /// Reads the configuration at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        Ok(Self { config: Config::load(path)? })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The environment `name`, with `overrides` applied.
    pub fn environment(&self, name: &str, overrides: &Overrides) -> Result<Environment> {
        self.config.environment(name, overrides)
    }

    /// The proto root, relative to the working directory.
    pub fn proto_root(&self) -> PathBuf {
        self.config.resolve(&self.config.schema.proto_root)
    }

    /// `dimensions.json`, relative to the working directory.
    pub fn dimensions_path(&self) -> PathBuf {
        self.config.resolve(&self.config.schema.dimensions)
    }

    /// Compiles the proto root.
    pub fn compile(&self) -> Result<CompiledSchema> {
        Ok(CompiledSchema::compile_dir(&self.proto_root())?)
    }

    /// Compiles, finds the message type, reads `dimensions.json` and validates it.
    pub fn check(&self) -> Result<Checked> {
        let schema = self.compile()?;
        let message = schema.message(&self.config.schema.message)?;
        let dimensions_path = self.dimensions_path();
        let dimensions = DimensionsConfig::load(&dimensions_path)?;
        let problems = schema_registry::validate(&message, &dimensions);
        Ok(Checked { schema, message, dimensions, dimensions_path, problems })
    }
}

/// A compiled and validated project, ready to render.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The compiled schema.
    pub schema: CompiledSchema,
    /// The record's message type.
    pub message: MessageDescriptor,
    /// The dimension mapping.
    pub dimensions: DimensionsConfig,
    /// Where the mapping was read from.
    pub dimensions_path: PathBuf,
    /// Every validation finding, errors first.
    pub problems: Vec<Problem>,
}

impl Checked {
    /// How many findings are errors.
    pub fn error_count(&self) -> usize {
        self.problems.iter().filter(|problem| problem.severity == Severity::Error).count()
    }

    /// An [`Error::InvalidMapping`] when any finding is an error: such a mapping is never
    /// rendered, published or deployed.
    pub fn ensure_valid(&self) -> Result<()> {
        let errors = self.error_count();
        if errors > 0 {
            return Err(Error::InvalidMapping {
                path: self.dimensions_path.clone(),
                errors,
                problems: self.problems.clone(),
            });
        }
        Ok(())
    }

    /// Renders the spec for `environment`; refuses when the mapping has errors. `version`
    /// defaults to [`render::content_version`].
    pub fn render(&self, environment: &Environment, version: Option<&str>) -> Result<SupervisorSpec> {
        self.ensure_valid()?;
        let content_version = render::content_version(&self.schema);
        Ok(render::render(&render::RenderInput {
            environment,
            descriptor_set: self.schema.descriptor_set(),
            message_type: self.message.full_name(),
            dimensions: &self.dimensions,
            version: version.unwrap_or(&content_version),
        }))
    }
}
