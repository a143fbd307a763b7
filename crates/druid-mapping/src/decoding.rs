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

/// Why Druid 33 cannot convert a record that sets `field`, if it cannot.
pub fn failure(field: &FieldDescriptor) -> Option<(Failure, &'static str)> {
    if field.is_map() {
        let Kind::Message(entry) = field.kind() else { return None };
        return (!matches!(entry.map_entry_key_field().kind(), Kind::String)).then_some((
            Failure::TaskFailure,
            "Druid 33 casts map keys to strings: a map with int or bool keys throws",
        ));
    }
    match field.kind() {
        Kind::Message(message) if message.full_name() == "google.protobuf.Struct" && !field.is_list() => {
            Some((
                Failure::TaskFailure,
                "Druid 33 cannot convert a singular google.protobuf.Struct (it throws a ClassCastException)",
            ))
        }
        Kind::Message(message) if message.full_name() == "google.protobuf.Any" => {
            Some((Failure::Unparseable, "Druid 33 cannot print a google.protobuf.Any without its type"))
        }
        _ => None,
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
