//! `druidctl schemas`: publish, list, show, promote against a local-disk registry and S3.

use predicates::prelude::*;
use serde_json::Value;

use crate::{druidctl, edit, git, sample_repo};

fn json(output: &std::process::Output) -> Value {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn publish_list_promote_and_previous() {
    let repo = sample_repo();
    let dir = repo.path();
    let first = git(dir, &["rev-parse", "--short=7", "HEAD"]);
    druidctl(dir)
        .args(["schemas", "publish", "--env", "dev"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("published {first} to file://")));
    druidctl(dir)
        .args(["schemas", "publish", "--env", "dev"])
        .assert()
        .success()
        .stdout(predicate::str::contains("already published").and(predicate::str::contains("nothing to do")));
    druidctl(dir)
        .args(["schemas", "promote", &first, "--channel", "develop-latest", "--env", "dev"])
        .assert()
        .success();

    // A second commit, published and promoted.
    edit(
        &dir.join("config/dimensions.json"),
        r#"{ "name": "country" },"#,
        r#"{ "name": "country" }, { "name": "acquirer", "from": "acquirerId" },"#,
    );
    git(dir, &["commit", "-qam", "add a dimension"]);
    let second = git(dir, &["rev-parse", "--short=7", "HEAD"]);
    druidctl(dir).args(["schemas", "publish", "--env", "dev"]).assert().success();
    druidctl(dir)
        .args(["schemas", "promote", &second, "--channel", "develop-latest", "--env", "dev"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("develop-latest: {first} -> {second} (move 2)")));

    let listed =
        json(&druidctl(dir).args(["schemas", "list", "--env", "dev", "-o", "json"]).output().unwrap());
    let rows: Vec<(&str, &Value)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["version"].as_str().unwrap(), &row["channels"]))
        .collect();
    assert_eq!(
        rows,
        [(first.as_str(), &Value::Array(vec![])), (second.as_str(), &serde_json::json!(["develop-latest"]))]
    );
    druidctl(dir)
        .args(["schemas", "list", "--env", "dev"])
        .assert()
        .success()
        .stdout(predicate::str::contains("VERSION").and(predicate::str::contains("develop-latest")));

    let previous = json(
        &druidctl(dir)
            .args(["schemas", "show", "previous-develop-latest", "--env", "dev", "-o", "json"])
            .output()
            .unwrap(),
    );
    assert_eq!(previous["version"], first.as_str());
    assert_eq!(previous["files"].as_object().unwrap().len(), 3);
    druidctl(dir)
        .args(["schemas", "show", "develop-latest", "--env", "dev"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("version       {second}")));
    let moves = json(
        &druidctl(dir)
            .args(["schemas", "list", "--channel", "develop-latest", "--env", "dev", "-o", "json"])
            .output()
            .unwrap(),
    );
    assert_eq!(moves["moves"].as_array().unwrap().len(), 2);
}

#[test]
fn immutability_and_integrity() {
    let repo = sample_repo();
    let dir = repo.path();
    let version = git(dir, &["rev-parse", "--short=7", "HEAD"]);
    druidctl(dir).args(["schemas", "publish", "--env", "dev"]).assert().success();

    // Different content under the same name is refused.
    edit(
        &dir.join("config/dimensions.json"),
        r#"{ "name": "country" },"#,
        r#"{ "name": "country" }, { "name": "acquirer", "from": "acquirerId" },"#,
    );
    druidctl(dir)
        .args(["schemas", "publish", "--env", "dev", "--schema-version", &version])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!("version `{version}` already exists")))
        .stderr(predicate::str::contains("differs: dimensions.json"));
    // Uncommitted changes never reach staging or prod.
    druidctl(dir)
        .args(["schemas", "publish", "--env", "prod"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("uncommitted changes"));

    // A tampered file is caught on read.
    std::fs::write(dir.join(format!(".registry/schemas/{version}/descriptor.binpb")), b"tampered").unwrap();
    druidctl(dir)
        .args(["schemas", "show", &version, "--env", "dev"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("descriptor.binpb does not match its manifest"));
    druidctl(dir)
        .args(["schemas", "show", "../../etc/passwd", "--env", "dev"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid version name"));
    druidctl(dir)
        .args(["schemas", "publish", "--env", "dev", "--allow-breaking"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--reason"));
}

#[test]
fn the_registry_can_be_on_s3() {
    let Some(endpoint) = std::env::var("DRUIDCTL_TEST_S3_ENDPOINT").ok().filter(|value| !value.is_empty())
    else {
        assert!(std::env::var_os("CI").is_none(), "CI must start LocalStack (make s3-up) for the S3 tests");
        return;
    };
    let bucket = format!(
        "druidctl-cli-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
    );
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let options = schema_registry::s3::S3Options {
            endpoint: Some(endpoint.clone()),
            credentials: Some(("test".into(), "test".to_owned().into())),
            ..Default::default()
        };
        schema_registry::s3::S3Store::connect(&bucket, "", options)
            .await
            .create_bucket_if_missing()
            .await
            .unwrap();
    });
    let repo = sample_repo();
    let dir = repo.path();
    let version = git(dir, &["rev-parse", "--short=7", "HEAD"]);
    let s3 = |command: &mut assert_cmd::Command| {
        command
            .env("DRUIDCTL_REGISTRY", format!("s3://{bucket}/team/settlement"))
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true");
    };
    let mut publish = druidctl(dir);
    s3(publish.args(["schemas", "publish", "--env", "prod"]));
    publish
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("published {version} to s3://{bucket}/team/settlement")));
    let mut promote = druidctl(dir);
    s3(promote.args(["schemas", "promote", &version, "--channel", "stable", "--env", "prod", "--yes"]));
    promote.assert().success();
    let mut list = druidctl(dir);
    s3(list.args(["schemas", "list", "--env", "prod", "-o", "json"]));
    let listed = json(&list.output().unwrap());
    assert_eq!(listed[0]["version"], version.as_str());
    assert_eq!(listed[0]["channels"], serde_json::json!(["stable"]));
}

#[test]
fn promote_follows_the_target_environments_rules() {
    let repo = sample_repo();
    let dir = repo.path();
    // A channel no environment follows: refused, with the likely one.
    druidctl(dir).args(["schemas", "publish", "--env", "dev"]).assert().success();
    let first = git(dir, &["rev-parse", "--short=7", "HEAD"]);
    druidctl(dir)
        .args(["schemas", "promote", &first, "--channel", "stabel", "--env", "dev"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("no environment follows channel `stabel`")
                .and(predicate::str::contains("did you mean `stable`?")),
        );
    assert!(!dir.join(".registry/schemas/stabel").exists(), "no channel was created");
    // An uncommitted version (dev allows publishing it) to stable, which prod follows.
    edit(
        &dir.join("config/dimensions.json"),
        r#"{ "name": "country" },"#,
        r#"{ "name": "country" }, { "name": "acq", "from": "acquirerId" },"#,
    );
    let published =
        json(&druidctl(dir).args(["schemas", "publish", "--env", "dev", "-o", "json"]).output().unwrap());
    let dirty = published["version"].as_str().unwrap().to_owned();
    assert!(dirty.contains("-dirty-"), "{dirty}");
    druidctl(dir)
        .args(["schemas", "promote", &dirty, "--channel", "stable", "--env", "dev"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("needs a recorded reason")
                .and(predicate::str::contains("`prod` takes only committed schemas"))
                .and(predicate::str::contains("--reason")),
        );
    // With a reason, prod's confirmation is still asked for (and refused off a terminal).
    druidctl(dir)
        .args([
            "schemas",
            "promote",
            &dirty,
            "--channel",
            "stable",
            "--env",
            "dev",
            "--reason",
            "hotfix INC-7",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("pass --yes"));
    druidctl(dir)
        .args([
            "schemas",
            "promote",
            &dirty,
            "--channel",
            "stable",
            "--env",
            "dev",
            "--reason",
            "hotfix INC-7",
            "--yes",
        ])
        .assert()
        .success();
    let moves = json(
        &druidctl(dir)
            .args(["schemas", "list", "--env", "dev", "--channel", "stable", "-o", "json"])
            .output()
            .unwrap(),
    );
    let text = moves.to_string();
    assert!(text.contains("hotfix INC-7") && text.contains(&dirty), "{text}");
    // dev allows uncommitted versions: no reason needed there.
    druidctl(dir)
        .args(["schemas", "promote", &dirty, "--channel", "develop-latest", "--env", "dev"])
        .assert()
        .success();
}

#[test]
fn a_lock_left_by_a_crashed_deploy_is_broken_by_hand_and_recorded() {
    let repo = sample_repo();
    let dir = repo.path();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = std::sync::Arc::new(schema_registry::LocalStore::new(dir.join(".registry")));
        let ledger = deploy_core::ledger::Ledger::new(schema_registry::Registry::new(store));
        ledger.acquire("dev", "ci@runner pid 4711", std::time::Duration::from_mins(20)).await.unwrap();
    });
    druidctl(dir)
        .args(["deploy", "--env", "dev", "--ignore-window", "--reason", "tests"])
        .assert()
        .code(3)
        .stderr(
            predicate::str::contains("locked by ci@runner pid 4711")
                .and(predicate::str::contains("druidctl unlock --env")),
        );
    druidctl(dir)
        .args(["unlock", "--env", "dev"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--reason"));
    druidctl(dir)
        .args(["unlock", "--env", "dev", "--reason", "runner killed"])
        .env("DRUIDCTL_ACTOR", "alice")
        .assert()
        .success()
        .stdout(predicate::str::contains("broke the lock of dev held by ci@runner pid 4711"));
    druidctl(dir)
        .args(["unlock", "--env", "dev", "--reason", "again"])
        .assert()
        .success()
        .stdout(predicate::str::contains("not locked: nothing to do"));
    let history = json(&druidctl(dir).args(["history", "--env", "dev", "-o", "json"]).output().unwrap());
    let last = history.as_array().unwrap().last().unwrap();
    assert_eq!((last["action"].as_str(), last["by"].as_str()), (Some("unlock"), Some("alice")));
    assert!(last["detail"].as_str().unwrap().contains("runner killed"));
}

#[test]
fn recover_says_when_there_is_nothing_to_recover() {
    let repo = sample_repo();
    druidctl(repo.path())
        .args(["recover", "--env", "dev"])
        .assert()
        .success()
        .stdout(predicate::str::contains("dev: no abandoned deploy to recover"));
}
