//! What schema changes really do to what Druid stores, measured on the local Druid: each
//! `druid_*` case of the compatibility corpus (crates/druid-mapping/tests/compat/corpus.txt) is
//! sampled twice through the Overlord's sampler (the cluster's own protobuf input format and
//! indexing, no task): records written with the old schema, read with the old schema and mapping,
//! then with the new ones. A case is damaging when any column of any row differs, or a row
//! appears or disappears. The Druid verdict of `druidctl check` must say the same.

use std::path::Path;

use druid_client::DruidClient;
use druid_client::sampler::SamplerResponse;
use druid_mapping::compat::{self, DruidMapping};
use druid_mapping::spec::{Descriptor, parsing};
use druid_mapping::{DimensionsConfig, Severity};
use prost::Message as _;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, Value as ProtoValue};
use proto_schema::CompiledSchema;
use proto_schema::compat::Mode;
use serde_json::{Value, json};

#[path = "../../crates/druid-mapping/tests/it/corpus_format.rs"]
#[allow(dead_code, clippy::all, clippy::pedantic)]
mod corpus_format;

use crate::support::{KAFKA, ROUTER};

/// Records per case: enough to go through every enum value and the interesting numbers.
const RECORDS: usize = 8;

/// Cases the local Druid cannot measure, with why: their verdict stands on Druid's source.
pub const NOT_MEASURED: &[(&str, &str)] = &[];

/// One measured case.
#[derive(Debug)]
pub struct Measured {
    pub case: String,
    /// Druid stored something else for the same records.
    pub damaged: bool,
    /// What differed (first differences), for people.
    pub differences: Vec<String>,
    /// What `druidctl check` said.
    pub verdict_damaging: bool,
    pub rules: Vec<String>,
}

pub fn cases() -> Vec<corpus_format::Case> {
    corpus_format::parse(include_str!("../../crates/druid-mapping/tests/compat/corpus.txt"))
        .into_iter()
        .filter(|case| case.name.starts_with("druid_") && case.dimensions.is_some())
        .filter(|case| case.message.as_deref() == Some("druid.v1.Tx"))
        .collect()
}

fn compile(dir: &Path, files: &[(String, String)]) -> CompiledSchema {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    CompiledSchema::compile_dir(dir).unwrap()
}

/// Measures `case` on the local Druid.
pub async fn measure(case: &corpus_format::Case, druid: &DruidClient) -> Measured {
    let dir = tempfile::tempdir().unwrap();
    let old = compile(&dir.path().join("old"), &case.old);
    let new = compile(&dir.path().join("new"), &case.new);
    let message = case.message.as_deref().unwrap();
    let dimensions = DimensionsConfig::parse(case.dimensions.as_deref().unwrap(), "dimensions").unwrap();
    let verdict = compat::check(
        &old,
        &new,
        Mode::Wire,
        Some(DruidMapping { message, dimensions: &dimensions, new_dimensions: None }),
    );
    let druid_verdict = verdict.druid.as_ref().unwrap();

    let descriptor = old.message(message).unwrap();
    let records: Vec<Vec<u8>> =
        (0..RECORDS).map(|index| record(&descriptor, index, 0).encode_to_vec()).collect();
    let topic = format!("effect-{}-{}", case.name.replace('_', "-"), jiff::Timestamp::now().as_millisecond());
    let kafka = druidctl_examples::kafka::Topic::open(KAFKA, &topic).await.unwrap();
    kafka.write(records).await.unwrap();

    let before = sample(druid, &topic, &old, message, &dimensions).await.unwrap();
    let after = sample(druid, &topic, &new, message, &dimensions).await;
    let mut differences = match &after {
        Ok(after) => compare(&before, after, &dimensions),
        Err(err) => vec![format!("old records, new schema: Druid failed: {}", first_line(err))],
    };
    // Records written with the new schema (new fields set too) must decode as well.
    let Ok(descriptor) = new.message(message) else {
        differences.push(format!("new records: the new schema has no `{message}`"));
        return measured(case, differences, druid_verdict);
    };
    let records: Vec<Vec<u8>> =
        (0..RECORDS).map(|index| record(&descriptor, index, 0).encode_to_vec()).collect();
    let topic = format!("{topic}-new");
    let kafka = druidctl_examples::kafka::Topic::open(KAFKA, &topic).await.unwrap();
    kafka.write(records).await.unwrap();
    match sample(druid, &topic, &new, message, &dimensions).await {
        Err(err) => differences.push(format!("new records: Druid failed: {}", first_line(&err))),
        Ok(rows) => {
            let unparseable = rows.data.iter().filter(|row| row.unparseable).count();
            let before = before.data.iter().filter(|row| row.unparseable).count();
            if unparseable > before {
                let error = rows.data.iter().find_map(|row| row.error.clone()).unwrap_or_default();
                differences.push(format!(
                    "new records: {unparseable} unparseable ({})",
                    error.chars().take(160).collect::<String>()
                ));
            }
        }
    }
    measured(case, differences, druid_verdict)
}

fn measured(
    case: &corpus_format::Case,
    differences: Vec<String>,
    verdict: &druid_mapping::compat::DruidVerdict,
) -> Measured {
    Measured {
        case: case.name.clone(),
        damaged: !differences.is_empty(),
        differences,
        verdict_damaging: verdict.damaging,
        rules: verdict
            .findings
            .iter()
            .filter(|finding| finding.severity != Severity::Info)
            .map(|finding| format!("{} ({:?})", finding.rule, finding.severity).to_lowercase())
            .collect(),
    }
}

fn first_line(err: &druid_client::Error) -> String {
    err.to_string().lines().next().unwrap_or_default().chars().take(200).collect()
}

async fn sample(
    druid: &DruidClient,
    topic: &str,
    schema: &CompiledSchema,
    message: &str,
    dimensions: &DimensionsConfig,
) -> Result<SamplerResponse, druid_client::Error> {
    let parsing = parsing(dimensions, Descriptor::Inline(schema.descriptor_set()), message);
    let request = json!({
        "type": "kafka",
        "spec": {
            "type": "kafka",
            "dataSchema": {
                "dataSource": "sampler",
                "timestampSpec": parsing.timestamp_spec,
                "dimensionsSpec": parsing.dimensions_spec,
                "metricsSpec": parsing.metrics_spec,
                "granularitySpec": parsing.granularity_spec,
            },
            "ioConfig": {
                "topic": topic,
                "consumerProperties": { "bootstrap.servers": KAFKA },
                "useEarliestOffset": true,
                "inputFormat": parsing.input_format,
            },
        },
        "samplerConfig": { "numRows": RECORDS, "timeoutMs": 15000 },
    });
    druid.sampler().sample(&request).await
}

/// A value as Druid stores it, for comparison: a one-element list is its element (Druid stores
/// a single-value string dimension either way).
fn stored(value: Option<&Value>) -> Value {
    match value {
        None => Value::Null,
        Some(Value::Array(items)) if items.len() == 1 => items[0].clone(),
        Some(other) => other.clone(),
    }
}

fn compare(before: &SamplerResponse, after: &SamplerResponse, dimensions: &DimensionsConfig) -> Vec<String> {
    let mut columns: Vec<String> = vec!["__time".into()];
    columns.extend(dimensions.dimensions.iter().map(|dimension| dimension.name.clone()));
    columns.extend(dimensions.metrics.iter().map(|metric| metric.name.clone()));
    let mut differences = Vec::new();
    if before.data.len() != after.data.len() {
        differences.push(format!("{} records sampled, then {}", before.data.len(), after.data.len()));
    }
    for (index, (old, new)) in before.data.iter().zip(&after.data).enumerate() {
        match (&old.parsed, &new.parsed) {
            (Some(old_row), Some(new_row)) if !old.unparseable && !new.unparseable => {
                for column in &columns {
                    let (a, b) = (stored(old_row.get(column)), stored(new_row.get(column)));
                    if a != b {
                        differences.push(format!("record {index} `{column}`: {a} -> {b}"));
                    }
                }
            }
            _ if old.unparseable == new.unparseable => {}
            _ => {
                let error = new.error.as_deref().or(old.error.as_deref()).unwrap_or("");
                let error: String = error.chars().take(160).collect();
                differences.push(format!(
                    "record {index}: unparseable {} -> {} ({error})",
                    old.unparseable, new.unparseable
                ));
            }
        }
    }
    differences.truncate(3);
    differences
}

/// Record `index` of `message`: every field set, cycling through values that tell changes
/// apart (negative, zero, large, every enum value, explicit zeros where presence is explicit).
fn record(message: &MessageDescriptor, index: usize, depth: usize) -> DynamicMessage {
    let mut record = DynamicMessage::new(message.clone());
    for field in message.fields() {
        if let Some(value) = value(&field, index, depth) {
            record.set_field(&field, value);
        }
    }
    record
}

fn value(field: &FieldDescriptor, index: usize, depth: usize) -> Option<ProtoValue> {
    if field.is_map() {
        let Kind::Message(entry) = field.kind() else { return None };
        let key = match entry.map_entry_key_field().kind() {
            Kind::String => MapKey::String("orderId".into()),
            Kind::Int32 => MapKey::I32(1),
            Kind::Int64 => MapKey::I64(1),
            Kind::Bool => MapKey::Bool(true),
            _ => return None,
        };
        let inner = single(&entry.map_entry_value_field(), index, depth)?;
        let mut map = std::collections::HashMap::new();
        map.insert(key, inner);
        return Some(ProtoValue::Map(map));
    }
    let one = single(field, index, depth)?;
    if field.is_list() {
        return Some(ProtoValue::List(vec![one]));
    }
    Some(one)
}

#[allow(clippy::cast_possible_wrap)]
fn single(field: &FieldDescriptor, index: usize, depth: usize) -> Option<ProtoValue> {
    let pick = |values: &[i64]| values[index % values.len()];
    Some(match field.kind() {
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            ProtoValue::I32(pick(&[-5, 0, 7, 2_147_483_647, 100, -40_000, 1, 3]) as i32)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            ProtoValue::I64(pick(&[-5, 0, 7, 123_456_789_012, 100, -40_000, 1, 3]))
        }
        Kind::Uint32 | Kind::Fixed32 => {
            ProtoValue::U32(pick(&[0, 7, 4_000_000_000, 100, 1, 3, 9, 11]) as u32)
        }
        Kind::Uint64 | Kind::Fixed64 => {
            ProtoValue::U64(pick(&[0, 7, 4_000_000_000, 100, 1, 3, 9, 11]) as u64)
        }
        Kind::Float => ProtoValue::F32([-1.5_f32, 0.0, 2.25, 100.0][index % 4]),
        Kind::Double => ProtoValue::F64([-1.5, 0.0, 2.25, 100.0][index % 4]),
        Kind::Bool => ProtoValue::Bool(index.is_multiple_of(2)),
        Kind::String => ProtoValue::String(["", "alpha", "beta", "gamma"][index % 4].to_owned()),
        Kind::Bytes => ProtoValue::Bytes(vec![1, 2, 3].into()),
        Kind::Enum(enumeration) => {
            let values: Vec<i32> = enumeration.values().map(|value| value.number()).collect();
            ProtoValue::EnumNumber(values[index % values.len()])
        }
        Kind::Message(inner) => match inner.full_name() {
            "google.protobuf.Timestamp" => {
                let mut time = DynamicMessage::new(inner.clone());
                let seconds = 1_764_000_000 + 3600 * index as i64;
                time.set_field_by_name("seconds", ProtoValue::I64(seconds));
                ProtoValue::Message(time)
            }
            "google.protobuf.Struct" => {
                let Kind::Message(entry) = inner.get_field_by_name("fields")?.kind() else { return None };
                let Kind::Message(value_type) = entry.map_entry_value_field().kind() else { return None };
                let mut value = DynamicMessage::new(value_type);
                value.set_field_by_name("string_value", ProtoValue::String("v".into()));
                let mut fields = std::collections::HashMap::new();
                fields.insert(MapKey::String("k".into()), ProtoValue::Message(value));
                let mut structure = DynamicMessage::new(inner.clone());
                structure.set_field_by_name("fields", ProtoValue::Map(fields));
                ProtoValue::Message(structure)
            }
            name if name.starts_with("google.protobuf.") => return None,
            _ if depth >= 2 => return None,
            _ => ProtoValue::Message(record(&inner, index, depth + 1)),
        },
    })
}

/// The catch rate and false alarm rate of the Druid verdict over `measured`.
pub fn rates(measured: &[Measured]) -> (usize, usize, usize, usize) {
    let damaging = measured.iter().filter(|m| m.damaged).count();
    let caught = measured.iter().filter(|m| m.damaged && m.verdict_damaging).count();
    let harmless = measured.len() - damaging;
    let alarms = measured.iter().filter(|m| !m.damaged && m.verdict_damaging).count();
    (caught, damaging, alarms, harmless)
}

pub fn druid() -> DruidClient {
    DruidClient::new(&druid_client::config::ClientConfig::new(ROUTER).unwrap()).unwrap()
}

/// Prints one line per case (the figures are this suite's output).
#[allow(clippy::print_stdout)]
pub fn report(measured: &[Measured]) {
    for m in measured {
        let agree = if m.damaged == m.verdict_damaging { "agree" } else { "DISAGREE" };
        println!(
            "  {agree:<8} {:<32} measured {:<9} verdict {:<9} {}",
            m.case,
            if m.damaged { "damaging" } else { "harmless" },
            if m.verdict_damaging { "damaging" } else { "harmless" },
            m.rules.join(", ")
        );
        for difference in &m.differences {
            println!("             {difference}");
        }
    }
}

/// Measures the cases named, asserts that the verdict agrees with Druid on each, and returns
/// the measurements.
pub async fn agree(names: &[&str]) -> Vec<Measured> {
    let druid = druid();
    let all = cases();
    let mut measured = Vec::new();
    for name in names {
        let case = all.iter().find(|case| case.name == *name).unwrap_or_else(|| panic!("no case {name}"));
        measured.push(measure(case, &druid).await);
    }
    report(&measured);
    let disagreeing: Vec<&str> =
        measured.iter().filter(|m| m.damaged != m.verdict_damaging).map(|m| m.case.as_str()).collect();
    assert!(disagreeing.is_empty(), "the Druid verdict disagrees with Druid on {disagreeing:?}");
    measured
}
