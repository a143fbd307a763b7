use prost_reflect::{DynamicMessage, ReflectMessage, Value};
use proto_schema::CompiledSchema;

use super::*;

const PROTO: &str = r#"
syntax = "proto3";
package t;
import "google/protobuf/any.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";
enum Kind { KIND_UNSPECIFIED = 0; CARD = 1; }
message Fee { int64 amount_minor = 1; }
message Row {
  string transaction_id = 1;
  int64 amount_minor = 2;
  optional int64 tip_minor = 3;
  uint32 count = 4;
  Kind kind = 5;
  google.protobuf.Timestamp created_at = 6;
  repeated google.protobuf.Timestamp seen_at = 7;
  google.protobuf.Int64Value wrapped = 8;
  Fee fee = 9;
  map<string, string> labels = 10;
  repeated string tags = 11;
  bytes payload = 12;
  float ratio = 13;
  double score = 14;
  google.protobuf.Any extra = 15;
  google.protobuf.Struct attributes = 16;
  map<int32, string> by_code = 17;
  repeated int64 amounts = 18;
  bool flag = 19;
}
"#;

const DIMENSIONS: &str = r#"{
  "timestamp": {"column": "createdAt", "format": "iso"},
  "dimensions": [
    {"name": "transactionId", "type": "string"},
    {"name": "amountMinor", "type": "long"},
    {"name": "tipMinor", "type": "long"},
    {"name": "count", "type": "long"},
    {"name": "kind", "type": "string"},
    {"name": "seenAt", "type": "string"},
    {"name": "wrapped", "type": "long"},
    {"name": "feeAmount", "type": "long", "from": "fee.amountMinor"},
    {"name": "channel", "type": "string", "from": "labels.channel"},
    {"name": "tags", "type": "string"},
    {"name": "payload", "type": "string"},
    {"name": "ratio", "type": "string"},
    {"name": "score", "type": "double"},
    {"name": "amounts", "type": "long"},
    {"name": "flag", "type": "string"},
    {"name": "fee", "type": "json"}
  ]
}"#;

fn setup() -> (Predictor, prost_reflect::MessageDescriptor) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("row.proto"), PROTO).unwrap();
    let compiled = CompiledSchema::compile_dir(dir.path()).unwrap();
    let message = compiled.message("t.Row").unwrap();
    let dimensions = DimensionsConfig::parse(DIMENSIONS, "dimensions.json").unwrap();
    (Predictor::new(&message, &dimensions), message)
}

fn set(record: &mut DynamicMessage, name: &str, value: Value) {
    let field = record.descriptor().get_field_by_name(name).unwrap();
    record.set_field(&field, value);
}

fn message_of(record: &DynamicMessage, field: &str) -> DynamicMessage {
    let descriptor = record.descriptor().get_field_by_name(field).unwrap();
    match descriptor.kind() {
        prost_reflect::Kind::Message(inner) => DynamicMessage::new(inner),
        other => panic!("{other:?}"),
    }
}

fn timestamp(record: &DynamicMessage, seconds: i64, nanos: i32) -> DynamicMessage {
    let mut time = message_of(record, "created_at");
    set(&mut time, "seconds", Value::I64(seconds));
    set(&mut time, "nanos", Value::I32(nanos));
    time
}

fn base() -> (Predictor, DynamicMessage) {
    let (predictor, message) = setup();
    let mut record = DynamicMessage::new(message);
    let created = timestamp(&record, 1_700_000_000, 5_000_000);
    set(&mut record, "created_at", Value::Message(created));
    (predictor, record)
}

fn row(predictor: &Predictor, record: &DynamicMessage) -> Row {
    match predictor.predict(&prost::Message::encode_to_vec(record)) {
        Outcome::Row(row) => row,
        other => panic!("expected a row, got {other:?}"),
    }
}

#[test]
fn unset_proto3_scalars_are_null_and_presence_keeps_zero() {
    let (predictor, mut record) = base();
    set(&mut record, "amount_minor", Value::I64(0));
    set(&mut record, "tip_minor", Value::I64(0));
    let row = row(&predictor, &record);
    assert_eq!(row.time, 1_700_000_000_005);
    assert_eq!(row.get("transactionId"), Some(&Cell::Null));
    assert_eq!(row.get("amountMinor"), Some(&Cell::Null));
    assert_eq!(row.get("tipMinor"), Some(&Cell::Long(0)));
    assert!(row.errors.is_empty());
}

#[test]
fn numbers_enums_and_wrappers_follow_protobuf_java() {
    let (predictor, mut record) = base();
    set(&mut record, "count", Value::U32(3_000_000_000));
    set(&mut record, "kind", Value::EnumNumber(7));
    let mut wrapped = message_of(&record, "wrapped");
    set(&mut wrapped, "value", Value::I64(0));
    set(&mut record, "wrapped", Value::Message(wrapped));
    set(&mut record, "ratio", Value::F32(1.1));
    set(&mut record, "score", Value::F64(2.5));
    set(&mut record, "flag", Value::Bool(true));
    let row = row(&predictor, &record);
    assert_eq!(row.get("count"), Some(&Cell::Long(-1_294_967_296)));
    assert_eq!(row.get("kind"), Some(&Cell::String("UNKNOWN_ENUM_VALUE_Kind_7".into())));
    assert_eq!(row.get("wrapped"), Some(&Cell::Long(0)));
    assert_eq!(row.get("ratio"), Some(&Cell::String("1.1".into())));
    assert_eq!(row.get("score"), Some(&Cell::Double(2.5)));
    assert_eq!(row.get("flag"), Some(&Cell::String("true".into())));
}

#[test]
fn paths_lists_maps_and_bytes() {
    let (predictor, mut record) = base();
    let mut fee = message_of(&record, "fee");
    set(&mut fee, "amount_minor", Value::I64(42));
    set(&mut record, "fee", Value::Message(fee));
    let labels = [(prost_reflect::MapKey::String("channel".into()), Value::String("web".into()))];
    set(&mut record, "labels", Value::Map(labels.into_iter().collect()));
    set(&mut record, "tags", Value::List(vec![Value::String("a".into()), Value::String("b".into())]));
    set(&mut record, "payload", Value::Bytes(vec![1, 2, 3].into()));
    set(&mut record, "amounts", Value::List(vec![Value::I64(1), Value::I64(2)]));
    let seen = timestamp(&record, 0, 0);
    set(&mut record, "seen_at", Value::List(vec![Value::Message(seen)]));
    let row = row(&predictor, &record);
    assert_eq!(row.get("feeAmount"), Some(&Cell::Long(42)));
    assert_eq!(row.get("channel"), Some(&Cell::String("web".into())));
    assert_eq!(row.get("tags"), Some(&Cell::Strings(vec![Some("a".into()), Some("b".into())])));
    assert_eq!(row.get("payload"), Some(&Cell::String("AQID".into())));
    assert_eq!(row.get("fee"), Some(&Cell::Json(serde_json::json!({"amountMinor": 42}))));
    // A repeated Timestamp is a plain message; seconds 0 is unset, so the map is empty.
    assert_eq!(row.get("seenAt"), Some(&Cell::String("{}".into())));
    // A list in a long column: null, and the row is processed with an error.
    assert_eq!(row.get("amounts"), Some(&Cell::Null));
    assert_eq!(row.errors.len(), 1, "{:?}", row.errors);
}

#[test]
fn failures_are_unparseable_or_fail_the_task() {
    let (predictor, record) = base();
    assert!(matches!(predictor.predict(b"\xff\xff\xff"), Outcome::Unparseable { .. }));

    let mut with_any = record.clone();
    let mut any = message_of(&record, "extra");
    set(&mut any, "type_url", Value::String("type.googleapis.com/t.Fee".into()));
    set(&mut with_any, "extra", Value::Message(any));
    assert!(matches!(predictor.predict_message(&with_any), Outcome::Unparseable { .. }));

    let mut with_struct = record.clone();
    let attributes = message_of(&record, "attributes");
    set(&mut with_struct, "attributes", Value::Message(attributes));
    assert!(matches!(predictor.predict_message(&with_struct), Outcome::TaskFailure { .. }));

    let mut with_int_keys = record.clone();
    let entries = [(prost_reflect::MapKey::I32(1), Value::String("x".into()))];
    set(&mut with_int_keys, "by_code", Value::Map(entries.into_iter().collect()));
    assert!(matches!(predictor.predict_message(&with_int_keys), Outcome::TaskFailure { .. }));

    let mut late = record.clone();
    set(&mut late, "created_at", Value::Message(timestamp(&record, 253_402_300_800, 0)));
    assert!(matches!(predictor.predict_message(&late), Outcome::TaskFailure { .. }));

    let (predictor, message) = setup();
    let untimed = DynamicMessage::new(message);
    assert_eq!(
        predictor.predict_message(&untimed),
        Outcome::Unparseable { reason: "Timestamp[null] is unparseable!".into() }
    );
}

#[test]
fn releases_the_predictor_does_not_model_are_refused() {
    let (_, message) = setup();
    let dimensions = DimensionsConfig::parse(DIMENSIONS, "dimensions.json").unwrap();
    let release = |text| Release::parse(text).unwrap();
    assert!(Predictor::for_release(&message, &dimensions, release("33.0.0")).is_ok());
    assert!(Predictor::for_release(&message, &dimensions, release("34.0.0")).is_ok());
    let err = Predictor::for_release(&message, &dimensions, release("35.0.1")).unwrap_err();
    assert!(err.to_string().contains("18730"), "{err}");
    assert!(Predictor::for_release(&message, &dimensions, release("36.0.0")).is_err());
}
