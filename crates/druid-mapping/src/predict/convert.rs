//! Druid 33's protobuf converter, as behaviour: a decoded message becomes a map of JSON names
//! to plain Java values (docs/druid-protobuf.md, "From a record to a row"). The local stack's
//! stand-in (`scripts/druid/protobuf/.../MessageConverter.java`) follows the same rules; the
//! conformance suite (`tests/e2e`, `conformance`) checks both against each other cell by cell.

use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MapKey, ReflectMessage, Syntax, Value};

use super::java::{Java, JavaMap};
use super::wire::Orders;

/// What the JVM says when Druid 33 converts a singular `google.protobuf.Struct`.
const STRUCT_FAILURE: &str = "java.lang.ClassCastException: class java.util.Collections$UnmodifiableRandomAccessList cannot be cast to class com.google.protobuf.Message (google.protobuf.Struct; apache/druid#18405)";

/// Why a record does not become a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A parse exception: the record is counted unparseable and ingestion goes on.
    Unparseable(String),
    /// Any other exception: the ingestion task fails.
    TaskFailure(String),
}

/// The converted message: set fields only, in a `HashMap` sized for them. `orders` gives the
/// wire order of map entries (read from the record's bytes); without it, keys go in sorted
/// order, which differs from Druid's only where two keys share a hash bucket.
pub fn message(message: &DynamicMessage, orders: Option<&Orders>) -> Result<JavaMap, Failure> {
    let mut fields: Vec<(FieldDescriptor, &Value)> = message.fields().collect();
    // protobuf-java lists set fields by number.
    fields.sort_by_key(|(field, _)| field.number());
    let fields: Vec<(FieldDescriptor, &Value)> =
        fields.into_iter().filter(|(field, value)| !closed_enum_unknown(field, value)).collect();
    let mut out = JavaMap::with_expected_size(fields.len());
    for (field, value) in fields {
        out.insert(field.json_name().to_owned(), self::field(&field, value, orders)?);
    }
    Ok(out)
}

/// A closed (proto2) enum keeps an unknown number in the unknown fields: the field is unset.
fn closed_enum_unknown(field: &FieldDescriptor, value: &Value) -> bool {
    let Kind::Enum(enumeration) = field.kind() else { return false };
    if enumeration.parent_file().syntax() != Syntax::Proto2 {
        return false;
    }
    match value {
        Value::EnumNumber(number) => enumeration.get_value(*number).is_none(),
        Value::List(items) => {
            !items.is_empty()
                && items
                    .iter()
                    .all(|item| matches!(item, Value::EnumNumber(n) if enumeration.get_value(*n).is_none()))
        }
        _ => false,
    }
}

fn field(field: &FieldDescriptor, value: &Value, orders: Option<&Orders>) -> Result<Java, Failure> {
    // Well-known types are special only when the field itself holds one message.
    if let Value::Message(inner) = value
        && let Some(special) = well_known(inner)?
    {
        return Ok(special);
    }
    let number = field.number();
    match value {
        Value::Map(entries) => map(field, entries, orders.and_then(|orders| orders.maps.get(&number))),
        Value::List(items) => list(field, items, orders),
        Value::Message(inner) => {
            Ok(Java::Map(message(inner, orders.and_then(|orders| orders.child(number)))?))
        }
        single_value => single(field, single_value),
    }
}

fn list(field: &FieldDescriptor, items: &[Value], orders: Option<&Orders>) -> Result<Java, Failure> {
    let closed = match field.kind() {
        Kind::Enum(enumeration) if enumeration.parent_file().syntax() == Syntax::Proto2 => Some(enumeration),
        _ => None,
    };
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        if let (Some(enumeration), Value::EnumNumber(number)) = (&closed, item)
            && enumeration.get_value(*number).is_none()
        {
            continue;
        }
        out.push(match item {
            Value::Message(inner) => {
                Java::Map(message(inner, orders.and_then(|orders| orders.element(field.number(), index)))?)
            }
            other => single(field, other)?,
        });
    }
    Ok(Java::List(out))
}

fn map(
    field: &FieldDescriptor,
    entries: &std::collections::HashMap<MapKey, Value>,
    order: Option<&Vec<MapKey>>,
) -> Result<Java, Failure> {
    let Kind::Message(entry) = field.kind() else {
        return Err(Failure::Unparseable("Invalid map field.".into()));
    };
    let value_field = entry.map_entry_value_field();
    let mut keys: Vec<&MapKey> = match order {
        Some(order) => order.iter().filter(|key| entries.contains_key(key)).collect(),
        None => Vec::new(),
    };
    if keys.len() != entries.len() {
        keys = entries.keys().collect();
        keys.sort();
    }
    let mut out = JavaMap::with_expected_size(entries.len());
    for key in keys {
        let MapKey::String(text) = key else {
            // Druid casts the converted key to String.
            let class = match key {
                MapKey::Bool(_) => "java.lang.Boolean",
                MapKey::I32(_) | MapKey::U32(_) => "java.lang.Integer",
                _ => "java.lang.Long",
            };
            return Err(Failure::TaskFailure(format!(
                "java.lang.ClassCastException: class {class} cannot be cast to class java.lang.String ({class} and java.lang.String are in module java.base of loader 'bootstrap') (map field {})",
                field.full_name()
            )));
        };
        out.insert(text.clone(), single(&value_field, &entries[key])?);
    }
    Ok(Java::Map(out))
}

fn single(field: &FieldDescriptor, value: &Value) -> Result<Java, Failure> {
    Ok(match value {
        Value::Bool(value) => Java::Bool(*value),
        Value::I32(value) => Java::Int(*value),
        Value::I64(value) => Java::Long(*value),
        // protobuf-java has no unsigned types: the bits are read as signed.
        Value::U32(value) => Java::Int(i32::from_ne_bytes(value.to_ne_bytes())),
        Value::U64(value) => Java::Long(i64::from_ne_bytes(value.to_ne_bytes())),
        Value::F32(value) => Java::Float(*value),
        Value::F64(value) => Java::Double(*value),
        Value::String(value) => Java::Str(value.clone()),
        Value::Bytes(value) => Java::Bytes(value.to_vec()),
        Value::EnumNumber(number) => {
            let Kind::Enum(enumeration) = field.kind() else { return Ok(Java::Null) };
            if enumeration.full_name() == "google.protobuf.NullValue" {
                Java::Null
            } else {
                match enumeration.get_value(*number) {
                    Some(known) => Java::Str(known.name().to_owned()),
                    None => Java::Str(format!("UNKNOWN_ENUM_VALUE_{}_{number}", enumeration.name())),
                }
            }
        }
        Value::Message(inner) => Java::Map(message(inner, None)?),
        // A map or list where a single value is expected: a Struct's `fields` read as one
        // message.
        Value::List(_) | Value::Map(_) => {
            return Err(Failure::TaskFailure(STRUCT_FAILURE.into()));
        }
    })
}

/// The conversion of a singular well-known-type field, or `None` for any other message.
fn well_known(message: &DynamicMessage) -> Result<Option<Java>, Failure> {
    let descriptor = message.descriptor();
    let name = descriptor.full_name();
    let by_name =
        |field: &str| descriptor.get_field_by_name(field).map(|f| (message.get_field(&f).into_owned(), f));
    Ok(Some(match name {
        "google.protobuf.DoubleValue"
        | "google.protobuf.FloatValue"
        | "google.protobuf.Int64Value"
        | "google.protobuf.UInt64Value"
        | "google.protobuf.Int32Value"
        | "google.protobuf.UInt32Value"
        | "google.protobuf.BoolValue"
        | "google.protobuf.StringValue"
        | "google.protobuf.BytesValue" => {
            let Some((value, field)) = by_name("value") else { return Ok(None) };
            single(&field, &value)?
        }
        "google.protobuf.Any" => {
            let url = match by_name("type_url") {
                Some((Value::String(url), _)) => url,
                _ => String::new(),
            };
            return Err(Failure::Unparseable(format!("Cannot find type for url: {url}")));
        }
        "google.protobuf.Timestamp" => {
            let (seconds, nanos) = seconds_nanos(message);
            Java::Str(timestamp(seconds, nanos).ok_or_else(|| {
                Failure::TaskFailure(format!(
                    "java.lang.IllegalArgumentException: Timestamp is not valid. Seconds ({seconds}) must be in range [-62,135,596,800, +253,402,300,799]. Nanos ({nanos}) must be in range [0, +999,999,999]."
                ))
            })?)
        }
        "google.protobuf.Duration" => {
            let (seconds, nanos) = seconds_nanos(message);
            Java::Str(duration(seconds, nanos).ok_or_else(|| {
                Failure::TaskFailure(format!(
                    "java.lang.IllegalArgumentException: Duration is not valid. Seconds ({seconds}) must be in range [-315,576,000,000, +315,576,000,000]. Nanos ({nanos}) must be in range [-999,999,999, +999,999,999]."
                ))
            })?)
        }
        "google.protobuf.FieldMask" => {
            let paths = match by_name("paths") {
                Some((Value::List(paths), _)) => paths,
                _ => Vec::new(),
            };
            let camel: Vec<String> = paths.iter().filter_map(|path| path.as_str()).map(lower_camel).collect();
            Java::Str(camel.join(","))
        }
        "google.protobuf.Struct" => {
            return Err(Failure::TaskFailure(STRUCT_FAILURE.into()));
        }
        "google.protobuf.Value" => {
            let mut set: Vec<(FieldDescriptor, &Value)> = message.fields().collect();
            set.sort_by_key(|(field, _)| field.number());
            match set.first() {
                None => Java::Null,
                Some((field, value)) => single(field, value)?,
            }
        }
        "google.protobuf.ListValue" => {
            let Some((Value::List(values), field)) = by_name("values") else { return Ok(None) };
            let mut out = Vec::with_capacity(values.len());
            for value in &values {
                out.push(single(&field, value)?);
            }
            Java::List(out)
        }
        _ => return Ok(None),
    }))
}

fn seconds_nanos(message: &DynamicMessage) -> (i64, i32) {
    let descriptor = message.descriptor();
    let seconds = descriptor
        .get_field_by_name("seconds")
        .and_then(|field| message.get_field(&field).as_i64())
        .unwrap_or(0);
    let nanos = descriptor
        .get_field_by_name("nanos")
        .and_then(|field| message.get_field(&field).as_i32())
        .unwrap_or(0);
    (seconds, nanos)
}

/// `Timestamps.toString`: RFC 3339 in UTC, 0, 3, 6 or 9 fraction digits; `None` out of range.
pub(crate) fn timestamp(seconds: i64, nanos: i32) -> Option<String> {
    if !(-62_135_596_800..=253_402_300_799).contains(&seconds) || !(0..=999_999_999).contains(&nanos) {
        return None;
    }
    let instant = jiff::Timestamp::new(seconds, nanos).ok()?;
    let civil = jiff::tz::TimeZone::UTC.to_datetime(instant);
    let mut text = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        civil.year(),
        civil.month(),
        civil.day(),
        civil.hour(),
        civil.minute(),
        civil.second()
    );
    text.push_str(&fraction(nanos));
    text.push('Z');
    Some(text)
}

/// `Durations.toString`: `"1.5s"`, `"-0.000000001s"`; `None` out of range or signs disagree.
pub(crate) fn duration(seconds: i64, nanos: i32) -> Option<String> {
    let valid = (-315_576_000_000..=315_576_000_000).contains(&seconds)
        && (-999_999_999..=999_999_999).contains(&nanos)
        && !(seconds < 0 && nanos > 0)
        && !(seconds > 0 && nanos < 0);
    if !valid {
        return None;
    }
    let sign = if seconds < 0 || nanos < 0 { "-" } else { "" };
    Some(format!("{sign}{}{}s", seconds.unsigned_abs(), fraction(nanos.abs())))
}

/// `.123`, `.123456` or `.123456789` (as few groups of three as exact), or nothing for 0.
fn fraction(nanos: i32) -> String {
    if nanos == 0 {
        String::new()
    } else if nanos % 1_000_000 == 0 {
        format!(".{:03}", nanos / 1_000_000)
    } else if nanos % 1_000 == 0 {
        format!(".{:06}", nanos / 1_000)
    } else {
        format!(".{nanos:09}")
    }
}

/// FieldMask's JSON form of one path: `foo_bar.baz_qux` becomes `fooBar.bazQux`.
fn lower_camel(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut upper = false;
    for c in path.chars() {
        if c == '_' {
            upper = true;
        } else {
            out.push(if upper { c.to_ascii_uppercase() } else { c });
            upper = false;
        }
    }
    out
}

/// What the converter makes of `field` in a record that sets it to a typical value (one
/// element, one map entry with the default key, an empty message): the Java value, or why the
/// record fails. `validate` reads what Druid receives for a field from here, so the schema-level
/// checks and the row predictor cannot disagree.
pub fn probe(field: &FieldDescriptor) -> Result<Java, Failure> {
    let mut record = DynamicMessage::new(field.parent_message().clone());
    record.set_field(field, sample(field));
    let converted = message(&record, None)?;
    Ok(converted.get(field.json_name()).cloned().unwrap_or(Java::Null))
}

fn sample(field: &FieldDescriptor) -> Value {
    if field.is_map() {
        let Kind::Message(entry) = field.kind() else { return Value::default_value_for_field(field) };
        let key = MapKey::default_value(&entry.map_entry_key_field().kind());
        let value = sample_single(&entry.map_entry_value_field().kind());
        return Value::Map([(key, value)].into_iter().collect());
    }
    let one = sample_single(&field.kind());
    if field.is_list() { Value::List(vec![one]) } else { one }
}

fn sample_single(kind: &Kind) -> Value {
    match kind {
        Kind::Double => Value::F64(1.5),
        Kind::Float => Value::F32(1.5),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(1),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(1),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(1),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(1),
        Kind::Bool => Value::Bool(true),
        Kind::String => Value::String("x".into()),
        Kind::Bytes => Value::Bytes(vec![1].into()),
        Kind::Enum(enumeration) => {
            Value::EnumNumber(enumeration.values().map(|value| value.number()).find(|n| *n != 0).unwrap_or(0))
        }
        Kind::Message(message) => Value::Message(DynamicMessage::new(message.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_durations_print_like_protobuf_util() {
        assert_eq!(timestamp(0, 0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(1_700_000_000, 5_000_000).unwrap(), "2023-11-14T22:13:20.005Z");
        assert_eq!(timestamp(-62_135_596_800, 1).unwrap(), "0001-01-01T00:00:00.000000001Z");
        assert_eq!(timestamp(253_402_300_800, 0), None);
        assert_eq!(duration(1, 500_000_000).unwrap(), "1.500s");
        assert_eq!(duration(0, -1).unwrap(), "-0.000000001s");
        assert_eq!(duration(-3, 0).unwrap(), "-3s");
        assert_eq!(duration(1, -1), None);
        assert_eq!(lower_camel("foo_bar.baz"), "fooBar.baz");
    }
}
