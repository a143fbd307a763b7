use super::*;
use proto_schema::CompiledSchema;

const PROTO: &str = r#"
syntax = "proto3";
package t;
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";
message Row {
  string transaction_id = 1;
  int64 amount_minor = 2;
  optional int64 tip_minor = 3;
  State state = 4;
  google.protobuf.Timestamp created_at = 5;
  Inner inner = 6;
  map<string, string> labels = 7;
  repeated string tags = 8;
  repeated int64 codes = 9;
  google.protobuf.Int64Value wrapped = 10;
  string legacy = 11 [json_name = "legacyName"];
  int64 created_millis = 12;
  double ratio = 13;
  bytes raw = 14;
  enum State { STATE_UNSPECIFIED = 0; STATE_OK = 1; }
  message Inner { string scheme = 1; Deeper deeper = 2; }
  message Deeper { string code = 1; }
}
"#;

fn message() -> MessageDescriptor {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("row.proto"), PROTO).unwrap();
    CompiledSchema::compile_dir(dir.path()).unwrap().message("t.Row").unwrap()
}

fn check(json: &str) -> Vec<Problem> {
    let config = DimensionsConfig::parse(json, "test.json").unwrap();
    validate(&message(), &config)
}

fn dims(dimensions: &str) -> Vec<Problem> {
    check(&format!(r#"{{"timestamp":{{"column":"createdAt","format":"iso"}},"dimensions":[{dimensions}]}}"#))
}

fn errors(problems: &[Problem]) -> Vec<&Problem> {
    problems.iter().filter(|p| p.severity == Severity::Error).collect()
}

#[test]
fn a_correct_mapping_has_no_errors() {
    let problems = dims(
        r#"{"name":"transactionId"},{"name":"amountMinor","type":"long"},{"name":"tipMinor","type":"long"},
           {"name":"state"},{"name":"scheme","from":"inner.scheme"},{"name":"code","from":"inner.deeper.code"},
           {"name":"labels","type":"json"},{"name":"orderId","from":"labels.orderId"},{"name":"tags"},
           {"name":"wrapped","type":"long"},{"name":"legacyName"},{"name":"ratio","type":"double"},
           {"name":"inner","type":"json"}"#,
    );
    assert!(errors(&problems).is_empty(), "{problems:#?}");
    // amountMinor and ratio have no presence: a 0 becomes null, worth an info line;
    // tipMinor is optional and wrapped is a wrapper, so they keep their zeros.
    let infos: Vec<_> =
        problems.iter().filter(|p| p.severity == Severity::Info).map(|p| p.subject.as_str()).collect();
    assert_eq!(infos, ["dimension `amountMinor`", "dimension `tags`", "dimension `ratio`"]);
}

#[test]
fn proto_names_are_caught_with_the_json_name_suggested() {
    let problems =
        dims(r#"{"name":"transaction_id"},{"name":"x","from":"inner.deeper_x"},{"name":"legacy"}"#);
    let first = &problems[0];
    assert_eq!(first.severity, Severity::Error);
    assert_eq!(first.location, "dimensions[0].name");
    assert!(first.message.contains("JSON name `transactionId`"), "{first:?}");
    assert_eq!(first.help.as_deref(), Some("write `transactionId` (field `transaction_id` of t.Row)"));
    // an explicit json_name wins over the proto name
    assert!(problems[2].message.contains("`legacyName`"), "{problems:#?}");
    assert_eq!(errors(&problems).len(), 3);
}

#[test]
fn nested_fields_without_a_path_point_at_the_path() {
    let problems = dims(r#"{"name":"scheme"}"#);
    assert_eq!(problems[0].help.as_deref(), Some("nested fields need a path: \"from\": \"inner.scheme\""));
    let typo = dims(r#"{"name":"transactonId"}"#);
    assert_eq!(typo[0].help.as_deref(), Some("did you mean `transactionId`?"));
}

#[test]
fn types_are_checked_against_what_druid_receives() {
    let problems = dims(
        r#"{"name":"state","type":"long"},{"name":"createdAt","type":"long","from":"createdAt"},
           {"name":"inner"},{"name":"labels"},{"name":"codes","type":"long"},{"name":"raw","type":"double"}"#,
    );
    let errs: Vec<_> = errors(&problems).iter().map(|p| p.location.as_str()).collect();
    assert_eq!(
        errs,
        [
            "dimensions[0].name",
            "dimensions[1].from",
            "dimensions[3].name",
            "dimensions[4].name",
            "dimensions[5].name"
        ]
    );
    assert!(problems[0].message.contains("enum"));
    // A message in a string column is stored as Java's text of it (measured by the
    // conformance suite): a warning, not an error.
    let inner = problems.iter().find(|p| p.location == "dimensions[2].name").unwrap();
    assert_eq!(inner.severity, Severity::Warning, "{inner:?}");
    assert!(inner.message.contains("Java's text"), "{inner:?}");
}

#[test]
fn paths_through_lists_and_scalars_are_refused() {
    let problems = dims(
        r#"{"name":"a","from":"tags.x"},{"name":"b","from":"transactionId.x"},{"name":"c","from":"createdAt.seconds"}"#,
    );
    assert_eq!(errors(&problems).len(), 3, "{problems:#?}");
}

#[test]
fn duplicates_and_reserved_names() {
    let problems = dims(r#"{"name":"state"},{"name":"state"},{"name":"__time"}"#);
    assert_eq!(errors(&problems).len(), 2, "{problems:#?}");
    assert!(problems.iter().any(|p| p.message == "duplicate of dimensions[0]"));
}

#[test]
fn timestamp_format_must_match_the_field() {
    let bad = check(r#"{"timestamp":{"column":"createdAt","format":"millis"},"dimensions":[]}"#);
    assert_eq!(bad[0].help.as_deref(), Some("use \"format\": \"iso\""));
    let good = check(r#"{"timestamp":{"column":"createdMillis","format":"millis"},"dimensions":[]}"#);
    assert!(good.is_empty(), "{good:#?}");
    let wrong_name = check(r#"{"timestamp":{"column":"created_at","format":"iso"},"dimensions":[]}"#);
    assert!(wrong_name[0].message.contains("`createdAt`"), "{wrong_name:#?}");
    let not_time = check(r#"{"timestamp":{"column":"inner","format":"auto"},"dimensions":[]}"#);
    assert_eq!(errors(&not_time).len(), 1);
}

#[test]
fn metrics_need_numeric_inputs_and_distinct_names() {
    let problems = check(
        r#"{"timestamp":{"column":"createdAt","format":"iso"},"dimensions":[{"name":"state"},{"name":"x","type":"long","from":"inner.scheme"}],
            "metrics":[{"name":"count","type":"count"},{"name":"state","type":"longSum","fieldName":"amountMinor"},
                       {"name":"s","type":"longSum","fieldName":"transactionId"},{"name":"t","type":"doubleSum"},
                       {"name":"u","type":"longSum","fieldName":"x"}]}"#,
    );
    let errs: Vec<_> = errors(&problems).iter().map(|p| p.location.as_str()).collect();
    assert_eq!(errs, ["metrics[1]", "metrics[2].fieldName", "metrics[3]"], "{problems:#?}");
}

#[test]
fn fields_druid_33_cannot_convert_are_found_even_unmapped() {
    let dir = tempfile::tempdir().unwrap();
    let proto = r#"
syntax = "proto3";
package u;
import "google/protobuf/any.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
message Row {
  google.protobuf.Timestamp created_at = 1;
  Extra extra = 2;
  google.protobuf.Any payload = 3;
  repeated google.protobuf.Struct many = 4;
  map<string, string> fine = 5;
}
message Extra { map<int32, string> codes = 1; google.protobuf.Struct attributes = 2; }
"#;
    std::fs::write(dir.path().join("row.proto"), proto).unwrap();
    let message = CompiledSchema::compile_dir(dir.path()).unwrap().message("u.Row").unwrap();
    let config = DimensionsConfig::parse(
        r#"{"timestamp":{"column":"createdAt","format":"iso"},"dimensions":[{"name":"createdAt"}]}"#,
        "d.json",
    )
    .unwrap();
    let problems = validate(&message, &config);
    let found: Vec<(Severity, &str)> = problems
        .iter()
        .filter(|problem| problem.location.starts_with("(schema)"))
        .map(|problem| (problem.severity, problem.subject.as_str()))
        .collect();
    // Task failures are errors, an Any a warning; repeated Struct and string maps are fine.
    assert_eq!(
        found,
        [
            (Severity::Error, "field `extra.codes`"),
            (Severity::Error, "field `extra.attributes`"),
            (Severity::Warning, "field `payload`"),
        ]
    );
    assert!(problems[0].message.contains("fails the ingestion task"), "{:?}", problems[0]);
}
