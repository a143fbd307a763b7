//! The verdict after a submit, on the fake Druid and the fake clock (1 s polls): decided as
//! soon as the evidence allows, never "verified" without evidence.

use std::time::Duration;

use deploy_core::clock::Clock as _;
use deploy_core::deploy::DeployOutcome;
use deploy_core::ledger::{Action, Outcome};
use deploy_core::verdict::Decision;
use deploy_core::verify::{Verdict, Verification};
use druid_client::testing::{Call, Rows};

use crate::TestClock;
use crate::scenarios::{TUESDAY_MORNING, druid, fixture, version};

/// No record at all, and Druid's moving averages say so too.
const IDLE: Rows = Rows { processed: 0, unparseable: 0, rates: [0.0; 3] };

fn check<'a>(verification: &'a Verification, name: &str) -> &'a deploy_core::verify::CheckResult {
    verification.checks.iter().find(|check| check.name == name).unwrap()
}

#[tokio::test]
async fn a_busy_healthy_topic_passes_within_seconds_of_the_tasks_reading() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let druid = druid();
    // 200 records a second; the tasks read from the third poll (2 s after the submit).
    druid.set_rows(Rows::new(200, 0)).stream().tasks_after_polls(2);
    let clock = TestClock::at(TUESDAY_MORNING);
    let outcome = fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    let DeployOutcome::Deployed { verification, .. } = outcome else { panic!("{outcome:?}") };
    let verdict = &verification.verdict;
    assert_eq!(verdict.decision, Decision::Pass, "{verdict:?}");
    let after_reading = verdict.seconds_to_decision - 2.0;
    assert!(after_reading <= 10.0, "{verdict:?}");
    assert!(verdict.bound.upper < 0.01 && verdict.records >= 600, "{verdict:?}");
    assert!(verification.verified());
    assert_eq!(fx.channel("develop-latest").await.as_deref(), Some("v1"));
    let record = fx.ledger().history("dev").await.unwrap().pop().unwrap();
    assert_eq!((record.action, record.outcome), (Action::Deploy, Outcome::Succeeded));
    assert_eq!(record.verdict.as_ref().map(|verdict| verdict.decision), Some(Decision::Pass));
    assert!(record.detail.unwrap().contains("verdict pass in 7.0 s"), "the history says how");
    // Not a minute of waiting: the clock moved 7 s.
    assert_eq!(clock.now().duration_since(TUESDAY_MORNING.parse().unwrap()).as_secs(), 7);
}

#[tokio::test]
async fn five_percent_garbage_fails_and_rolls_back_within_seconds() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let druid = druid();
    druid.set_rows(Rows::new(200, 0)).stream();
    // v2's tasks read 5 % garbage: 10 of every 200 records.
    druid.poison(2, Rows::new(190, 10));
    let clock = TestClock::at(TUESDAY_MORNING);
    fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    fx.change_dimensions();
    let outcome = fx.deploy(&druid, &clock, &dev, version("v2")).await.unwrap();
    let DeployOutcome::RolledBack { verification, restored, restored_verification, .. } = outcome else {
        panic!("{outcome:?}")
    };
    let verdict = &verification.verdict;
    assert_eq!(verdict.decision, Decision::Fail, "{verdict:?}");
    assert!(verdict.seconds_to_decision <= 10.0, "{verdict:?}");
    assert!(verdict.bound.lower > 0.01, "{verdict:?}");
    assert_eq!(check(&verification, "unparseable_ratio").verdict, Verdict::Fail);
    assert_eq!(restored.as_deref(), Some("v1"));
    assert!(restored_verification.unwrap().verified());
    assert_eq!(fx.channel("develop-latest").await.as_deref(), Some("v1"));
    let record = fx.ledger().history("dev").await.unwrap().pop().unwrap();
    assert_eq!((record.action, record.outcome), (Action::Deploy, Outcome::RolledBack));
    assert_eq!(record.verdict.map(|verdict| verdict.decision), Some(Decision::Fail));
}

#[tokio::test]
async fn an_idle_topic_ends_unverified_at_the_maximum_and_is_never_recorded_verified() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let druid = druid();
    druid.set_rows(IDLE).set_sql_rows(0);
    let clock = TestClock::at(TUESDAY_MORNING);
    let outcome = fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    let DeployOutcome::Deployed { verification, .. } = outcome else { panic!("{outcome:?}") };
    let verdict = &verification.verdict;
    assert_eq!(verdict.decision, Decision::Unverified, "{verdict:?}");
    assert_eq!(verdict.reason, "no record read by the new tasks in 300 s");
    assert!((verdict.seconds_to_decision - 300.0).abs() < f64::EPSILON, "{verdict:?}");
    assert!(verification.unverified() && !verification.verified());
    // No evidence is not a failure either: the checks that need records only warn.
    assert_eq!(check(&verification, "ingestion_rate").verdict, Verdict::Warn);
    assert_eq!(check(&verification, "sql_probe").verdict, Verdict::Warn);
    assert_eq!(check(&verification, "unparseable_ratio").verdict, Verdict::Warn);
    // `keep` (the default): live, the channel moved, the history says unverified.
    assert_eq!(fx.channel("develop-latest").await.as_deref(), Some("v1"));
    assert_eq!(fx.outcomes("dev").await, [(Action::Deploy, Outcome::Unverified)]);

    // Records arrive; `verify` settles it, and says so in the history.
    druid.set_rows(Rows::new(200, 0)).stream().set_sql_rows(200);
    let verification = fx.session(&druid, &clock, &dev).verify().await.unwrap();
    assert!(verification.verified(), "{verification:#?}");
    assert_eq!(
        fx.outcomes("dev").await,
        [(Action::Deploy, Outcome::Unverified), (Action::Verify, Outcome::Succeeded)]
    );
}

#[tokio::test]
async fn an_unverified_deploy_rolls_back_when_the_environment_asks() {
    let fx = fixture();
    let mut dev = fx.environment("dev");
    dev.thresholds.on_unverified = deploy_core::config::OnUnverified::Rollback;
    dev.thresholds.observe_secs = 30;
    let druid = druid();
    druid.set_rows(IDLE).set_sql_rows(0);
    let outcome = fx.deploy(&druid, &TestClock::at(TUESDAY_MORNING), &dev, version("v1")).await.unwrap();
    let DeployOutcome::RolledBack { verification, restored, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(verification.verdict.decision, Decision::Unverified);
    assert_eq!(restored, None, "nothing before: suspended");
    assert_eq!(druid.calls(Call::Suspend), 1);
    assert_eq!(fx.channel("develop-latest").await, None);
    let record = fx.ledger().history("dev").await.unwrap().pop().unwrap();
    assert_eq!((record.action, record.outcome), (Action::Deploy, Outcome::RolledBack));
    assert!(record.detail.unwrap().contains("unverified (no record read by the new tasks in 30 s)"));
}

#[tokio::test]
async fn a_failed_task_of_the_new_spec_fails_the_deploy_at_once() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let druid = druid();
    druid.set_rows(Rows::new(200, 0)).stream();
    druid.fail_tasks(
        2,
        "java.lang.ClassCastException: class java.lang.Integer cannot be cast to class java.lang.String",
    );
    let clock = TestClock::at(TUESDAY_MORNING);
    fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    fx.change_dimensions();
    let before = clock.now();
    let outcome = fx.deploy(&druid, &clock, &dev, version("v2")).await.unwrap();
    let DeployOutcome::RolledBack { verification, .. } = outcome else { panic!("{outcome:?}") };
    let verdict = &verification.verdict;
    assert_eq!(verdict.decision, Decision::Fail);
    assert!(verdict.seconds_to_decision.abs() < f64::EPSILON, "on the first look: {verdict:?}");
    assert!(
        verdict.reason.starts_with(
            "task index_kafka_settlement_transactions_dev_002_0 failed: java.lang.ClassCastException"
        ),
        "{verdict:?}"
    );
    assert_eq!(verification.failures(), ["task_failures"], "the 24 h ratio counts it too");
    // v1's restore decided in 5 s; nothing waited for a minute.
    assert!(clock.now().duration_since(before).unsigned_abs() < Duration::from_secs(15));
    assert_eq!(fx.channel("develop-latest").await.as_deref(), Some("v1"));
}

#[tokio::test]
async fn a_supervisor_flapping_to_unhealthy_once_does_not_fail_the_deploy() {
    let fx = fixture();
    let dev = fx.environment("dev");
    let druid = druid();
    druid.set_rows(Rows::new(200, 0)).stream().health_script(&[true, true, false, true]);
    let outcome = fx.deploy(&druid, &TestClock::at(TUESDAY_MORNING), &dev, version("v1")).await.unwrap();
    let DeployOutcome::Deployed { verification, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(verification.verdict.decision, Decision::Pass, "{:?}", verification.verdict);
    assert!(verification.verdict.reason.contains("healthy for"), "{:?}", verification.verdict);
    // An unhealthy streak is another matter.
    let fx = fixture();
    let druid = crate::scenarios::druid();
    druid.set_rows(Rows::new(200, 0)).stream().set_healthy(false);
    let outcome = fx.deploy(&druid, &TestClock::at(TUESDAY_MORNING), &dev, version("v1")).await.unwrap();
    let DeployOutcome::RolledBack { verification, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(verification.verdict.decision, Decision::Fail);
    assert!(
        verification.verdict.reason.starts_with("unhealthy (RUNNING) for 3 consecutive polls"),
        "{:?}",
        verification.verdict
    );
}

#[tokio::test]
async fn a_zero_threshold_passes_a_clean_stream_and_fails_on_one_bad_record() {
    let fx = fixture();
    let mut dev = fx.environment("dev");
    dev.thresholds.max_unparseable_ratio = 0.0;
    let druid = druid();
    druid.set_rows(Rows::new(200, 0)).stream();
    druid.poison(2, Rows::new(199, 1));
    let clock = TestClock::at(TUESDAY_MORNING);
    let outcome = fx.deploy(&druid, &clock, &dev, version("v1")).await.unwrap();
    let DeployOutcome::Deployed { verification, .. } = outcome else { panic!("{outcome:?}") };
    assert!(verification.verified(), "{verification:#?}");
    fx.change_dimensions();
    let outcome = fx.deploy(&druid, &clock, &dev, version("v2")).await.unwrap();
    let DeployOutcome::RolledBack { verification, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(verification.verdict.decision, Decision::Fail);
    assert_eq!(check(&verification, "unparseable_ratio").verdict, Verdict::Fail);
}
