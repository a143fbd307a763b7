//! compile, validate and render: the commands that need no network.

use base64::Engine as _;
use predicates::prelude::*;
use prost::Message as _;
use serde_json::Value;

use crate::{druidctl, edit, repo_root, sample_copy};

fn stdout_json(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!("stdout is not JSON ({err}): {}", String::from_utf8_lossy(&output.stdout))
    })
}

#[test]
fn compile_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("a.binpb"), dir.path().join("b.binpb"));
    for out in [&first, &second] {
        druidctl(&repo_root())
            .args(["compile", "--out"])
            .arg(out)
            .assert()
            .success()
            .stdout(predicate::str::contains("compiled settlement.v1.SettlementTransaction from 2 files"));
    }
    let bytes = std::fs::read(&first).unwrap();
    assert_eq!(bytes, std::fs::read(&second).unwrap());
    let set = prost_types::FileDescriptorSet::decode(bytes.as_slice()).unwrap();
    assert_eq!(set.file.len(), 2);
}

#[test]
fn compile_reports_its_digest_in_json() {
    let dir = sample_copy();
    let output = druidctl(dir.path()).args(["compile", "--output", "json"]).output().unwrap();
    assert!(output.status.success());
    let report = stdout_json(&output);
    let written = std::fs::read(dir.path().join("target/druidctl/descriptor.binpb")).unwrap();
    assert_eq!(report["bytes"], written.len());
    assert_eq!(report["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(report["sources"], serde_json::json!(["settlement_transaction.proto"]));
}

#[test]
fn a_proto_syntax_error_is_located_and_exits_2() {
    let dir = sample_copy();
    let proto = dir.path().join("schemas/proto/settlement_transaction.proto");
    edit(&proto, "int64 amount_minor = 5;", "int64 amount_minor = ;");
    let line = std::fs::read_to_string(&proto)
        .unwrap()
        .lines()
        .position(|line| line.contains("amount_minor = ;"))
        .unwrap()
        + 1;
    for command in ["compile", "validate"] {
        druidctl(dir.path()).arg(command).assert().code(2).stderr(predicate::str::contains(format!(
            "settlement_transaction.proto:{line}:24: expected an integer"
        )));
    }
}

#[test]
fn the_sample_validates() {
    druidctl(&repo_root())
        .args(["validate", "--env", "dev"])
        .assert()
        .success()
        .stdout(predicate::str::contains("valid: 0 errors"));
}

#[test]
fn a_proto_field_name_as_dimension_is_caught_with_the_json_name() {
    let dir = sample_copy();
    let dimensions = dir.path().join("config/dimensions.json");
    edit(&dimensions, r#"{ "name": "transactionId" }"#, r#"{ "name": "transaction_id" }"#);
    edit(&dimensions, r#""from": "card.scheme""#, r#""from": "card.sheme""#);
    druidctl(dir.path())
        .args(["validate", "--env", "dev"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("JSON name `transactionId`"))
        .stdout(predicate::str::contains("help: write `transactionId`"))
        .stdout(predicate::str::contains("did you mean `scheme`?"))
        .stdout(predicate::str::contains("invalid: 2 errors"));

    let output = druidctl(dir.path()).args(["validate", "--output", "json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report = stdout_json(&output);
    assert_eq!(report["ok"], false);
    assert_eq!(report["errors"], 2);
    assert_eq!(report["problems"][0]["location"], "dimensions[0].name");

    // render refuses to produce a spec Druid would ingest as nulls
    druidctl(dir.path())
        .args(["render", "--env", "dev"])
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("does not match the schema (2 errors)"));
}

#[test]
fn render_prod_carries_the_compiled_descriptor_and_prod_sizing() {
    let dir = sample_copy();
    druidctl(dir.path()).arg("compile").assert().success();
    let compiled = std::fs::read(dir.path().join("target/druidctl/descriptor.binpb")).unwrap();
    let output = druidctl(dir.path()).args(["render", "--env", "prod"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let spec = stdout_json(&output);
    let io = &spec["spec"]["ioConfig"];
    let blob = io["inputFormat"]["protoBytesDecoder"]["descriptorString"].as_str().unwrap();
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(blob).unwrap(), compiled);
    assert_eq!((io["taskCount"].as_u64(), io["replicas"].as_u64()), (Some(4), Some(2)));
    assert_eq!(spec["spec"]["dataSchema"]["dataSource"], "settlement_transactions");
}

#[test]
fn environment_variables_override_the_file() {
    let output = druidctl(&repo_root())
        .args(["render", "--env", "dev"])
        .env("DRUIDCTL_KAFKA_BOOTSTRAP", "broker-a:9092,broker-b:9092")
        .output()
        .unwrap();
    let spec = stdout_json(&output);
    assert_eq!(
        spec["spec"]["ioConfig"]["consumerProperties"]["bootstrap.servers"],
        "broker-a:9092,broker-b:9092"
    );
}

#[test]
fn environment_mistakes_exit_2_with_a_hint() {
    druidctl(&repo_root())
        .args(["render", "--env", "prd"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "error: unknown environment `prd` (did you mean `prod`?); known: dev, prod, staging",
        ))
        .stderr(predicate::str::contains("hint:"));
    druidctl(&repo_root())
        .arg("render")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("this command needs --env"));
    druidctl(&repo_root()).args(["render", "--bogus"]).assert().code(2);
}

#[test]
fn a_bad_configuration_value_names_its_key() {
    let dir = sample_copy();
    edit(&dir.path().join("druidctl.toml"), "ingestion.task_count = 4", "ingestion.task_count = -4");
    druidctl(dir.path())
        .arg("validate")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("environments.prod.ingestion.task_count"));
}

#[test]
fn no_project_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    druidctl(dir.path())
        .arg("compile")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no druidctl.toml found"))
        .stderr(predicate::str::contains("--config"));
}

#[test]
fn config_may_live_elsewhere() {
    let dir = sample_copy();
    let elsewhere = tempfile::tempdir().unwrap();
    druidctl(elsewhere.path())
        .args(["render", "--env", "dev", "--config"])
        .arg(dir.path().join("druidctl.toml"))
        .assert()
        .success()
        .stdout(predicate::str::contains("settlement_transactions_dev"));
}

#[test]
fn validate_reports_every_configuration_error_at_once() {
    let dir = crate::sample_copy();
    let config = dir.path().join("druidctl.toml");
    edit(&config, "[environments.staging]\n", "[environments.staging]\ntask_cuont = 1\n");
    edit(&config, "[environments.prod]\n", "[environments.prod]\nkafka.topik = \"x\"\n");
    let output = druidctl(dir.path()).arg("validate").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("environments.staging.task_cuont"), "{stderr}");
    assert!(
        stderr.contains("environments.prod.kafka.topik") && stderr.contains("did you mean `topic`?"),
        "{stderr}"
    );
    assert!(stderr.contains("2 environments have errors"), "{stderr}");
}

#[test]
fn compile_out_dash_writes_the_descriptor_set_to_stdout() {
    let dir = crate::sample_copy();
    let output = druidctl(dir.path()).args(["compile", "--out", "-"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let set = prost_types::FileDescriptorSet::decode(output.stdout.as_slice()).unwrap();
    assert!(set.file.iter().any(|file| file.name() == "settlement_transaction.proto"));
    assert!(!dir.path().join("-").exists(), "no file named -");
    assert!(String::from_utf8_lossy(&output.stderr).contains("to stdout"));
}

#[test]
fn init_config_view_version_and_completion_registration() {
    let dir = tempfile::tempdir().unwrap();
    druidctl(dir.path())
        .arg("init")
        .assert()
        .success()
        .stdout(predicate::str::contains("record type example.v1.Event"));
    druidctl(dir.path()).arg("validate").assert().success();
    druidctl(dir.path()).args(["render", "--env", "prod"]).assert().success();
    druidctl(dir.path())
        .arg("init")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("exists already").and(predicate::str::contains("--force")));
    let view = druidctl(dir.path())
        .args(["config", "view", "--env", "prod", "--show-origin"])
        .env("DRUIDCTL_DRUID_PASSWORD", "s3cr3t")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&view.stdout);
    assert!(text.contains("confirm = true") && text.contains("# environments.prod.confirm"), "{text}");
    assert!(
        text.contains("druid.url = \"http://127.0.0.1:8888\"") && text.contains("# defaults.druid.url"),
        "{text}"
    );
    assert!(
        text.contains("druid.password = \"***\"") && text.contains("# $DRUIDCTL_DRUID_PASSWORD"),
        "{text}"
    );
    assert!(!text.contains("s3cr3t"));
    druidctl(dir.path()).arg("version").assert().success().stdout(predicate::str::starts_with("druidctl 0."));
    let registration = druidctl(dir.path()).env("COMPLETE", "bash").output().unwrap();
    assert!(String::from_utf8_lossy(&registration.stdout).contains("complete"), "a bash registration script");
}

#[test]
fn typos_get_suggestions_and_colour_follows_the_flag() {
    druidctl(&repo_root())
        .args(["render", "--evn", "dev"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--env"));
    druidctl(&repo_root()).arg("rendr").assert().code(2).stderr(predicate::str::contains("render"));
    druidctl(&repo_root())
        .args(["render", "--env", "dve"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("did you mean `dev`?"));
    let coloured =
        druidctl(&repo_root()).args(["--color", "always", "render", "--env", "nope"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&coloured.stderr).contains("\u{1b}["),
        "ANSI colours with --color always"
    );
    let plain =
        druidctl(&repo_root()).args(["--color", "never", "render", "--env", "nope"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&plain.stderr).contains("\u{1b}["), "none with --color never");
}

#[test]
fn a_failure_under_output_json_is_a_json_document_on_stdout() {
    let output =
        druidctl(&repo_root()).args(["render", "--env", "prd", "--output", "json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["error"]["kind"], "input");
    assert_eq!(document["error"]["exit_code"], 2);
    assert!(document["error"]["message"].as_str().unwrap().contains("unknown environment `prd`"));
    assert!(document["error"]["hint"].as_str().unwrap().contains("--env"));
}
