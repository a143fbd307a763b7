//! The Druid rules, column by column: which old mapping's inputs a change reaches, and what
//! Druid stores for each afterwards (see the parent module).

use std::collections::BTreeSet;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use proto_schema::{CompiledSchema, Severity};

use super::{DruidFinding, DruidMapping, DruidRule, Records};
use crate::dimensions::{ColumnType, DimensionsConfig};
use crate::path::FieldPath;
use crate::validate::{self, Value};

/// What a column is, for the rules that depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Dimension(ColumnType),
    Timestamp,
    Metric,
}

pub(super) struct Input {
    column: String,
    role: Role,
    path: String,
}

/// The columns of the old mapping and the paths they read.
pub(super) fn inputs(dimensions: &DimensionsConfig) -> Vec<Input> {
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
pub(super) fn walk(message: &MessageDescriptor, path: &str) -> Option<Vec<FieldDescriptor>> {
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
pub(super) fn follow(message: &MessageDescriptor, old: &[FieldDescriptor]) -> Option<Vec<FieldDescriptor>> {
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
pub(super) enum Received {
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
pub(super) fn kind_name(kind: &Kind) -> String {
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
pub(super) fn same_numbers(old: &Kind, new: &Kind) -> bool {
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
pub(super) fn explicit(field: &FieldDescriptor) -> bool {
    field.supports_presence()
}

pub(super) struct Findings<'c> {
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
pub(super) fn column(
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
pub(super) fn leaf(findings: &mut Findings<'_>, input: &Input, old: &FieldDescriptor, new: &FieldDescriptor) {
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
pub(super) fn undecodable_fields(
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
