//! Two verdicts on a schema change. The **policy** verdict is buf's, under the category the
//! team chose ([`proto_schema::compat`]): what every reader of the topic may rely on. The
//! **Druid** verdict is druidctl's own promise: what the change does to the values Druid
//! stores for the columns of the old mapping, judged from how Druid decodes protobuf (every
//! record becomes a map keyed by JSON names, proto3 scalars at zero are absent, enums arrive by
//! name, one-element lists of strings are stored as the string), not from buf's categories.
//!
//! Each Druid finding names the column, the records it affects (already in the topic, written
//! after the change, or both) and what Druid stores instead. A finding of severity `error` is
//! damage: the deploy gate always stops on it. No finding where Druid stores the same values:
//! an unmapped field may change freely, `int32` may widen to `int64`, a field may move into a
//! oneof when its presence does not change. The rules model Druid 33's protobuf extension
//! (docs/druid-protobuf.md); `make compat-vs-druid` measures them on the local Druid.

use std::collections::BTreeSet;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use proto_schema::compat::{Mode, Report};
use proto_schema::{CompiledSchema, Severity};
use serde::Serialize;

use crate::dimensions::{ColumnType, DimensionsConfig};
use crate::path::FieldPath;
use crate::validate::{self, Value};

/// A Druid rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DruidRule {
    /// The record's message type is gone: nothing decodes.
    MessageDeleted,
    /// A field feeding a column now has another JSON name: the column becomes null.
    DimensionRenamed,
    /// A field feeding a column was deleted: the column becomes null.
    DimensionDeleted,
    /// The column's path now names another field number: one column, two meanings.
    DimensionMoved,
    /// Druid receives another kind of value (a number becoming a string, a message becoming a
    /// scalar, a list in a numeric column).
    DimensionTypeChanged,
    /// The same bytes decode to other numbers (signed/zigzag/width/fixed changes).
    NumberChanged,
    /// An enum value feeding a column was renamed, renumbered or deleted: Druid stores enum
    /// values by name.
    EnumValueChanged,
    /// Explicit presence added or removed: what was stored as 0 becomes null, or the reverse.
    PresenceChanged,
    /// A metric's input is no longer a number.
    MetricNotNumeric,
    /// The timestamp field changed kind or moved: rows become unparseable.
    TimestampChanged,
    /// A message on the column's path became repeated or a map: the path reads null.
    PathParentRepeated,
    /// A field (mapped or not) of a type Druid 33 cannot convert: every record that sets it
    /// fails or is unparseable, whatever columns it has.
    FieldUndecodable,
    /// A new field no dimension reads (information).
    FieldNotIngested,
}

impl DruidRule {
    /// The id shown in findings (`DRUID_DIMENSION_RENAMED`).
    pub fn id(self) -> &'static str {
        match self {
            Self::MessageDeleted => "DRUID_MESSAGE_DELETED",
            Self::DimensionRenamed => "DRUID_DIMENSION_RENAMED",
            Self::DimensionDeleted => "DRUID_DIMENSION_DELETED",
            Self::DimensionMoved => "DRUID_DIMENSION_MOVED",
            Self::DimensionTypeChanged => "DRUID_DIMENSION_TYPE_CHANGED",
            Self::NumberChanged => "DRUID_NUMBER_CHANGED",
            Self::EnumValueChanged => "DRUID_ENUM_VALUE_CHANGED",
            Self::PresenceChanged => "DRUID_PRESENCE_CHANGED",
            Self::MetricNotNumeric => "DRUID_METRIC_NOT_NUMERIC",
            Self::TimestampChanged => "DRUID_TIMESTAMP_CHANGED",
            Self::PathParentRepeated => "DRUID_PATH_PARENT_REPEATED",
            Self::FieldUndecodable => "DRUID_FIELD_UNDECODABLE",
            Self::FieldNotIngested => "DRUID_FIELD_NOT_INGESTED",
        }
    }
}

/// Which records a Druid finding affects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Records {
    /// Records already in the topic, read with the new schema (replays, lagging consumers).
    Old,
    /// Records written with the new schema.
    New,
    /// Both.
    Both,
}

impl Records {
    fn describe(self) -> &'static str {
        match self {
            Self::Old => "records already in the topic",
            Self::New => "records written with the new schema",
            Self::Both => "old and new records",
        }
    }
}

/// What a change does to one Druid column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DruidFinding {
    /// `DRUID_*`.
    pub rule: &'static str,
    /// `error` damages what Druid stores; `warning` changes it in a way worth knowing;
    /// `info` does not change it.
    pub severity: Severity,
    /// The Druid column (empty for a finding about the whole record).
    pub column: String,
    /// Which records are affected.
    pub records: Records,
    /// What Druid stores instead (`null`, `other numbers`, `an unparseable record`...).
    pub stores: String,
    /// Where, in the new sources (or the old ones when the field is gone).
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: u32,
    /// 1-based column of the source position (0 when unknown).
    #[serde(rename = "col")]
    pub col: u32,
    /// The whole story, for people.
    pub message: String,
    /// Whether `file` is in the old sources.
    #[serde(skip)]
    pub in_old: bool,
}

impl std::fmt::Display for DruidFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}: {} {}", self.file, self.line, self.col, self.rule, self.message)
    }
}

/// The Druid verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DruidVerdict {
    /// Whether any finding is an error: Druid would store other values than today.
    pub damaging: bool,
    /// Findings, errors first.
    pub findings: Vec<DruidFinding>,
}

/// Both verdicts. Serialises as the policy report (`breaking`, `mode`, `findings`) plus
/// `druid` (null when the mapping is unknown) and `stops`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// buf's verdict under the policy's category.
    #[serde(flatten)]
    pub policy: Report,
    /// What Druid would store; `None` without a mapping.
    pub druid: Option<DruidVerdict>,
    /// Whether the gate stops: the policy breaks, or Druid's data is damaged.
    pub stops: bool,
}

impl Verdict {
    /// Whether the change damages what Druid stores.
    pub fn damages_druid(&self) -> bool {
        self.druid.as_ref().is_some_and(|druid| druid.damaging)
    }

    /// The gate's one-line summary: which verdict stops, and plainly when only the policy does.
    pub fn summary(&self) -> String {
        let errors = self.policy.findings.iter().filter(|f| f.severity == Severity::Error).count();
        let policy = if self.policy.breaking {
            format!("{errors} breaking change{} ({})", if errors == 1 { "" } else { "s" }, self.policy.mode)
        } else {
            format!("no breaking change ({})", self.policy.mode)
        };
        match &self.druid {
            None => policy,
            Some(druid) if druid.damaging => {
                let damage = druid.findings.iter().filter(|f| f.severity == Severity::Error).count();
                format!("{policy}; Druid: {damage} damaging change{}", if damage == 1 { "" } else { "s" })
            }
            Some(_) if self.policy.breaking => {
                format!("{policy}; Druid: the data Druid stores is unchanged (the policy alone objects)")
            }
            Some(_) => format!("{policy}; Druid: the data Druid stores is unchanged"),
        }
    }
}

/// What Druid ingests from the old schema, for the Druid rules.
#[derive(Debug, Clone, Copy)]
pub struct DruidMapping<'a> {
    /// Full name of the record's message type.
    pub message: &'a str,
    /// The dimension mapping deployed with the old schema.
    pub dimensions: &'a DimensionsConfig,
    /// The mapping deployed with the new schema, when known: a column it reads from the field's
    /// new name is no damage (a rename with `dimensions.json` updated); a column it drops is the
    /// mapping's choice, not the schema's. `None`: the old mapping is kept.
    pub new_dimensions: Option<&'a DimensionsConfig>,
}

/// buf's rules under `mode` (the policy) and, when the mapping is known, the Druid rules: the
/// check `druidctl check` and the deploy gate run.
pub fn check(
    old: &CompiledSchema,
    new: &CompiledSchema,
    mode: Mode,
    druid: Option<DruidMapping<'_>>,
) -> Verdict {
    let policy = proto_schema::compat::check(old, new, mode);
    let druid = druid.map(|mapping| {
        let mut findings = druid_findings(old, new, mapping);
        findings.sort_by_key(|finding| std::cmp::Reverse(finding.severity));
        DruidVerdict { damaging: findings.iter().any(|f| f.severity == Severity::Error), findings }
    });
    let stops = policy.breaking || druid.as_ref().is_some_and(|druid| druid.damaging);
    Verdict { policy, druid, stops }
}

/// What a column is, for the rules that depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Dimension(ColumnType),
    Timestamp,
    Metric,
}

struct Input {
    column: String,
    role: Role,
    path: String,
}

/// The columns of the old mapping and the paths they read.
fn inputs(dimensions: &DimensionsConfig) -> Vec<Input> {
    let mut inputs: Vec<Input> = dimensions
        .dimensions
        .iter()
        .map(|dimension| Input {
            column: dimension.name.clone(),
            role: Role::Dimension(dimension.kind),
            path: dimension.source().to_string(),
        })
        .collect();
    inputs.push(Input {
        column: dimensions.timestamp.column.clone(),
        role: Role::Timestamp,
        path: dimensions.timestamp.source().to_string(),
    });
    for metric in &dimensions.metrics {
        let Some(field) = &metric.field_name else { continue };
        // A metric reads a field by JSON name, or a `from` dimension by its name.
        let path = dimensions
            .dimensions
            .iter()
            .find(|dimension| &dimension.name == field)
            .map_or_else(|| field.clone(), |dimension| dimension.source().to_string());
        inputs.push(Input { column: metric.name.clone(), role: Role::Metric, path });
    }
    inputs
}

/// The fields a dotted path of JSON names goes through; a map's key ends the walk.
fn walk(message: &MessageDescriptor, path: &str) -> Option<Vec<FieldDescriptor>> {
    let mut current = message.clone();
    let mut fields = Vec::new();
    let path = FieldPath::parse(path);
    let mut segments = path.segments().iter();
    while let Some(segment) = segments.next() {
        let field = current.fields().find(|field| field.json_name() == segment.as_str())?;
        fields.push(field.clone());
        if field.is_map() {
            segments.next();
            break;
        }
        match field.kind() {
            Kind::Message(inner) if !field.is_list() => current = inner,
            _ => break,
        }
    }
    (segments.next().is_none()).then_some(fields)
}

/// Follows `old` by field number in `message`: the fields now at the same numbers.
fn follow(message: &MessageDescriptor, old: &[FieldDescriptor]) -> Option<Vec<FieldDescriptor>> {
    let mut current = message.clone();
    let mut fields = Vec::new();
    for step in old {
        let field = current.get_field(step.number())?;
        if let Kind::Message(inner) = field.kind() {
            current = inner;
        }
        fields.push(field);
    }
    Some(fields)
}

/// What Druid receives for a field: `validate`'s classification of one value (wrappers
/// unwrapped, enums by name, Timestamp as RFC 3339 text...), or a map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Received {
    One(Value),
    Map,
}

impl Received {
    fn of(field: &FieldDescriptor) -> Self {
        if field.is_map() { Self::Map } else { Self::One(validate::value_of(field)) }
    }

    fn name(self) -> &'static str {
        match self {
            Self::One(value) => value.describe(),
            Self::Map => "a map",
        }
    }

    fn numeric(self) -> bool {
        matches!(self, Self::One(Value::Integer | Value::Real))
    }

    /// A value a string column stores as its text.
    fn textual(self) -> bool {
        matches!(self, Self::One(Value::Text | Value::EnumName | Value::Bytes | Value::WellKnownText))
    }

    /// A scalar whose zero a producer can leave out (presence matters).
    fn scalar(self) -> bool {
        matches!(
            self,
            Self::One(
                Value::Integer | Value::Real | Value::Bool | Value::Text | Value::Bytes | Value::EnumName
            )
        )
    }
}

/// `int64`, `sint64`... for messages.
fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Message(message) => message.full_name().to_owned(),
        Kind::Enum(enumeration) => enumeration.full_name().to_owned(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// Whether every value Druid stored for the old type stays the same when the same bytes are
/// read as the new type. Druid's converter passes protobuf-java's values through: `int32` and
/// `uint32` are both a Java `int` of the low 32 bits, `int64` and `uint64` a Java `long`,
/// `fixed32`/`sfixed32` and `fixed64`/`sfixed64` likewise; a negative `int32` is written
/// sign-extended, so `int32` widens to `int64`/`uint64`, and `sint32` to `sint64`. A `uint32`
/// above 2^31 was stored negative: read as a 64-bit type it changes.
fn same_numbers(old: &Kind, new: &Kind) -> bool {
    let group = |kind: &Kind| match kind {
        Kind::Int32 | Kind::Uint32 => 1,
        Kind::Int64 | Kind::Uint64 => 2,
        Kind::Sint32 => 3,
        Kind::Sint64 => 4,
        Kind::Fixed32 | Kind::Sfixed32 => 5,
        Kind::Fixed64 | Kind::Sfixed64 => 6,
        Kind::Float => 7,
        Kind::Double => 8,
        _ => 0,
    };
    let (before, after) = (group(old), group(new));
    before == after
        || matches!((old, new), (Kind::Int32, Kind::Int64 | Kind::Uint64) | (Kind::Sint32, Kind::Sint64))
}

/// Explicit presence: an unset field and a zero are told apart, and a zero reaches Druid.
fn explicit(field: &FieldDescriptor) -> bool {
    field.supports_presence()
}

struct Findings<'c> {
    old: &'c CompiledSchema,
    new: &'c CompiledSchema,
    list: Vec<DruidFinding>,
}

impl Findings<'_> {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        rule: DruidRule,
        severity: Severity,
        column: &str,
        records: Records,
        stores: &str,
        at: (&FieldDescriptor, bool),
        message: &str,
    ) {
        let (field, in_old) = at;
        let side = if in_old { self.old } else { self.new };
        let file = field.parent_file().name().to_owned();
        let (line, col) = side.locate(&file, field.path());
        let message = if column.is_empty() {
            format!("{message}: Druid would store {stores} ({})", records.describe())
        } else {
            format!("column `{column}`: {message}: Druid would store {stores} ({})", records.describe())
        };
        self.list.push(DruidFinding {
            rule: rule.id(),
            severity,
            column: column.to_owned(),
            records,
            stores: stores.to_owned(),
            file,
            line,
            col,
            message,
            in_old,
        });
    }
}

/// The Druid rules alone (in the order the columns are mapped; [`check`] puts errors first).
pub fn druid_findings(
    old: &CompiledSchema,
    new: &CompiledSchema,
    mapping: DruidMapping<'_>,
) -> Vec<DruidFinding> {
    let mut findings = Findings { old, new, list: Vec::new() };
    let Some(old_message) = old.pool().get_message_by_name(mapping.message) else { return findings.list };
    let Some(new_message) = new.pool().get_message_by_name(mapping.message) else {
        let file = old_message.parent_file().name().to_owned();
        let (line, col) = old.locate(&file, old_message.path());
        findings.list.push(DruidFinding {
            rule: DruidRule::MessageDeleted.id(),
            severity: Severity::Error,
            column: String::new(),
            records: Records::Both,
            stores: "nothing: the Overlord refuses a spec whose protoMessageType is missing".into(),
            file,
            line,
            col,
            message: format!(
                "`{}` is the record type Druid decodes; it no longer exists: Druid would store nothing: the Overlord refuses a spec whose protoMessageType is missing ({})",
                mapping.message,
                Records::Both.describe()
            ),
            in_old: true,
        });
        return findings.list;
    };
    let mut ingested: BTreeSet<u32> = BTreeSet::new();
    let new_inputs = mapping.new_dimensions.map(inputs);
    for input in inputs(mapping.dimensions) {
        // Only what the old schema really delivered counts (validate reports the rest).
        let Some(before) = walk(&old_message, &input.path) else { continue };
        // Where the new mapping reads the column; a column it no longer has is its choice.
        let expected = match &new_inputs {
            None => input.path.clone(),
            Some(new_inputs) => {
                match new_inputs.iter().find(|other| other.column == input.column && other.role == input.role)
                {
                    Some(other) => other.path.clone(),
                    None => continue,
                }
            }
        };
        if let Some(first) = walk(&new_message, &expected).as_ref().and_then(|fields| fields.first()) {
            ingested.insert(first.number());
        }
        column(&mut findings, &input, &expected, &new_message, &before);
    }
    undecodable_fields(&mut findings, &old_message, &new_message, &mut BTreeSet::new());
    for field in new_message.fields() {
        if ingested.contains(&field.number()) || old_message.get_field(field.number()).is_some() {
            continue;
        }
        findings.push(
            DruidRule::FieldNotIngested,
            Severity::Info,
            "",
            Records::New,
            "nothing for it",
            (&field, false),
            &format!("new field `{}` is not ingested: no dimension reads it (add one to dimensions.json to store it)", field.json_name()),
        );
    }
    findings.list
}

/// The rules for one column of the old mapping.
fn column(
    findings: &mut Findings<'_>,
    input: &Input,
    expected: &str,
    new_message: &MessageDescriptor,
    before: &[FieldDescriptor],
) {
    let (name, path) = (input.column.as_str(), input.path.as_str());
    let old_leaf = before.last().expect("a walk has a field");
    let timestamp = input.role == Role::Timestamp;
    let lost = if timestamp { "no row: records without their timestamp are unparseable" } else { "null" };
    let Some(after) = follow(new_message, before) else {
        if let Some(other) = walk(new_message, expected) {
            findings.push(
                DruidRule::DimensionMoved,
                Severity::Error,
                name,
                Records::Both,
                lost,
                (other.last().expect("a walk has a field"), false),
                &format!("it reads `{expected}`, whose field was deleted and whose name now belongs to field {}: one column would mix two meanings", other.last().map_or(0, FieldDescriptor::number)),
            );
            return;
        }
        findings.push(
            if timestamp { DruidRule::TimestampChanged } else { DruidRule::DimensionDeleted },
            Severity::Error,
            name,
            Records::Both,
            lost,
            (old_leaf, true),
            &format!("it reads `{path}`, which was deleted"),
        );
        return;
    };
    let new_leaf = after.last().expect("same length");
    let new_path: Vec<&str> = after.iter().map(FieldDescriptor::json_name).collect();
    let read: Vec<String> = FieldPath::parse(expected).segments().iter().map(ToString::to_string).collect();
    // A map key ends the walk: compare the fields' part of the path.
    let read: Vec<&str> = read.iter().take(new_path.len()).map(String::as_str).collect();
    if new_path != read {
        // The field now has another name; does the column's path name something else?
        let rule = match walk(new_message, expected) {
            Some(other)
                if other
                    .iter()
                    .map(FieldDescriptor::number)
                    .ne(before.iter().map(FieldDescriptor::number)) =>
            {
                DruidRule::DimensionMoved
            }
            _ if timestamp => DruidRule::TimestampChanged,
            _ => DruidRule::DimensionRenamed,
        };
        let message = if rule == DruidRule::DimensionMoved {
            &format!(
                "it reads `{expected}`, a name that now belongs to another field, while its field is now `{}`",
                new_path.join(".")
            )
        } else {
            &format!(
                "it reads `{expected}`, which is now `{}` (update dimensions.json, or keep the JSON name with json_name = \"{}\")",
                new_path.join("."),
                old_leaf.json_name()
            )
        };
        findings.push(rule, Severity::Error, name, Records::Both, lost, (new_leaf, false), message);
        return;
    }
    for (old_step, new_step) in before.iter().zip(&after).take(before.len() - 1) {
        if !old_step.is_list() && !old_step.is_map() && (new_step.is_list() || new_step.is_map()) {
            findings.push(
                DruidRule::PathParentRepeated,
                Severity::Error,
                name,
                Records::Both,
                lost,
                (new_step, false),
                &format!(
                    "`{}` on its path `{path}` became repeated or a map; the path no longer reads one value",
                    new_step.json_name()
                ),
            );
            return;
        }
    }
    leaf(findings, input, old_leaf, new_leaf);
}

/// The rules on the field a column reads, when the path still reaches it.
fn leaf(findings: &mut Findings<'_>, input: &Input, old: &FieldDescriptor, new: &FieldDescriptor) {
    let (name, path) = (input.column.as_str(), input.path.as_str());
    let timestamp = input.role == Role::Timestamp;
    let (kind_before, kind_after) = (Received::of(old), Received::of(new));
    let (list_before, list_after) = (old.is_list(), new.is_list());
    let at = (new, false);
    if kind_before != kind_after {
        let (rule, stores) = if timestamp {
            (DruidRule::TimestampChanged, "no row: the timestamp no longer parses with the configured format")
        } else if input.role == Role::Metric && !kind_after.numeric() {
            (DruidRule::MetricNotNumeric, "0 or null in the aggregate")
        } else {
            (DruidRule::DimensionTypeChanged, "other values")
        };
        findings.push(
            rule,
            Severity::Error,
            name,
            Records::Both,
            stores,
            at,
            &format!(
                "it reads `{path}`, which Druid received as {} and would now receive as {}",
                kind_before.name(),
                kind_after.name()
            ),
        );
        return;
    }
    if list_before != list_after {
        let text_column = matches!(input.role, Role::Dimension(ColumnType::String)) && kind_after.textual();
        if list_after && text_column {
            findings.push(
                DruidRule::DimensionTypeChanged,
                Severity::Warning,
                name,
                Records::New,
                "a multi-value dimension when a record has several values",
                at,
                &format!("`{path}` became repeated; a one-element list is stored as the same string"),
            );
        } else if list_after {
            findings.push(
                DruidRule::DimensionTypeChanged,
                Severity::Error,
                name,
                Records::Both,
                "an unparseable record (a numeric column cannot hold a list)",
                at,
                &format!("`{path}` became repeated"),
            );
        } else {
            findings.push(
                DruidRule::DimensionTypeChanged,
                Severity::Error,
                name,
                Records::Old,
                "only the last value of each list",
                at,
                &format!("`{path}` is no longer repeated"),
            );
        }
        return;
    }
    match (old.kind(), new.kind()) {
        (Kind::Enum(before), Kind::Enum(after)) => {
            let mut changed = Vec::new();
            for value in before.values() {
                match after.get_value(value.number()) {
                    Some(now) if now.name() == value.name() => {}
                    Some(now) => changed.push(format!("{} is now {}", value.name(), now.name())),
                    None => changed.push(format!(
                        "{} ({}) is gone: stored as UNKNOWN_ENUM_VALUE_{}_{}",
                        value.name(),
                        value.number(),
                        after.name(),
                        value.number()
                    )),
                }
            }
            if !changed.is_empty() {
                findings.push(
                    DruidRule::EnumValueChanged,
                    Severity::Error,
                    name,
                    Records::Old,
                    "other values for the same records (Druid stores enum names), and filters on the old names match nothing",
                    at,
                    &format!("enum `{}`: {}", after.full_name(), changed.join(", ")),
                );
            }
        }
        (before, after) if kind_before.numeric() && !same_numbers(&before, &after) => {
            findings.push(
                DruidRule::NumberChanged,
                Severity::Error,
                name,
                Records::Old,
                "other numbers for the same records",
                at,
                &format!(
                    "`{path}` changed from {} to {}; the same bytes decode to other numbers",
                    kind_name(&before),
                    kind_name(&after)
                ),
            );
        }
        _ => {}
    }
    if !list_before && !old.is_map() && kind_before.scalar() {
        match (explicit(old), explicit(new)) {
            (true, false) => findings.push(
                DruidRule::PresenceChanged,
                Severity::Error,
                name,
                Records::Old,
                "null where it stored an explicit zero, false or empty value",
                at,
                &format!("`{path}` lost explicit presence (`optional` removed, or out of a oneof)"),
            ),
            (false, true) => findings.push(
                DruidRule::PresenceChanged,
                Severity::Warning,
                name,
                Records::New,
                "0 (false, \"\") where it stored null, when a producer sets a zero",
                at,
                &format!("`{path}` gained explicit presence (`optional` added, or into a oneof)"),
            ),
            _ => {}
        }
    }
}

/// New fields (or fields whose type changed) that Druid 33 cannot convert, anywhere in the
/// record: Druid converts the whole message, not only the columns it keeps.
fn undecodable_fields(
    findings: &mut Findings<'_>,
    old: &MessageDescriptor,
    new: &MessageDescriptor,
    seen: &mut BTreeSet<String>,
) {
    if !seen.insert(new.full_name().to_owned()) {
        return;
    }
    for field in new.fields() {
        let before = old.get_field(field.number());
        if let Some((failure, why)) = crate::decoding::failure(&field)
            && before.as_ref().is_none_or(|before| crate::decoding::failure(before).is_none())
        {
            findings.push(
                DruidRule::FieldUndecodable,
                Severity::Error,
                "",
                Records::New,
                failure.stores(),
                (&field, false),
                &format!("`{}.{}`: {why}, even though no column reads it", new.name(), field.json_name()),
            );
        }
        // A new message field: everything inside it is new.
        if let (Kind::Message(inner), None) = (field.kind(), &before)
            && !field.is_map()
            && !inner.full_name().starts_with("google.protobuf.")
        {
            for (path, inner_field, failure, why) in crate::decoding::failures(&inner) {
                findings.push(
                    DruidRule::FieldUndecodable,
                    Severity::Error,
                    "",
                    Records::New,
                    failure.stores(),
                    (&inner_field, false),
                    &format!("`{}.{path}` (in the new field `{}`): {why}", new.name(), field.json_name()),
                );
            }
        }
        if let (Kind::Message(inner), Some(before)) = (field.kind(), before)
            && let Kind::Message(old_inner) = before.kind()
            && !field.is_map()
        {
            undecodable_fields(findings, &old_inner, &inner, seen);
        }
    }
}
