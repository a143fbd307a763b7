//! End-to-end tests against the real local stack (`make dev-up`: ZooKeeper, Kafka, Druid).
//!
//! Run with `make test-e2e` (`cargo test -p druidctl-tests --test e2e -- --ignored
//! --test-threads=3`: three at a time); plain `cargo test` lists them as ignored. Run, they fail, never skip,
//! when the stack is down. Each test has its own datasource, topic and registry (named after
//! the test and the time), and removes its supervisor and tasks at the end (and any that an
//! earlier failed test left) so the Indexer's task slots are free for the next one.
// Druid's counts are whole numbers carried as f64: exact comparison is meant.
#![allow(
    clippy::float_cmp,
    clippy::missing_panics_doc,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

mod conformance;
mod druid_effect;
mod fleet;
mod migration;
mod support;
mod verdict;

use std::collections::BTreeMap;

use deploy_core::Error;
use deploy_core::deploy::{DeployOptions, DeployOutcome};
use deploy_core::drift::fingerprint;
use deploy_core::monitor::AlertKind;
use deploy_core::verify::Verdict;
use druid_client::supervisors::SupervisorState;
use serde_json::Value;

use support::Case;

#[tokio::test]
#[ignore = "needs the local stack: make dev-up && make test-e2e"]
async fn a_deploy_runs_and_every_record_lands_in_its_columns() {
    let case = Case::new("columns").await;
    let deployed = case.deploy("v1").await;
    let DeployOutcome::Deployed { verification, .. } = &deployed else { panic!("{deployed:#?}") };
    assert!(verification.passed(), "{verification:#?}");
    let status = case.druid.supervisors().status(&case.datasource).await.unwrap();
    assert_eq!(status.payload.state, Some(SupervisorState::Running));
    assert_eq!(status.payload.active_tasks.len(), 1);

    let messages = case.produce_valid(1000, 11).await;
    let count = case.wait_count("TRUE", 1000).await;
    assert_eq!(count, 1000, "exactly the records written, no more");

    // Sample rows by their transaction id (unique ones only: ids are random).
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    for message in &messages {
        *ids.entry(support::string_field(message, "transactionId")).or_default() += 1;
    }
    let sample: Vec<_> = messages
        .iter()
        .filter(|message| ids[&support::string_field(message, "transactionId")] == 1)
        .step_by(50)
        .collect();
    assert!(sample.len() >= 15, "{} unique ids sampled", sample.len());
    let dimensions = case.dimensions();
    let mut compared: BTreeMap<&str, usize> = BTreeMap::new();
    for message in sample {
        let id = support::string_field(message, "transactionId");
        let rows =
            case.sql(&format!("SELECT * FROM \"{}\" WHERE transactionId = '{id}'", case.datasource)).await;
        assert_eq!(rows.len(), 1, "one row for {id}");
        let row = &rows[0];
        for (name, path, kind) in &dimensions {
            let expected = support::expected(message, path);
            let actual = row.get(name).cloned().unwrap_or(Value::Null);
            support::assert_same(name, kind, &expected, &actual, &id);
            *compared.entry(name).or_default() += usize::from(!expected.is_null());
        }
        // __time is createdAt, to the millisecond.
        let created = support::expected(message, &["createdAt".to_owned()]);
        let created: jiff::Timestamp = created.as_str().unwrap().parse().unwrap();
        let time: jiff::Timestamp = row["__time"].as_str().unwrap().parse().unwrap();
        assert_eq!(time.as_millisecond(), created.as_millisecond(), "__time of {id}");
    }
    // Every column was compared with a real value at least once, not only null with null;
    // orderId reads a metadata key the producer never writes (keys are key0..key9).
    for (name, values) in &compared {
        assert!(*values > 0 || *name == "orderId", "{name} was null in every sampled record");
    }
    assert_eq!(compared["orderId"], 0);
    case.finish().await;
}

#[tokio::test]
#[ignore = "needs the local stack: make dev-up && make test-e2e"]
async fn a_safe_change_deploys_and_its_new_column_fills() {
    let case = Case::new("safe").await;
    case.deploy("v1").await;
    case.produce_valid(100, 21).await;
    assert_eq!(case.wait_count("TRUE", 100).await, 100);

    case.edit(
        "schemas/proto/settlement_transaction.proto",
        "  Channel channel = 16;\n",
        "  Channel channel = 16;\n  string terminal_id = 17;\n",
    );
    case.edit(
        "config/dimensions.json",
        r#"{ "name": "channel" }"#,
        r#"{ "name": "channel" }, { "name": "terminalId" }"#,
    );
    let deployed = case.deploy("v2").await;
    let DeployOutcome::Deployed { version, previous, verification } = &deployed else {
        panic!("{deployed:#?}")
    };
    assert_eq!((version.as_str(), previous.as_deref()), ("v2", Some("v1")));
    assert!(verification.passed(), "{verification:#?}");

    // Records of the new schema (the producer builds them from the new descriptor).
    let messages = case.produce_valid(200, 22).await;
    assert_eq!(case.wait_count("terminalId IS NOT NULL", 200).await, 200);
    let expected = support::string_field(&messages[0], "terminalId");
    assert!(expected.starts_with("terminal_id-"), "{expected}");
    let rows = case
        .sql(&format!(
            "SELECT terminalId FROM \"{}\" WHERE transactionId = '{}'",
            case.datasource,
            support::string_field(&messages[0], "transactionId")
        ))
        .await;
    assert!(rows.iter().any(|row| row["terminalId"] == Value::String(expected.clone())), "{rows:?}");
    // The old rows keep a null in the new column.
    assert_eq!(case.wait_count("terminalId IS NULL", 100).await, 100);
    case.finish().await;
}

#[tokio::test]
#[ignore = "needs the local stack: make dev-up && make test-e2e"]
async fn a_renamed_field_is_refused_before_druid_sees_it() {
    let case = Case::new("rename").await;
    case.deploy("v1").await;
    let live = case.druid.supervisors().get(&case.datasource).await.unwrap();
    let history = case.druid.supervisors().history(&case.datasource).await.unwrap().len();

    case.edit(
        "schemas/proto/settlement_transaction.proto",
        "string merchant_id = 2;",
        "string merchant_ref = 2;",
    );
    // dimensions.json still reads merchantId: validation stops it (the column would be null).
    let err = case.try_deploy("v2").await.unwrap_err();
    assert!(matches!(err, Error::InvalidMapping { .. }), "{err:?}");
    // A valid mapping, but an enum value renamed: Druid stores enum names, so the `status`
    // column changes for the same records. The gate stops it whatever the policy says.
    case.edit(
        "schemas/proto/settlement_transaction.proto",
        "string merchant_ref = 2;",
        "string merchant_id = 2;",
    );
    case.edit("schemas/proto/settlement_transaction.proto", "STATUS_SETTLED = 3;", "STATUS_CLEARED = 3;");
    let err = case.try_deploy("v2").await.unwrap_err();
    let Error::DruidDamage { verdict, .. } = &err else { panic!("{err:?}") };
    let findings = &verdict.druid.as_ref().unwrap().findings;
    assert!(
        findings
            .iter()
            .any(|finding| finding.rule == "DRUID_ENUM_VALUE_CHANGED" && finding.column == "status"),
        "{findings:#?}"
    );
    case.edit("schemas/proto/settlement_transaction.proto", "STATUS_CLEARED = 3;", "STATUS_SETTLED = 3;");
    case.edit(
        "schemas/proto/settlement_transaction.proto",
        "string merchant_id = 2;",
        "string merchant_ref = 2;",
    );
    // Reading the renamed field under the same column keeps Druid's data: only the policy
    // (WIRE_JSON: JSON readers see another name) objects, and says so.
    case.edit(
        "config/dimensions.json",
        r#"{ "name": "merchantId" }"#,
        r#"{ "name": "merchantId", "from": "merchantRef" }"#,
    );
    let err = case.try_deploy("v2").await.unwrap_err();
    let Error::Breaking { verdict, .. } = &err else { panic!("{err:?}") };
    assert!(!verdict.damages_druid(), "{:#?}", verdict.druid);
    assert!(verdict.policy.findings.iter().any(|finding| finding.rule == "FIELD_SAME_JSON_NAME"));
    assert!(err.to_string().contains("the data Druid stores is unchanged"), "{err}");
    assert_eq!(
        case.druid.supervisors().get(&case.datasource).await.unwrap(),
        live,
        "Druid's spec is untouched"
    );
    assert_eq!(case.druid.supervisors().history(&case.datasource).await.unwrap().len(), history);
    assert_eq!(case.channel().await.as_deref(), Some("v1"));
    case.finish().await;
}

#[tokio::test]
#[ignore = "needs the local stack: make dev-up && make test-e2e"]
async fn parse_errors_are_druids_figures_and_roll_the_deploy_back() {
    let case = Case::new("garbage").await;
    case.deploy("v1").await;

    // 1000 records, 5 % garbage, read by v1: verify reports what Druid's /stats says.
    case.produce_mixed(1000, 0.05, 31).await;
    let stats = case.wait_stats_total(1000).await;
    let verification = case.workflow().verify().await.unwrap();
    let check = verification.checks.iter().find(|check| check.name == "unparseable_ratio").unwrap();
    assert_eq!(check.verdict, Verdict::Fail);
    assert_eq!((stats.processed, stats.unparseable), (950.0, 50.0), "Druid's own counts");
    assert!(check.value.starts_with("5.00 % (50 of 1000), "), "{check:?}");
    let saved = case.druid.supervisors().parse_errors(&case.datasource).await.unwrap();
    assert!(!saved.is_empty(), "Druid saved the parse errors");
    let alerts = case.workflow().monitor().await.unwrap();
    let parse = alerts.alerts.iter().find(|alert| alert.name == AlertKind::UnparseableRatio).unwrap();
    assert!(parse.breached && (parse.measure - 0.05).abs() < 1e-9, "{parse:?}");

    // v2 reads the next 1000 of the same, written once its task runs: the deploy rolls
    // back to v1 by itself, and v1's new task carries on after them.
    case.edit(
        "config/dimensions.json",
        r#"{ "name": "country" },"#,
        r#"{ "name": "country" }, { "name": "acquirerRef", "from": "acquirerId" },"#,
    );
    // Preflight reads the topic first and refuses: 5 % of its last records are unparseable.
    let err = case.try_deploy("v2").await.unwrap_err();
    let Error::PreflightFailed { findings } = &err else { panic!("{err:?}") };
    assert!(findings[0].starts_with("5.00 % of records would be unparseable"), "{findings:?}");
    assert_eq!(case.channel().await.as_deref(), Some("v1"), "nothing moved");
    let v1_spec = case.rendered("v1").await;
    let v1_tasks = case.active_tasks().await;
    // Skipped with a recorded reason, verification catches the same and rolls back.
    let options = DeployOptions {
        version: Some("v2".into()),
        skip_preflight: Some("INC-7: test the automatic rollback".into()),
        ..DeployOptions::default()
    };
    // The team hears about it: a webhook receives the rollback.
    let receiver = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let environment = case.workflow().environment;
    let notifier = std::sync::Arc::new(deploy_core::notify::Notifier::new(
        &environment,
        &|_| None,
        Some(format!("{}/hook", receiver.uri()).into()),
    ));
    let (outcome, ()) =
        tokio::join!(async { case.try_deploy_notified(&options, notifier).await.unwrap() }, async {
            case.wait_new_task(&v1_tasks).await;
            case.produce_mixed(1000, 0.05, 32).await;
        });
    let DeployOutcome::RolledBack { failed, verification, restored, .. } = &outcome else {
        panic!("{outcome:#?}")
    };
    assert_eq!((failed.as_str(), restored.as_deref()), ("v2", Some("v1")));
    let check = verification.checks.iter().find(|check| check.name == "unparseable_ratio").unwrap();
    assert_eq!(check.verdict, Verdict::Fail, "{check:?}");
    let events: Vec<Value> = receiver
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|request| serde_json::from_slice(&request.body).unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().filter_map(|event| event["event"].as_str()).collect();
    assert!(kinds.contains(&"deploy-rolled-back") && kinds.contains(&"override-used"), "{kinds:?}");
    let rolled_back = events.iter().find(|event| event["event"] == "deploy-rolled-back").unwrap();
    assert!(rolled_back["detail"].as_str().unwrap().contains("unparseable_ratio"), "{rolled_back}");
    // The post-mortem draft has the bad version, the failing check, the rollback and a
    // parse-error sample.
    let now = jiff::Timestamp::now();
    let incident = case.workflow().incident(now - jiff::SignedDuration::from_mins(30), now).await.unwrap();
    let markdown = incident.markdown();
    assert!(incident.versions.contains(&"v2".to_owned()), "{markdown}");
    assert!(markdown.contains("deploy rolled-back v1 -> v2"), "{markdown}");
    assert!(markdown.contains("unparseable_ratio"), "{markdown}");
    assert!(incident.parse_errors > 0 && markdown.contains("parse error:"), "{markdown}");
    assert_eq!(case.channel().await.as_deref(), Some("v1"));
    let live = case.druid.supervisors().get(&case.datasource).await.unwrap();
    assert_eq!(fingerprint(&live), fingerprint(&v1_spec), "v1's spec is live again");
    let actions: Vec<_> = case.history().await;
    // v1's restore reads after v2's offsets: no new record is no evidence either way.
    let restore = &actions[actions.len() - 2];
    assert!(
        ["automatic-rollback succeeded", "automatic-rollback unverified"].contains(&restore.as_str())
            && actions.last().map(String::as_str) == Some("deploy rolled-back"),
        "{actions:?}\n{}",
        case.events()
    );
    case.finish().await;
}

#[tokio::test]
#[ignore = "needs the local stack: make dev-up && make test-e2e"]
async fn a_config_only_change_deploys_verifies_and_is_recorded() {
    let case = Case::new("sizing").await;
    case.deploy("v1").await;
    let before = case.druid.supervisors().get(&case.datasource).await.unwrap();
    let duration = |spec: &druid_client::spec::SupervisorSpec| {
        spec.spec.as_ref().unwrap().io_config.task_duration.clone()
    };
    // Druid echoes the default PT1H as PT3600S: plan must not call that a change.
    assert_eq!(duration(&before).as_deref(), Some("PT3600S"));
    let plan = case
        .workflow()
        .plan(
            &case.project().check().unwrap(),
            case.project().config().base_dir(),
            &deploy_core::deploy::DeployOptions::default(),
        )
        .await
        .unwrap();
    assert!(plan.diff.is_empty(), "Druid's echo of v1 differs from v1: {:#?}", plan.diff);
    // Same schema, same version, a sizing change only.
    case.edit("druidctl.toml", "[defaults.ingestion]\n", "[defaults.ingestion]\ntask_duration = \"PT30M\"\n");
    let plan = case
        .workflow()
        .plan(
            &case.project().check().unwrap(),
            case.project().config().base_dir(),
            &deploy_core::deploy::DeployOptions::default(),
        )
        .await
        .unwrap();
    let paths: Vec<&str> = plan.diff.iter().map(|change| change.path.as_str()).collect();
    assert_eq!(paths, ["/spec/ioConfig/taskDuration"]);
    let deployed = case.deploy("v1").await;
    let DeployOutcome::Deployed { verification, .. } = &deployed else { panic!("{deployed:#?}") };
    assert!(verification.passed(), "{verification:#?}");
    let after = case.druid.supervisors().get(&case.datasource).await.unwrap();
    assert_eq!(duration(&after).as_deref(), Some("PT1800S"), "Druid runs the new task duration");
    let history = case.druid.supervisors().history(&case.datasource).await.unwrap();
    assert_eq!(history.len(), 2, "one submit per deploy");
    let actions = case.history().await;
    // No record flowed: applied, live, and honestly unverified.
    assert_eq!(actions.last().map(String::as_str), Some("deploy unverified"), "{actions:?}");
    assert!(
        case.workflow()
            .plan(
                &case.project().check().unwrap(),
                case.project().config().base_dir(),
                &deploy_core::deploy::DeployOptions::default()
            )
            .await
            .unwrap()
            .diff
            .is_empty()
    );
    case.finish().await;
}

/// The druidctl binary next to this test binary (`make test-e2e` builds it first).
pub(crate) fn druidctl_binary() -> std::path::PathBuf {
    let deps = std::env::current_exe().unwrap();
    let binary = deps.parent().and_then(std::path::Path::parent).unwrap().join("druidctl");
    assert!(
        binary.exists(),
        "{} is missing: `cargo build -p druidctl` first (make test-e2e does)",
        binary.display()
    );
    binary
}

#[tokio::test]
#[ignore = "needs the local stack: make dev-up && make test-e2e"]
async fn sigint_during_the_observation_puts_the_previous_spec_back() {
    use std::io::BufRead as _;
    let case = Case::new("sigint").await;
    case.deploy("v1").await;
    let v1_spec = case.rendered("v1").await;
    case.edit(
        "config/dimensions.json",
        r#"{ "name": "country" },"#,
        r#"{ "name": "country" }, { "name": "acquirerRef", "from": "acquirerId" },"#,
    );
    let mut child = std::process::Command::new(druidctl_binary())
        .args(["deploy", "--env", "e2e", "--schema-version", "v2"])
        .current_dir(case.root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let pid = child.id();
    // Ctrl-C once the new tasks are being watched (the e2e observation lasts 15 s).
    let seen = tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let observing = line.contains("observing");
            seen.push(line);
            if observing {
                let _ = std::process::Command::new("kill").args(["-INT", &pid.to_string()]).status();
            }
        }
        seen
    });
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    let lines = seen.await.unwrap().join("\n");
    assert_eq!(status.code(), Some(130), "{lines}");
    assert!(lines.contains("interrupted"), "{lines}");
    let live = case.druid.supervisors().get(&case.datasource).await.unwrap();
    assert_eq!(fingerprint(&live), fingerprint(&v1_spec), "v1's spec is live again");
    assert_eq!(case.channel().await.as_deref(), Some("v1"));
    let actions = case.history().await;
    assert_eq!(actions.last().map(String::as_str), Some("deploy interrupted"), "{actions:?}");
    case.finish().await;
}

#[tokio::test]
#[ignore = "needs the local stack: make dev-up && make test-e2e"]
async fn rollback_to_previous_stable_restores_the_previous_spec() {
    let case = Case::new("rollback").await;
    case.deploy("v1").await;
    case.edit(
        "config/dimensions.json",
        r#"{ "name": "country" },"#,
        r#"{ "name": "country" }, { "name": "acquirerRef", "from": "acquirerId" },"#,
    );
    case.deploy("v2").await;
    assert_eq!(case.channel().await.as_deref(), Some("v2"));

    let (version, verification) = case.workflow().rollback("previous-stable").await.unwrap();
    assert_eq!(version, "v1");
    assert!(verification.passed(), "{verification:#?}");
    assert_eq!(case.channel().await.as_deref(), Some("v1"));

    // Druid's own record: newest first, v1 then v2 then v1 again.
    let history = case.druid.supervisors().history(&case.datasource).await.unwrap();
    assert!(history.len() >= 3, "{} entries", history.len());
    let names = |index: usize| support::dimension_names(&history[index].spec);
    assert_eq!(history[0].spec, history[2].spec, "the restored spec is exactly v1's as Druid stored it");
    assert_ne!(history[0].spec, history[1].spec);
    assert!(names(1).contains(&"acquirerRef".to_owned()) && !names(0).contains(&"acquirerRef".to_owned()));
    case.finish().await;
}

#[tokio::test]
#[ignore = "needs the local stack: make dev-up && make test-e2e"]
async fn suspend_and_resume_change_the_state() {
    let case = Case::new("suspend").await;
    case.deploy("v1").await;
    let state_alert = |report: &deploy_core::monitor::MonitorReport| {
        report.alerts.iter().find(|alert| alert.name == AlertKind::SupervisorState).unwrap().breached
    };
    assert!(!state_alert(&case.workflow().monitor().await.unwrap()));
    case.workflow().suspend().await.unwrap();
    assert_eq!(case.wait_state(SupervisorState::Suspended).await, SupervisorState::Suspended);
    let status = case.druid.supervisors().status(&case.datasource).await.unwrap();
    assert_eq!(status.payload.suspended, Some(true));
    assert!(state_alert(&case.workflow().monitor().await.unwrap()), "a suspended supervisor alerts");
    case.workflow().resume().await.unwrap();
    assert_eq!(case.wait_state(SupervisorState::Running).await, SupervisorState::Running);
    assert!(!state_alert(&case.workflow().monitor().await.unwrap()));
    case.produce_valid(50, 41).await;
    assert_eq!(case.wait_count("TRUE", 50).await, 50, "it reads again after resume");
    let actions = case.history().await;
    assert!(
        actions.ends_with(&["suspend succeeded".to_owned(), "resume succeeded".to_owned()]),
        "{actions:?}"
    );
    case.finish().await;
}

#[tokio::test]
#[ignore = "needs the local stack: make dev-up && make test-e2e"]
async fn status_reports_druids_lag_and_rates() {
    let case = Case::new("status").await;
    case.deploy("v1").await;
    case.produce_valid(500, 51).await;
    case.wait_stats_total(500).await;
    // Druid's meters tick every 5 s: wait for the first tick after the reading.
    case.wait_rates().await;

    // Idle now: the lag is stable and the moving averages only decay, so Druid's figures
    // read just before and just after bracket ours.
    let before_status = case.druid.supervisors().status(&case.datasource).await.unwrap();
    let before = case.druid.supervisors().stats(&case.datasource).await.unwrap();
    let ours = case.workflow().ingestion().await.unwrap();
    let after = case.druid.supervisors().stats(&case.datasource).await.unwrap();
    assert_eq!(ours.total_lag, before_status.payload.aggregate_lag);
    assert_eq!(ours.total_lag, Some(0));
    assert_eq!(ours.active_tasks, before_status.payload.active_tasks.len());
    assert_eq!(ours.processed, support::totals(&before).processed);
    assert_eq!(ours.processed, 500.0);
    for window in ["1m", "5m", "15m"] {
        let (high, low) = (support::rate(&before, window), support::rate(&after, window));
        let rate = ours.rates[window];
        assert!(high > 0.0, "{window}: Druid reports a rate once its meters ticked");
        assert!(low - 1e-9 <= rate && rate <= high + 1e-9, "{window}: {low} <= {rate} <= {high}");
    }
    case.finish().await;
}

#[tokio::test]
#[ignore = "needs the local stack: make dev-up && make test-e2e"]
async fn the_overlord_refuses_a_bad_descriptor_and_the_error_says_why() {
    let case = Case::new("refused").await;
    case.deploy("v1").await;
    let mut spec = case.rendered("v1").await;
    let decoder = spec
        .spec
        .as_mut()
        .and_then(|spec| spec.io_config.input_format.as_mut())
        .and_then(|format| format.proto_bytes_decoder.as_mut())
        .unwrap();
    decoder.proto_message_type = Some("settlement.v1.NoSuchMessage".into());
    let err = case.druid.supervisors().submit(&spec, false).await.unwrap_err();
    let druid_client::Error::Http { status, body, attempts, .. } = &err else { panic!("{err:?}") };
    assert_eq!((*status, *attempts), (400, 1), "a 400, not retried");
    assert!(body.contains("settlement.v1.NoSuchMessage"), "{body}");
    // The live spec is still v1's.
    let live = case.druid.supervisors().get(&case.datasource).await.unwrap();
    assert_eq!(fingerprint(&live), fingerprint(&case.rendered("v1").await));
    case.finish().await;
}

// One test per Druid rule: the verdict of `druidctl check` against what the local Druid stores
// for the same records read with the old and the new schema (druid_effect.rs). Each pairs the
// rule's damaging case with the harmless neighbour it must not flag.
macro_rules! druid_rule {
    ($($test:ident: [$($case:literal),+];)+) => {$(
        #[tokio::test]
        #[ignore = "needs the local stack: make dev-up && make test-e2e"]
        async fn $test() {
            druid_effect::agree(&[$($case),+]).await;
        }
    )+};
}

druid_rule! {
    druid_rule_dimension_renamed: [
        "druid_transaction_id_renamed",
        "druid_rename_keeps_json_name",
        "druid_unmapped_renamed"
    ];
    druid_rule_dimension_deleted: ["druid_country_deleted"];
    druid_rule_dimension_moved: ["druid_country_moved"];
    druid_rule_message_deleted: ["druid_message_renamed"];
    druid_rule_number_changed: [
        "druid_amount_sint64",
        "druid_amount_int32",
        "druid_amount_uint64",
        "druid_units_uint32",
        "druid_units_widened"
    ];
    druid_rule_enum_value_changed: ["druid_enum_value_renamed", "druid_enum_value_deleted", "druid_enum_value_added"];
    druid_rule_presence_changed: ["druid_retries_not_optional", "druid_units_optional", "druid_country_into_oneof"];
    druid_rule_metric_not_numeric: ["druid_units_string", "druid_unmapped_retyped"];
    druid_rule_timestamp_changed: ["druid_timestamp_to_int64"];
    druid_rule_path_parent_repeated: ["druid_fee_repeated"];
    druid_rule_dimension_type_changed: ["druid_amount_repeated", "druid_country_bytes", "druid_country_repeated"];
    druid_rule_field_undecodable: ["druid_struct_added", "druid_int_map_added", "druid_enum_value_added"];
}

/// `make compat-vs-druid`: every measurable druid_* case, with the catch and false alarm rates.
#[tokio::test]
#[ignore = "needs the local stack: make dev-up && make compat-vs-druid"]
#[allow(clippy::print_stdout)] // the figures are the point
async fn druid_verdict_catch_and_false_alarm_rates() {
    let druid = druid_effect::druid();
    let mut measured = Vec::new();
    for case in druid_effect::cases() {
        if druid_effect::NOT_MEASURED.iter().any(|(name, _)| *name == case.name) {
            continue;
        }
        measured.push(druid_effect::measure(&case, &druid).await);
    }
    druid_effect::report(&measured);
    for (name, reason) in druid_effect::NOT_MEASURED {
        println!("  not measured {name}: {reason}");
    }
    let (caught, damaging, alarms, harmless) = druid_effect::rates(&measured);
    println!(
        "Druid verdict on {} measured changes: caught {caught}/{damaging} damaging, {alarms}/{harmless} false alarms on harmless ones",
        measured.len()
    );
    assert!(damaging > 0 && harmless > 0, "the corpus has both kinds");
    assert_eq!((caught, alarms), (damaging, 0), "every damaging change stopped, no harmless one");
}

#[tokio::test]
#[ignore = "needs the local stack: make dev-up && make test-e2e"]
#[allow(clippy::print_stdout)] // the figure is this test's output
async fn decoder_conformance_every_cell_matches_the_prediction() {
    let druid = druid_effect::druid();
    let agreement = conformance::run(&druid).await;
    for failure in &agreement.failures {
        println!("  {failure}");
    }
    println!("decoder conformance: {}/{} cells agree", agreement.agreeing, agreement.cells);
    for difference in agreement.differences.iter().take(200) {
        println!("  {difference}");
    }
    assert!(agreement.cells > 1000, "{} cells compared", agreement.cells);
    assert!(agreement.differences.is_empty(), "{} cells differ", agreement.differences.len());
}

#[tokio::test]
#[ignore = "needs the local stack: make dev-up && make test-e2e"]
#[allow(clippy::print_stdout)] // the figures are this test's output
async fn preflight_predicts_druids_parse_errors_and_nulls() {
    use deploy_core::kafka::Start;
    use deploy_core::preflight::Options;
    let case = Case::new("preflight").await;
    case.produce_framed(2000, 0.05, 0.02, 41).await;
    let end = case.topic_end().await;
    let checked = case.project().check().unwrap();
    let options = Options { sample: Some(5000), start: Start::Earliest, druid_sampler: true };
    let preflight = case.workflow().preflight(&checked, options).await.unwrap();
    let report = &preflight.report;
    assert_eq!(report.records_sampled, 2000);
    assert_eq!(report.reasons.get("confluent-framing"), Some(&40), "{:?}", report.reasons);
    assert!(!preflight.passed(), "7 % unparseable is over the 1 % threshold");
    assert_eq!(case.topic_end().await, end, "preflight wrote nothing to the topic");
    let sampler =
        preflight.druid_sampler.as_ref().unwrap_or_else(|| panic!("no sampler: {:?}", preflight.notes));
    println!(
        "preflight: {:.2} % unparseable predicted; Druid's sampler: {}/{} records agree",
        report.unparseable_ratio * 100.0,
        sampler.agreeing,
        sampler.records
    );
    assert_eq!(sampler.agreeing, sampler.records, "{:?}", sampler.disagreements);

    // Druid ingests the same records with the same spec: its figures match the prediction.
    let spec = checked.render(&case.workflow().environment, None).unwrap();
    case.druid.supervisors().submit(&spec, false).await.unwrap();
    let stats = case.wait_stats_total(2000).await;
    let measured = stats.unparseable / 2000.0;
    println!("Druid: {:.2} % unparseable ({} of 2000)", measured * 100.0, stats.unparseable);
    assert!(
        (report.unparseable_ratio - measured).abs() <= 0.005,
        "{} vs {measured}",
        report.unparseable_ratio
    );
    let rows = case.wait_count("TRUE", stats.processed as u64).await;
    for dimension in &report.dimensions {
        let query = format!(
            "SELECT COUNT(*) FILTER (WHERE \"{}\" IS NULL) AS nulls FROM \"{}\"",
            dimension.name, case.datasource
        );
        let nulls = case.sql(&query).await[0]["nulls"].as_f64().unwrap();
        let measured = nulls / rows as f64;
        println!(
            "  {:<24} null {:>6.2} % predicted, {:>6.2} % in Druid",
            dimension.name,
            dimension.null_ratio * 100.0,
            measured * 100.0
        );
        assert!(
            (dimension.null_ratio - measured).abs() <= 0.005,
            "{}: {} predicted, {measured} in Druid",
            dimension.name,
            dimension.null_ratio
        );
    }
    case.finish().await;
}

#[tokio::test]
#[ignore = "needs the local stack: make dev-up && make test-e2e"]
async fn preflight_fails_a_candidate_that_renames_a_mapped_field() {
    use deploy_core::preflight::Options;
    let case = Case::new("preflight_rename").await;
    case.produce_valid(300, 43).await;
    case.deploy("v1").await;
    // `country` moves to a new number: the mapping still validates, but every record on the
    // topic carries the old number, so the candidate leaves the column null.
    case.edit(
        "schemas/proto/settlement_transaction.proto",
        "string country = 14;",
        "string country = 99;\n  string country_legacy = 14;",
    );
    let checked = case.project().check().unwrap();
    let preflight = case
        .workflow()
        .preflight(&checked, Options { druid_sampler: false, ..Options::default() })
        .await
        .unwrap();
    assert!(!preflight.passed());
    assert_eq!(preflight.live_version.as_deref(), Some("v1"));
    assert!(
        preflight.report.findings.iter().any(|finding| finding.contains("`country`")),
        "{:?}",
        preflight.report.findings
    );
    case.finish().await;
}
