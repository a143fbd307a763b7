//! One environment's settings: `[environments.NAME]` merged over `[defaults]`, as typed
//! settings (Druid, Kafka, ingestion, descriptor delivery, the registry).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

use super::{Config, DeployWindow, NotifierSettings, Origin, PreflightSettings, RawWindow, Thresholds};
use crate::Error;
use crate::Result;

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
    pub notify: Vec<NotifierSettings>,
    /// Whether deploys and rollbacks ask for confirmation (`confirm = true`; the
    /// sample sets it for prod). Off by default: a new environment asks nothing.
    pub confirm: bool,
    /// One more webhook for every event (`DRUIDCTL_NOTIFY_WEBHOOK`; a secret).
    pub notify_webhook: Option<SecretString>,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEnvironment {
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
    notify: Vec<NotifierSettings>,
    #[serde(default)]
    confirm: bool,
    #[serde(default)]
    allow_dirty: bool,
    #[serde(default)]
    compatibility: Option<String>,
}

pub(super) fn default_registry() -> String {
    "file://.registry".to_owned()
}

pub(super) fn default_time_zone() -> String {
    "UTC".to_owned()
}

impl RawEnvironment {
    pub(super) fn finish(
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
            notify_webhook: None,
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

pub(super) fn default_connect_timeout() -> u64 {
    5
}

pub(super) fn default_request_timeout() -> u64 {
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

pub(super) fn one() -> u32 {
    1
}

pub(super) fn default_task_duration() -> String {
    "PT1H".to_owned()
}

pub(super) fn default_saved_parse_exceptions() -> u32 {
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
