//! Checks `dimensions.json` against a message the way Druid will read its records.
//!
//! Druid's protobuf input format turns a record into a map keyed by JSON names
//! (`transactionId`, not `transaction_id`); enums arrive as their value names,
//! `google.protobuf.Timestamp` and `Duration` as strings, wrapper types as their inner value,
//! unset proto3 scalars not at all (so Druid stores null, not 0). Every rule here follows
//! from one of those facts (`docs/druid-protobuf.md` in the repository).

use std::collections::HashMap;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde::Serialize;

use crate::dimensions::{ColumnType, DimensionsConfig, MetricKind};
use crate::path::FieldPath;
use crate::predict::Java;
pub use proto_schema::Severity;

/// One finding about `dimensions.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// How bad it is.
    pub severity: Severity,
    /// Where in `dimensions.json`, as a path (`dimensions[3].from`).
    pub location: String,
    /// The dimension, metric or timestamp column concerned.
    pub subject: String,
    /// What is wrong, in the reader's terms.
    pub message: String,
    /// What to write instead, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

/// What Druid receives for a field, after protobuf-to-row conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Value {
    Text,
    Integer,
    Real,
    Bool,
    /// Enum value name.
    EnumName,
    /// `bytes`, as base64 text.
    Bytes,
    /// `google.protobuf.Timestamp` as RFC 3339 text.
    Timestamp,
    /// `google.protobuf.Duration`, `FieldMask`: text.
    WellKnownText,
    /// A message (or `Struct`, `Any`, ...): an object.
    Object,
}

impl Value {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Text | Self::WellKnownText => "a string",
            Self::Integer => "an integer",
            Self::Real => "a floating-point number",
            Self::Bool => "a boolean",
            Self::EnumName => "the enum value's name (a string)",
            Self::Bytes => "base64 text",
            Self::Timestamp => "an RFC 3339 string",
            Self::Object => "an object",
        }
    }
}

/// The shape of a resolved path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    One(Value),
    List(Value),
    Map,
}

/// A path resolved to what Druid sees.
struct Resolved {
    shape: Shape,
    /// The last field on the path (for presence and messages).
    field: FieldDescriptor,
    /// Whether a present-but-default value survives (`optional`, oneof, message, wrapper).
    keeps_default: bool,
}

/// Checks every dimension, the timestamp and the metrics; returns all findings at once,
/// errors first.
pub fn validate(message: &MessageDescriptor, config: &DimensionsConfig) -> Vec<Problem> {
    let mut problems = Vec::new();
    check_timestamp(message, config, &mut problems);
    check_dimensions(message, config, &mut problems);
    check_metrics(message, config, &mut problems);
    check_decodable(message, &mut problems);
    problems.sort_by_key(|problem| std::cmp::Reverse(problem.severity));
    problems
}

fn check_timestamp(message: &MessageDescriptor, config: &DimensionsConfig, problems: &mut Vec<Problem>) {
    let timestamp = &config.timestamp;
    let (path, location) = match &timestamp.from {
        Some(from) => (from.as_str(), "timestamp.from"),
        None => (timestamp.column.as_str(), "timestamp.column"),
    };
    let subject = format!("timestamp `{}`", timestamp.column);
    let resolved = match resolve(message, path) {
        Ok(resolved) => resolved,
        Err(failure) => {
            problems.push(failure.into_problem(location, &subject, "timestamp"));
            return;
        }
    };
    let format = timestamp.format.as_str();
    let value = match resolved.shape {
        Shape::One(value) => value,
        Shape::List(_) | Shape::Map => {
            problems.push(problem(
                Severity::Error,
                location,
                &subject,
                format!("`{path}` is a repeated or map field; the timestamp must be a single value"),
                None,
            ));
            return;
        }
    };
    let numeric_format = matches!(format, "millis" | "posix" | "micro" | "nano");
    let verdict = match (value, format) {
        (Value::Timestamp | Value::Text, "iso" | "auto") | (Value::Integer, "auto") => None,
        (Value::Integer | Value::Real, _) if numeric_format => None,
        (Value::Timestamp, _) => Some((
            "google.protobuf.Timestamp arrives as an RFC 3339 string".to_owned(),
            Some("use \"format\": \"iso\"".to_owned()),
        )),
        (Value::Text, _) if numeric_format => Some((
            format!("`{path}` is a string but format `{format}` expects a number"),
            Some("use \"format\": \"iso\", \"auto\" or a Joda pattern".to_owned()),
        )),
        (Value::Text, _) => None, // a Joda pattern applied to text
        (Value::Integer, _) => Some((
            format!("`{path}` is an integer but format `{format}` expects text"),
            Some("use \"format\": \"millis\", \"posix\", \"micro\", \"nano\" or \"auto\"".to_owned()),
        )),
        (other, _) => Some((
            format!("`{path}` arrives as {}, which Druid cannot parse as a time", other.describe()),
            None,
        )),
    };
    if let Some((message, help)) = verdict {
        problems.push(problem(Severity::Error, "timestamp.format", &subject, message, help));
    }
}

fn check_dimensions(message: &MessageDescriptor, config: &DimensionsConfig, problems: &mut Vec<Problem>) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (index, dimension) in config.dimensions.iter().enumerate() {
        let location = format!("dimensions[{index}]");
        let subject = format!("dimension `{}`", dimension.name);
        if dimension.name.trim().is_empty() {
            problems.push(problem(
                Severity::Error,
                &location,
                &subject,
                "a dimension needs a name".into(),
                None,
            ));
            continue;
        }
        if dimension.name == "__time" {
            problems.push(problem(
                Severity::Error,
                &location,
                &subject,
                "`__time` is Druid's own time column; it comes from `timestamp`".into(),
                None,
            ));
            continue;
        }
        if let Some(first) = seen.insert(&dimension.name, index) {
            problems.push(problem(
                Severity::Error,
                &location,
                &subject,
                format!("duplicate of dimensions[{first}]"),
                Some("remove one, or give it another name with \"from\"".into()),
            ));
            continue;
        }
        if dimension.from.is_none() && dimension.name == config.timestamp.column {
            problems.push(problem(
                Severity::Warning,
                &location,
                &subject,
                "the timestamp column is also stored as a dimension".into(),
                Some("drop it: __time already holds it".into()),
            ));
        }
        let (path, path_location) = match &dimension.from {
            Some(from) => (from.as_str(), format!("{location}.from")),
            None => (dimension.name.as_str(), format!("{location}.name")),
        };
        match resolve(message, path) {
            Ok(resolved) => check_kind(path, &path_location, &subject, dimension.kind, &resolved, problems),
            Err(failure) => problems.push(failure.into_problem(&path_location, &subject, "dimension")),
        }
    }
}

fn check_kind(
    path: &str,
    location: &str,
    subject: &str,
    column: ColumnType,
    resolved: &Resolved,
    problems: &mut Vec<Problem>,
) {
    let mut push = |severity, message: String, help: Option<&str>| {
        problems.push(problem(severity, location, subject, message, help.map(str::to_owned)));
    };
    match (column, resolved.shape) {
        (ColumnType::Json, _) => {}
        (_, Shape::Map) => push(
            Severity::Error,
            format!("`{path}` is a map; a {column} column cannot hold it"),
            Some("use \"type\": \"json\", or pick one key with \"from\": \"<map>.<key>\""),
        ),
        (ColumnType::String, Shape::One(Value::Object) | Shape::List(Value::Object)) => push(
            Severity::Warning,
            format!(
                "`{path}` arrives as a message ({}), not a scalar: Druid stores Java's text of it (`{{x=1, label=a}}`), which queries cannot use",
                resolved.field.kind_name()
            ),
            Some("use \"type\": \"json\", or one of its fields with \"from\": \"<field>.<subfield>\""),
        ),
        (_, Shape::One(Value::Object) | Shape::List(Value::Object)) => push(
            Severity::Error,
            format!(
                "`{path}` arrives as a message ({}); a {column} column stores null for it and counts the row as an error",
                resolved.field.kind_name()
            ),
            Some("use \"type\": \"json\", or one of its fields with \"from\": \"<field>.<subfield>\""),
        ),
        (ColumnType::String, Shape::List(_)) => push(
            Severity::Info,
            format!("`{path}` is repeated: Druid stores it as a multi-value string dimension"),
            None,
        ),
        (_, Shape::List(value)) => push(
            Severity::Error,
            format!("`{path}` is a repeated {}; a {column} column holds one value", value.describe()),
            Some("use \"type\": \"string\" (multi-value) or \"json\""),
        ),
        (ColumnType::String, Shape::One(Value::Bytes)) => {
            push(Severity::Warning, format!("`{path}` is bytes: Druid stores its base64 text"), None);
        }
        (ColumnType::String, Shape::One(_)) => {}
        (numeric, Shape::One(value)) => match value {
            Value::Real if numeric == ColumnType::Long => push(
                Severity::Warning,
                format!("`{path}` is a floating-point number; a long column truncates it"),
                Some("use \"type\": \"double\""),
            ),
            Value::Integer | Value::Real => check_default_presence(path, numeric, resolved, &mut push),
            Value::Bool => push(
                Severity::Info,
                format!(
                    "`{path}` is a boolean: a {numeric} column stores true as 1 (and false as 0 only when it is sent)"
                ),
                None,
            ),
            Value::Text => push(
                Severity::Warning,
                format!(
                    "`{path}` is a string: values that are not numbers become null in a {numeric} column"
                ),
                None,
            ),
            Value::EnumName => push(
                Severity::Error,
                format!("`{path}` is an enum: Druid receives the value's name, not its number"),
                Some("use \"type\": \"string\""),
            ),
            Value::Timestamp => push(
                Severity::Error,
                format!("`{path}` is a google.protobuf.Timestamp: Druid receives an RFC 3339 string"),
                Some("use \"type\": \"string\", or make it the timestamp"),
            ),
            other => push(
                Severity::Error,
                format!("`{path}` arrives as {}; a {numeric} column cannot hold it", other.describe()),
                Some("use \"type\": \"string\""),
            ),
        },
    }
}

/// A proto3 scalar without presence is absent when it is 0, so Druid stores null.
fn check_default_presence(
    path: &str,
    column: ColumnType,
    resolved: &Resolved,
    push: &mut impl FnMut(Severity, String, Option<&str>),
) {
    if !resolved.keeps_default {
        push(
            Severity::Info,
            format!("`{path}` has no presence: a 0 is not sent, so the {column} column holds null for it"),
            Some("declare the field `optional` if 0 must be stored as 0"),
        );
    }
}

fn check_metrics(message: &MessageDescriptor, config: &DimensionsConfig, problems: &mut Vec<Problem>) {
    let dimension_names: HashMap<&str, usize> = config
        .dimensions
        .iter()
        .enumerate()
        .map(|(index, dimension)| (dimension.name.as_str(), index))
        .collect();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (index, metric) in config.metrics.iter().enumerate() {
        let location = format!("metrics[{index}]");
        let subject = format!("metric `{}`", metric.name);
        if let Some(dimension) = dimension_names.get(metric.name.as_str()) {
            problems.push(problem(
                Severity::Error,
                &location,
                &subject,
                format!("has the same name as dimensions[{dimension}]; Druid refuses the spec"),
                None,
            ));
        }
        if let Some(first) = seen.insert(&metric.name, index) {
            problems.push(problem(
                Severity::Error,
                &location,
                &subject,
                format!("duplicate of metrics[{first}]"),
                None,
            ));
        }
        let Some(field) = &metric.field_name else {
            if metric.kind != MetricKind::Count {
                problems.push(problem(
                    Severity::Error,
                    &location,
                    &subject,
                    format!("{} needs a \"fieldName\"", metric.kind.as_str()),
                    None,
                ));
            }
            continue;
        };
        // An input column is a top-level field or a flattened (`from`) dimension.
        if config.flattened_columns().any(|column| column == field) {
            continue;
        }
        let field_location = format!("{location}.fieldName");
        match resolve(message, field) {
            Ok(resolved) => {
                let numeric = matches!(resolved.shape, Shape::One(Value::Integer | Value::Real));
                if !numeric {
                    problems.push(problem(
                        Severity::Error,
                        &field_location,
                        &subject,
                        format!("{} needs a number; `{field}` is not one", metric.kind.as_str()),
                        None,
                    ));
                }
            }
            Err(failure) => problems.push(failure.into_problem(&field_location, &subject, "metric input")),
        }
    }
}

fn problem(
    severity: Severity,
    location: &str,
    subject: &str,
    message: String,
    help: Option<String>,
) -> Problem {
    Problem { severity, location: location.to_owned(), subject: subject.to_owned(), message, help }
}

/// Why a path did not resolve.
enum Failure {
    /// A segment names no field.
    Missing(Box<MissingField>),
    /// Path continues through something that has no named fields.
    Opaque { path: String, why: String, help: Option<String> },
}

/// A segment that names no field, with what could have been meant.
struct MissingField {
    segment: String,
    /// Full name of the message searched.
    message: String,
    /// JSON name of a field whose proto name is the segment.
    proto_name_match: Option<String>,
    closest: Option<String>,
    /// Path to a nested field of that name.
    nested: Option<String>,
    known: Vec<String>,
}

impl Failure {
    fn into_problem(self, location: &str, subject: &str, role: &str) -> Problem {
        match self {
            Self::Missing(missing) => missing.into_problem(location, subject, role),
            Self::Opaque { path, why, help } => {
                problem(Severity::Error, location, subject, format!("`{path}`: {why}"), help)
            }
        }
    }
}

impl MissingField {
    fn into_problem(self, location: &str, subject: &str, role: &str) -> Problem {
        let Self { segment, message, proto_name_match, closest, nested, known } = self;
        let (text, help) = if let Some(json_name) = proto_name_match {
            (
                format!(
                    "Druid reads `{segment}` by its JSON name `{json_name}`: as written the {role} would be null in every row"
                ),
                format!("write `{json_name}` (field `{segment}` of {message})"),
            )
        } else {
            let help = match (nested, closest) {
                (Some(path), _) => format!("nested fields need a path: \"from\": \"{path}\""),
                (None, Some(closest)) => format!("did you mean `{closest}`?"),
                (None, None) => format!("{message} has: {}", known.join(", ")),
            };
            (format!("{message} has no field `{segment}`: the {role} would be null in every row"), help)
        };
        problem(Severity::Error, location, subject, text, Some(help))
    }
}

/// Resolves a dotted path of JSON names (an optional leading `$.` is accepted).
fn resolve(root: &MessageDescriptor, path: &str) -> Result<Resolved, Failure> {
    let parsed = FieldPath::parse(path);
    let path = parsed.to_string();
    let mut message = root.clone();
    let mut segments = parsed.segments().iter().map(String::as_str).peekable();
    let mut walked = String::new();
    while let Some(segment) = segments.next() {
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(segment);
        let Some(field) = message.fields().find(|field| field.json_name() == segment) else {
            return Err(missing(&message, segment, segments.peek().is_none() && walked == segment));
        };
        let last = segments.peek().is_none();
        if field.is_map() {
            let Kind::Message(entry) = field.kind() else { unreachable!("map fields are messages") };
            let value_field = entry.map_entry_value_field();
            if last {
                return Ok(Resolved { shape: Shape::Map, field, keeps_default: true });
            }
            let key = segments.next().unwrap_or_default(); // any string
            walked.push('.');
            walked.push_str(key);
            let value = value_of(&field);
            if segments.peek().is_none() {
                return Ok(Resolved { shape: Shape::One(value), field: value_field, keeps_default: true });
            }
            // A message value arrives as a plain map (well-known types too): paths go on into it.
            match value_field.kind() {
                Kind::Message(inner) if value == Value::Object => {
                    message = inner;
                    continue;
                }
                _ => {
                    return Err(Failure::Opaque {
                        path: walked,
                        why: format!("is a {}, not a message; it has no fields", value_field.kind_name()),
                        help: None,
                    });
                }
            }
        }
        if field.is_list() {
            if last {
                return Ok(Resolved { shape: Shape::List(value_of(&field)), field, keeps_default: true });
            }
            return Err(Failure::Opaque {
                path: walked,
                why: "is a repeated field; a path cannot pick one element".into(),
                help: Some("store the whole list with \"type\": \"json\"".into()),
            });
        }
        if last {
            let (value, keeps_default) = match field.kind() {
                Kind::Message(inner) => match wrapper_inner(&inner) {
                    Some(inner_value) => (inner_value, true),
                    None => (value_of(&field), true),
                },
                _ => (value_of(&field), field.supports_presence()),
            };
            return Ok(Resolved { shape: Shape::One(value), field, keeps_default });
        }
        match field.kind() {
            Kind::Message(inner) if !is_well_known(&inner) => message = inner,
            Kind::Message(inner) => {
                let help = Some(format!("use \"from\": \"{walked}\""));
                return Err(Failure::Opaque {
                    path: walked,
                    why: format!("{} arrives as a single value; it has no fields to pick", inner.full_name()),
                    help,
                });
            }
            _ => {
                return Err(Failure::Opaque {
                    path: walked,
                    why: format!("is a {}, not a message; it has no fields", field.kind_name()),
                    help: None,
                });
            }
        }
    }
    Err(Failure::Opaque { path, why: "is empty".into(), help: None })
}

fn missing(message: &MessageDescriptor, segment: &str, top_level_name: bool) -> Failure {
    let proto_name_match = message
        .fields()
        .find(|field| field.name() == segment || field.name().eq_ignore_ascii_case(segment))
        .map(|field| field.json_name().to_owned());
    let known: Vec<String> = message.fields().map(|field| field.json_name().to_owned()).collect();
    let closest = proto_schema::closest(segment, known.iter().map(String::as_str)).map(str::to_owned);
    let nested = if top_level_name { find_nested(message, segment, 3) } else { None };
    Failure::Missing(Box::new(MissingField {
        segment: segment.to_owned(),
        message: message.full_name().to_owned(),
        proto_name_match,
        closest,
        nested,
        known,
    }))
}

/// A dotted JSON path to a nested field whose JSON or proto name is `name`, if one exists.
fn find_nested(message: &MessageDescriptor, name: &str, depth: usize) -> Option<String> {
    if depth == 0 {
        return None;
    }
    for field in message.fields() {
        if field.is_list() || field.is_map() {
            continue;
        }
        if let Kind::Message(inner) = field.kind() {
            if is_well_known(&inner) {
                continue;
            }
            if let Some(found) = inner.fields().find(|f| f.json_name() == name || f.name() == name) {
                return Some(format!("{}.{}", field.json_name(), found.json_name()));
            }
            if let Some(deeper) = find_nested(&inner, name, depth - 1) {
                return Some(format!("{}.{deeper}", field.json_name()));
            }
        }
    }
    None
}

fn is_well_known(message: &MessageDescriptor) -> bool {
    message.package_name() == "google.protobuf"
}

/// The inner value of `google.protobuf.Int64Value` and friends.
fn wrapper_inner(message: &MessageDescriptor) -> Option<Value> {
    if !is_well_known(message) || !message.name().ends_with("Value") {
        return None;
    }
    match message.name() {
        "DoubleValue" | "FloatValue" => Some(Value::Real),
        "Int64Value" | "UInt64Value" | "Int32Value" | "UInt32Value" => Some(Value::Integer),
        "BoolValue" => Some(Value::Bool),
        "StringValue" => Some(Value::Text),
        "BytesValue" => Some(Value::Bytes),
        _ => None, // google.protobuf.Value: any JSON value
    }
}

/// What Druid receives for one value of `field`: one element of a list, the value of a map
/// entry, or the field itself. Read from the row predictor's converter
/// ([`crate::predict::convert::probe`]), so that a repeated `Timestamp` or a map of wrappers
/// arrives as a plain message here exactly as it does in Druid.
pub(crate) fn value_of(field: &FieldDescriptor) -> Value {
    let element = match crate::predict::convert::probe(field) {
        Ok(Java::List(mut items)) if field.is_list() => items.pop().unwrap_or(Java::Null),
        Ok(Java::Map(map)) if field.is_map() => {
            map.iter().next().map_or(Java::Null, |(_, value)| value.clone())
        }
        Ok(other) => other,
        Err(_) => return Value::Object,
    };
    let kind = match field.kind() {
        Kind::Message(entry) if field.is_map() => entry.map_entry_value_field().kind(),
        kind => kind,
    };
    match element {
        Java::Bool(_) => Value::Bool,
        Java::Int(_) | Java::Long(_) => Value::Integer,
        Java::Float(_) | Java::Double(_) => Value::Real,
        Java::Bytes(_) => Value::Bytes,
        Java::Str(_) => match kind {
            Kind::Enum(_) => Value::EnumName,
            Kind::Message(message) if message.full_name() == "google.protobuf.Timestamp" => Value::Timestamp,
            Kind::Message(message) if message.full_name() == "google.protobuf.StringValue" => Value::Text,
            Kind::Message(_) => Value::WellKnownText,
            _ => Value::Text,
        },
        // A message, a list value, or a google.protobuf.Value (any JSON value).
        Java::Map(_) | Java::List(_) | Java::Null => Value::Object,
    }
}

/// A short name of a field's type for messages.
trait KindName {
    fn kind_name(&self) -> String;
}

impl KindName for FieldDescriptor {
    fn kind_name(&self) -> String {
        match self.kind() {
            Kind::Message(message) => message.full_name().to_owned(),
            Kind::Enum(enumeration) => enumeration.full_name().to_owned(),
            other => format!("{other:?}").to_lowercase(),
        }
    }
}

/// Fields Druid 33 cannot convert, mapped or not: Druid converts the whole record first.
fn check_decodable(message: &MessageDescriptor, problems: &mut Vec<Problem>) {
    for (path, field, failure, why) in crate::decoding::failures(message) {
        let (severity, consequence) = match failure {
            crate::decoding::Failure::TaskFailure => {
                (Severity::Error, "the first record that sets it fails the ingestion task")
            }
            crate::decoding::Failure::Unparseable => {
                (Severity::Warning, "every record that sets it is unparseable")
            }
        };
        problems.push(problem(
            severity,
            &format!("(schema) {}", field.full_name()),
            &format!("field `{path}`"),
            format!("{why}: {consequence}, even though no dimension reads it"),
            Some(match failure {
                crate::decoding::Failure::TaskFailure => {
                    "use a map<string, ...>, a repeated Struct or a JSON string instead; later Druid releases changed this converter (docs/druid-protobuf.md)".to_owned()
                }
                crate::decoding::Failure::Unparseable => {
                    "carry the payload as bytes or a JSON string, or leave the field unset in records sent to Druid".to_owned()
                }
            }),
        ));
    }
}

#[cfg(test)]
mod tests;
