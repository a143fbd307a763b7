//! The sample project rendered for every environment, compared with snapshots.

use base64::Engine as _;
use deploy_core::Project;
use deploy_core::config::Overrides;
use prost::Message as _;
use serde_json::Value;
use sha2::Digest as _;

use crate::repo_root;

fn sample() -> Project {
    Project::open(&repo_root().join("druidctl.toml")).expect("the sample project opens")
}

fn rendered(environment: &str) -> (Value, deploy_core::Checked) {
    let project = sample();
    let environment = project.environment(environment, &Overrides::default()).unwrap();
    let checked = project.check().unwrap();
    let spec = checked.render(&environment, Some("abc123f")).unwrap();
    (serde_json::to_value(&spec).unwrap(), checked)
}

/// The descriptor blob is replaced by its digest: a schema change still changes the snapshot.
fn redacted(mut spec: Value) -> Value {
    let decoder = spec.pointer_mut("/spec/ioConfig/inputFormat/protoBytesDecoder").unwrap();
    if let Some(blob) = decoder.get("descriptorString").and_then(Value::as_str) {
        let bytes = base64::engine::general_purpose::STANDARD.decode(blob).unwrap();
        let digest = hex::encode(sha2::Sha256::digest(&bytes));
        decoder["descriptorString"] =
            Value::String(format!("[base64 of descriptor sha256 {}]", &digest[..12]));
    }
    spec
}

#[test]
fn sample_is_valid() {
    let (_, checked) = rendered("dev");
    assert_eq!(checked.error_count(), 0, "{:#?}", checked.problems);
}

#[test]
fn dev_spec() {
    insta::assert_json_snapshot!("dev", redacted(rendered("dev").0));
}

#[test]
fn staging_spec() {
    insta::assert_json_snapshot!("staging", redacted(rendered("staging").0));
}

#[test]
fn prod_spec() {
    insta::assert_json_snapshot!("prod", redacted(rendered("prod").0));
}

#[test]
fn inline_descriptor_is_exactly_the_compiled_set() {
    let (spec, checked) = rendered("prod");
    let decoder = &spec["spec"]["ioConfig"]["inputFormat"]["protoBytesDecoder"];
    assert_eq!(decoder["type"], "inline");
    assert_eq!(decoder["protoMessageType"], "settlement.v1.SettlementTransaction");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(decoder["descriptorString"].as_str().unwrap())
        .unwrap();
    assert_eq!(bytes, checked.schema.descriptor_set());
    let set = prost_types::FileDescriptorSet::decode(bytes.as_slice()).unwrap();
    let names: Vec<_> = set.file.iter().map(prost_types::FileDescriptorProto::name).collect();
    assert_eq!(names, ["google/protobuf/timestamp.proto", "settlement_transaction.proto"]);
    assert!(set.file.iter().all(|file| file.source_code_info.is_none()));
}

#[test]
fn url_delivery_points_druid_at_the_version() {
    let text = std::fs::read_to_string(repo_root().join("druidctl.toml")).unwrap().replace(
        "[environments.prod]\n",
        "[environments.prod]\ndescriptor = { delivery = \"url\", url = \"https://schemas.example.com/schemas/{version}/descriptor.binpb\" }\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("druidctl.toml");
    std::fs::write(&config, text).unwrap();
    for part in ["schemas", "config"] {
        druidctl_tests::copy_dir(&repo_root().join(part), &dir.path().join(part));
    }
    let project = Project::open(&config).unwrap();
    let environment = project.environment("prod", &Overrides::default()).unwrap();
    let spec = project.check().unwrap().render(&environment, Some("abc123f")).unwrap();
    let spec = serde_json::to_value(&spec).unwrap();
    assert_eq!(
        spec["spec"]["ioConfig"]["inputFormat"]["protoBytesDecoder"],
        serde_json::json!({
            "type": "file",
            "descriptor": "https://schemas.example.com/schemas/abc123f/descriptor.binpb",
            "protoMessageType": "settlement.v1.SettlementTransaction"
        })
    );
}
