//! A migration on the real stack (docs/migrations.md): v1 on its datasource and topic, a
//! wire-breaking commit that also names a new datasource and topic, both supervisors
//! running, v2 records on the new topic, cutover; SQL then holds exactly the v1 records in
//! the old datasource and exactly the v2 records in the new one, and `migrate sql` reads both.

use std::collections::BTreeSet;
use std::time::Duration;

use deploy_core::Error;
use deploy_core::deploy::DeployOutcome;
use deploy_core::migrate::{CutoverOptions, MigrationState};
use druid_client::supervisors::SupervisorState;
use prost_reflect::DynamicMessage;

use crate::support::{self, Case, string_field};

fn ids(messages: &[DynamicMessage]) -> BTreeSet<String> {
    messages.iter().map(|message| string_field(message, "transactionId")).collect()
}

async fn ids_in(case: &Case, datasource: &str) -> BTreeSet<String> {
    case.sql(&format!("SELECT \"transactionId\" FROM \"{datasource}\""))
        .await
        .into_iter()
        .map(|row| row["transactionId"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn unparseable(case: &Case, id: &str) -> f64 {
    let stats = case.druid.supervisors().stats(id).await.unwrap();
    support::totals(&stats).unparseable
}

#[tokio::test]
#[ignore = "needs the local stack: make dev-up && make test-e2e"]
async fn a_breaking_change_migrates_to_a_new_datasource_and_cutover_keeps_both_queryable() {
    let case = Case::new("migrate").await;
    let old = case.datasource.clone();
    let new = format!("{old}_v2");
    assert!(matches!(case.deploy("v1").await, DeployOutcome::Deployed { .. }));
    let v1 = case.produce_valid(40, 1).await;
    assert_eq!(case.wait_count("1 = 1", 40).await, 40, "{}", case.events());

    // The commit: `country` moves to a new field number (wire-breaking, and a Druid rule:
    // the column would mix two fields), so in place it is refused...
    case.edit("schemas/proto/settlement_transaction.proto", "string country = 14;", "string country = 17;");
    let refused = case.try_deploy("v2").await.unwrap_err();
    assert!(matches!(refused, Error::DruidDamage { .. }), "{refused:?}");
    // ... and the same commit names a new datasource and a new topic: a migration.
    case.edit("druidctl.toml", &format!("datasource = \"{old}\""), &format!("datasource = \"{new}\""));
    case.edit("druidctl.toml", &format!("kafka.topic = \"{old}\""), &format!("kafka.topic = \"{new}\""));
    let outcome = case.deploy("v2").await;
    assert!(matches!(outcome, DeployOutcome::Deployed { .. }), "{outcome:?}\n{}", case.events());
    for id in [&old, &new] {
        let status = case.druid.supervisors().status(id).await.unwrap();
        assert_eq!(status.payload.state, Some(SupervisorState::Running), "{id}");
    }
    let state = case.workflow().environment_state().await.unwrap().unwrap();
    assert_eq!(state.migration.as_ref().unwrap().state, MigrationState::Dual);
    // The new topic is empty yet: the new side is live and unverified, not "verified".
    assert_eq!(case.history().await.last().unwrap(), "deploy unverified");

    let v2 = case.produce_valid_to(&new, 30, 2).await;
    assert_eq!(case.wait_count_in(&new, "1 = 1", 30).await, 30, "{}", case.events());
    assert_eq!(unparseable(&case, &old).await, 0.0);
    assert_eq!(unparseable(&case, &new).await, 0.0);

    let cutover = case
        .workflow()
        .cutover(CutoverOptions { timeout: Duration::from_mins(5) })
        .await
        .unwrap_or_else(|err| panic!("cutover: {err:?}\n{}", case.events()));
    assert_eq!(cutover.migration.state, MigrationState::Done);
    assert!(cutover.terminated);
    assert!(!cutover.handed_off.is_empty());
    assert!(cutover.handed_off.iter().all(|task| task.status.as_deref() == Some("SUCCESS")), "{cutover:?}");
    assert!(case.druid.supervisors().get_opt(&old).await.unwrap().is_none(), "the old supervisor is gone");
    assert_eq!(case.history().await.last().unwrap(), "cutover succeeded");

    // Exactly the v1 records in the old datasource (served after the handoff), exactly the v2
    // records in the new one; no parse errors on either side.
    assert_eq!(case.wait_count_in(&old, "1 = 1", 40).await, 40);
    assert_eq!(ids_in(&case, &old).await, ids(&v1));
    assert_eq!(ids_in(&case, &new).await, ids(&v2));
    assert!(case.druid.supervisors().parse_errors(&new).await.unwrap().is_empty());
    assert_eq!(unparseable(&case, &new).await, 0.0);

    // `migrate sql` (the binary) prints the view; Druid runs it and returns both.
    let output = std::process::Command::new(crate::druidctl_binary())
        .args(["migrate", "sql", "--env", "e2e"])
        .current_dir(case.root())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let sql = String::from_utf8(output.stdout).unwrap();
    assert_eq!(sql.trim(), case.workflow().migration_sql().await.unwrap().sql);
    let rows = case.sql(sql.trim()).await;
    let read: BTreeSet<String> =
        rows.iter().map(|row| row["transactionId"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(rows.len(), 70);
    assert_eq!(read, ids(&v1).union(&ids(&v2)).cloned().collect());
    let countries = rows.iter().filter(|row| row["country"].is_string()).count();
    assert!(countries > 0, "the old country column is read into the view: {rows:?}");

    support::remove(&case.druid, &new).await;
    case.finish().await;
}
