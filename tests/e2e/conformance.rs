//! Decoder conformance: records of a schema that uses every protobuf feature
//! (`tests/e2e/conformance/`) are written to Kafka and ingested by the local Druid, then every
//! stored cell (read back with SQL), every unparseable record and every failed task (from the
//! supervisor's stats and the task list) is compared with `druid_mapping::Predictor`. The test
//! prints `N/N cells agree` and fails on any difference.

// The record generator computes small test values from indexes.
#![allow(clippy::cast_possible_wrap, clippy::manual_is_multiple_of)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use druid_client::DruidClient;
use druid_client::spec::SupervisorSpec;
use druid_client::sql::SqlQuery;
use druid_client::supervisors::RowStats;
use druid_client::tasks::{TaskFilter, TaskState, TaskStatus};
use druid_mapping::DimensionsConfig;
use druid_mapping::predict::{Cell, Outcome, Predictor};
use druid_mapping::spec::{Descriptor, parsing};
use prost::Message as _;
use prost_reflect::{DynamicMessage, Kind, MapKey, MessageDescriptor, ReflectMessage, Value as ProtoValue};
use proto_schema::CompiledSchema;
use serde_json::{Map, Value, json};

use crate::support::{KAFKA, ROWS_DEADLINE};

const MESSAGE: &str = "conformance.v1.Record";
/// Records with rows (and processed-with-error rows).
const ROWS: usize = 48;

pub struct Schema {
    pub compiled: CompiledSchema,
    pub message: MessageDescriptor,
    pub dimensions: DimensionsConfig,
}

pub fn schema() -> Schema {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e/conformance");
    let compiled = CompiledSchema::compile_dir(&root).unwrap();
    let message = compiled.message(MESSAGE).unwrap();
    let dimensions = DimensionsConfig::load(&root.join("dimensions.json")).unwrap();
    Schema { compiled, message, dimensions }
}

fn set(record: &mut DynamicMessage, name: &str, value: ProtoValue) {
    let field = record.descriptor().get_field_by_name(name).unwrap_or_else(|| panic!("no field {name}"));
    record.set_field(&field, value);
}

/// A message of `field`'s type (for maps: of the value type) with `fields` set.
fn of(record: &DynamicMessage, field: &str, fields: &[(&str, ProtoValue)]) -> ProtoValue {
    let descriptor = record.descriptor().get_field_by_name(field).unwrap();
    let Kind::Message(mut inner) = descriptor.kind() else { panic!("{field}") };
    if descriptor.is_map() {
        let Kind::Message(value) = inner.map_entry_value_field().kind() else { panic!("{field}") };
        inner = value;
    }
    let mut message = DynamicMessage::new(inner);
    for (name, value) in fields {
        set(&mut message, name, value.clone());
    }
    ProtoValue::Message(message)
}

fn text(value: &str) -> ProtoValue {
    ProtoValue::String(value.to_owned())
}

fn pick<T: Clone>(values: &[T], index: usize) -> T {
    values[index % values.len()].clone()
}

/// A record with `id` and a creation time, nothing else.
fn base(message: &MessageDescriptor, id: &str, index: usize) -> DynamicMessage {
    let mut record = DynamicMessage::new(message.clone());
    set(&mut record, "id", text(id));
    let nanos = pick(&[0, 5_000_000, 123_456_000, 1], index);
    let created = of(
        &record,
        "created_at",
        &[("seconds", ProtoValue::I64(1_764_460_800 + index as i64)), ("nanos", ProtoValue::I32(nanos))],
    );
    set(&mut record, "created_at", created);
    record
}

/// Record `index` of the row set: each field cycles through values that tell conversions apart
/// (zero and absent, extremes, unicode, unknown enum numbers, one- and many-element lists).
#[allow(clippy::too_many_lines)]
fn row_record(message: &MessageDescriptor, index: usize) -> DynamicMessage {
    let i = index;
    let mut r = base(message, &format!("r{i:03}"), i);
    set(
        &mut r,
        "f_double",
        ProtoValue::F64(pick(
            &[0.0, 1.5, -2.25, 1e-5, 1e10, 0.1 + 0.2, 123_456_789.0, f64::MIN_POSITIVE, -0.0, 1e300],
            i,
        )),
    );
    set(&mut r, "f_float", ProtoValue::F32(pick(&[0.0, 1.1, -3.5, 1e-10, f32::MAX, 16_777_217.0, 0.001], i)));
    set(&mut r, "f_int32", ProtoValue::I32(pick(&[0, 1, -1, i32::MIN, i32::MAX, 42], i)));
    set(&mut r, "f_int64", ProtoValue::I64(pick(&[0, 1, -1, i64::MIN, i64::MAX, 9_007_199_254_740_993], i)));
    set(&mut r, "f_uint32", ProtoValue::U32(pick(&[0, 1, u32::MAX, 3_000_000_000], i)));
    set(&mut r, "f_uint64", ProtoValue::U64(pick(&[0, 1, u64::MAX, 10_000_000_000_000_000_000], i)));
    set(&mut r, "f_sint32", ProtoValue::I32(pick(&[0, -1, i32::MIN, 7], i)));
    set(&mut r, "f_sint64", ProtoValue::I64(pick(&[0, -1, i64::MIN, 7], i)));
    set(&mut r, "f_fixed32", ProtoValue::U32(pick(&[0, u32::MAX, 5], i)));
    set(&mut r, "f_fixed64", ProtoValue::U64(pick(&[0, u64::MAX, 5], i)));
    set(&mut r, "f_sfixed32", ProtoValue::I32(pick(&[0, i32::MIN, -5], i)));
    set(&mut r, "f_sfixed64", ProtoValue::I64(pick(&[0, i64::MAX, -5], i)));
    set(&mut r, "f_bool", ProtoValue::Bool(i % 3 == 1));
    let strings = [
        "",
        "plain",
        "ünïcödé",
        "emoji 🚀",
        "quote\" and \\ slash",
        "tab\tand\nnewline",
        "多言語",
        "12345",
        "1.5",
    ];
    set(&mut r, "f_string", text(pick(&strings, i)));
    set(
        &mut r,
        "f_bytes",
        ProtoValue::Bytes(pick(&[vec![], vec![0], vec![255, 0, 1], b"hello".to_vec()], i).into()),
    );
    set(&mut r, "color", ProtoValue::EnumNumber(pick(&[0, 1, 2, 9], i)));
    if i % 2 == 0 {
        set(&mut r, "opt_int64", ProtoValue::I64(pick(&[0, -7, 1 << 40], i / 2)));
        set(&mut r, "opt_string", text(pick(&["", "set"], i / 2)));
    }
    match i % 4 {
        1 => set(&mut r, "choice_text", text(pick(&["", "chosen"], i / 4))),
        2 => set(&mut r, "choice_number", ProtoValue::I64(pick(&[0, 99], i / 4))),
        3 => {
            let point = of(&r, "choice_point", &[("x", ProtoValue::I64(3)), ("label", text("c"))]);
            set(&mut r, "choice_point", point);
        }
        _ => {}
    }
    let point = |r: &DynamicMessage, field: &str, k: usize| {
        of(
            r,
            field,
            &[
                ("x", ProtoValue::I64(k as i64 - 5)),
                ("label", text(pick(&["", "here", "là-bas"], k))),
                ("color", ProtoValue::EnumNumber(pick(&[0, 1, 2], k))),
            ],
        )
    };
    if i % 3 != 0 {
        let value = point(&r, "point", i);
        set(&mut r, "point", value);
    }
    let count = i % 4;
    let points = (0..count).map(|k| point(&r, "points", i + k)).collect();
    set(&mut r, "points", ProtoValue::List(points));
    set(&mut r, "tags", ProtoValue::List((0..count).map(|k| text(pick(&strings, i + k))).collect()));
    set(
        &mut r,
        "numbers",
        ProtoValue::List((0..count).map(|k| ProtoValue::I64((i * 10 + k) as i64 - 20)).collect()),
    );
    set(
        &mut r,
        "ratios",
        ProtoValue::List((0..count).map(|k| ProtoValue::F64(0.5 * (i + k) as f64)).collect()),
    );
    set(
        &mut r,
        "blobs",
        ProtoValue::List((0..count).map(|k| ProtoValue::Bytes(vec![k as u8; k + 1].into())).collect()),
    );
    set(
        &mut r,
        "colors",
        ProtoValue::List((0..count).map(|k| ProtoValue::EnumNumber(pick(&[1, 2, 0, 5], i + k))).collect()),
    );
    let keys = ["channel", "home", "first", "a", "hits", "ключ", "b"];
    let entries = (i % 3) + (i % 2);
    let labels = (0..entries)
        .map(|k| (MapKey::String(pick(&keys, i + k).to_owned()), text(pick(&strings, i + k + 1))))
        .collect();
    set(&mut r, "labels", ProtoValue::Map(labels));
    let counters = (0..entries)
        .map(|k| (MapKey::String(pick(&keys, i + k + 3).to_owned()), ProtoValue::I64(k as i64)))
        .collect();
    set(&mut r, "counters", ProtoValue::Map(counters));
    let places = (0..entries)
        .map(|k| (MapKey::String(pick(&keys, i + k).to_owned()), point(&r, "places", k)))
        .collect();
    set(&mut r, "places", ProtoValue::Map(places));
    if i % 2 == 1 {
        let (seconds, nanos) = pick(&[(0, 0), (1, 500_000_000), (-2, -1), (3600, 1000), (0, -5)], i / 2);
        let took =
            of(&r, "took", &[("seconds", ProtoValue::I64(seconds)), ("nanos", ProtoValue::I32(nanos))]);
        set(&mut r, "took", took);
    }
    let paths =
        (0..count).map(|k| text(pick(&["user.display_name", "amount_minor", "a_b_c"], i + k))).collect();
    let mask = of(&r, "mask", &[("paths", ProtoValue::List(paths))]);
    set(&mut r, "mask", mask);
    let dynamic = match i % 6 {
        0 => of(&r, "dynamic", &[("string_value", text("dyn"))]),
        1 => of(&r, "dynamic", &[("number_value", ProtoValue::F64(2.5))]),
        2 => of(&r, "dynamic", &[("bool_value", ProtoValue::Bool(true))]),
        3 => of(&r, "dynamic", &[("null_value", ProtoValue::EnumNumber(0))]),
        4 => {
            let list = of(
                &r,
                "list_value",
                &[(
                    "values",
                    ProtoValue::List(vec![of(&r, "dynamic", &[("number_value", ProtoValue::F64(1.0))])]),
                )],
            );
            of(&r, "dynamic", &[("list_value", list)])
        }
        _ => of(&r, "dynamic", &[]),
    };
    set(&mut r, "dynamic", dynamic);
    let values = (0..count)
        .map(|k| match k {
            0 => of(&r, "dynamic", &[("string_value", text("v"))]),
            1 => of(&r, "dynamic", &[("number_value", ProtoValue::F64(4.0))]),
            _ => of(&r, "dynamic", &[("bool_value", ProtoValue::Bool(false))]),
        })
        .collect();
    let list_value = of(&r, "list_value", &[("values", ProtoValue::List(values))]);
    set(&mut r, "list_value", list_value);
    if i % 5 == 0 {
        let nothing = of(&r, "nothing", &[]);
        set(&mut r, "nothing", nothing);
    }
    if i % 2 == 0 {
        let w = |r: &DynamicMessage, field: &str, value: ProtoValue| of(r, field, &[("value", value)]);
        let values = [
            ("w_double", ProtoValue::F64(pick(&[0.0, 6.25], i / 2))),
            ("w_float", ProtoValue::F32(pick(&[0.0, 0.1], i / 2))),
            ("w_int64", ProtoValue::I64(pick(&[0, -9, i64::MAX], i / 2))),
            ("w_uint64", ProtoValue::U64(pick(&[0, u64::MAX], i / 2))),
            ("w_int32", ProtoValue::I32(pick(&[0, -3], i / 2))),
            ("w_uint32", ProtoValue::U32(pick(&[0, u32::MAX], i / 2))),
            ("w_bool", ProtoValue::Bool(i % 4 == 0)),
            ("w_string", text(pick(&["", "wrapped"], i / 2))),
            ("w_bytes", ProtoValue::Bytes(pick(&[vec![], vec![1, 2]], i / 2).into())),
        ];
        for (field, value) in values {
            let wrapped = w(&r, field, value);
            set(&mut r, field, wrapped);
        }
    }
    let stamps = (0..count)
        .map(|k| {
            of(
                &r,
                "stamps",
                &[
                    ("seconds", ProtoValue::I64(pick(&[0, 1_700_000_000], k))),
                    ("nanos", ProtoValue::I32(pick(&[0, 7], k))),
                ],
            )
        })
        .collect();
    set(&mut r, "stamps", ProtoValue::List(stamps));
    let wrapped =
        (0..count).map(|k| of(&r, "wrapped_numbers", &[("value", ProtoValue::I64(k as i64))])).collect();
    set(&mut r, "wrapped_numbers", ProtoValue::List(wrapped));
    let structs = (0..count.min(2))
        .map(|k| {
            let fields =
                [(MapKey::String(format!("k{k}")), of(&r, "dynamic", &[("string_value", text("s"))]))];
            of(&r, "structs", &[("fields", ProtoValue::Map(fields.into_iter().collect()))])
        })
        .collect();
    set(&mut r, "structs", ProtoValue::List(structs));
    let stamp_map = (0..entries)
        .map(|k| {
            let stamp = of(&r, "stamp_map", &[("seconds", ProtoValue::I64(1_700_000_000 + k as i64))]);
            (MapKey::String(pick(&["first", "second"], k).to_owned()), stamp)
        })
        .collect();
    set(&mut r, "stamp_map", ProtoValue::Map(stamp_map));
    let wrapped_map = (0..entries)
        .map(|k| {
            (
                MapKey::String(pick(&["a", "b"], k).to_owned()),
                of(&r, "wrapped_map", &[("value", ProtoValue::I64(k as i64 + 1))]),
            )
        })
        .collect();
    set(&mut r, "wrapped_map", ProtoValue::Map(wrapped_map));
    if i % 3 == 0 {
        let mut fields = vec![("level", ProtoValue::EnumNumber(pick(&[1, 2, 9], i / 3)))];
        if i % 2 == 0 {
            fields.push(("with_default", ProtoValue::I32(pick(&[0, 7, -1], i / 3))));
        }
        fields.push(("levels", ProtoValue::List(vec![ProtoValue::EnumNumber(2), ProtoValue::EnumNumber(9)])));
        let legacy = of(&r, "legacy", &fields);
        set(&mut r, "legacy", legacy);
    }
    r
}

/// Records Druid cannot turn into rows, named.
fn unparseable_records(message: &MessageDescriptor) -> Named {
    let valid = row_record(message, 1).encode_to_vec();
    let mut any = base(message, "u-any", 0);
    let extra = of(&any, "extra", &[("type_url", text("type.googleapis.com/conformance.v1.Point"))]);
    set(&mut any, "extra", extra);
    let mut untimed = DynamicMessage::new(message.clone());
    set(&mut untimed, "id", text("u-untimed"));
    let mut confluent = vec![0, 0, 0, 0, 1];
    confluent.extend_from_slice(&valid);
    vec![
        ("not protobuf".into(), b"{\"id\": \"json, not protobuf\"}".to_vec()),
        ("truncated".into(), valid[..valid.len() - 3].to_vec()),
        ("confluent framing".into(), confluent),
        ("set Any".into(), any.encode_to_vec()),
        ("no timestamp".into(), untimed.encode_to_vec()),
    ]
}

/// Records that fail the ingestion task, one per supervisor.
fn failing_records(message: &MessageDescriptor) -> Named {
    let mut out = Vec::new();
    let mut add = |name: &str, field: &str, value: fn(&DynamicMessage) -> ProtoValue| {
        let mut record = base(message, &format!("f-{name}"), 0);
        let value = value(&record);
        set(&mut record, field, value);
        out.push((name.to_owned(), record.encode_to_vec()));
    };
    add("struct", "attributes", |r| {
        let fields = [(MapKey::String("k".into()), of(r, "dynamic", &[("string_value", text("v"))]))];
        of(r, "attributes", &[("fields", ProtoValue::Map(fields.into_iter().collect()))])
    });
    add("int32-keys", "by_int32", |_| ProtoValue::Map([(MapKey::I32(1), text("one"))].into_iter().collect()));
    add("int64-keys", "by_int64", |_| ProtoValue::Map([(MapKey::I64(-1), text("x"))].into_iter().collect()));
    add("uint32-keys", "by_uint32", |_| ProtoValue::Map([(MapKey::U32(7), text("x"))].into_iter().collect()));
    add("sint64-keys", "by_sint64", |_| ProtoValue::Map([(MapKey::I64(7), text("x"))].into_iter().collect()));
    add("fixed32-keys", "by_fixed32", |_| {
        ProtoValue::Map([(MapKey::U32(7), text("x"))].into_iter().collect())
    });
    add("sfixed64-keys", "by_sfixed64", |_| {
        ProtoValue::Map([(MapKey::I64(7), text("x"))].into_iter().collect())
    });
    add("bool-keys", "by_bool", |_| {
        ProtoValue::Map([(MapKey::Bool(true), text("yes"))].into_iter().collect())
    });
    add("late-timestamp", "late", |r| of(r, "late", &[("seconds", ProtoValue::I64(253_402_300_800))]));
    add("long-duration", "long_wait", |r| {
        of(r, "long_wait", &[("seconds", ProtoValue::I64(315_576_000_001))])
    });
    out
}

/// Named encoded records.
pub type Named = Vec<(String, Vec<u8>)>;

/// The record set: rows, unparseable records, records that fail the task.
pub fn records(schema: &Schema) -> (Vec<DynamicMessage>, Named, Named) {
    let rows = (0..ROWS).map(|index| row_record(&schema.message, index)).collect();
    (rows, unparseable_records(&schema.message), failing_records(&schema.message))
}

fn spec(schema: &Schema, datasource: &str, topic: &str) -> SupervisorSpec {
    let parsing = parsing(&schema.dimensions, Descriptor::Inline(schema.compiled.descriptor_set()), MESSAGE);
    serde_json::from_value(json!({
        "type": "kafka",
        "spec": {
            "dataSchema": {
                "dataSource": datasource,
                "timestampSpec": parsing.timestamp_spec,
                "dimensionsSpec": parsing.dimensions_spec,
                "metricsSpec": parsing.metrics_spec,
                "granularitySpec": parsing.granularity_spec,
            },
            "ioConfig": {
                "topic": topic,
                "consumerProperties": { "bootstrap.servers": KAFKA },
                "useEarliestOffset": true,
                "taskCount": 1,
                "replicas": 1,
                "taskDuration": "PT1H",
                "inputFormat": parsing.input_format,
            },
            "tuningConfig": { "type": "kafka", "logParseExceptions": true, "maxParseExceptions": 1000, "maxSavedParseExceptions": 100 },
        },
    }))
    .unwrap()
}

/// A stored SQL value against a predicted cell.
fn same(cell: &Cell, stored: &Value) -> bool {
    match (cell, stored) {
        (Cell::Null, Value::Null) => true,
        (Cell::String(want), Value::String(got)) => want == got,
        (Cell::Strings(want), Value::Array(got)) => {
            want.len() == got.len() && want.iter().zip(got).all(|(w, g)| w.as_deref() == g.as_str())
        }
        // Druid SQL returns a multi-value string as a JSON array in text.
        (Cell::Strings(_), Value::String(text)) => {
            serde_json::from_str::<Value>(text).is_ok_and(|parsed| parsed.is_array() && same(cell, &parsed))
        }
        (Cell::Long(want), Value::Number(got)) => got.as_i64() == Some(*want),
        // serde_json's default float parsing may land one ULP away from Java's text.
        (Cell::Double(want), Value::Number(got)) => {
            got.as_f64().is_some_and(|got| (got - want).abs() <= f64::EPSILON * want.abs().max(got.abs()))
        }
        #[allow(clippy::cast_possible_truncation)]
        (Cell::Float(want), Value::Number(got)) => got.as_f64().map(|value| value as f32) == Some(*want),
        (Cell::Json(want), got) => json_equal(want, got),
        _ => false,
    }
}

/// JSON equality with numbers compared by value (Druid may return 1.0 for 1).
fn json_equal(want: &Value, got: &Value) -> bool {
    match (want, got) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| json_equal(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(key, x)| b.get(key).is_some_and(|y| json_equal(x, y)))
        }
        // A nested JSON value may come back as its text.
        (want, Value::String(text)) if !want.is_string() => {
            serde_json::from_str::<Value>(text).is_ok_and(|parsed| json_equal(want, &parsed))
        }
        (a, b) => a == b,
    }
}

/// What the local Druid did, compared with the prediction.
#[derive(Debug, Default)]
pub struct Agreement {
    pub cells: usize,
    pub agreeing: usize,
    pub differences: Vec<String>,
    /// How each failing record failed on Druid, for the report.
    pub failures: Vec<String>,
}

impl Agreement {
    fn check(&mut self, agree: bool, what: impl FnOnce() -> String) {
        self.cells += 1;
        if agree {
            self.agreeing += 1;
        } else {
            self.differences.push(what());
        }
    }
}

async fn submit(druid: &DruidClient, spec: &SupervisorSpec) {
    druid.supervisors().submit(spec, false).await.unwrap();
}

async fn stats(druid: &DruidClient, id: &str) -> RowStats {
    let stats = druid.supervisors().stats(id).await.unwrap_or_default();
    let mut sum = RowStats::default();
    for task in stats.values().flat_map(|tasks| tasks.values()) {
        if let Some(row) = task.totals.as_ref().and_then(|phases| phases.build_segments) {
            sum.processed += row.processed;
            sum.processed_with_error += row.processed_with_error;
            sum.unparseable += row.unparseable;
            sum.thrown_away += row.thrown_away;
        }
    }
    sum
}

/// The failing record's field, by the record's name (`late-timestamp` and `long-duration`
/// fail on their values, which a schema check cannot see).
const FAILING_FIELDS: &[(&str, Option<&str>)] = &[
    ("struct", Some("attributes")),
    ("int32-keys", Some("by_int32")),
    ("int64-keys", Some("by_int64")),
    ("uint32-keys", Some("by_uint32")),
    ("sint64-keys", Some("by_sint64")),
    ("fixed32-keys", Some("by_fixed32")),
    ("sfixed64-keys", Some("by_sfixed64")),
    ("bool-keys", Some("by_bool")),
    ("late-timestamp", None),
    ("long-duration", None),
];

/// `validate` on the conformance schema must foresee what Druid did: an error for every field
/// type that failed the task, a warning for the `Any` that made records unparseable, and a
/// finding (error or warning) on every column whose values Druid could not store.
fn check_validate(
    schema: &Schema,
    predicted: &[Outcome],
    failing: &[(String, String, Outcome)],
    agreement: &mut Agreement,
) {
    use druid_mapping::Severity;
    let problems = druid_mapping::validate(&schema.message, &schema.dimensions);
    let on_field = |field: &str, severity: Severity| {
        let location = format!("(schema) {MESSAGE}.{field}");
        problems.iter().any(|problem| problem.location == location && problem.severity == severity)
    };
    for (name, _, outcome) in failing {
        let field = FAILING_FIELDS.iter().find(|(known, _)| known == name).and_then(|(_, field)| *field);
        if let Some(field) = field {
            agreement.check(
                matches!(outcome, Outcome::TaskFailure { .. }) && on_field(field, Severity::Error),
                || format!("validate: no error for `{field}`, whose records fail the task"),
            );
        }
    }
    agreement.check(on_field("extra", Severity::Warning), || {
        "validate: no warning for the Any field `extra`, whose records are unparseable".into()
    });
    let mut columns_with_errors: Vec<&str> = predicted
        .iter()
        .filter_map(Outcome::row)
        .flat_map(|row| row.errors.iter())
        .filter_map(|error| error.strip_prefix("column `")?.split('`').next())
        .collect();
    columns_with_errors.sort_unstable();
    columns_with_errors.dedup();
    for column in columns_with_errors {
        let index = schema.dimensions.dimensions.iter().position(|d| d.name == column).unwrap();
        let flagged = problems.iter().any(|problem| {
            problem.location.starts_with(&format!("dimensions[{index}]"))
                && problem.severity >= Severity::Warning
        });
        agreement.check(flagged, || {
            format!("validate: nothing on column `{column}`, which Druid stores null with an error")
        });
    }
}

/// Runs the suite against the local Druid.
#[allow(clippy::too_many_lines)]
pub async fn run(druid: &DruidClient) -> Agreement {
    let schema = schema();
    let predictor = Predictor::new(&schema.message, &schema.dimensions);
    let (rows, unparseable, failing) = records(&schema);
    let stamp = jiff::Timestamp::now().as_millisecond();
    let mut agreement = Agreement::default();

    // Every record of the row set, then the unparseable ones, on one topic.
    let datasource = format!("e2e_conformance_{stamp}");
    let topic = format!("conformance-{stamp}");
    let mut bytes: Vec<Vec<u8>> = rows.iter().map(prost::Message::encode_to_vec).collect();
    bytes.extend(unparseable.iter().map(|(_, record)| record.clone()));
    druidctl_examples::kafka::Topic::open(KAFKA, &topic).await.unwrap().write(bytes.clone()).await.unwrap();
    submit(druid, &spec(&schema, &datasource, &topic)).await;

    // One topic and supervisor per record that fails the task.
    let mut failing_sources = Vec::new();
    for (name, record) in &failing {
        let source = format!("e2e_conformance_{stamp}_{}", name.replace('-', "_"));
        let topic = format!("conformance-{stamp}-{name}");
        druidctl_examples::kafka::Topic::open(KAFKA, &topic)
            .await
            .unwrap()
            .write(vec![record.clone()])
            .await
            .unwrap();
        submit(druid, &spec(&schema, &source, &topic)).await;
        failing_sources.push((name.clone(), source, predictor.predict(record)));
    }

    let predicted: Vec<Outcome> = bytes.iter().map(|record| predictor.predict(record)).collect();
    let expected_rows = predicted.iter().filter(|outcome| outcome.row().is_some()).count();
    let expected_errors =
        predicted.iter().filter(|outcome| outcome.row().is_some_and(|row| !row.errors.is_empty())).count();
    let expected_unparseable =
        predicted.iter().filter(|outcome| matches!(outcome, Outcome::Unparseable { .. })).count();

    // Wait until Druid has read every record of the row set.
    let started = Instant::now();
    let mut read = stats(druid, &datasource).await;
    while read.processed + read.processed_with_error + read.unparseable + read.thrown_away
        < bytes.len() as f64
        && started.elapsed() < ROWS_DEADLINE
    {
        tokio::time::sleep(Duration::from_secs(1)).await;
        read = stats(druid, &datasource).await;
    }
    // Druid counts rows stored with an error apart from the other rows.
    let stored_rows = read.processed + read.processed_with_error;
    agreement.check(stored_rows as usize == expected_rows, || {
        format!("rows: predicted {expected_rows}, Druid stored {stored_rows}")
    });
    agreement.check(read.unparseable as usize == expected_unparseable, || {
        format!("unparseable: predicted {expected_unparseable}, Druid counted {}", read.unparseable)
    });
    agreement.check(read.processed_with_error as usize == expected_errors, || {
        format!(
            "processed with error: predicted {expected_errors}, Druid counted {}",
            read.processed_with_error
        )
    });

    // Every stored cell.
    let query = format!("SELECT TIMESTAMP_TO_MILLIS(__time) AS \"__millis\", * FROM \"{datasource}\"");
    let mut stored: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let started = Instant::now();
    while started.elapsed() < ROWS_DEADLINE {
        if let Ok(rows) = druid.sql().rows::<Map<String, Value>>(&SqlQuery::new(&query)).await {
            stored = rows
                .into_iter()
                .map(|row| (row["id"].as_str().unwrap_or_default().to_owned(), row))
                .collect();
            if stored.len() >= expected_rows {
                break;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    for (record, outcome) in rows.iter().zip(&predicted) {
        let id = crate::support::string_field(record, "id");
        let Some(row) = outcome.row() else {
            agreement.check(false, || format!("{id}: predicted {outcome:?}, written as a row record"));
            continue;
        };
        let Some(found) = stored.get(&id) else {
            agreement.check(false, || format!("{id}: predicted a row, Druid stored none"));
            continue;
        };
        agreement.check(found["__millis"].as_i64() == Some(row.time), || {
            format!("{id} __time: predicted {}, stored {}", row.time, found["__millis"])
        });
        for (column, cell) in &row.columns {
            let value = found.get(column).cloned().unwrap_or(Value::Null);
            agreement
                .check(same(cell, &value), || format!("{id} {column}: predicted {cell:?}, stored {value}"));
        }
    }
    for ((name, _), outcome) in unparseable.iter().zip(&predicted[rows.len()..]) {
        agreement.check(matches!(outcome, Outcome::Unparseable { .. }), || {
            format!("{name}: predicted {outcome:?}, Druid counts it unparseable")
        });
    }

    // Every failing record: the task fails (and the prediction says so).
    for (name, source, outcome) in &failing_sources {
        let started = Instant::now();
        let mut failed = None;
        while failed.is_none() && started.elapsed() < ROWS_DEADLINE {
            let filter = TaskFilter {
                state: Some(TaskState::Complete),
                datasource: Some(source.clone()),
                ..TaskFilter::default()
            };
            failed = druid
                .tasks()
                .list(&filter)
                .await
                .unwrap_or_default()
                .into_iter()
                .find(|task| task.status == Some(TaskStatus::Failed));
            if failed.is_none() {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
        let error = failed.as_ref().and_then(|task| task.error_msg.clone()).unwrap_or_default();
        agreement.failures.push(format!("{name}: task FAILED: {}", error.lines().next().unwrap_or_default()));
        agreement.check(matches!(outcome, Outcome::TaskFailure { .. }) && failed.is_some(), || {
            format!(
                "{name}: predicted {outcome:?}, Druid task failed: {:?}",
                failed.as_ref().map(|task| &task.error_msg)
            )
        });
    }

    check_validate(&schema, &predicted, &failing_sources, &mut agreement);

    crate::support::remove(druid, &datasource).await;
    for (_, source, _) in &failing_sources {
        crate::support::remove(druid, source).await;
    }
    agreement
}
