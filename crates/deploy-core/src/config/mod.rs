//! `druidctl.toml`: the project file (schema paths) and one table per environment.
//!
//! Each `[environments.NAME]` table is merged over `[defaults]` (tables merge key by key,
//! anything else is replaced), then a few variables override the result so CI jobs can point
//! an environment elsewhere without editing files (see [`Overrides`]). Paths are relative to
//! the directory holding `druidctl.toml`. The reference is `docs/configuration.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use schema_registry::Channel;

use crate::{Error, Result};

mod environment;
mod notify;
mod origins;
mod overrides;
mod thresholds;
mod toml_text;
mod window;
pub use environment::*;
pub(crate) use notify::notify_default_timeout;
pub use notify::*;
pub use origins::*;
pub use overrides::*;
pub use thresholds::*;
use toml_text::{deserialize_table, flatten, merge, syntax_message};
pub use window::*;

/// The file name looked for when no `--config` is given.
pub const CONFIG_FILE: &str = "druidctl.toml";

/// A parsed `druidctl.toml`: the whole file, or one pipeline's view of it
/// ([`Config::pipeline`]).
#[derive(Debug, Clone)]
pub struct Config {
    path: PathBuf,
    /// The `[schema]` table (a pipeline's view: the pipeline's message, mapping and root).
    pub schema: SchemaSettings,
    defaults: toml::Table,
    environments: BTreeMap<String, toml::Table>,
    pipelines: BTreeMap<String, RawPipeline>,
    /// The pipeline this view is of, and its per-environment tables.
    pipeline: Option<(String, BTreeMap<String, toml::Table>)>,
}

/// `[pipelines.NAME]`: one message and mapping ingested into one datasource per environment
/// (docs/fleet.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    /// The record's message type (`[schema] message` by default).
    #[serde(default)]
    message: Option<String>,
    /// Its dimension mapping (`[schema] dimensions` by default).
    #[serde(default)]
    dimensions: Option<PathBuf>,
    /// Its proto root (`[schema] proto_root` by default: one root serves many pipelines).
    #[serde(default)]
    proto_root: Option<PathBuf>,
    /// Per-environment settings merged over `[environments.ENV]`.
    #[serde(default)]
    environments: BTreeMap<String, toml::Table>,
}

/// `[schema]`: where the sources and the dimension mapping are.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaSettings {
    /// Directory compiled as the import root; every `.proto` below it is compiled.
    #[serde(default = "default_proto_root")]
    pub proto_root: PathBuf,
    /// Full name of the Kafka record's message type.
    pub message: String,
    /// The dimension mapping (`docs/dimensions.md`).
    #[serde(default = "default_dimensions")]
    pub dimensions: PathBuf,
    /// The most `.proto` bytes a compile reads (16 MiB): a compile takes memory in proportion.
    #[serde(default = "default_max_source_bytes")]
    pub max_source_bytes: u64,
}

fn default_max_source_bytes() -> u64 {
    proto_schema::compile::DEFAULT_MAX_SOURCE_BYTES
}

fn default_proto_root() -> PathBuf {
    PathBuf::from("schemas/proto")
}

fn default_dimensions() -> PathBuf {
    PathBuf::from("config/dimensions.json")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    schema: RawSchema,
    #[serde(default)]
    defaults: toml::Table,
    #[serde(default)]
    environments: BTreeMap<String, toml::Table>,
    #[serde(default)]
    pipelines: BTreeMap<String, RawPipeline>,
}

/// `[schema]` as written: `message` may be left to the pipelines.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchema {
    #[serde(default = "default_proto_root")]
    proto_root: PathBuf,
    #[serde(default)]
    message: Option<String>,
    #[serde(default = "default_dimensions")]
    dimensions: PathBuf,
    #[serde(default = "default_max_source_bytes")]
    max_source_bytes: u64,
}

impl Config {
    /// Reads `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| Error::ConfigRead { path: path.to_owned(), source })?;
        Self::parse(&text, path)
    }

    /// Parses `text`, read from `path` (paths in it are relative to `path`'s directory).
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let raw: RawConfig = toml::from_str(text).map_err(|err| Error::ConfigSyntax {
            path: path.to_owned(),
            message: syntax_message(text, &err),
        })?;
        let invalid =
            |at: String, message: String| Error::ConfigInvalid { path: path.to_owned(), at, message };
        if raw.environments.is_empty() {
            return Err(invalid(
                "environments".into(),
                "no environment is defined; add an [environments.dev] table".into(),
            ));
        }
        if raw.schema.message.is_none() && raw.pipelines.is_empty() {
            return Err(invalid(
                "schema.message".into(),
                "missing: the full name of the record's message type".into(),
            ));
        }
        for (name, pipeline) in &raw.pipelines {
            if Channel::parse(name).is_err() {
                return Err(invalid(
                    format!("pipelines.{name}"),
                    "a pipeline name is lowercase letters, digits, `-` and `_` (it names registry paths)"
                        .into(),
                ));
            }
            if pipeline.message.is_none() && raw.schema.message.is_none() {
                return Err(invalid(
                    format!("pipelines.{name}.message"),
                    "missing: set it here or in [schema]".into(),
                ));
            }
            if let Some(unknown) =
                pipeline.environments.keys().find(|env| !raw.environments.contains_key(*env))
            {
                return Err(invalid(
                    format!("pipelines.{name}.environments.{unknown}"),
                    format!(
                        "no [environments.{unknown}] table: a pipeline sets values for the environments the file defines ({})",
                        raw.environments.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
        // Two pipelines writing one datasource with one supervisor id would fight over it.
        for environment in raw.environments.keys() {
            let mut seen: BTreeMap<(String, String), &str> = BTreeMap::new();
            for (name, pipeline) in &raw.pipelines {
                let mut merged = raw.defaults.clone();
                merge(&mut merged, raw.environments[environment].clone());
                if let Some(table) = pipeline.environments.get(environment) {
                    merge(&mut merged, table.clone());
                }
                let text = |key: &str| merged.get(key).and_then(toml::Value::as_str).map(str::to_owned);
                let Some(datasource) = text("datasource") else { continue };
                let supervisor = text("supervisor").unwrap_or_else(|| datasource.clone());
                if let Some(other) = seen.insert((datasource.clone(), supervisor), name) {
                    return Err(invalid(
                        format!("pipelines.{name}.environments.{environment}.datasource"),
                        format!(
                            "pipelines `{other}` and `{name}` both ingest into `{datasource}` in {environment}: give each its own datasource"
                        ),
                    ));
                }
            }
        }
        let schema = SchemaSettings {
            proto_root: raw.schema.proto_root,
            message: raw.schema.message.unwrap_or_default(),
            dimensions: raw.schema.dimensions,
            max_source_bytes: raw.schema.max_source_bytes,
        };
        Ok(Self {
            path: path.to_owned(),
            schema,
            defaults: raw.defaults,
            environments: raw.environments,
            pipelines: raw.pipelines,
            pipeline: None,
        })
    }

    /// Names of the `[pipelines.NAME]` tables, sorted; empty for a single-pipeline file (the
    /// implicit pipeline: the file itself).
    pub fn pipeline_names(&self) -> impl Iterator<Item = &str> {
        self.pipelines.keys().map(String::as_str)
    }

    /// The pipeline this is a view of, if it is one.
    pub fn selected_pipeline(&self) -> Option<&str> {
        self.pipeline.as_ref().map(|(name, _)| name.as_str())
    }

    /// Pipeline `name`'s view of the file: its message, mapping and proto root as `[schema]`,
    /// its environment tables merged over `[environments.ENV]` (over `[defaults]`), and its
    /// own registry namespace (`<registry>/pipelines/NAME`: versions, channels, locks and
    /// history of its own).
    pub fn pipeline(&self, name: &str) -> Result<Self> {
        let Some(pipeline) = self.pipelines.get(name) else {
            return Err(Error::UnknownPipeline {
                name: name.to_owned(),
                known: self.pipelines.keys().cloned().collect(),
                suggestion: proto_schema::closest(name, self.pipelines.keys().map(String::as_str))
                    .map(str::to_owned),
            });
        };
        let schema = SchemaSettings {
            proto_root: pipeline.proto_root.clone().unwrap_or_else(|| self.schema.proto_root.clone()),
            message: pipeline.message.clone().unwrap_or_else(|| self.schema.message.clone()),
            dimensions: pipeline.dimensions.clone().unwrap_or_else(|| self.schema.dimensions.clone()),
            max_source_bytes: self.schema.max_source_bytes,
        };
        Ok(Self { schema, pipeline: Some((name.to_owned(), pipeline.environments.clone())), ..self.clone() })
    }

    /// Finds `druidctl.toml` in `start` or the nearest ancestor directory.
    pub fn discover(start: &Path) -> Result<PathBuf> {
        start
            .ancestors()
            .map(|dir| dir.join(CONFIG_FILE))
            .find(|candidate| candidate.is_file())
            .ok_or_else(|| Error::ConfigNotFound { start: start.to_owned() })
    }

    /// The file this was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory relative paths are resolved against.
    pub fn base_dir(&self) -> &Path {
        self.path.parent().unwrap_or_else(|| Path::new("."))
    }

    /// A path from the file, made relative to the working directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() || self.base_dir().as_os_str().is_empty() {
            path.to_owned()
        } else {
            self.base_dir().join(path)
        }
    }

    /// Names of the environments, sorted.
    pub fn environment_names(&self) -> impl Iterator<Item = &str> {
        self.environments.keys().map(String::as_str)
    }

    /// The environment `name`: its table over `[defaults]`, then `overrides`.
    pub fn environment(&self, name: &str, overrides: &Overrides) -> Result<Environment> {
        let Some(table) = self.environments.get(name) else {
            return Err(Error::UnknownEnvironment {
                name: name.to_owned(),
                known: self.environments.keys().cloned().collect(),
                suggestion: proto_schema::closest(name, self.environments.keys().map(String::as_str))
                    .map(str::to_owned),
            });
        };
        let mut merged = self.defaults.clone();
        merge(&mut merged, table.clone());
        let mut at = format!("environments.{name}");
        let mut origins = BTreeMap::new();
        collect_origins(&self.defaults, "", "defaults", &mut origins);
        collect_origins(table, "", &at, &mut origins);
        if let Some((pipeline, tables)) = &self.pipeline {
            at = format!("pipelines.{pipeline}.environments.{name}");
            if let Some(own) = tables.get(name) {
                merge(&mut merged, own.clone());
                collect_origins(own, "", &at, &mut origins);
            }
        }
        let raw: RawEnvironment = deserialize_table(merged, &self.path, &at, &origins)?;
        let mut environment = raw.finish(name, self, &at, &origins)?;
        environment.origins = origins;
        overrides.apply(&mut environment)?;
        if let Some((pipeline, _)) = &self.pipeline {
            environment.registry = environment.registry.child(&format!("pipelines/{pipeline}"));
            environment.pipeline = Some(pipeline.clone());
        }
        Ok(environment)
    }
}

#[cfg(test)]
mod tests;
