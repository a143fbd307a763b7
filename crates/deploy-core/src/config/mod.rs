//! `druidctl.toml`: the project file (schema paths) and one table per environment.
//!
//! Each `[environments.NAME]` table is merged over `[defaults]` (tables merge key by key,
//! anything else is replaced), then a few variables override the result so CI jobs can point
//! an environment elsewhere without editing files (see [`Overrides`]). Paths are relative to
//! the directory holding `druidctl.toml`. The reference is `docs/configuration.md`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use schema_registry::Channel;

use crate::{Error, Result};

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

/// One setting of an environment as `config view` shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Setting {
    /// Dotted key relative to the environment (`druid.url`).
    pub key: String,
    /// The value (secrets as `"***"`).
    pub value: serde_json::Value,
    /// Where it came from; `None`: druidctl's built-in default.
    pub origin: Option<Origin>,
}

impl Config {
    /// The environment `name` as written (its table over `[defaults]`, then the variables),
    /// key by key with where each value came from, plus the channel when it is implied by the
    /// name. Settings not listed take their built-in defaults (docs/configuration.md).
    pub fn view(&self, name: &str, overrides: &Overrides) -> Result<Vec<Setting>> {
        let environment = self.environment(name, overrides)?;
        let mut merged = self.defaults.clone();
        merge(&mut merged, self.environments[name].clone());
        let mut flat = BTreeMap::new();
        flatten(&toml::Value::Table(merged), "", &mut flat);
        let variables = [
            ("druid.url", overrides.druid_url.as_ref().map(|url| serde_json::json!(url))),
            ("druid.user", overrides.druid_user.as_ref().map(|user| serde_json::json!(user))),
            ("druid.password", overrides.druid_password.as_ref().map(|_| serde_json::json!("***"))),
            ("druid.token", overrides.druid_token.as_ref().map(|_| serde_json::json!("***"))),
            ("registry", overrides.registry.as_ref().map(|registry| serde_json::json!(registry))),
            (
                "kafka.bootstrap_servers",
                overrides.kafka_bootstrap.as_ref().map(|servers| serde_json::json!(servers)),
            ),
        ];
        for (key, value) in variables {
            if let Some(value) = value {
                flat.insert(key.to_owned(), value);
            }
        }
        flat.entry("channel".to_owned()).or_insert_with(|| serde_json::json!(environment.channel));
        Ok(flat
            .into_iter()
            .map(|(key, value)| Setting {
                // What is secret is decided once (druid_client::redact): passwords, tokens,
                // `sasl.jaas.config`, a password inside a URL.
                value: if druid_client::redact::is_secret_key(&key) {
                    serde_json::json!("***")
                } else {
                    druid_client::redact::json_copy(&value)
                },
                origin: environment.origins.get(&key).cloned(),
                key,
            })
            .collect())
    }
}

/// A TOML error as `line L, column C: message`, without the source line the parser quotes
/// (it may be a `password = "..."` line); on a line whose key is secret, quoted values in the
/// message are hidden too.
fn syntax_message(text: &str, err: &toml::de::Error) -> String {
    let message = err.message().trim_end().to_owned();
    let Some(span) = err.span() else { return message };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |start| start.chars().count()) + 1;
    let source_line = text.lines().nth(line - 1).unwrap_or_default();
    let key = source_line.split('=').next().unwrap_or_default();
    let message = if druid_client::redact::is_secret_key(key) || druid_client::redact::is_secret_key(&message)
    {
        hide_quoted(&message)
    } else {
        message
    };
    format!("line {line}, column {column}: {message}")
}

/// `message` with every `"..."` and `` `...` `` replaced by `****`.
fn hide_quoted(message: &str) -> String {
    let mut shown = String::new();
    let mut quote = None;
    for character in message.chars() {
        match quote {
            Some(open) if character == open => {
                shown.push_str(druid_client::redact::MASK);
                shown.push(character);
                quote = None;
            }
            Some(_) => {}
            None => {
                shown.push(character);
                if matches!(character, '"' | '`') {
                    quote = Some(character);
                }
            }
        }
    }
    shown
}

/// `table` as dotted keys and JSON values.
fn flatten(value: &toml::Value, prefix: &str, into: &mut BTreeMap<String, serde_json::Value>) {
    match value {
        toml::Value::Table(table) => {
            for (key, inner) in table {
                let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                flatten(inner, &path, into);
            }
        }
        other => {
            into.insert(prefix.to_owned(), serde_json::to_value(other).unwrap_or(serde_json::Value::Null));
        }
    }
}

/// Deep-merges `over` into `base`: tables merge key by key, other values replace.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(base_table)), toml::Value::Table(over_table)) => {
                merge(base_table, over_table);
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Deserialises a merged environment table; an error names the key where it is written
/// (`defaults.thresholds.x` when it comes from `[defaults]`), and an unknown key comes with
/// the closest known one.
fn deserialize_table<T: DeserializeOwned>(
    table: toml::Table,
    path: &Path,
    at: &str,
    origins: &BTreeMap<String, Origin>,
) -> Result<T> {
    serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|err| {
        let field = err.path().to_string();
        let field = if field == "." { String::new() } else { field };
        // toml appends "in `key`" on a second line; `at` already says where.
        let mut message = err.inner().to_string().lines().next().unwrap_or_default().to_owned();
        let mut key = field.clone();
        if let Some(unknown) = between(&message, "unknown field `", "`") {
            // The path may end at the unknown key already, or at the table holding it.
            if !(field == unknown || field.ends_with(&format!(".{unknown}"))) {
                key = if field.is_empty() { unknown.to_owned() } else { format!("{field}.{unknown}") };
            }
            let expected: Vec<&str> = message.split('`').skip(3).step_by(2).collect();
            if let Some(closest) = proto_schema::closest(unknown, expected.iter().copied()) {
                message = format!("{message}; did you mean `{closest}`?");
            }
        }
        let written = origins
            .iter()
            .find(|(setting, _)| **setting == key || setting.starts_with(&format!("{key}.")))
            .and_then(|(setting, origin)| match origin {
                Origin::File { key: written } => {
                    Some(written.strip_suffix(&setting[key.len()..]).unwrap_or(written).to_owned())
                }
                Origin::Variable { .. } => None,
            });
        Error::ConfigInvalid {
            path: path.to_owned(),
            at: written.unwrap_or_else(|| if key.is_empty() { at.to_owned() } else { format!("{at}.{key}") }),
            message,
        }
    })
}

/// The text between `start` and the next `end` in `text`.
fn between<'t>(text: &'t str, start: &str, end: &str) -> Option<&'t str> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(&text[from..to])
}

/// One deployment target, fully resolved.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Environment {
    /// `dev`, `staging`, `prod`, ...
    pub name: String,
    /// Druid datasource.
    pub datasource: String,
    /// The pipeline this environment belongs to (`None`: the file's single, implicit one).
    pub pipeline: Option<String>,
    /// Supervisor id when it is not the datasource (`supervisor = "..."`; Druid 34+ runs
    /// several supervisors per datasource, docs/migrations.md). Read it with
    /// [`Environment::supervisor_id`].
    pub supervisor: Option<String>,
    /// Registry channel this environment follows.
    pub channel: String,
    /// Where schema versions are stored.
    pub registry: RegistryLocation,
    /// A local registry's files and directories readable by their owner only (0600/0700
    /// instead of 0644/0755). `registry` is a string key, so the flag sits beside it:
    /// `registry_private = true`.
    pub registry_private: bool,
    /// IANA time zone of the deploy window (`Europe/Paris`).
    pub time_zone: String,
    /// How to reach Druid.
    pub druid: DruidSettings,
    /// The topic to ingest.
    pub kafka: KafkaSettings,
    /// Supervisor sizing.
    pub ingestion: IngestionSettings,
    /// How Druid gets the descriptor.
    pub descriptor: DescriptorSettings,
    /// When deploys are allowed.
    pub window: DeployWindow,
    /// Post-deploy and monitoring thresholds.
    pub thresholds: Thresholds,
    /// What `preflight` reads and the limits of its verdict.
    pub preflight: PreflightSettings,
    /// Where events are sent (docs/notifications.md); none by default.
    pub notify: Vec<crate::notify::NotifierSettings>,
    /// Whether deploys and rollbacks ask for confirmation (`confirm = true`; the
    /// sample sets it for prod). Off by default: a new environment asks nothing.
    pub confirm: bool,
    /// Whether uncommitted schemas may be published here (`allow_dirty = true`; the sample
    /// sets it for dev). Off by default: versions are commits unless an environment says so.
    pub allow_dirty: bool,
    /// The team's compatibility policy: buf's category the gate applies (`compatibility =
    /// "wire-json"`, the runbook's rule, by default; `file`, `package` or `wire`). The gate also
    /// always stops on damage to what Druid stores, whatever the category.
    pub compatibility: proto_schema::compat::Mode,
    /// Where each setting written in the file or given by a variable came from, by dotted key
    /// relative to the environment (`druid.url`); settings absent here are defaults.
    pub origins: BTreeMap<String, Origin>,
}

impl Environment {
    /// The supervisor's id in Druid: `supervisor` when set, else the datasource (Druid's
    /// default, and the only choice before Druid 34).
    pub fn supervisor_id(&self) -> &str {
        self.supervisor.as_deref().unwrap_or(&self.datasource)
    }
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum Origin {
    /// A key of the project file (`defaults.druid.url`, `environments.prod.druid.url`).
    File {
        /// The dotted key.
        key: String,
    },
    /// A `DRUIDCTL_*` variable.
    Variable {
        /// Its name.
        name: &'static str,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File { key } => write!(f, "{key}"),
            Self::Variable { name } => write!(f, "${name}"),
        }
    }
}

/// Every leaf key of `table` as `prefix.key`, with its origin `root.prefix.key`.
fn collect_origins(table: &toml::Table, prefix: &str, root: &str, origins: &mut BTreeMap<String, Origin>) {
    for (key, value) in table {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            toml::Value::Table(inner) => collect_origins(inner, &path, root, origins),
            _ => {
                origins.insert(path.clone(), Origin::File { key: format!("{root}.{path}") });
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvironment {
    datasource: String,
    #[serde(default)]
    supervisor: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default = "default_registry")]
    registry: String,
    #[serde(default)]
    registry_private: bool,
    #[serde(default = "default_time_zone")]
    time_zone: String,
    druid: DruidSettings,
    kafka: KafkaSettings,
    #[serde(default)]
    ingestion: IngestionSettings,
    #[serde(default)]
    descriptor: DescriptorSettings,
    #[serde(default)]
    window: RawWindow,
    #[serde(default)]
    thresholds: Thresholds,
    #[serde(default)]
    preflight: PreflightSettings,
    #[serde(default)]
    notify: Vec<crate::notify::NotifierSettings>,
    #[serde(default)]
    confirm: bool,
    #[serde(default)]
    allow_dirty: bool,
    #[serde(default)]
    compatibility: Option<String>,
}

fn default_registry() -> String {
    "file://.registry".to_owned()
}

fn default_time_zone() -> String {
    "UTC".to_owned()
}

impl RawEnvironment {
    fn finish(
        self,
        name: &str,
        config: &Config,
        at: &str,
        origins: &BTreeMap<String, Origin>,
    ) -> Result<Environment> {
        // The key where the value is written (`defaults.x` or `environments.NAME.x`).
        let invalid = |field: &str, message: String| Error::ConfigInvalid {
            path: config.path.clone(),
            at: match origins.get(field) {
                Some(Origin::File { key }) => key.clone(),
                _ => format!("{at}.{field}"),
            },
            message,
        };
        let channel = match self.channel {
            Some(channel) => channel,
            None => default_channel(name)
                .ok_or_else(|| invalid("channel", format!("no default channel for `{name}`; set one")))?
                .to_owned(),
        };
        if self.datasource.trim().is_empty() {
            return Err(invalid("datasource", "must not be empty".into()));
        }
        if self.supervisor.as_ref().is_some_and(|id| id.trim().is_empty()) {
            return Err(invalid(
                "supervisor",
                "must not be empty (leave it out: the datasource is the id)".into(),
            ));
        }
        if self.kafka.topic.trim().is_empty() {
            return Err(invalid("kafka.topic", "must not be empty".into()));
        }
        let duration = &self.ingestion.task_duration;
        if !duration.starts_with('P') || duration.parse::<jiff::Span>().is_err() {
            return Err(invalid(
                "ingestion.task_duration",
                format!("`{duration}` is not an ISO 8601 duration (Druid takes PT30M, PT1H, PT4H...)"),
            ));
        }
        if self.ingestion.task_count == 0 || self.ingestion.replicas == 0 {
            return Err(invalid("ingestion", "task_count and replicas must be at least 1".into()));
        }
        if self.descriptor.delivery == Delivery::Url {
            match &self.descriptor.url {
                Some(url)
                    if url.starts_with("https://")
                        || url.starts_with("http://")
                        || url.starts_with("file:") => {}
                Some(url) => {
                    return Err(invalid(
                        "descriptor.url",
                        format!(
                            "`{url}`: Druid loads descriptors from file, http or https URLs only (not s3://)"
                        ),
                    ));
                }
                None => return Err(invalid("descriptor.url", "delivery = \"url\" needs a url".into())),
            }
        }
        self.thresholds.check().map_err(|message| invalid("thresholds", message))?;
        self.preflight.check().map_err(|message| invalid("preflight", message))?;
        for (index, notifier) in self.notify.iter().enumerate() {
            let name = &notifier.url_env;
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(invalid(
                    "notify",
                    format!(
                        "notify[{index}].url_env `{name}`: the name of a variable holding the URL (the URL itself is a secret)"
                    ),
                ));
            }
        }
        for (key, value) in [
            ("druid.connect_timeout_secs", self.druid.connect_timeout_secs),
            ("druid.request_timeout_secs", self.druid.request_timeout_secs),
        ] {
            if !(1..=3600).contains(&value) {
                return Err(invalid(key, format!("{value} is out of range (1 to 3600 seconds)")));
            }
        }
        jiff::tz::TimeZone::get(&self.time_zone)
            .map_err(|err| invalid("time_zone", format!("`{}`: {err}", self.time_zone)))?;
        let registry = RegistryLocation::parse(&self.registry, config.base_dir())
            .map_err(|message| invalid("registry", message))?;
        let window = self.window.finish().map_err(|message| invalid("window", message))?;
        let compatibility = match &self.compatibility {
            None => proto_schema::compat::Mode::WireJson,
            Some(text) => proto_schema::compat::Mode::parse(text).ok_or_else(|| {
                invalid("compatibility", format!("`{text}`: expected file, package, wire-json or wire"))
            })?,
        };
        Ok(Environment {
            name: name.to_owned(),
            datasource: self.datasource,
            supervisor: self.supervisor,
            pipeline: None,
            channel,
            registry,
            registry_private: self.registry_private,
            time_zone: self.time_zone,
            druid: self.druid,
            kafka: self.kafka,
            ingestion: self.ingestion,
            descriptor: self.descriptor,
            window,
            thresholds: self.thresholds,
            preflight: self.preflight,
            notify: self.notify,
            confirm: self.confirm,
            allow_dirty: self.allow_dirty,
            compatibility,
            origins: BTreeMap::new(),
        })
    }
}

/// The registry channel an environment follows by default (`dev` -> `develop-latest`,
/// `staging` -> `staging-latest`, `prod` -> `stable`).
pub fn default_channel(environment: &str) -> Option<&'static str> {
    match environment {
        "dev" => Some("develop-latest"),
        "staging" => Some("staging-latest"),
        "prod" => Some("stable"),
        _ => None,
    }
}

/// How to reach Druid. Credentials are best given through `DRUIDCTL_DRUID_*` variables.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DruidSettings {
    /// The Router, or one address serving the Overlord and Broker APIs.
    pub url: String,
    /// Overlord, when it is not reached through `url`.
    #[serde(default)]
    pub overlord_url: Option<String>,
    /// Broker, when it is not reached through `url`.
    #[serde(default)]
    pub broker_url: Option<String>,
    /// Coordinator, when it is not reached through `url`.
    #[serde(default)]
    pub coordinator_url: Option<String>,
    /// Basic-auth user.
    #[serde(default)]
    pub user: Option<String>,
    /// Basic-auth password; never printed.
    #[serde(default)]
    pub password: Option<SecretString>,
    /// Bearer token; never printed.
    #[serde(default)]
    pub token: Option<SecretString>,
    /// PEM file of a CA to trust besides the system's.
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
    /// Seconds to wait for a TCP/TLS connection (5).
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    /// Seconds to wait for a whole response (30).
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
}

fn default_connect_timeout() -> u64 {
    5
}

fn default_request_timeout() -> u64 {
    30
}

/// The Kafka side.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSettings {
    /// Topic holding the records.
    pub topic: String,
    /// `host:port,host:port`.
    pub bootstrap_servers: String,
    /// More consumer properties (`security.protocol`, ...), passed as given.
    #[serde(default)]
    pub consumer_properties: BTreeMap<String, String>,
}

/// Supervisor sizing and parse-error bookkeeping.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestionSettings {
    /// Reading tasks per replica (1).
    #[serde(default = "one")]
    pub task_count: u32,
    /// Copies of each task (1).
    #[serde(default = "one")]
    pub replicas: u32,
    /// ISO 8601 duration of a task before it publishes (`PT1H`).
    #[serde(default = "default_task_duration")]
    pub task_duration: String,
    /// Read a new topic from its start rather than its end (false).
    #[serde(default)]
    pub use_earliest_offset: bool,
    /// Parse errors each task keeps for inspection (100); must be above 0 for `/parseErrors`.
    #[serde(default = "default_saved_parse_exceptions")]
    pub max_saved_parse_exceptions: u32,
}

impl Default for IngestionSettings {
    fn default() -> Self {
        Self {
            task_count: 1,
            replicas: 1,
            task_duration: default_task_duration(),
            use_earliest_offset: false,
            max_saved_parse_exceptions: default_saved_parse_exceptions(),
        }
    }
}

fn one() -> u32 {
    1
}

fn default_task_duration() -> String {
    "PT1H".to_owned()
}

fn default_saved_parse_exceptions() -> u32 {
    100
}

/// How the supervisor spec references the descriptor.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DescriptorSettings {
    /// `inline` (default) or `url`.
    #[serde(default)]
    pub delivery: Delivery,
    /// With `url`: where Druid downloads `descriptor.binpb`; `{version}` is replaced by the
    /// schema version, e.g. `https://schemas.example.com/schemas/{version}/descriptor.binpb`.
    #[serde(default)]
    pub url: Option<String>,
}

/// Descriptor delivery.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// base64 in the spec: the spec carries its exact schema and Druid needs no credentials.
    #[default]
    Inline,
    /// A `file` decoder with an http(s) URL.
    Url,
}

/// Where the registry lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryLocation {
    /// `s3://bucket/prefix`.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix, without leading or trailing `/` (may be empty).
        prefix: String,
    },
    /// `file://path`, relative to `druidctl.toml`'s directory unless absolute.
    File(PathBuf),
}

impl RegistryLocation {
    /// The location `sub` (a relative path of plain segments) below this one.
    #[must_use]
    pub fn child(&self, sub: &str) -> Self {
        match self {
            Self::S3 { bucket, prefix } if prefix.is_empty() => {
                Self::S3 { bucket: bucket.clone(), prefix: sub.to_owned() }
            }
            Self::S3 { bucket, prefix } => {
                Self::S3 { bucket: bucket.clone(), prefix: format!("{prefix}/{sub}") }
            }
            Self::File(path) => Self::File(path.join(sub)),
        }
    }

    /// Parses `s3://bucket/prefix` or `file://path`.
    pub fn parse(text: &str, base: &Path) -> Result<Self, String> {
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!("`{text}` names no bucket"));
            }
            return Ok(Self::S3 { bucket: bucket.to_owned(), prefix: prefix.trim_matches('/').to_owned() });
        }
        if let Some(rest) = text.strip_prefix("file://") {
            if rest.is_empty() {
                return Err("`file://` names no directory".to_owned());
            }
            let path = Path::new(rest);
            let path = if path.is_absolute() || base.as_os_str().is_empty() {
                path.to_owned()
            } else {
                base.join(path)
            };
            return Ok(Self::File(path));
        }
        Err(format!("`{text}` is neither s3://bucket/prefix nor file://path"))
    }
}

impl fmt::Display for RegistryLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Self::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
            Self::File(path) => write!(f, "file://{}", path.display()),
        }
    }
}

/// Days and hours (in the environment's time zone) when deploys may start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployWindow {
    /// Allowed days.
    pub days: Vec<Weekday>,
    /// Opening, minutes after midnight.
    pub start_minute: u16,
    /// Closing, minutes after midnight (1440 for `24:00`).
    pub end_minute: u16,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    #[serde(default = "weekdays")]
    days: Vec<Weekday>,
    #[serde(default = "midnight")]
    start: String,
    #[serde(default = "end_of_day")]
    end: String,
}

impl Default for RawWindow {
    fn default() -> Self {
        Self { days: weekdays(), start: midnight(), end: end_of_day() }
    }
}

fn weekdays() -> Vec<Weekday> {
    vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri]
}

fn midnight() -> String {
    "00:00".to_owned()
}

fn end_of_day() -> String {
    "24:00".to_owned()
}

impl RawWindow {
    fn finish(self) -> Result<DeployWindow, String> {
        let start_minute = parse_hhmm(&self.start)?;
        let end_minute = parse_hhmm(&self.end)?;
        if end_minute <= start_minute {
            return Err(format!("end {} is not after start {}", self.end, self.start));
        }
        if self.days.is_empty() {
            return Err("no day is allowed; list at least one in `days`".to_owned());
        }
        Ok(DeployWindow { days: self.days, start_minute, end_minute })
    }
}

fn parse_hhmm(text: &str) -> Result<u16, String> {
    let parsed = text
        .split_once(':')
        .and_then(|(hours, minutes)| Some((hours.parse::<u16>().ok()?, minutes.parse::<u16>().ok()?)))
        .filter(|&(hours, minutes)| minutes < 60 && (hours < 24 || (hours == 24 && minutes == 0)));
    parsed
        .map(|(hours, minutes)| hours * 60 + minutes)
        .ok_or_else(|| format!("`{text}` is not a time of day as HH:MM (00:00 to 24:00)"))
}

/// A day of the week, written `mon` ... `sun`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

/// Thresholds of the post-deploy checks and monitoring; defaults are the team's runbook values.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Largest unparseable / processed ratio accepted (0.01).
    #[serde(default = "default_unparseable")]
    pub max_unparseable_ratio: f64,
    /// Largest failed / completed ratio of recent tasks accepted (0.05).
    #[serde(default = "default_task_failure")]
    pub max_task_failure_ratio: f64,
    /// Largest ingestion lag accepted, in seconds (300).
    #[serde(default = "default_lag")]
    pub max_lag_seconds: u64,
    /// Moving average (`1m`, `5m` or `15m`) the ingestion rate is read from (`5m`).
    #[serde(default = "default_rate_window")]
    pub rate_window: String,
    /// Seconds to wait for the supervisor to be RUNNING and healthy after a submit (300).
    #[serde(default = "default_ready_timeout")]
    pub ready_timeout_secs: u64,
    /// Hours of completed tasks the task failure ratio is computed over (24).
    #[serde(default = "default_task_window")]
    pub task_window_hours: u32,
    /// The longest the new tasks are watched before the verdict gives up (300): the verdict
    /// comes as soon as the evidence allows (docs/verification.md), and a topic that gives too
    /// little evidence in this time ends `unverified`, never verified. 0 judges on one look.
    #[serde(default = "default_observe")]
    pub observe_secs: u64,
    /// The shortest the new tasks read before a pass (5).
    #[serde(default = "default_min_observe")]
    pub min_observe_secs: u64,
    /// How sure the verdict must be (0.99): a deploy whose true unparseable share is over the
    /// threshold passes, or one under it fails, in at most 1 % of deploys, however often the
    /// verdict looks.
    #[serde(default = "default_confidence")]
    pub confidence: f64,
    /// The fewest records the new tasks read before a pass (100); the statistics alone need
    /// about 590 at a 1 % threshold and 99 % confidence.
    #[serde(default = "default_min_records")]
    pub min_records: u64,
    /// Consecutive healthy polls a pass needs, and unhealthy polls a fail needs (3, as
    /// Druid's own supervisor health).
    #[serde(default = "default_healthy_polls")]
    pub healthy_polls: u32,
    /// What a deploy does when its verdict is `unverified` (too little evidence by
    /// `observe_secs`): `keep` the new spec and move the channel (recorded `unverified`), or
    /// `rollback` as on a failure.
    #[serde(default)]
    pub on_unverified: OnUnverified,
    /// Report a zero ingestion rate as a warning, not a failure (for idle topics; `monitor`).
    #[serde(default)]
    pub rate_warn_only: bool,
    /// Report an empty SQL probe as a warning, not a failure (for idle topics).
    #[serde(default)]
    pub probe_warn_only: bool,
}

/// What a deploy does with an `unverified` verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnUnverified {
    /// Keep the new spec live and move the channel; the history says `unverified`.
    #[default]
    Keep,
    /// Restore the previous version, as after a failed verification.
    Rollback,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            max_unparseable_ratio: default_unparseable(),
            max_task_failure_ratio: default_task_failure(),
            max_lag_seconds: default_lag(),
            rate_window: default_rate_window(),
            ready_timeout_secs: default_ready_timeout(),
            task_window_hours: default_task_window(),
            observe_secs: default_observe(),
            min_observe_secs: default_min_observe(),
            confidence: default_confidence(),
            min_records: default_min_records(),
            healthy_polls: default_healthy_polls(),
            on_unverified: OnUnverified::Keep,
            rate_warn_only: false,
            probe_warn_only: false,
        }
    }
}

impl Thresholds {
    fn check(&self) -> Result<(), String> {
        for (name, ratio) in [
            ("max_unparseable_ratio", self.max_unparseable_ratio),
            ("max_task_failure_ratio", self.max_task_failure_ratio),
        ] {
            if !(0.0..=1.0).contains(&ratio) {
                return Err(format!("{name} = {ratio} is not a ratio between 0 and 1 (1 % is 0.01)"));
            }
        }
        if !(0.5..=0.999_999).contains(&self.confidence) {
            return Err(format!(
                "confidence = {} is out of range (0.5 to 0.999999; 99 % is 0.99)",
                self.confidence
            ));
        }
        if !matches!(self.rate_window.as_str(), "1m" | "5m" | "15m") {
            return Err(format!("rate_window = `{}`: Druid averages over 1m, 5m or 15m", self.rate_window));
        }
        // Ranges that keep the waits and the lease arithmetic meaningful.
        for (name, value, low, high) in [
            ("ready_timeout_secs", self.ready_timeout_secs, 1, 86_400),
            ("observe_secs", self.observe_secs, 0, 86_400),
            ("min_observe_secs", self.min_observe_secs, 0, 3600),
            ("min_records", self.min_records, 0, 1_000_000_000),
            ("healthy_polls", u64::from(self.healthy_polls), 1, 100),
            ("max_lag_seconds", self.max_lag_seconds, 1, 31_622_400),
            ("task_window_hours", u64::from(self.task_window_hours), 1, 8_784),
        ] {
            if !(low..=high).contains(&value) {
                return Err(format!("{name} = {value} is out of range ({low} to {high})"));
            }
        }
        Ok(())
    }
}

/// `[preflight]`: how much of the topic preflight reads and when its verdict fails. Defaults:
/// the last 1000 records of each partition, at most 64 MiB per partition and 30 s; the
/// runbook's 1 % of unparseable records; a column whose null share rises by more than 50
/// points from the live schema fails. `deploy` runs it before the submit unless `enabled =
/// false` (or `--skip-preflight --reason`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreflightSettings {
    /// Whether `deploy` runs preflight before the submit (true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Records read per partition (1000).
    #[serde(default = "default_preflight_sample")]
    pub sample: usize,
    /// Bytes read per partition, at most (64 MiB).
    #[serde(default = "default_preflight_bytes")]
    pub max_bytes: u64,
    /// Seconds for reading the sample (30).
    #[serde(default = "default_preflight_timeout")]
    pub timeout_secs: u64,
    /// Largest predicted unparseable ratio accepted (0.01).
    #[serde(default = "default_unparseable")]
    pub max_unparseable_ratio: f64,
    /// Largest rise of a dimension's null ratio accepted (0.5).
    #[serde(default = "default_null_increase")]
    pub max_null_increase: f64,
}

impl Default for PreflightSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            sample: default_preflight_sample(),
            max_bytes: default_preflight_bytes(),
            timeout_secs: default_preflight_timeout(),
            max_unparseable_ratio: default_unparseable(),
            max_null_increase: default_null_increase(),
        }
    }
}

impl PreflightSettings {
    fn check(&self) -> Result<(), String> {
        for (name, ratio) in [
            ("max_unparseable_ratio", self.max_unparseable_ratio),
            ("max_null_increase", self.max_null_increase),
        ] {
            if !(0.0..=1.0).contains(&ratio) {
                return Err(format!("{name} = {ratio} is not a ratio between 0 and 1 (1 % is 0.01)"));
            }
        }
        for (name, value, low, high) in [
            ("sample", self.sample as u64, 1, 1_000_000),
            ("timeout_secs", self.timeout_secs, 1, 3600),
            ("max_bytes", self.max_bytes, 1024, 1 << 34),
        ] {
            if !(low..=high).contains(&value) {
                return Err(format!("{name} = {value} is out of range ({low} to {high})"));
            }
        }
        Ok(())
    }
}

fn default_true() -> bool {
    true
}

fn default_preflight_sample() -> usize {
    1000
}

fn default_preflight_bytes() -> u64 {
    64 << 20
}

fn default_preflight_timeout() -> u64 {
    30
}

fn default_null_increase() -> f64 {
    0.5
}

fn default_unparseable() -> f64 {
    0.01
}

fn default_task_failure() -> f64 {
    0.05
}

fn default_lag() -> u64 {
    300
}

fn default_rate_window() -> String {
    "5m".to_owned()
}

fn default_ready_timeout() -> u64 {
    300
}

fn default_observe() -> u64 {
    300
}

fn default_min_observe() -> u64 {
    5
}

fn default_confidence() -> f64 {
    0.99
}

fn default_min_records() -> u64 {
    100
}

fn default_healthy_polls() -> u32 {
    3
}

fn default_task_window() -> u32 {
    24
}

/// Variables that override the selected environment. Read by the binary from the process
/// environment and passed in, so library users decide where they come from.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `DRUIDCTL_DRUID_URL`: Router, or one address serving Overlord and Broker.
    pub druid_url: Option<String>,
    /// `DRUIDCTL_DRUID_USER`.
    pub druid_user: Option<String>,
    /// `DRUIDCTL_DRUID_PASSWORD`.
    pub druid_password: Option<SecretString>,
    /// `DRUIDCTL_DRUID_TOKEN`.
    pub druid_token: Option<SecretString>,
    /// `DRUIDCTL_REGISTRY`: `s3://bucket/prefix` or `file://path`.
    pub registry: Option<String>,
    /// `DRUIDCTL_KAFKA_BOOTSTRAP`.
    pub kafka_bootstrap: Option<String>,
    /// `DRUIDCTL_NOTIFY_WEBHOOK`: a generic webhook added to every environment's notifiers.
    pub notify_webhook: Option<SecretString>,
}

impl Overrides {
    /// Picks the `DRUIDCTL_*` variables out of `vars` (such as `std::env::vars()`); empty
    /// values count as unset.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut overrides = Self::default();
        for (key, value) in vars {
            if value.is_empty() {
                continue;
            }
            match key.as_str() {
                "DRUIDCTL_DRUID_URL" => overrides.druid_url = Some(value),
                "DRUIDCTL_DRUID_USER" => overrides.druid_user = Some(value),
                "DRUIDCTL_DRUID_PASSWORD" => overrides.druid_password = Some(value.into()),
                "DRUIDCTL_DRUID_TOKEN" => overrides.druid_token = Some(value.into()),
                "DRUIDCTL_REGISTRY" => overrides.registry = Some(value),
                "DRUIDCTL_KAFKA_BOOTSTRAP" => overrides.kafka_bootstrap = Some(value),
                "DRUIDCTL_NOTIFY_WEBHOOK" => overrides.notify_webhook = Some(value.into()),
                _ => {}
            }
        }
        overrides
    }

    fn apply(&self, environment: &mut Environment) -> Result<()> {
        let mut from = |key: &str, name: &'static str| {
            environment.origins.insert(key.to_owned(), Origin::Variable { name });
        };
        for (set, key, name) in [
            (self.druid_url.is_some(), "druid.url", "DRUIDCTL_DRUID_URL"),
            (self.druid_user.is_some(), "druid.user", "DRUIDCTL_DRUID_USER"),
            (self.druid_password.is_some(), "druid.password", "DRUIDCTL_DRUID_PASSWORD"),
            (self.druid_token.is_some(), "druid.token", "DRUIDCTL_DRUID_TOKEN"),
            (self.registry.is_some(), "registry", "DRUIDCTL_REGISTRY"),
            (self.kafka_bootstrap.is_some(), "kafka.bootstrap_servers", "DRUIDCTL_KAFKA_BOOTSTRAP"),
        ] {
            if set {
                from(key, name);
            }
        }
        if let Some(url) = &self.druid_url {
            // One address for everything: per-service URLs from the file no longer apply.
            environment.druid.url.clone_from(url);
            environment.druid.overlord_url = None;
            environment.druid.broker_url = None;
            environment.druid.coordinator_url = None;
        }
        if let Some(user) = &self.druid_user {
            environment.druid.user = Some(user.clone());
        }
        if let Some(password) = &self.druid_password {
            environment.druid.password = Some(password.clone());
        }
        if let Some(token) = &self.druid_token {
            environment.druid.token = Some(token.clone());
        }
        if let Some(bootstrap) = &self.kafka_bootstrap {
            environment.kafka.bootstrap_servers.clone_from(bootstrap);
        }
        if let Some(registry) = &self.registry {
            // Relative to the working directory, as any path given on a command line.
            environment.registry = RegistryLocation::parse(registry, Path::new(""))
                .map_err(|message| Error::ConfigVariable { name: "DRUIDCTL_REGISTRY", message })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    const FILE: &str = r#"
[schema]
message = "p.M"

[defaults]
time_zone = "Europe/Paris"
registry = "file://.registry"
druid = { url = "http://druid:8888", password = "from-file" }
kafka = { bootstrap_servers = "kafka:9092" }
thresholds = { max_lag_seconds = 600 }

[environments.dev]
datasource = "m_dev"
kafka = { topic = "m-dev" }

[environments.prod]
datasource = "m"
kafka = { topic = "m", bootstrap_servers = "kafka-prod:9092" }
ingestion = { task_count = 4, replicas = 2 }
window = { days = ["tue", "wed"], start = "10:00", end = "16:00" }
druid.overlord_url = "http://overlord:8090"

[environments.qa]
datasource = "m_qa"
kafka = { topic = "m-qa" }
"#;

    fn config() -> Config {
        Config::parse(FILE, Path::new("project/druidctl.toml")).unwrap()
    }

    #[test]
    fn environments_merge_over_defaults() {
        let config = config();
        let prod = config.environment("prod", &Overrides::default()).unwrap();
        assert_eq!(prod.channel, "stable");
        assert_eq!(prod.kafka.bootstrap_servers, "kafka-prod:9092");
        assert_eq!(prod.druid.url, "http://druid:8888");
        assert_eq!(prod.druid.overlord_url.as_deref(), Some("http://overlord:8090"));
        assert_eq!((prod.ingestion.task_count, prod.ingestion.replicas), (4, 2));
        assert_eq!(prod.window.days, [Weekday::Tue, Weekday::Wed]);
        assert_eq!((prod.window.start_minute, prod.window.end_minute), (600, 960));
        assert_eq!(prod.thresholds.max_lag_seconds, 600);
        assert!((prod.thresholds.max_unparseable_ratio - 0.01).abs() < f64::EPSILON);
        assert_eq!(prod.registry, RegistryLocation::File(PathBuf::from("project/.registry")));
        let dev = config.environment("dev", &Overrides::default()).unwrap();
        assert_eq!(dev.channel, "develop-latest");
        assert_eq!(dev.window.days.len(), 5);
        assert_eq!(dev.ingestion.max_saved_parse_exceptions, 100);
    }

    #[test]
    fn variables_override_the_environment() {
        let overrides = Overrides::from_vars([
            ("DRUIDCTL_DRUID_URL".to_owned(), "http://other:8888".to_owned()),
            ("DRUIDCTL_DRUID_PASSWORD".to_owned(), "s3cr3t".to_owned()),
            ("DRUIDCTL_REGISTRY".to_owned(), "s3://bucket/team/schemas/".to_owned()),
            ("DRUIDCTL_KAFKA_BOOTSTRAP".to_owned(), "k:1".to_owned()),
            ("DRUIDCTL_DRUID_USER".to_owned(), String::new()),
            ("HOME".to_owned(), "/root".to_owned()),
        ]);
        let prod = config().environment("prod", &overrides).unwrap();
        assert_eq!(prod.druid.url, "http://other:8888");
        assert_eq!(prod.druid.overlord_url, None);
        assert_eq!(prod.druid.user, None);
        assert_eq!(prod.druid.password.as_ref().unwrap().expose_secret(), "s3cr3t");
        assert_eq!(prod.kafka.bootstrap_servers, "k:1");
        assert_eq!(
            prod.registry,
            RegistryLocation::S3 { bucket: "bucket".into(), prefix: "team/schemas".into() }
        );
        let debug = format!("{prod:?} {overrides:?}");
        assert!(!debug.contains("s3cr3t") && !debug.contains("from-file"), "{debug}");
    }

    #[test]
    fn unknown_environment_lists_the_known_ones() {
        let err = config().environment("prd", &Overrides::default()).unwrap_err().to_string();
        assert_eq!(err, "unknown environment `prd` (did you mean `prod`?); known: dev, prod, qa");
        let err = config().environment("dve", &Overrides::default()).unwrap_err().to_string();
        assert!(err.contains("did you mean `dev`?"), "{err}");
        let err = config().environment("nope", &Overrides::default()).unwrap_err().to_string();
        assert!(!err.contains("did you mean"), "{err}");
    }

    #[test]
    fn an_environment_without_a_standard_name_needs_a_channel() {
        let err = config().environment("qa", &Overrides::default()).unwrap_err().to_string();
        assert!(err.contains("environments.qa.channel"), "{err}");
    }

    #[test]
    fn mistakes_name_the_key() {
        let text = FILE.replace("task_count = 4", "task_cuont = 4");
        let err = Config::parse(&text, Path::new("druidctl.toml"))
            .unwrap()
            .environment("prod", &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("environments.prod.ingestion"), "{err}");
        assert!(err.contains("task_cuont"), "{err}");

        let text = FILE.replace("end = \"16:00\"", "end = \"09:00\"");
        let err = Config::parse(&text, Path::new("druidctl.toml"))
            .unwrap()
            .environment("prod", &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("end 09:00 is not after start 10:00"), "{err}");

        let err =
            Config::parse("[schema]\nmessage = 1\n", Path::new("druidctl.toml")).unwrap_err().to_string();
        assert!(err.starts_with("druidctl.toml: "), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn registry_locations() {
        let base = Path::new("/p");
        assert_eq!(
            RegistryLocation::parse("s3://b", base).unwrap(),
            RegistryLocation::S3 { bucket: "b".into(), prefix: String::new() }
        );
        assert_eq!(
            RegistryLocation::parse("file:///abs", base).unwrap(),
            RegistryLocation::File("/abs".into())
        );
        assert!(RegistryLocation::parse("gs://b", base).is_err());
        assert!(RegistryLocation::parse("s3:///x", base).is_err());
    }

    fn error_of(extra_defaults: &str, extra_dev: &str) -> String {
        let text = FILE.replace("[environments.dev]\n", &format!("{extra_dev}[environments.dev]\n"));
        let text = text.replace("[defaults]\n", &format!("[defaults]\n{extra_defaults}"));
        let config = Config::parse(&text, Path::new("druidctl.toml")).unwrap();
        config.environment("dev", &Overrides::default()).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_key_where_it_is_written_with_a_suggestion() {
        // A typo in [defaults]: reported there, not under the environment that merged it.
        let err = error_of("", "[defaults.ingestion]\ntask_cout = 2\n");
        assert!(
            err.contains("druidctl.toml: defaults.ingestion.task_cout: unknown field `task_cout`"),
            "{err}"
        );
        assert!(err.contains("did you mean `task_count`?"), "{err}");
        // A value of the environment's own table.
        let text = FILE.replace(
            "datasource = \"m_dev\"",
            "datasource = \"m_dev\"\nwindow = { days = [\"mon\"], strat = \"10:00\" }",
        );
        let err = Config::parse(&text, Path::new("druidctl.toml"))
            .unwrap()
            .environment("dev", &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("environments.dev.window.strat"), "{err}");
        assert!(err.contains("did you mean `start`?"), "{err}");
        // Not an ISO 8601 duration, written in [defaults].
        let err = error_of("ingestion = { task_duration = \"30m\" }\n", "");
        assert!(
            err.contains("defaults.ingestion.task_duration") && err.contains("not an ISO 8601 duration"),
            "{err}"
        );
    }

    #[test]
    fn origins_say_where_each_value_came_from() {
        let overrides = Overrides::from_vars([("DRUIDCTL_KAFKA_BOOTSTRAP".to_owned(), "k:1".to_owned())]);
        let prod = config().environment("prod", &overrides).unwrap();
        assert_eq!(prod.origins["druid.url"], Origin::File { key: "defaults.druid.url".into() });
        assert_eq!(
            prod.origins["ingestion.task_count"],
            Origin::File { key: "environments.prod.ingestion.task_count".into() }
        );
        assert_eq!(
            prod.origins["kafka.bootstrap_servers"],
            Origin::Variable { name: "DRUIDCTL_KAFKA_BOOTSTRAP" }
        );
        assert!(!prod.origins.contains_key("thresholds.observe_secs"), "a default has no origin");
    }

    #[test]
    fn a_bad_url_in_a_variable_names_the_variable_and_hides_the_password() {
        let overrides = Overrides::from_vars([(
            "DRUIDCTL_DRUID_URL".to_owned(),
            "http://admin:s3cret@dru id:8888".to_owned(),
        )]);
        let dev = config().environment("dev", &overrides).unwrap();
        let err = crate::connect::druid_client(&dev).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("$DRUIDCTL_DRUID_URL: "), "{text}");
        assert!(!text.contains("s3cret") && !text.contains("druidctl.toml"), "{text}");
    }

    #[test]
    fn the_view_says_where_each_value_came_from_and_hides_secrets() {
        let overrides = Overrides::from_vars([
            ("DRUIDCTL_DRUID_PASSWORD".to_owned(), "s3cr3t".to_owned()),
            ("DRUIDCTL_KAFKA_BOOTSTRAP".to_owned(), "k:1".to_owned()),
        ]);
        let view = config().view("prod", &overrides).unwrap();
        let find = |key: &str| view.iter().find(|setting| setting.key == key).unwrap().clone();
        assert_eq!(find("druid.url").origin, Some(Origin::File { key: "defaults.druid.url".into() }));
        assert_eq!(find("ingestion.task_count").value, serde_json::json!(4));
        assert_eq!(find("kafka.bootstrap_servers").value, serde_json::json!("k:1"));
        assert_eq!(
            find("kafka.bootstrap_servers").origin,
            Some(Origin::Variable { name: "DRUIDCTL_KAFKA_BOOTSTRAP" })
        );
        assert_eq!(find("druid.password").value, serde_json::json!("***"));
        assert_eq!(find("channel").value, serde_json::json!("stable"));
        assert_eq!(find("channel").origin, None, "implied by the name");
        assert!(!format!("{view:?}").contains("s3cr3t") && !format!("{view:?}").contains("from-file"));
    }

    #[test]
    fn out_of_range_values_are_refused_before_they_panic_or_overflow() {
        for (extra, key) in [
            (
                "thresholds = { task_window_hours = 4294967295 }\n",
                "task_window_hours = 4294967295 is out of range",
            ),
            ("thresholds = { ready_timeout_secs = 0 }\n", "ready_timeout_secs = 0 is out of range"),
            ("druid = { connect_timeout_secs = 0 }\n", "druid.connect_timeout_secs"),
        ] {
            let text =
                FILE.replace("[environments.qa]\n", &format!("[environments.qa]\nchannel = \"c\"\n{extra}"));
            let config = Config::parse(&text, Path::new("druidctl.toml")).unwrap();
            let err = config.environment("qa", &Overrides::default()).unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
    }
}
