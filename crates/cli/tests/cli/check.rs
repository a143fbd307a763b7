//! `druidctl check`: the output contract scripts rely on.

use predicates::prelude::*;
use serde_json::Value;

use crate::{druidctl, edit, git, repo_root, sample_copy, sample_repo};

fn old_copy() -> tempfile::TempDir {
    let old = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo_root().join("schemas/proto/settlement_transaction.proto"),
        old.path().join("settlement_transaction.proto"),
    )
    .unwrap();
    std::fs::write(old.path().join("buf.yaml"), "version: v2\n").unwrap(); // ignored
    old
}

#[test]
fn a_rename_is_wire_safe_but_breaks_druid() {
    let dir = sample_copy();
    let old = old_copy();
    edit(
        &dir.path().join("schemas/proto/settlement_transaction.proto"),
        "string merchant_id = 2;",
        "string merchant = 2;",
    );
    // buf's WIRE alone accepts it...
    druidctl(dir.path())
        .args(["check", "--against"])
        .arg(old.path())
        .args(["--mode", "wire", "--no-druid"])
        .assert()
        .success()
        .stdout(predicate::str::is_empty());
    // ...the Druid rules do not: the dimension `merchantId` would be null.
    druidctl(dir.path())
        .args(["check", "--against"])
        .arg(old.path())
        .args(["--mode", "wire"])
        .assert()
        .code(1)
        .stdout(predicate::str::is_match(
            r"schemas/proto/settlement_transaction\.proto:\d+:\d+: DRUID_DIMENSION_RENAMED column `merchantId`: it reads `merchantId`, which is now `merchant`.*: Druid would store null \(old and new records\)",
        )
        .unwrap());
}

#[test]
fn json_output_follows_the_contract() {
    let dir = sample_copy();
    let old = old_copy();
    edit(
        &dir.path().join("schemas/proto/settlement_transaction.proto"),
        "int64 amount_minor = 5;",
        "string amount_minor = 5;",
    );
    let output = druidctl(dir.path())
        .args(["check", "--proto-root", "schemas/proto", "--against"])
        .arg(old.path())
        .args(["--mode", "wire-json", "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["breaking"], true);
    assert_eq!(report["mode"], "wire-json");
    let rules: Vec<&str> =
        report["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert!(rules.contains(&"FIELD_WIRE_JSON_COMPATIBLE_TYPE"), "{rules:?}");
    let finding = &report["findings"][0];
    let keys: Vec<&str> = finding.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["rule", "category", "severity", "file", "line", "column", "message"]);
    assert_eq!(finding["file"], "settlement_transaction.proto");
    assert!(finding["line"].as_u64().unwrap() > 0);
    // The Druid verdict, apart: the column, the records affected and what Druid stores instead.
    assert_eq!(report["stops"], true);
    assert_eq!(report["druid"]["damaging"], true);
    let druid = &report["druid"]["findings"][0];
    let keys: Vec<&str> = druid.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["rule", "severity", "column", "records", "stores", "file", "line", "col", "message"]);
    assert_eq!(
        (&druid["rule"], &druid["column"], &druid["records"], &druid["stores"]),
        (
            &Value::from("DRUID_DIMENSION_TYPE_CHANGED"),
            &Value::from("amountMinor"),
            &Value::from("both"),
            &Value::from("other values")
        )
    );
}

#[test]
fn modes_differ_as_buf_categories_do() {
    let dir = sample_copy();
    let old = old_copy();
    edit(
        &dir.path().join("schemas/proto/settlement_transaction.proto"),
        "string country = 14;",
        "reserved 14;\n  reserved \"country\";",
    );
    edit(&dir.path().join("config/dimensions.json"), r#"{ "name": "country" },"#, "");
    let run = |mode: &str| {
        druidctl(dir.path())
            .args(["check", "--no-druid", "--mode", mode, "--against"])
            .arg(old.path())
            .output()
            .unwrap()
    };
    assert_eq!(run("file").status.code(), Some(1)); // FIELD_NO_DELETE
    assert!(String::from_utf8_lossy(&run("file").stdout).contains("FIELD_NO_DELETE field 14 `country` of"));
    assert_eq!(run("wire-json").status.code(), Some(0)); // number and name reserved
    assert_eq!(run("wire").status.code(), Some(0));
}

#[test]
fn unusable_input_exits_2_with_the_location() {
    let dir = sample_copy();
    let old = old_copy();
    edit(
        &dir.path().join("schemas/proto/settlement_transaction.proto"),
        "string currency = 6;",
        "string currency = ;",
    );
    druidctl(dir.path())
        .args(["check", "--against"])
        .arg(old.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("settlement_transaction.proto:"))
        .stderr(predicate::str::contains("expected an integer"));
    druidctl(dir.path())
        .args(["check", "--against", "no/such/dir"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not a directory"));
}

#[test]
fn publish_is_gated_against_the_channel_and_the_override_is_recorded() {
    let repo = sample_repo();
    let dir = repo.path();
    druidctl(dir).args(["schemas", "publish", "--env", "dev"]).assert().success();
    let first = git(dir, &["rev-parse", "--short=7", "HEAD"]);
    druidctl(dir)
        .args(["schemas", "promote", &first, "--channel", "develop-latest", "--env", "dev"])
        .assert()
        .success();

    // Change a dimension's field type: Druid would store something else. Never overridden.
    let proto = dir.join("schemas/proto/settlement_transaction.proto");
    edit(&proto, "string country = 14;", "int32 country = 14;");
    git(dir, &["commit", "-qam", "country as a number"]);
    for override_flags in [&[][..], &["--allow-breaking", "--reason", "we know"][..]] {
        druidctl(dir)
            .args(["schemas", "publish", "--env", "dev"])
            .args(override_flags)
            .assert()
            .code(1)
            .stderr(predicate::str::contains("DRUID_DIMENSION_TYPE_CHANGED column `country`"))
            .stderr(predicate::str::contains(format!(
                "the schema change damages what Druid stores, compared with {first}"
            )));
    }
    edit(&proto, "int32 country = 14;", "string country = 14;");
    // Rename a field no column reads: the policy (WIRE_JSON) objects, Druid's data is intact.
    edit(&proto, "string last4 = 2;", "string last_four = 2;");
    git(dir, &["commit", "-qam", "last_four"]);
    druidctl(dir)
        .args(["schemas", "publish", "--env", "dev"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("FIELD_SAME_JSON_NAME"))
        .stderr(predicate::str::contains("the data Druid stores is unchanged (the policy alone objects)"))
        .stderr(predicate::str::contains("--allow-breaking --reason TEXT"));
    let second = git(dir, &["rev-parse", "--short=7", "HEAD"]);
    druidctl(dir)
        .args([
            "schemas",
            "publish",
            "--env",
            "dev",
            "--allow-breaking",
            "--reason",
            "last4 is last_four in the new client (DATA-123)",
        ])
        .assert()
        .success();
    let manifest: Value = serde_json::from_slice(
        &druidctl(dir)
            .args(["schemas", "show", &second, "--env", "dev", "-o", "json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(manifest["breaking_override"]["reason"], "last4 is last_four in the new client (DATA-123)");
    assert_eq!(manifest["parent"], first.as_str());
    assert_eq!(manifest["compatibility"]["breaking"], true);
    assert_eq!(manifest["compatibility"]["druid"]["damaging"], false);
}

#[cfg(unix)]
#[test]
fn files_keep_their_modes_under_umask_000() {
    use std::os::unix::fs::PermissionsExt as _;
    let repo = sample_repo();
    let dir = repo.path();
    let binary = assert_cmd::cargo::cargo_bin("druidctl");
    // Publishes under umask 000, then checks every entry of `registry` has the modes asked.
    let publish_and_check = |registry: &str, (file, directory): (u32, u32)| {
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("umask 000 && exec '{}' schemas publish --env dev", binary.display()))
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .env_remove("DRUIDCTL_REGISTRY")
            .status()
            .unwrap();
        assert!(status.success());
        let mut checked = 0;
        for entry in walkdir::WalkDir::new(dir.join(registry)) {
            let entry = entry.unwrap();
            let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
            let expected = if entry.file_type().is_dir() { directory } else { file };
            assert_eq!(mode, expected, "{} is {mode:o}", entry.path().display());
            checked += 1;
        }
        assert!(checked > 5, "{checked} entries in {registry}");
    };
    publish_and_check(".registry", (0o644, 0o755));
    // registry_private: owner only, under the same umask.
    edit(
        &dir.join("druidctl.toml"),
        "allow_dirty = true\n",
        "allow_dirty = true\nregistry_private = true\nregistry = \"file://.private\"\n",
    );
    publish_and_check(".private", (0o600, 0o700));
}

#[test]
fn two_trees_need_no_project_file() {
    // How buf users compare two trees: no druidctl.toml here or above.
    let old = old_copy();
    let new = old_copy();
    edit(
        &new.path().join("settlement_transaction.proto"),
        "int64 amount_minor = 5;",
        "string amount_minor = 5;",
    );
    let outside = tempfile::tempdir().unwrap();
    druidctl(outside.path())
        .args(["check", "--proto-root"])
        .arg(new.path())
        .arg("--against")
        .arg(old.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("FIELD_WIRE_JSON_COMPATIBLE_TYPE"));
    druidctl(outside.path())
        .args(["check", "--proto-root"])
        .arg(old.path())
        .arg("--against")
        .arg(old.path())
        .assert()
        .success();
    // Without --proto-root there is nothing to compare: the error says what to pass.
    druidctl(outside.path())
        .arg("check")
        .arg("--against")
        .arg(old.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("pass --proto-root DIR"));
}
