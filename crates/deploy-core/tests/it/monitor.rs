//! Each alert condition trips exactly its alert, with the runbook's action; a healthy
//! supervisor trips none. Fixtures follow Druid's response shapes.

use std::sync::Arc;

use deploy_core::config::Overrides;
use deploy_core::monitor::prometheus;
use deploy_core::{Project, Session};
use druid_client::MockDruidApi;
use schema_registry::{MemoryStore, Registry};

macro_rules! fixture {
    ($name:literal) => {
        serde_json::from_str(include_str!(concat!("../fixtures/", $name))).unwrap()
    };
}

fn druid(status: serde_json::Value, stats: serde_json::Value, tasks: serde_json::Value) -> MockDruidApi {
    let mut druid = MockDruidApi::new();
    let status = serde_json::from_value::<druid_client::supervisors::SupervisorStatus>(status).unwrap();
    let stats = serde_json::from_value::<druid_client::supervisors::SupervisorStats>(stats).unwrap();
    let tasks = serde_json::from_value::<Vec<druid_client::tasks::Task>>(tasks).unwrap();
    druid.expect_supervisor_status().returning(move |_| Ok(status.clone()));
    druid.expect_supervisor_stats().returning(move |_| Ok(stats.clone()));
    druid.expect_tasks().returning(move |_| Ok(tasks.clone()));
    druid
}

async fn breached(
    druid: MockDruidApi,
) -> (Vec<(&'static str, &'static str)>, deploy_core::monitor::MonitorReport) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let project = Project::open(&root.join("druidctl.toml")).unwrap();
    let dev = project.environment("dev", &Overrides::default()).unwrap();
    let registry = Registry::new(Arc::new(MemoryStore::new()));
    let session = Session::new(dev, Arc::new(druid), registry).with_actor("test");
    let report = session.monitor().await.unwrap();
    let breached = report
        .alerts
        .iter()
        .filter(|alert| alert.breached)
        .map(|alert| (alert.name.as_str(), alert.action))
        .collect();
    (breached, report)
}

#[tokio::test]
async fn a_healthy_supervisor_trips_nothing() {
    let (alerts, report) = breached(druid(
        fixture!("status_running.json"),
        fixture!("stats_clean.json"),
        fixture!("tasks_all_succeeded.json"),
    ))
    .await;
    assert!(alerts.is_empty(), "{alerts:?}");
    assert!(!report.breached);
    assert_eq!(report.alerts.len(), 4);
}

#[tokio::test]
async fn a_suspended_supervisor_trips_the_state_alert() {
    let (alerts, report) = breached(druid(
        fixture!("status_suspended.json"),
        fixture!("stats_clean.json"),
        fixture!("tasks_all_succeeded.json"),
    ))
    .await;
    assert_eq!(alerts, [("supervisor_state", "investigate: druidctl status, druidctl logs")]);
    assert_eq!(report.alerts[0].value, "SUSPENDED / SUSPENDED");
}

#[tokio::test]
async fn unhealthy_tasks_trip_the_state_alert() {
    let (alerts, _) = breached(druid(
        fixture!("status_unhealthy_tasks.json"),
        fixture!("stats_clean.json"),
        fixture!("tasks_all_succeeded.json"),
    ))
    .await;
    assert_eq!(alerts.iter().map(|(name, _)| *name).collect::<Vec<_>>(), ["supervisor_state"]);
}

#[tokio::test]
async fn eight_percent_failed_tasks_trip_the_failure_alert() {
    let (alerts, report) = breached(druid(
        fixture!("status_running.json"),
        fixture!("stats_clean.json"),
        fixture!("tasks_8_percent_failed.json"),
    ))
    .await;
    assert_eq!(alerts, [("task_failures", "check parsing: druidctl logs, the supervisor's parse errors")]);
    assert_eq!(report.alerts[1].value, "8.0 % (2 of 25 in 24 h)");
}

#[tokio::test]
async fn ten_minutes_of_lag_trip_the_lag_alert() {
    let (alerts, report) = breached(druid(
        fixture!("status_lag_10_minutes.json"),
        fixture!("stats_clean.json"),
        fixture!("tasks_all_succeeded.json"),
    ))
    .await;
    assert_eq!(
        alerts,
        [("ingestion_lag", "raise taskCount (ingestion.task_count in druidctl.toml), then deploy")]
    );
    assert_eq!(report.alerts[2].value, "600 s"); // Druid's aggregateLagMillis, not an estimate
}

#[tokio::test]
async fn three_percent_unparseable_trips_the_parse_alert() {
    let (alerts, report) = breached(druid(
        fixture!("status_running.json"),
        fixture!("stats_3_percent_unparseable.json"),
        fixture!("tasks_all_succeeded.json"),
    ))
    .await;
    assert_eq!(alerts.iter().map(|(name, _)| *name).collect::<Vec<_>>(), ["unparseable_ratio"]);
    assert_eq!(report.alerts[3].value, "3.00 % (3000 unparseable), 2.77-3.24 % at 99 %");
}

#[tokio::test]
async fn the_figures_parse_as_prometheus_text_exposition() {
    let (_, report) = breached(druid(
        fixture!("status_lag_10_minutes.json"),
        fixture!("stats_3_percent_unparseable.json"),
        fixture!("tasks_8_percent_failed.json"),
    ))
    .await;
    let text = prometheus(&[report]);
    let lines = text.lines().map(|line| Ok(line.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).unwrap();
    let value = |name: &str| {
        let sample = scrape
            .samples
            .iter()
            .find(|sample| sample.metric == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(sample.labels.get("env"), Some("dev"));
        assert_eq!(sample.labels.get("datasource"), Some("settlement_transactions_dev"));
        match sample.value {
            prometheus_parse::Value::Gauge(value) => value,
            ref other => panic!("{name} is not a gauge: {other:?}"),
        }
    };
    assert!((value("druidctl_ingestion_lag_seconds") - 600.0).abs() < 1e-9);
    assert!((value("druidctl_task_failure_ratio") - 0.08).abs() < 1e-9);
    assert!((value("druidctl_unparseable_ratio") - 0.03).abs() < 1e-9);
    assert!((value("druidctl_alerts_breached") - 3.0).abs() < 1e-9);
    assert!((value("druidctl_supervisor_running") - 1.0).abs() < 1e-9);
}

/// `monitor --watch` tells the notifiers when an alert fires and when it resolves, once each
/// (no repeat while it stays fired), and keeps both as observations.
#[tokio::test]
async fn watching_notifies_a_fired_alert_once_and_its_resolution() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use deploy_core::monitor::watch::Watcher;
    use deploy_core::notify::{Notifier, NotifierKind, NotifierSettings};
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let receiver = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&receiver).await;
    let mut druid = MockDruidApi::new();
    let status: druid_client::supervisors::SupervisorStatus =
        serde_json::from_value(fixture!("status_running.json")).unwrap();
    let dirty: druid_client::supervisors::SupervisorStats =
        serde_json::from_value(fixture!("stats_3_percent_unparseable.json")).unwrap();
    let clean: druid_client::supervisors::SupervisorStats =
        serde_json::from_value(fixture!("stats_clean.json")).unwrap();
    let tasks: Vec<druid_client::tasks::Task> =
        serde_json::from_value(fixture!("tasks_all_succeeded.json")).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    druid.expect_supervisor_status().returning(move |_| Ok(status.clone()));
    druid.expect_tasks().returning(move |_| Ok(tasks.clone()));
    let counter = calls.clone();
    druid.expect_supervisor_stats().returning(move |_| {
        // Two evaluations with 3 % unparseable, then clean.
        Ok(if counter.fetch_add(1, Ordering::SeqCst) < 2 { dirty.clone() } else { clean.clone() })
    });
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let project = Project::open(&root.join("druidctl.toml")).unwrap();
    let mut dev = project.environment("dev", &Overrides::default()).unwrap();
    dev.notify = vec![NotifierSettings {
        kind: NotifierKind::Webhook,
        url_env: "TEST_HOOK".into(),
        events: None,
        timeout_secs: 5,
        remind_minutes: None,
    }];
    let url = format!("{}/hook", receiver.uri());
    let notifier = Notifier::new(&dev, &|_| Some(url.clone()), None);
    let registry = Registry::new(Arc::new(MemoryStore::new()));
    let session = Session::new(dev, Arc::new(druid), registry.clone()).with_notifier(Arc::new(notifier));
    let mut watcher = Watcher::new(session, std::time::Duration::from_secs(1));
    for _ in 0..3 {
        watcher.tick().await;
        watcher.flush_notifications().await;
    }
    let events: Vec<serde_json::Value> = receiver
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|request| serde_json::from_slice(&request.body).unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().map(|event| event["event"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["alert-fired", "alert-resolved"], "{events:#?}");
    assert!(events[0]["detail"].as_str().unwrap().starts_with("unparseable_ratio"), "{}", events[0]);
    let observations = deploy_core::ledger::Ledger::new(registry).observations("dev").await.unwrap();
    let kept: Vec<&str> = observations.iter().map(|observation| observation.kind.as_str()).collect();
    assert_eq!(kept, ["alert-fired", "alert-resolved"]);
}
