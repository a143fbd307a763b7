//! Scaffolding a project: `druidctl.toml` and a `dimensions.json` derived from a message of an
//! existing proto root (a small sample schema when the root holds none). Nothing is asked:
//! what is not given is derived, and what cannot be derived is an error that says which
//! option to pass. Existing files are never overwritten unless asked.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use druid_mapping::{DimensionsConfig, Severity};
use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use proto_schema::CompiledSchema;

use crate::{Error, Result};

/// What to scaffold.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// The project directory (where `druidctl.toml` goes).
    pub dir: PathBuf,
    /// The proto root, relative to `dir` (`schemas/proto`).
    pub proto_root: PathBuf,
    /// The record's message type; derived when the root has one message with a Timestamp.
    pub message: Option<String>,
    /// Where `dimensions.json` goes, relative to `dir` (`config/dimensions.json`).
    pub dimensions: PathBuf,
    /// The Druid Router every environment starts with.
    pub druid_url: String,
    /// The Kafka brokers every environment starts with.
    pub bootstrap_servers: String,
    /// Replace existing files.
    pub force: bool,
}

impl Default for InitOptions {
    /// The layout of the sample project; a Druid and Kafka on this machine (the local stack).
    fn default() -> Self {
        Self {
            dir: PathBuf::from("."),
            proto_root: PathBuf::from("schemas/proto"),
            message: None,
            dimensions: PathBuf::from("config/dimensions.json"),
            druid_url: "http://127.0.0.1:8888".into(),
            bootstrap_servers: "127.0.0.1:9092".into(),
            force: false,
        }
    }
}

/// The sample schema written into an empty proto root.
const SAMPLE_PROTO: &str = r#"// A sample record: replace it with your own messages.
syntax = "proto3";

package example.v1;

import "google/protobuf/timestamp.proto";

message Event {
  string event_id = 1;
  google.protobuf.Timestamp occurred_at = 2;
  Kind kind = 3;
  int64 amount_minor = 4;
  string country = 5;

  enum Kind {
    KIND_UNSPECIFIED = 0;
    KIND_CREATED = 1;
    KIND_UPDATED = 2;
  }
}
"#;

/// What `scaffold` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scaffolded {
    /// The record's message type.
    pub message: String,
    /// Files written, relative to the project directory.
    pub written: Vec<PathBuf>,
    /// Mapping findings that are not errors (worth a look).
    pub notes: Vec<String>,
}

/// Writes the project files; refuses (before writing anything) when one exists, unless
/// `force`.
pub fn scaffold(options: &InitOptions) -> Result<Scaffolded> {
    let root = options.dir.join(&options.proto_root);
    let config_path = options.dir.join(crate::config::CONFIG_FILE);
    let dimensions_path = options.dir.join(&options.dimensions);
    let has_sources = walk_has_proto(&root);
    let mut planned = vec![config_path.clone(), dimensions_path.clone()];
    let sample_path = root.join("example/v1/event.proto");
    if !has_sources {
        planned.push(sample_path.clone());
    }
    if let Some(existing) = planned.iter().find(|path| path.exists()).filter(|_| !options.force) {
        return Err(Error::ConfigInvalid {
            path: existing.clone(),
            at: "init".into(),
            message: "exists already; nothing was written (force replaces it)".into(),
        });
    }
    let write = |path: &Path, text: &str| -> Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| Error::Scratch { source })?;
        }
        std::fs::write(path, text).map_err(|source| Error::Scratch { source })
    };
    if !has_sources {
        write(&sample_path, SAMPLE_PROTO)?;
    }
    let schema = CompiledSchema::compile_dir(&root)?;
    let message = pick_message(&schema, options.message.as_deref())?;
    let dimensions = dimensions_for(&message)?;
    let text = serde_json::to_string_pretty(&dimensions).expect("the mapping serialises") + "\n";
    let parsed = DimensionsConfig::parse(&text, "dimensions.json")?;
    let problems = druid_mapping::validate(&message, &parsed);
    if let Some(error) = problems.iter().find(|problem| problem.severity == Severity::Error) {
        return Err(Error::ConfigInvalid {
            path: dimensions_path,
            at: error.location.clone(),
            message: format!("the derived mapping does not validate: {}", error.message),
        });
    }
    write(&dimensions_path, &text)?;
    write(&config_path, &project_file(options, message.full_name()))?;
    let relative = |path: &Path| path.strip_prefix(&options.dir).unwrap_or(path).to_owned();
    Ok(Scaffolded {
        message: message.full_name().to_owned(),
        written: planned.iter().filter(|path| path.exists()).map(|path| relative(path)).collect(),
        notes: problems
            .iter()
            .map(|problem| format!("{}: {}: {}", problem.severity, problem.subject, problem.message))
            .collect(),
    })
}

fn walk_has_proto(root: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(root) else { return false };
    entries.flatten().any(|entry| {
        let path = entry.path();
        if path.is_dir() { walk_has_proto(&path) } else { path.extension().is_some_and(|ext| ext == "proto") }
    })
}

/// The message asked for, or the only message of the sources with a Timestamp field.
fn pick_message(schema: &CompiledSchema, wanted: Option<&str>) -> Result<MessageDescriptor> {
    if let Some(name) = wanted {
        return Ok(schema.message(name)?);
    }
    let own: Vec<String> = schema.sources().iter().map(|source| source.name.clone()).collect();
    let candidates: Vec<MessageDescriptor> = schema
        .pool()
        .all_messages()
        .filter(|message| own.contains(&message.parent_file().name().to_owned()))
        .filter(|message| message.parent_message().is_none())
        .filter(|message| timestamp_field(message).is_some())
        .collect();
    match candidates.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::ConfigInvalid {
            path: schema.root().to_owned(),
            at: "init".into(),
            message: "no top-level message has a google.protobuf.Timestamp field for Druid's time column; name the record type with the message option".into(),
        }),
        many => Err(Error::ConfigInvalid {
            path: schema.root().to_owned(),
            at: "init".into(),
            message: format!(
                "several messages could be the record ({}); name it with the message option",
                many.iter().map(|message| message.full_name().to_owned()).collect::<Vec<_>>().join(", ")
            ),
        }),
    }
}

fn is_timestamp(field: &FieldDescriptor) -> bool {
    matches!(field.kind(), Kind::Message(inner) if inner.full_name() == "google.protobuf.Timestamp")
        && !field.is_list()
}

fn timestamp_field(message: &MessageDescriptor) -> Option<FieldDescriptor> {
    message.fields().find(is_timestamp)
}

/// The Druid column type of a scalar field, or `None` when the field is not one column.
fn column_type(field: &FieldDescriptor) -> Option<&'static str> {
    if field.is_map() {
        return Some("json");
    }
    if field.is_list() {
        return matches!(field.kind(), Kind::Message(_)).then_some("json");
    }
    Some(match field.kind() {
        Kind::Int32
        | Kind::Int64
        | Kind::Sint32
        | Kind::Sint64
        | Kind::Sfixed32
        | Kind::Sfixed64
        | Kind::Uint32
        | Kind::Uint64
        | Kind::Fixed32
        | Kind::Fixed64 => "long",
        Kind::Float | Kind::Double => "double",
        Kind::Message(inner) if inner.package_name() == "google.protobuf" => match inner.name() {
            "Int32Value" | "Int64Value" | "UInt32Value" | "UInt64Value" => "long",
            "FloatValue" | "DoubleValue" => "double",
            "Struct" => "json",
            _ => "string",
        },
        Kind::Message(_) => return None,
        _ => "string",
    })
}

/// Every top-level field as a dimension (nested messages one level down, by `from` path);
/// the first Timestamp field is the time column.
fn dimensions_for(message: &MessageDescriptor) -> Result<serde_json::Value> {
    let time = timestamp_field(message).ok_or_else(|| Error::ConfigInvalid {
        path: PathBuf::from("dimensions.json"),
        at: "timestamp".into(),
        message: format!(
            "{} has no google.protobuf.Timestamp field for Druid's time column",
            message.full_name()
        ),
    })?;
    let mut dimensions = Vec::new();
    for field in message.fields() {
        if field.number() == time.number() {
            continue;
        }
        match (column_type(&field), field.kind()) {
            (Some(kind), _) => dimensions.push(dimension(field.json_name(), kind, None)),
            (None, Kind::Message(inner)) => {
                for nested in inner.fields() {
                    if let Some(kind) = column_type(&nested).filter(|kind| *kind != "json") {
                        let mut name = field.json_name().to_owned();
                        let mut child = nested.json_name().chars();
                        if let Some(first) = child.next() {
                            let _ = write!(name, "{}{}", first.to_ascii_uppercase(), child.as_str());
                        }
                        let from = format!("{}.{}", field.json_name(), nested.json_name());
                        dimensions.push(dimension(&name, kind, Some(from)));
                    }
                }
            }
            (None, _) => {}
        }
    }
    Ok(serde_json::json!({
        "$comment": format!("Written by druidctl init from {}: names are JSON names, as Druid reads records.", message.full_name()),
        "timestamp": { "column": time.json_name(), "format": "iso" },
        "dimensions": dimensions,
        "granularity": { "segment": "HOUR", "query": "NONE", "rollup": false },
    }))
}

fn dimension(name: &str, kind: &str, from: Option<String>) -> serde_json::Value {
    let mut dimension = serde_json::json!({ "name": name });
    if kind != "string" {
        dimension["type"] = serde_json::json!(kind);
    }
    if let Some(from) = from {
        dimension["from"] = serde_json::json!(from);
    }
    dimension
}

/// `settlement.v1.SettlementTransaction` -> `settlement_transaction`.
fn snake(name: &str) -> String {
    let short = name.rsplit('.').next().unwrap_or(name);
    let mut snake = String::new();
    for (index, c) in short.chars().enumerate() {
        if c.is_ascii_uppercase() && index > 0 {
            snake.push('_');
        }
        snake.push(c.to_ascii_lowercase());
    }
    snake
}

fn project_file(options: &InitOptions, message: &str) -> String {
    let base = snake(message);
    let topic = base.replace('_', "-");
    let path = |path: &Path| path.display().to_string().replace('\\', "/");
    format!(
        r#"# druidctl project file, written by `druidctl init`. Reference: docs/configuration.md
# in druidctl's repository. Each [environments.NAME] table is merged over [defaults];
# DRUIDCTL_DRUID_URL, DRUIDCTL_DRUID_USER, DRUIDCTL_DRUID_PASSWORD, DRUIDCTL_DRUID_TOKEN,
# DRUIDCTL_REGISTRY and DRUIDCTL_KAFKA_BOOTSTRAP override the selected environment: keep
# credentials there, not here.

[schema]
proto_root = "{proto_root}"
message = "{message}"
dimensions = "{dimensions}"

[defaults]
registry = "file://.registry"
time_zone = "UTC"

[defaults.druid]
url = "{druid_url}"

[defaults.kafka]
bootstrap_servers = "{bootstrap}"

[defaults.ingestion]
task_count = 1
replicas = 1
task_duration = "PT1H"

# Deploys may start Monday to Friday, any time.
[defaults.window]
days = ["mon", "tue", "wed", "thu", "fri"]

[environments.dev]
datasource = "{base}_dev"
kafka.topic = "{topic}-dev"
ingestion.use_earliest_offset = true
# Uncommitted schemas may be published here.
allow_dirty = true
thresholds.rate_warn_only = true
thresholds.probe_warn_only = true

[environments.staging]
datasource = "{base}_staging"
kafka.topic = "{topic}-staging"

[environments.prod]
datasource = "{base}"
kafka.topic = "{topic}"
# Deploys and rollbacks ask for confirmation (--yes off a terminal).
confirm = true
window = {{ days = ["tue", "wed"], start = "10:00", end = "16:00" }}
"#,
        proto_root = path(&options.proto_root),
        dimensions = path(&options.dimensions),
        druid_url = options.druid_url,
        bootstrap = options.bootstrap_servers,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Project;
    use crate::config::Overrides;

    #[test]
    fn an_empty_directory_gets_a_project_that_validates_and_renders() {
        let dir = tempfile::tempdir().unwrap();
        let done = scaffold(&InitOptions { dir: dir.path().to_owned(), ..InitOptions::default() }).unwrap();
        assert_eq!(done.message, "example.v1.Event");
        let project = Project::open(&dir.path().join("druidctl.toml")).unwrap();
        let checked = project.check().unwrap();
        assert_eq!(checked.error_count(), 0, "{:?}", checked.problems);
        for name in ["dev", "staging", "prod"] {
            let environment = project.environment(name, &Overrides::default()).unwrap();
            checked.render(&environment, None).unwrap();
        }
        assert!(project.environment("prod", &Overrides::default()).unwrap().confirm);
        // A second run refuses to overwrite.
        let err =
            scaffold(&InitOptions { dir: dir.path().to_owned(), ..InitOptions::default() }).unwrap_err();
        assert!(err.to_string().contains("exists already"), "{err}");
    }

    #[test]
    fn the_sample_schema_maps_every_field_druid_can_store() {
        let dir = tempfile::tempdir().unwrap();
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/proto");
        std::fs::create_dir_all(dir.path().join("schemas/proto")).unwrap();
        std::fs::copy(
            sample.join("settlement_transaction.proto"),
            dir.path().join("schemas/proto/settlement_transaction.proto"),
        )
        .unwrap();
        let done = scaffold(&InitOptions { dir: dir.path().to_owned(), ..InitOptions::default() }).unwrap();
        assert_eq!(done.message, "settlement.v1.SettlementTransaction");
        let project = Project::open(&dir.path().join("druidctl.toml")).unwrap();
        let checked = project.check().unwrap();
        assert_eq!(checked.error_count(), 0, "{:?}", checked.problems);
        let names: Vec<&str> =
            checked.dimensions.dimensions.iter().map(|dimension| dimension.name.as_str()).collect();
        for expected in
            ["transactionId", "amountMinor", "status", "feeAmountMinor", "cardScheme", "metadata", "channel"]
        {
            assert!(names.contains(&expected), "{expected} in {names:?}");
        }
        assert_eq!(checked.dimensions.timestamp.column, "createdAt");
        let text = std::fs::read_to_string(dir.path().join("druidctl.toml")).unwrap();
        assert!(text.contains("datasource = \"settlement_transaction_dev\""), "{text}");
    }
}
