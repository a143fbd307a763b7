//! What an embedding service gets from `Session::connect` (the notifier included), and the
//! library's service loop (`serve` and `reconcile --watch` run it) surviving failed rounds.

use std::time::Duration;

use deploy_core::config::Overrides;
use deploy_core::deploy::{DeployOptions, DeployOutcome};
use deploy_core::fleet::runtime::{Round, Service, ServiceOptions};
use deploy_core::session::Cancel;
use deploy_core::{Project, Session};
use druid_client::testing::Call;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::TestClock;

#[tokio::test]
async fn a_connected_session_notifies_the_webhook_its_settings_name() {
    let dir = crate::sample_copy();
    let druid = crate::scenarios::druid();
    let server = druid.serve().await;
    let hook = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&hook).await;
    let project = Project::open(&dir.path().join("druidctl.toml")).unwrap();
    let overrides = Overrides {
        druid_url: Some(server.uri()),
        registry: Some(format!("file://{}", dir.path().join(".registry").display())),
        notify_webhook: Some(format!("{}/hook", hook.uri()).into()),
        ..Overrides::default()
    };
    let environment = project.environment("dev", &overrides).unwrap();
    // Nothing but Session::connect: no notifier handed in by the embedder.
    let session = Session::connect(environment)
        .await
        .unwrap()
        .with_clock(TestClock::at(crate::scenarios::TUESDAY_MORNING));
    assert!(session.notifier.missing().is_empty(), "{:?}", session.notifier.missing());
    let options = DeployOptions { version: Some("v1".into()), ..DeployOptions::default() };
    let outcome = session.deploy(&project.check().unwrap(), dir.path(), &options).await.unwrap();
    assert!(matches!(outcome, DeployOutcome::Deployed { .. }), "{outcome:?}");
    session.flush_notifications().await;
    let events: Vec<String> = hook
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|request| {
            serde_json::from_slice::<serde_json::Value>(&request.body).unwrap()["event"].to_string()
        })
        .collect();
    assert!(events.contains(&"\"deploy-started\"".to_owned()), "{events:?}");
    assert!(events.contains(&"\"deploy-succeeded\"".to_owned()), "{events:?}");
}

#[tokio::test]
async fn the_service_loop_survives_failed_rounds_and_backs_off() {
    let fx = crate::scenarios::fixture();
    let dev = fx.environment("dev");
    let druid = crate::scenarios::druid();
    let clock = TestClock::at(crate::scenarios::TUESDAY_MORNING);
    fx.deploy(&druid, &clock, &dev, crate::scenarios::version("v1")).await.unwrap();
    // Druid answers the cluster-wide listing with 500 twice, then recovers.
    druid.fail(Call::SupervisorsFull, 2, 500, "overlord restarting");
    let session = fx.session(&druid, &clock, &dev);
    let options =
        ServiceOptions { interval: Duration::from_secs(5), snapshot: true, ..ServiceOptions::default() };
    let mut service = Service::new(vec![(None, session)], options);
    let latest = service.latest();
    let mut rounds = Vec::new();
    service
        .run(&Cancel::default(), |round| {
            rounds.push(match round {
                Round::Reconciled(report) => format!("reconciled {}", report.entries.len()),
                Round::Failed { consecutive, retry_in, .. } => {
                    format!("failed {consecutive}, retry in {}s", retry_in.as_secs())
                }
            });
            rounds.len() < 4
        })
        .await;
    assert_eq!(rounds, ["failed 1, retry in 5s", "failed 2, retry in 10s", "reconciled 1", "reconciled 1"]);
    let latest = latest.read().unwrap();
    assert_eq!(
        (latest.failed_rounds, latest.error.as_deref()),
        (0, None),
        "the good round cleared the failure"
    );
    assert!(latest.snapshot.is_some() && latest.histories.contains_key("-"));
    assert!(
        latest.metrics.contains("druidctl_pipeline_in_sync{env=\"dev\",pipeline=\"-\""),
        "{}",
        latest.metrics
    );
    // The waits went by on the session's clock: 5 + 10 + 5 s (no wall-clock time).
    let start: jiff::Timestamp = crate::scenarios::TUESDAY_MORNING.parse().unwrap();
    let waited = deploy_core::clock::Clock::now(clock.as_ref()).duration_since(start).as_secs();
    assert!(waited >= 5 + 10 + 5, "{waited} s on the test clock");
}
