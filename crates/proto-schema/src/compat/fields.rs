//! The rules on a pair of fields (same message, same number) or extensions (same extendee,
//! same number): name, JSON name, type in each category, cardinality and presence, oneof,
//! default, and the per-language options buf compares.

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorProto};

use super::index::{
    self, FIELD_DEFAULT, FIELD_JSON_NAME, FIELD_LABEL, FIELD_NAME, FIELD_OPTIONS, FIELD_TYPE,
    FIELD_TYPE_NAME, Side, trim,
};
use super::{At, Checker};
use crate::rules::Rule;

/// Two fields with the same number, and where they are.
pub(super) struct Pair<'p> {
    /// `pkg.Message`, or `extension of pkg.Message`.
    pub owner: &'p str,
    pub old: &'p FieldDescriptorProto,
    pub new: &'p FieldDescriptorProto,
    /// The containing messages (`None` for extensions).
    pub old_message: Option<&'p DescriptorProto>,
    pub new_message: Option<&'p DescriptorProto>,
    pub old_file: &'p FileDescriptorProto,
    pub new_file: &'p FileDescriptorProto,
    pub new_path: Vec<i32>,
    /// Both fields belong to map entries (generated: no cardinality rules).
    pub map_entry: bool,
}

impl Pair<'_> {
    fn is_extension(&self) -> bool {
        self.old_message.is_none()
    }

    fn at(&self, part: i32) -> Vec<i32> {
        let mut path = self.new_path.clone();
        path.push(part);
        path
    }
}

/// How a field is present, as buf names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cardinality {
    Explicit,
    Implicit,
    Required,
    Repeated,
    Map,
}

impl Cardinality {
    fn of(field: &FieldDescriptorProto, file: &FileDescriptorProto, side: &Side<'_>) -> Self {
        match field.label() {
            Label::Repeated if field.r#type() == Type::Message && side.is_map_entry(field.type_name()) => {
                Self::Map
            }
            Label::Repeated => Self::Repeated,
            Label::Required => Self::Required,
            Label::Optional => {
                let message = matches!(field.r#type(), Type::Message | Type::Group);
                if !index::is_proto3(file)
                    || message
                    || field.proto3_optional()
                    || field.oneof_index.is_some()
                {
                    Self::Explicit
                } else {
                    Self::Implicit
                }
            }
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Explicit => "optional with explicit presence",
            Self::Implicit => "optional with implicit presence",
            Self::Required => "required",
            Self::Repeated => "repeated",
            Self::Map => "map",
        }
    }

    /// Binary encoding: singular fields read each other; repeated and maps too.
    fn wire_group(self) -> u8 {
        match self {
            Self::Explicit | Self::Implicit => 1,
            Self::Required => 2,
            Self::Repeated | Self::Map => 3,
        }
    }

    /// Binary and JSON: maps and lists are written differently in JSON.
    fn wire_json_group(self) -> u8 {
        match self {
            Self::Map => 4,
            other => other.wire_group(),
        }
    }
}

/// Binary encoding groups: a value of one type decodes as another type of its group.
pub(crate) fn wire_group(kind: Type) -> u8 {
    match kind {
        Type::Int32 | Type::Int64 | Type::Uint32 | Type::Uint64 | Type::Bool => 1,
        Type::Sint32 | Type::Sint64 => 2,
        Type::String => 3,
        Type::Bytes => 4,
        Type::Fixed32 | Type::Sfixed32 => 5,
        Type::Fixed64 | Type::Sfixed64 => 6,
        Type::Double => 7,
        Type::Float => 8,
        Type::Group => 9,
        Type::Message => 10,
        Type::Enum => 11,
    }
}

/// Binary and JSON groups: same binary group and the same JSON form (JSON quotes 64-bit
/// integers, names enum values, base64s bytes).
pub(crate) fn wire_json_group(kind: Type) -> u8 {
    match kind {
        Type::Int32 | Type::Uint32 => 1,
        Type::Int64 | Type::Uint64 => 2,
        Type::Fixed32 | Type::Sfixed32 => 3,
        Type::Fixed64 | Type::Sfixed64 => 4,
        Type::Bool => 5,
        Type::Sint32 => 6,
        Type::Sint64 => 7,
        Type::String => 8,
        Type::Bytes => 9,
        Type::Double => 10,
        Type::Float => 11,
        Type::Group => 12,
        Type::Message => 13,
        Type::Enum => 14,
    }
}

/// `int64`, `message`, `enum`, ... (buf's kind names).
fn kind_name(kind: Type) -> String {
    kind.as_str_name().trim_start_matches("TYPE_").to_ascii_lowercase()
}

fn is_64_bit_integer(kind: Type) -> bool {
    matches!(kind, Type::Int64 | Type::Sint64 | Type::Uint64 | Type::Fixed64 | Type::Sfixed64)
}

impl Checker<'_, '_> {
    pub(super) fn field_pair(&mut self, pair: &Pair<'_>) {
        let (old, new) = (pair.old, pair.new);
        let file = pair.new_file.name().to_owned();
        let label = format!("field {} of `{}`", new.number(), pair.owner);
        let name = |field: &FieldDescriptorProto| {
            if pair.is_extension() {
                field.extendee().to_owned() + "." + field.name()
            } else {
                field.name().to_owned()
            }
        };
        if name(old) != name(new) {
            self.report(
                Rule::FieldSameName,
                At::New,
                &file,
                &pair.at(FIELD_NAME),
                format!("{label} was renamed from `{}` to `{}`", old.name(), new.name()),
            );
        }
        if !pair.is_extension() && old.json_name() != new.json_name() {
            self.report(
                Rule::FieldSameJsonName,
                At::New,
                &file,
                &pair.at(FIELD_JSON_NAME),
                format!("{label}: JSON name changed from `{}` to `{}`", old.json_name(), new.json_name()),
            );
        }
        self.field_type(pair, &label, &file);
        if !pair.map_entry {
            self.cardinality(pair, &label, &file);
        }
        if !pair.is_extension() {
            self.oneof(pair, &label, &file);
        }
        self.default(pair, &label, &file);
        self.language_options(pair, &label, &file);
    }

    fn field_type(&mut self, pair: &Pair<'_>, label: &str, file: &str) {
        let (old, new) = (pair.old, pair.new);
        let (old_kind, new_kind) = (old.r#type(), new.r#type());
        let named = |kind| matches!(kind, Type::Message | Type::Group | Type::Enum);
        let path = pair.at(if named(new_kind) { FIELD_TYPE_NAME } else { FIELD_TYPE });
        let describe = |field: &FieldDescriptorProto| {
            if named(field.r#type()) { trim(field.type_name()).to_owned() } else { kind_name(field.r#type()) }
        };
        let changed = format!("{label}: type changed from `{}` to `{}`", describe(old), describe(new));
        let same_name = old.type_name() == new.type_name();
        if old_kind != new_kind || (named(new_kind) && !same_name) {
            self.report(Rule::FieldSameType, At::New, file, &path, changed.clone());
        }
        let string_to_bytes = old_kind == Type::String && new_kind == Type::Bytes;
        let rules = [
            (Rule::FieldWireCompatibleType, wire_group as fn(Type) -> u8, "old records no longer decode"),
            (Rule::FieldWireJsonCompatibleType, wire_json_group, "the binary or JSON encoding changes"),
        ];
        for (rule, group, consequence) in rules {
            let compatible = if group(old_kind) == group(new_kind) {
                match new_kind {
                    Type::Enum if !same_name => self.enum_compatible(old, new),
                    Type::Message | Type::Group => same_name,
                    _ => true,
                }
            } else {
                // Every string is valid bytes; the reverse needs UTF-8.
                rule == Rule::FieldWireCompatibleType && string_to_bytes
            };
            if !compatible {
                self.report(rule, At::New, file, &path, format!("{changed}: {consequence}"));
            }
        }
    }

    /// An enum replaced by another enum of the same short name that has every old value.
    fn enum_compatible(&self, old: &FieldDescriptorProto, new: &FieldDescriptorProto) -> bool {
        let (Some(before), Some(after)) =
            (self.old.enumeration(old.type_name()), self.new.enumeration(new.type_name()))
        else {
            return false;
        };
        before.name() == after.name()
            && before.value.iter().all(|value| {
                after
                    .value
                    .iter()
                    .any(|candidate| candidate.name() == value.name() && candidate.number() == value.number())
            })
    }

    fn cardinality(&mut self, pair: &Pair<'_>, label: &str, file: &str) {
        let before = Cardinality::of(pair.old, pair.old_file, self.old);
        let after = Cardinality::of(pair.new, pair.new_file, self.new);
        if before == after {
            return;
        }
        let path = pair.at(FIELD_LABEL);
        let message = format!("{label} changed from {} to {}", before.name(), after.name());
        self.report(Rule::FieldSameCardinality, At::New, file, &path, message.clone());
        if before.wire_json_group() != after.wire_json_group() {
            self.report(
                Rule::FieldWireJsonCompatibleCardinality,
                At::New,
                file,
                &path,
                format!("{message}: JSON and binary readers disagree"),
            );
        }
        if before.wire_group() != after.wire_group() {
            self.report(
                Rule::FieldWireCompatibleCardinality,
                At::New,
                file,
                &path,
                format!("{message}: old records no longer decode"),
            );
        }
    }

    fn oneof(&mut self, pair: &Pair<'_>, label: &str, file: &str) {
        let oneof = |message: Option<&DescriptorProto>, field: &FieldDescriptorProto| -> Option<String> {
            if field.proto3_optional() {
                return None;
            }
            let index = usize::try_from(field.oneof_index?).ok()?;
            message?.oneof_decl.get(index).map(|oneof| oneof.name().to_owned())
        };
        let (before, after) = (oneof(pair.old_message, pair.old), oneof(pair.new_message, pair.new));
        if before != after {
            let describe = |oneof: &Option<String>| {
                oneof.as_ref().map_or("no oneof".to_owned(), |name| format!("oneof `{name}`"))
            };
            self.report(
                Rule::FieldSameOneof,
                At::New,
                file,
                &pair.at(FIELD_NAME),
                format!("{label} moved from {} to {}", describe(&before), describe(&after)),
            );
        }
    }

    fn default(&mut self, pair: &Pair<'_>, label: &str, file: &str) {
        let can_have = |field: &FieldDescriptorProto, side: &Side<'_>| {
            field.label() != Label::Repeated
                && !matches!(field.r#type(), Type::Message | Type::Group)
                && !side.is_map_entry(field.type_name())
        };
        if !can_have(pair.old, self.old) || !can_have(pair.new, self.new) {
            return;
        }
        let (before, after) = (Default::of(pair.old, self.old), Default::of(pair.new, self.new));
        if before.is_zero() && after.is_zero() || before.equals(&after) {
            return;
        }
        self.report(
            Rule::FieldSameDefault,
            At::New,
            file,
            &pair.at(FIELD_DEFAULT),
            format!(
                "{label}: default changed from `{}` to `{}`",
                pair.old.default_value(),
                pair.new.default_value()
            ),
        );
    }

    /// jstype, C++ string type, Java and general UTF-8 validation.
    fn language_options(&mut self, pair: &Pair<'_>, label: &str, file: &str) {
        let (old, new) = (pair.old, pair.new);
        let (old_kind, new_kind) = (old.r#type(), new.r#type());
        let options = |field: &FieldDescriptorProto| field.options.clone().unwrap_or_default();
        let (old_options, new_options) = (options(old), options(new));
        let path = pair.at(FIELD_OPTIONS);
        if is_64_bit_integer(old_kind)
            && is_64_bit_integer(new_kind)
            && old_options.jstype() != new_options.jstype()
        {
            self.report(
                Rule::FieldSameJstype,
                At::New,
                file,
                &path,
                format!(
                    "{label}: jstype changed from {} to {}",
                    old_options.jstype().as_str_name(),
                    new_options.jstype().as_str_name()
                ),
            );
        }
        let text = |kind| matches!(kind, Type::String | Type::Bytes);
        if text(old_kind) && text(new_kind) && !pair.map_entry {
            use prost_types::field_options::CType;
            let (before, after) = (old_options.ctype(), new_options.ctype());
            let piece_to_string = before == CType::StringPiece && after == CType::String;
            if before != after && !piece_to_string {
                self.report(
                    Rule::FieldSameCppStringType,
                    At::New,
                    file,
                    &path,
                    format!(
                        "{label}: C++ string type changed from {} to {}",
                        before.as_str_name(),
                        after.as_str_name()
                    ),
                );
            }
        }
        if old_kind == Type::String && new_kind == Type::String {
            // proto3 strings are validated as UTF-8, proto2 strings are not (except in Java
            // when the file says java_string_check_utf8).
            fn verified(file: &FileDescriptorProto) -> bool {
                index::is_proto3(file)
            }
            fn java_verified(file: &FileDescriptorProto) -> bool {
                verified(file)
                    || file.options.as_ref().is_some_and(prost_types::FileOptions::java_string_check_utf8)
            }
            let describe = |verify: bool| if verify { "VERIFY" } else { "NONE" };
            for (rule, check, what) in [
                (
                    Rule::FieldSameUtf8Validation,
                    verified as fn(&FileDescriptorProto) -> bool,
                    "UTF-8 validation",
                ),
                (Rule::FieldSameJavaUtf8Validation, java_verified, "Java UTF-8 validation"),
            ] {
                let (before, after) = (check(pair.old_file), check(pair.new_file));
                if before != after {
                    self.report(
                        rule,
                        At::New,
                        file,
                        &path,
                        format!("{label}: {what} changed from {} to {}", describe(before), describe(after)),
                    );
                }
            }
        }
    }
}

/// A field's default value, compared as buf compares them: text with text, numbers as numbers
/// whatever their type (`1.0` = `1`), a float against a double at float precision.
enum Default {
    Text(String),
    Integer(i128),
    Float(f64, bool),
}

impl Default {
    fn of(field: &FieldDescriptorProto, side: &Side<'_>) -> Self {
        let text = field.default_value();
        match field.r#type() {
            Type::String | Type::Bytes => Self::Text(text.to_owned()),
            Type::Bool => Self::Integer(i128::from(text == "true")),
            Type::Enum => {
                let values = side
                    .enumeration(field.type_name())
                    .map(|enumeration| enumeration.value.as_slice())
                    .unwrap_or_default();
                let value = if text.is_empty() {
                    values.first()
                } else {
                    values.iter().find(|value| value.name() == text)
                };
                Self::Integer(value.map_or(0, |value| i128::from(value.number())))
            }
            Type::Float | Type::Double => {
                let number = match text {
                    "" => 0.0,
                    "inf" => f64::INFINITY,
                    "-inf" => f64::NEG_INFINITY,
                    "nan" => f64::NAN,
                    other => other.parse().unwrap_or(0.0),
                };
                Self::Float(number, field.r#type() == Type::Float)
            }
            _ => Self::Integer(text.parse().unwrap_or(0)),
        }
    }

    fn is_zero(&self) -> bool {
        match self {
            Self::Text(text) => text.is_empty(),
            Self::Integer(number) => *number == 0,
            Self::Float(number, _) => *number == 0.0 && number.is_sign_positive(),
        }
    }

    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss, clippy::float_cmp)]
    fn equals(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Text(a), Self::Text(b)) => a == b,
            (Self::Text(_), _) | (_, Self::Text(_)) => false,
            (Self::Integer(a), Self::Integer(b)) => a == b,
            (Self::Float(a, a_float), Self::Float(b, b_float)) if a_float != b_float => {
                (a.is_nan() && b.is_nan()) || (*a as f32) == (*b as f32)
            }
            (Self::Float(a, _), Self::Float(b, _)) => (a.is_nan() && b.is_nan()) || a == b,
            (Self::Integer(a), Self::Float(b, _)) | (Self::Float(b, _), Self::Integer(a)) => *a as f64 == *b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [Type; 18] = [
        Type::Double,
        Type::Float,
        Type::Int64,
        Type::Uint64,
        Type::Int32,
        Type::Fixed64,
        Type::Fixed32,
        Type::Bool,
        Type::String,
        Type::Group,
        Type::Message,
        Type::Bytes,
        Type::Uint32,
        Type::Enum,
        Type::Sfixed32,
        Type::Sfixed64,
        Type::Sint32,
        Type::Sint64,
    ];

    #[test]
    fn wire_json_is_never_weaker_than_wire() {
        // Whatever the binary encoding cannot read, "binary and JSON" cannot either: each
        // WIRE_JSON group lies inside one WIRE group.
        for old in KINDS {
            for new in KINDS {
                if wire_json_group(old) == wire_json_group(new) {
                    assert_eq!(wire_group(old), wire_group(new), "{old:?} -> {new:?}");
                }
            }
        }
        for cardinality in [
            Cardinality::Explicit,
            Cardinality::Implicit,
            Cardinality::Required,
            Cardinality::Repeated,
            Cardinality::Map,
        ] {
            for other in [
                Cardinality::Explicit,
                Cardinality::Implicit,
                Cardinality::Required,
                Cardinality::Repeated,
                Cardinality::Map,
            ] {
                if cardinality.wire_json_group() == other.wire_json_group() {
                    assert_eq!(cardinality.wire_group(), other.wire_group());
                }
            }
        }
        // The example: int64 -> sint64 breaks both; int64 -> uint64 neither.
        assert_ne!(wire_json_group(Type::Int64), wire_json_group(Type::Sint64));
        assert_eq!(wire_json_group(Type::Int64), wire_json_group(Type::Uint64));
    }
}
