//! The Druid rules of the compatibility check: what the old mapping ingests must still
//! arrive, under the same name, with a value Druid stores the same way. They run beside buf's
//! rules ([`proto_schema::compat`]) and add `DRUID`-category findings to the same report.

use std::collections::BTreeSet;

use proto_schema::compat::{Finding, Mode, Report};
use proto_schema::{CompiledSchema, Severity};
use serde::Serialize;

use crate::dimensions::DimensionsConfig;
use crate::path::FieldPath;
use crate::validate;

/// A Druid rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DruidRule {
    /// The record's message type is gone.
    MessageDeleted,
    /// A field feeding a column was renamed: the column becomes null.
    DimensionRenamed,
    /// A field feeding a column was deleted: the column becomes null.
    DimensionDeleted,
    /// The path now names another field number: one column, two meanings.
    DimensionMoved,
    /// The value Druid receives changed kind (number, string, list...).
    DimensionTypeChanged,
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
            Self::FieldNotIngested => "DRUID_FIELD_NOT_INGESTED",
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
}

/// buf's rules under `mode`, plus the Druid rules when `druid` is given: the check
/// `druidctl check` and the deploy gate run.
pub fn check(
    old: &CompiledSchema,
    new: &CompiledSchema,
    mode: Mode,
    druid: Option<DruidMapping<'_>>,
) -> Report {
    let report = proto_schema::compat::check(old, new, mode);
    match druid {
        Some(mapping) => report.with(druid_findings(old, new, mapping)),
        None => report,
    }
}

/// A path as field numbers (and map keys), independent of names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Field(String, u32),
    Key(String),
}

/// The numbers a dotted JSON path goes through, or `None` if it does not resolve.
fn chain(message: &prost_reflect::MessageDescriptor, path: &str) -> Option<Vec<Step>> {
    let mut current = message.clone();
    let mut steps = Vec::new();
    let path = FieldPath::parse(path);
    let mut segments = path.segments().iter();
    while let Some(segment) = segments.next() {
        let field = current.fields().find(|field| field.json_name() == segment.as_str())?;
        steps.push(Step::Field(current.full_name().to_owned(), field.number()));
        if field.is_map() {
            steps.extend(segments.next().map(|key| Step::Key(key.to_owned())));
            break;
        }
        match field.kind() {
            prost_reflect::Kind::Message(inner) if !field.is_list() => current = inner,
            _ => break,
        }
    }
    Some(steps)
}

/// Follows `steps` by number in `message`: the JSON path that now reaches the same field.
fn follow(
    message: &prost_reflect::MessageDescriptor,
    steps: &[Step],
) -> Option<(String, prost_reflect::FieldDescriptor)> {
    let mut current = message.clone();
    let mut path = Vec::new();
    let mut last = None;
    for step in steps {
        match step {
            Step::Field(_, number) => {
                let field = current.get_field(*number)?;
                path.push(field.json_name().to_owned());
                if let prost_reflect::Kind::Message(inner) = field.kind() {
                    current = inner;
                }
                last = Some(field);
            }
            Step::Key(key) => path.push(key.clone()),
        }
    }
    Some((path.join("."), last?))
}

/// The Druid rules alone: what the old mapping ingests must still arrive, under the same name,
/// with a value Druid stores the same way.
pub fn druid_findings(old: &CompiledSchema, new: &CompiledSchema, mapping: DruidMapping<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let (old_side, new_side) = (old, new);
    let Some(old_message) = old.pool().get_message_by_name(mapping.message) else { return findings };
    let locate = |side: &CompiledSchema, descriptor: &prost_reflect::FieldDescriptor| {
        let file = descriptor.parent_file().name().to_owned();
        let (line, column) = side.locate(&file, descriptor.path());
        (file, line, column, std::ptr::eq(side, old_side))
    };
    let mut push = |rule: DruidRule, severity: Severity, at: (String, u32, u32, bool), message: String| {
        findings.push(Finding {
            rule: rule.id(),
            category: "DRUID",
            severity,
            file: at.0,
            line: at.1,
            column: at.2,
            message,
            in_old: at.3,
        });
    };
    let Some(new_message) = new.pool().get_message_by_name(mapping.message) else {
        let file = old_message.parent_file().name().to_owned();
        let (line, column) = old_side.locate(&file, old_message.path());
        push(
            DruidRule::MessageDeleted,
            Severity::Error,
            (file, line, column, true),
            format!("`{}` is the record type Druid decodes; it no longer exists", mapping.message),
        );
        return findings;
    };
    let dimensions = mapping.dimensions;
    let mut inputs: Vec<(String, String)> = dimensions
        .dimensions
        .iter()
        .map(|dimension| (format!("dimension `{}`", dimension.name), dimension.source().to_string()))
        .collect();
    inputs.push((
        format!("timestamp `{}`", dimensions.timestamp.column),
        dimensions.timestamp.source().to_string(),
    ));
    let mut ingested: BTreeSet<u32> = BTreeSet::new();
    for (subject, path) in inputs {
        // Only what the old schema really delivered counts (validate reports the rest).
        let (Some(before), Some(old_chain)) =
            (validate::resolve_field(&old_message, &path), chain(&old_message, &path))
        else {
            continue;
        };
        if let Some(Step::Field(_, number)) = old_chain.first() {
            ingested.insert(*number);
        }
        let new_chain = chain(&new_message, &path);
        match (validate::resolve_field(&new_message, &path), new_chain) {
            (None, _) | (_, None) => match follow(&new_message, &old_chain) {
                Some((new_path, field)) => push(
                    DruidRule::DimensionRenamed,
                    Severity::Error,
                    locate(new_side, &field),
                    format!(
                        "{subject} reads `{path}`, which is now `{new_path}`: Druid would store null in every row (update dimensions.json, or keep the old JSON name with json_name = \"{}\")",
                        before.field.json_name()
                    ),
                ),
                None => push(
                    DruidRule::DimensionDeleted,
                    Severity::Error,
                    locate(old_side, &before.field),
                    format!(
                        "{subject} reads `{path}`, which was deleted: Druid would store null in every row"
                    ),
                ),
            },
            (Some(after), Some(new_chain)) if new_chain != old_chain => push(
                DruidRule::DimensionMoved,
                Severity::Error,
                locate(new_side, &after.field),
                format!(
                    "{subject} reads `{path}`, which now names field {} instead of field {}: one column would mix two meanings",
                    after.field.number(),
                    before.field.number()
                ),
            ),
            (Some(after), Some(_)) if after.value != before.value || after.repeated != before.repeated => {
                push(
                    DruidRule::DimensionTypeChanged,
                    Severity::Error,
                    locate(new_side, &after.field),
                    format!(
                        "{subject} reads `{path}`, which Druid received as {} and would now receive as {}",
                        before.describe(),
                        after.describe()
                    ),
                );
            }
            (Some(_), Some(_)) => {}
        }
    }
    for field in new_message.fields() {
        if old_message.get_field(field.number()).is_some() || ingested.contains(&field.number()) {
            continue;
        }
        push(
            DruidRule::FieldNotIngested,
            Severity::Info,
            locate(new_side, &field),
            format!(
                "new field `{}` is not ingested: no dimension reads it (add one to dimensions.json to store it)",
                field.json_name()
            ),
        );
    }
    findings
}
