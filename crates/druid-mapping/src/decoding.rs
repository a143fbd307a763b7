//! What Druid 33's protobuf converter cannot turn into a row. Druid converts the **whole**
//! message before it looks at any column, so a field no dimension reads can still stop
//! ingestion (docs/druid-protobuf.md):
//!
//! - a singular `google.protobuf.Struct`, or a map whose keys are not strings, makes the
//!   converter throw an exception that is not a parse exception: the ingestion **task fails**
//!   on the first record that sets it;
//! - a set `google.protobuf.Any` cannot be printed without its type: the **record** is
//!   unparseable.
//!
//! Later releases changed the converter's handling of `Struct` and nested maps; these are the
//! rules of Druid 33, the release druidctl models.

use std::collections::BTreeSet;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};

/// What happens to a record that sets the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The ingestion task fails.
    TaskFailure,
    /// The record is counted unparseable.
    Unparseable,
}

impl Failure {
    /// What Druid stores, in words.
    pub fn stores(self) -> &'static str {
        match self {
            Self::TaskFailure => "a failed ingestion task",
            Self::Unparseable => "an unparseable record",
        }
    }
}

/// Why Druid 33 cannot convert a record that sets `field`, if it cannot: the row predictor's
/// converter is run on a record that sets it ([`crate::predict::convert::probe`]), so this and
/// the prediction of real records cannot disagree.
pub fn failure(field: &FieldDescriptor) -> Option<(Failure, &'static str)> {
    match crate::predict::convert::probe(field) {
        Ok(_) => None,
        Err(crate::predict::Failure::TaskFailure(_)) => {
            Some((Failure::TaskFailure, task_failure_reason(field)))
        }
        Err(crate::predict::Failure::Unparseable(_)) => {
            Some((Failure::Unparseable, "Druid 33 cannot print a google.protobuf.Any without its type"))
        }
    }
}

fn task_failure_reason(field: &FieldDescriptor) -> &'static str {
    if field.is_map() {
        "Druid casts map keys to strings: a map with int or bool keys throws a ClassCastException"
    } else {
        "Druid 33 and 34 cannot convert a singular google.protobuf.Struct (a ClassCastException; apache/druid#18405, fixed in 35.0.0, usable from 36.0.0)"
    }
}

/// Every field reachable from `message` (nested messages followed once) that Druid 33 cannot
/// convert, with its path of JSON names.
pub fn failures(message: &MessageDescriptor) -> Vec<(String, FieldDescriptor, Failure, &'static str)> {
    let mut found = Vec::new();
    walk(message, "", &mut BTreeSet::new(), &mut found);
    found
}

fn walk(
    message: &MessageDescriptor,
    prefix: &str,
    seen: &mut BTreeSet<String>,
    found: &mut Vec<(String, FieldDescriptor, Failure, &'static str)>,
) {
    if !seen.insert(message.full_name().to_owned()) {
        return;
    }
    for field in message.fields() {
        let path = format!("{prefix}{}", field.json_name());
        if let Some((failure, why)) = failure(&field) {
            found.push((path.clone(), field.clone(), failure, why));
            continue;
        }
        if let Kind::Message(inner) = field.kind()
            && !field.is_map()
            && !inner.full_name().starts_with("google.protobuf.")
        {
            walk(&inner, &format!("{path}."), seen, found);
        }
    }
}
