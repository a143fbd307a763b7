//! The druidctl workflow as a library: the project file, policy, publishing, rendering,
//! and, on a [`Session`], plan, deploy, verify, rollback, drift, the emergency controls,
//! status and monitoring. Nothing here prints or exits: progress goes to a
//! [`events::Reporter`], failures are [`Error`]s that carry their own hints.
//!
//! One module per concern: [`config`], [`policy`], [`session`], [`ledger`] (locks and
//! history), [`publish`], [`render`], [`plan`], [`deploy`], [`verify`], [`rollback`],
//! [`controls`], [`drift`], [`ops`], [`monitor`]. `docs/architecture.md` draws the path of a
//! deploy through them.
//!
//! ```no_run
//! use std::path::Path;
//! use deploy_core::{Project, Session, config::Overrides, deploy::DeployOptions};
//!
//! # async fn example() -> deploy_core::Result<()> {
//! let project = Project::open(Path::new("druidctl.toml"))?;
//! let environment = project.environment("dev", &Overrides::from_vars(std::env::vars()))?;
//! let session = Session::connect(environment).await?;
//! let outcome = session.deploy(&project.check()?, project.config().base_dir(), &DeployOptions::default()).await?;
//! println!("{}", serde_json::to_string(&outcome).unwrap());
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

use std::path::{Path, PathBuf};

use druid_client::spec::SupervisorSpec;
use druid_mapping::DimensionsConfig;
use prost_reflect::MessageDescriptor;
use proto_schema::CompiledSchema;

// The layers, bottom up (docs/architecture.md; `tests/layers.rs` checks that no module
// imports from a layer above its own): the base modules below, then `observe/`, `migrate/`,
// `workflow/`, `fleet/`. Each folder's modules are re-exported here under their old paths.
pub mod clock;
pub mod config;
pub mod connect;
pub mod error;
pub mod events;
pub mod init;
mod journal;
pub mod kafka;
pub mod ledger;
pub mod notify;
pub mod policy;
pub mod publish;
pub mod render;
pub mod session;
pub mod verdict;

pub mod fleet;
pub mod migrate;
pub mod observe;
pub mod workflow;

pub use fleet::{reconcile, service};
pub use observe::{drift, incident, monitor, ops};
pub use workflow::{controls, deploy, plan, preflight, promote, recover, rollback, verify};

use config::{Config, Environment, Overrides};
pub use druid_mapping::{Problem, Severity};
pub use error::{Category, Error, Result};
pub use session::Session;

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

    /// Pipeline `name`'s view of the project: its message, mapping, environments and
    /// registry namespace ([`Config::pipeline`]).
    pub fn pipeline(&self, name: &str) -> Result<Self> {
        Ok(Self { config: self.config.pipeline(name)? })
    }

    /// The names of the file's `[pipelines.NAME]`; empty when the file is one implicit
    /// pipeline.
    pub fn pipeline_names(&self) -> Vec<String> {
        self.config.pipeline_names().map(str::to_owned).collect()
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
        Ok(CompiledSchema::compile_dir_limited(&self.proto_root(), self.config.schema.max_source_bytes)?)
    }

    /// Compiles, finds the message type, reads `dimensions.json` and validates it.
    pub fn check(&self) -> Result<Checked> {
        self.check_compiled(self.compile()?)
    }

    /// [`Project::check`] with the proto root compiled already (pipelines sharing one root
    /// compile it once: [`fleet::check_all`]).
    pub fn check_compiled(&self, schema: CompiledSchema) -> Result<Checked> {
        let message = schema.message(&self.config.schema.message)?;
        let dimensions_path = self.dimensions_path();
        let dimensions = DimensionsConfig::load(&dimensions_path)?;
        let problems = druid_mapping::validate(&message, &dimensions);
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
