use druid_client::tasks::{TaskFilter, TaskState, TaskStatus};
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::{druid, fixture, json};

const TASK: &str = "index_kafka_settlement_transactions_9a8b7c6d5e4f3a2_abcdefgh";

#[tokio::test]
async fn lists_with_every_filter() {
    let (server, client) = druid().await;
    Mock::given(method("GET"))
        .and(path("/druid/indexer/v1/tasks"))
        .and(query_param("state", "complete"))
        .and(query_param("datasource", "settlement_transactions"))
        .and(query_param("type", "index_kafka"))
        .and(query_param("max", "50"))
        .and(query_param("createdTimeInterval", "2026-11-26T00:00:00Z/2026-11-28T00:00:00Z"))
        .respond_with(json(200, &fixture!("tasks_complete.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/druid/indexer/v1/tasks"))
        .and(query_param("state", "running"))
        .respond_with(json(200, &fixture!("tasks_running.json")))
        .expect(1)
        .mount(&server)
        .await;
    let filter = TaskFilter {
        state: Some(TaskState::Complete),
        datasource: Some("settlement_transactions".into()),
        kind: Some("index_kafka".into()),
        max: Some(50),
        created_time_interval: Some("2026-11-26T00:00:00Z/2026-11-28T00:00:00Z".into()),
    };
    let complete = client.tasks().list(&filter).await.unwrap();
    assert_eq!(complete[1].code(), Some(&TaskStatus::Failed));
    assert_eq!(complete[1].location.as_ref().unwrap().host, None);
    assert!(complete[1].error_msg.as_deref().unwrap().contains("status code 1"));
    let running = client
        .tasks()
        .list(&TaskFilter { state: Some(TaskState::Running), ..TaskFilter::default() })
        .await
        .unwrap();
    assert_eq!(running[0].location.as_ref().unwrap().port, Some(8100));
    assert_eq!(running[0].duration, Some(-1));
}

#[tokio::test]
async fn status_reports_and_shutdown() {
    let (server, client) = druid().await;
    let base = format!("/druid/indexer/v1/task/{TASK}");
    Mock::given(method("GET"))
        .and(path(format!("{base}/status")))
        .respond_with(json(200, &fixture!("task_status.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{base}/reports")))
        .respond_with(json(200, &fixture!("task_reports.json")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{base}/shutdown")))
        .respond_with(json(200, &json!({ "task": TASK })))
        .expect(1)
        .mount(&server)
        .await;

    let status = client.tasks().status(TASK).await.unwrap();
    assert_eq!(status.status.unwrap().code(), Some(&TaskStatus::Failed));
    let reports = client.tasks().reports(TASK).await.unwrap().unwrap();
    let payload = reports.ingestion_stats_and_errors.unwrap().payload.unwrap();
    assert_eq!(payload.ingestion_state.as_deref(), Some("BUILD_SEGMENTS"));
    assert_eq!(payload.row_stats.unwrap()["totals"]["buildSegments"]["unparseable"], 76);
    client.tasks().shutdown(TASK).await.unwrap();
}

#[tokio::test]
async fn logs_with_offset_and_absent_logs() {
    let (server, client) = druid().await;
    let log = "2026-11-27T10:00:00,000 INFO [task-runner-0-priority-0] org.apache.druid.indexing.kafka.IncrementalPublishingKafkaIndexTaskRunner - Seeking partition[0] to[3176381].\n";
    Mock::given(method("GET"))
        .and(path(format!("/druid/indexer/v1/task/{TASK}/log")))
        .and(query_param("offset", "-8192"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(log, "text/plain"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/druid/indexer/v1/task/unknown/log"))
        .respond_with(ResponseTemplate::new(404).set_body_raw(
            "No log was found for this task. The task may not exist, or it may not have begun running yet.",
            "text/plain",
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/druid/indexer/v1/task/unknown/reports"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_raw("No task reports were found for this task.", "text/plain"),
        )
        .mount(&server)
        .await;
    assert_eq!(client.tasks().log(TASK, Some(-8192)).await.unwrap().as_deref(), Some(log));
    assert_eq!(client.tasks().log("unknown", None).await.unwrap(), None);
    assert_eq!(client.tasks().reports("unknown").await.unwrap(), None);
}

#[tokio::test]
async fn large_logs_stream_in_chunks() {
    let (server, client) = druid().await;
    let line = "2026-11-27T10:00:00,000 INFO [task-runner] org.apache.druid.segment.realtime.appenderator - Persisting rows.\n";
    let log = line.repeat(40_000); // about 4 MB
    Mock::given(method("GET"))
        .and(path(format!("/druid/indexer/v1/task/{TASK}/log")))
        .respond_with(ResponseTemplate::new(200).set_body_raw(log.clone(), "text/plain"))
        .mount(&server)
        .await;
    let mut out = Vec::new();
    let written = client.tasks().copy_log(TASK, None, &mut out).await.unwrap();
    assert_eq!(written, Some(log.len() as u64));
    assert_eq!(out, log.as_bytes());
}
