//! The verdict after a submit on the real Druid: a busy topic decides in seconds, garbage
//! rolls back in seconds, a quiet topic ends `unverified` (never verified). Each prints its
//! measured times (`cargo test ... -- --nocapture`).
#![allow(clippy::print_stdout)] // the measured times are part of the output

use std::sync::atomic::{AtomicBool, Ordering};

use deploy_core::deploy::{DeployOptions, DeployOutcome};
use deploy_core::verdict::{Decision, VerdictReport};

use crate::support::Case;

/// Seconds from the tasks reading to the decision.
fn after_reading(verdict: &VerdictReport) -> f64 {
    verdict.seconds_to_decision - verdict.reading_after_secs.expect("the tasks read")
}

/// Deploys with `options` while writing ~200 records/s (a share `garbage` undecodable).
async fn deploy_under_traffic(
    case: &Case,
    options: &DeployOptions,
    garbage: f64,
    seed: u64,
) -> (DeployOutcome, u64) {
    let done = AtomicBool::new(false);
    let (outcome, written) = tokio::join!(
        async {
            let outcome = case.try_deploy_with(options).await;
            done.store(true, Ordering::SeqCst);
            outcome.unwrap_or_else(|err| panic!("{err:?}\n{}", case.events()))
        },
        case.produce_stream(200, garbage, seed, &done)
    );
    (outcome, written)
}

#[tokio::test]
#[ignore = "needs the local stack: make dev-up && make test-e2e"]
async fn a_busy_healthy_topic_is_verified_within_seconds_of_the_tasks_reading() {
    let case = Case::new("busy").await;
    let options = DeployOptions { version: Some("v1".into()), ..DeployOptions::default() };
    let (outcome, written) = Box::pin(deploy_under_traffic(&case, &options, 0.0, 51)).await;
    let DeployOutcome::Deployed { verification, .. } = &outcome else {
        panic!("{outcome:#?}\n{}", case.events())
    };
    let verdict = &verification.verdict;
    println!(
        "busy topic (~200 records/s): pass {:.1} s after the tasks read ({:.1} s after the submit), {} records judged, {written} written",
        after_reading(verdict),
        verdict.seconds_to_decision,
        verdict.records
    );
    assert_eq!(verdict.decision, Decision::Pass, "{verdict:#?}\n{}", case.events());
    assert!(after_reading(verdict) <= 15.0, "{verdict:#?}");
    assert!(verdict.bound.upper < 0.01 && verdict.unparseable == 0, "{verdict:#?}");
    assert_eq!(case.channel().await.as_deref(), Some("v1"));
    assert_eq!(case.history().await.last().map(String::as_str), Some("deploy succeeded"));
    case.finish().await;
}

#[tokio::test]
#[ignore = "needs the local stack: make dev-up && make test-e2e"]
async fn five_percent_garbage_rolls_back_within_seconds_of_the_tasks_reading() {
    let case = Case::new("poison").await;
    case.deploy("v1").await;
    case.edit(
        "config/dimensions.json",
        r#"{ "name": "country" },"#,
        r#"{ "name": "country" }, { "name": "acquirerRef", "from": "acquirerId" },"#,
    );
    let options = DeployOptions {
        version: Some("v2".into()),
        // The topic may hold garbage already: preflight would refuse before the submit.
        skip_preflight: Some("e2e: the verdict's own catch".into()),
        ..DeployOptions::default()
    };
    let (outcome, written) = Box::pin(deploy_under_traffic(&case, &options, 0.05, 52)).await;
    let DeployOutcome::RolledBack { failed, verification, restored, .. } = &outcome else {
        panic!("{outcome:#?}\n{}", case.events())
    };
    let verdict = &verification.verdict;
    println!(
        "5 % garbage (~200 records/s): fail {:.1} s after the tasks read ({:.1} s after the submit), {} of {} unparseable, {written} written",
        after_reading(verdict),
        verdict.seconds_to_decision,
        verdict.unparseable,
        verdict.records
    );
    assert_eq!((failed.as_str(), restored.as_deref()), ("v2", Some("v1")));
    assert_eq!(verdict.decision, Decision::Fail, "{verdict:#?}");
    assert!(verdict.bound.lower > 0.01, "{verdict:#?}");
    assert!(after_reading(verdict) <= 15.0, "{verdict:#?}");
    assert_eq!(case.channel().await.as_deref(), Some("v1"));
    case.finish().await;
}

#[tokio::test]
#[ignore = "needs the local stack: make dev-up && make test-e2e"]
async fn a_topic_with_no_new_record_ends_unverified_and_verify_settles_it() {
    let case = Case::new("quiet").await;
    let outcome = case.deploy("v1").await;
    let DeployOutcome::Deployed { verification, .. } = &outcome else { panic!("{outcome:#?}") };
    let verdict = &verification.verdict;
    println!(
        "quiet topic: {} after {:.1} s ({})",
        verdict.decision, verdict.seconds_to_decision, verdict.reason
    );
    assert_eq!(verdict.decision, Decision::Unverified, "{verdict:#?}");
    assert_eq!(verdict.reason, "no record read by the new tasks in 10 s");
    assert!(!verification.verified());
    // Kept (on_unverified = keep), and the history does not call it verified.
    assert_eq!(case.channel().await.as_deref(), Some("v1"));
    assert_eq!(case.history().await.last().map(String::as_str), Some("deploy unverified"));

    // Records flow: verify decides on them and settles the deploy in the history.
    case.produce_valid(1000, 53).await;
    case.wait_stats_total(1000).await;
    let verification = case.workflow().verify().await.unwrap();
    println!("verify after 1000 records: {}", verification.verdict.summary());
    assert!(verification.verified(), "{verification:#?}");
    assert_eq!(case.history().await.last().map(String::as_str), Some("verify succeeded"));
    case.finish().await;
}
