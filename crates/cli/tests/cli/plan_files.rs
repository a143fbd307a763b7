//! `plan --out FILE`, then `apply FILE` (and `deploy --plan FILE`): what a merge request
//! pipeline runs, against the fake Druid over HTTP.

use druid_client::DruidApi as _;
use predicates::prelude::*;

use crate::druid::{druid, with_druid};
use crate::{druidctl, edit, git, sample_repo};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_file_is_applied_and_a_stale_one_refused() {
    let server = druid().await;
    let repo = sample_repo();
    let dir = repo.path();
    let run = |args: &[&str]| {
        let mut command = druidctl(dir);
        command.args(args);
        with_druid(&mut command, &server);
        command
    };
    run(&["plan", "--env", "dev", "--ignore-window", "--reason", "tests", "--out", "plan.json"])
        .assert()
        .success()
        .stderr(predicate::str::contains("plan written to plan.json"));
    assert!(server.fake.submitted().is_empty(), "planning submits nothing");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("plan.json")).unwrap()).unwrap();
    assert_eq!(written["format"], "druidctl-plan/1");
    assert_eq!(written["overrides"]["window"], "tests");
    run(&["apply", "plan.json"])
        .assert()
        .success()
        .stderr(predicate::str::contains("plan plan.json made by ci-test"))
        .stdout(predicate::str::contains("deployed"));
    assert_eq!(server.fake.submitted().len(), 1);
    let live = server.fake.get_spec("settlement_transactions_dev").await.unwrap().unwrap();
    let planned: druid_client::spec::SupervisorSpec =
        serde_json::from_value(written["carry"]["spec"].clone()).unwrap();
    assert_eq!(live, planned, "Druid runs the planned spec");

    // A change planned, then a console edit before the apply: stale, nothing submitted.
    edit(&dir.join("druidctl.toml"), "task_count = 1", "task_count = 2");
    git(dir, &["commit", "-qam", "two tasks"]);
    run(&["plan", "--env", "dev", "--ignore-window", "--reason", "tests", "--out", "next.json"])
        .assert()
        .success();
    let mut edited = live.clone();
    edited.spec.as_mut().unwrap().io_config.replicas = Some(3);
    server.fake.edit_live_spec("settlement_transactions_dev", edited);
    let submitted = server.fake.submitted().len();
    run(&["deploy", "--plan", "next.json"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "the plan is stale: the live spec of settlement_transactions_dev changed",
        ))
        .stderr(predicate::str::contains("plan again"));
    assert_eq!(server.fake.submitted().len(), submitted, "nothing submitted");
    // Another environment than the plan's.
    run(&["apply", "next.json", "--env", "staging"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("the plan file is for environment dev, not staging"));
    // Edited by hand: refused.
    let text = std::fs::read_to_string(dir.join("next.json")).unwrap();
    std::fs::write(dir.join("next.json"), text.replacen("\"replicas\": 1", "\"replicas\": 2", 1)).unwrap();
    run(&["apply", "next.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("its digest does not match its content"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_plan_is_not_written() {
    let server = druid().await;
    let repo = sample_repo();
    let dir = repo.path();
    edit(
        &dir.join("config/dimensions.json"),
        r#"{ "name": "merchantId" }"#,
        r#"{ "name": "merchantId", "from": "noSuchField" }"#,
    );
    let mut command = druidctl(dir);
    command.args(["plan", "--env", "dev", "--ignore-window", "--reason", "tests", "--out", "plan.json"]);
    with_druid(&mut command, &server);
    command.assert().code(1).stderr(predicate::str::contains("plan not written to plan.json"));
    assert!(!dir.join("plan.json").exists());
}
