//! How long the row predictor takes on 10,000 records of the sample schema
//! (`schemas/proto`, `config/dimensions.json`): decode, convert, flatten, type every column,
//! and the whole preflight analysis (candidate and live). Prints figures; asserts nothing.
// Small generated test values; the record count is printed.
#![allow(
    clippy::cast_possible_wrap,
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    clippy::manual_is_multiple_of,
    clippy::print_stdout
)]

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use druid_mapping::DimensionsConfig;
use druid_mapping::predict::Predictor;
use druid_mapping::preflight::{self, Record, Thresholds};
use prost::Message as _;
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, Value};
use proto_schema::CompiledSchema;

const RECORDS: usize = 10_000;

/// Every singular field set (nested messages one level deep), values varying with `index`.
fn record(message: &MessageDescriptor, index: usize, depth: usize) -> DynamicMessage {
    let mut out = DynamicMessage::new(message.clone());
    for field in message.fields() {
        if field.is_list() || field.is_map() {
            continue;
        }
        let n = index as i64;
        let value = match field.kind() {
            Kind::String => Value::String(format!("{}-{}", field.name(), index % 97)),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(n * 1_000 + 1),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32((index % 1000) as i32 + 1),
            Kind::Uint64 | Kind::Fixed64 => Value::U64(index as u64 + 1),
            Kind::Uint32 | Kind::Fixed32 => Value::U32(index as u32 + 1),
            Kind::Double => Value::F64(n as f64 * 0.5 + 0.25),
            Kind::Float => Value::F32(index as f32 * 0.5 + 0.25),
            Kind::Bool => Value::Bool(index % 2 == 0),
            Kind::Bytes => Value::Bytes(vec![1, 2, 3].into()),
            Kind::Enum(enumeration) => {
                let values: Vec<i32> = enumeration.values().map(|value| value.number()).collect();
                Value::EnumNumber(values[index % values.len()].max(1))
            }
            Kind::Message(inner) if inner.full_name() == "google.protobuf.Timestamp" => {
                let mut time = DynamicMessage::new(inner.clone());
                time.set_field_by_name("seconds", Value::I64(1_764_460_800 + n));
                Value::Message(time)
            }
            Kind::Message(inner) if depth == 0 && !inner.full_name().starts_with("google.protobuf.") => {
                Value::Message(record(&inner, index, depth + 1))
            }
            Kind::Message(_) => continue,
        };
        out.set_field(&field, value);
    }
    out
}

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let compiled = CompiledSchema::compile_dir(&root.join("schemas/proto")).unwrap();
    let message = compiled.message("settlement.v1.SettlementTransaction").unwrap();
    let dimensions = DimensionsConfig::load(&root.join("config/dimensions.json")).unwrap();
    let predictor = Predictor::new(&message, &dimensions);
    let records: Vec<Record> = (0..RECORDS)
        .map(|index| Record {
            partition: (index % 12) as i32,
            offset: index as i64,
            value: record(&message, index, 0).encode_to_vec(),
        })
        .collect();
    let rows = records.iter().filter(|record| predictor.predict(&record.value).row().is_some()).count();
    println!("{RECORDS} records of {}, {rows} predicted rows", message.full_name());

    let mut group = c.benchmark_group("predict");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.sample_size(10);
    group.bench_function("10k records", |b| {
        b.iter(|| {
            for record in &records {
                black_box(predictor.predict(black_box(&record.value)));
            }
        });
    });
    group.bench_function("preflight analysis of 10k records (candidate and live)", |b| {
        b.iter(|| {
            black_box(preflight::analyse(&records, &predictor, Some(&predictor), Thresholds::default()))
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
