use druid_client::spec::{DecoderType, SupervisorSpec};
use druid_client::supervisors::{DetailedState, SupervisorState};
use serde_json::json;
use wiremock::matchers::{body_json, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::{druid, fixture, json, received_body};

const SUPERVISOR: &str = "/druid/indexer/v1/supervisor";
const ID: &str = "settlement_transactions";

fn at(suffix: &str) -> String {
    format!("{SUPERVISOR}/{ID}{suffix}")
}

#[tokio::test]
async fn lists_plain_full_and_states() {
    let (server, client) = druid().await;
    Mock::given(method("GET"))
        .and(path(SUPERVISOR))
        .and(query_param("full", ""))
        .respond_with(json(200, &fixture!("supervisor_full.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SUPERVISOR))
        .and(query_param("state", "true"))
        .respond_with(json(200, &fixture!("supervisor_states.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SUPERVISOR))
        .respond_with(json(200, &fixture!("supervisor_list.json")))
        .with_priority(10)
        .mount(&server)
        .await;

    assert_eq!(client.supervisors().list().await.unwrap(), ["settlement_transactions", "wikipedia"]);
    let full = client.supervisors().list_full().await.unwrap();
    assert_eq!(full[1].state, Some(SupervisorState::Suspended));
    assert_eq!(full[0].spec.as_ref().unwrap().datasource(), Some(ID));
    let states = client.supervisors().list_states().await.unwrap();
    assert_eq!(states[1].state, Some(SupervisorState::UnhealthyTasks));
    assert_eq!(states[2].detailed_state, Some(DetailedState::ConnectingToStream));
    assert!(states.iter().all(|summary| summary.spec.is_none()));
}

#[tokio::test]
async fn submit_posts_the_spec_and_returns_the_id() {
    let (server, client) = druid().await;
    let spec: SupervisorSpec = serde_json::from_value(fixture!("supervisor_spec.json")).unwrap();
    Mock::given(method("POST"))
        .and(path(SUPERVISOR))
        .and(query_param("skipRestartIfUnmodified", "true"))
        .and(body_json(fixture!("supervisor_spec.json")))
        .respond_with(json(200, &json!({ "id": ID })))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(client.supervisors().submit(&spec, true).await.unwrap(), ID);
}

#[tokio::test]
async fn a_spec_survives_get_then_post_unchanged() {
    let (server, client) = druid().await;
    Mock::given(method("GET"))
        .and(path(at("")))
        .respond_with(json(200, &fixture!("supervisor_spec.json")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(SUPERVISOR))
        .respond_with(json(200, &json!({ "id": ID })))
        .mount(&server)
        .await;

    let live = client.supervisors().get(ID).await.unwrap();
    let decoder = live
        .spec
        .as_ref()
        .unwrap()
        .io_config
        .input_format
        .as_ref()
        .unwrap()
        .proto_bytes_decoder
        .as_ref()
        .unwrap();
    assert_eq!(decoder.kind, Some(DecoderType::Inline));
    client.supervisors().submit(&live, false).await.unwrap();
    // Every field Druid returned, named by the model or not, goes back as it came.
    assert_eq!(received_body(&server, SUPERVISOR).await, fixture!("supervisor_spec.json"));
}

#[tokio::test]
async fn a_bad_spec_is_a_400_that_is_not_retried() {
    let (server, client) = druid().await;
    Mock::given(method("POST"))
        .and(path(SUPERVISOR))
        .respond_with(json(400, &json!({ "error": "Cannot construct instance of `KafkaSupervisorSpec`, problem: topic cannot be null" })))
        .expect(1)
        .mount(&server)
        .await;
    let spec: SupervisorSpec = serde_json::from_value(fixture!("supervisor_spec.json")).unwrap();
    let err = client.supervisors().submit(&spec, false).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("topic cannot be null"), "{err}");
}

#[tokio::test]
async fn a_druid_exception_body_is_parsed() {
    let (server, client) = druid().await;
    Mock::given(method("POST"))
        .and(path(SUPERVISOR))
        .respond_with(json(400, &fixture!("druid_exception.json")))
        .mount(&server)
        .await;
    let spec: SupervisorSpec = serde_json::from_value(fixture!("supervisor_spec.json")).unwrap();
    let err = client.supervisors().submit(&spec, false).await.unwrap_err();
    let druid = err.druid_error().expect("parsed");
    assert_eq!(druid.error_code.as_deref(), Some("invalidInput"));
    assert_eq!(druid.persona.as_deref(), Some("USER"));
    assert_eq!(druid.category, Some(druid_client::error::ErrorCategory::InvalidInput));
    assert!(err.to_string().contains("Cannot read descriptor string"), "{err}");
}

#[tokio::test]
async fn get_opt_maps_404_to_none_and_get_to_not_found() {
    let (server, client) = druid().await;
    Mock::given(method("GET"))
        .and(path(at("")))
        .respond_with(json(404, &json!({ "error": format!("[{ID}] does not exist") })))
        .expect(2)
        .mount(&server)
        .await;
    assert_eq!(client.supervisors().get_opt(ID).await.unwrap(), None);
    let err = client.supervisors().get(ID).await.unwrap_err();
    assert!(err.is_not_found());
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[tokio::test]
async fn ids_are_encoded_as_one_path_segment() {
    let (server, client) = druid().await;
    Mock::given(method("GET"))
        .and(path(format!("{SUPERVISOR}/a%2Fb%20c/status")))
        .respond_with(json(200, &fixture!("supervisor_status_running.json")))
        .expect(1)
        .mount(&server)
        .await;
    client.supervisors().status("a/b c").await.unwrap();
}

#[tokio::test]
async fn status_reports_tasks_offsets_and_lag() {
    let (server, client) = druid().await;
    Mock::given(method("GET"))
        .and(path(at("/status")))
        .respond_with(json(200, &fixture!("supervisor_status_running.json")))
        .mount(&server)
        .await;
    let status = client.supervisors().status(ID).await.unwrap();
    let payload = &status.payload;
    assert!(payload.is_running_and_healthy());
    assert_eq!(payload.aggregate_lag, Some(2));
    assert_eq!(payload.minimum_lag.as_ref().unwrap()["1"], -1);
    assert_eq!(payload.active_tasks[0].remaining_seconds, Some(3415));
    assert_eq!(payload.aggregate_lag_millis, None);
}

#[tokio::test]
async fn unhealthy_status_keeps_the_recent_errors() {
    let (server, client) = druid().await;
    Mock::given(method("GET"))
        .and(path(at("/status")))
        .respond_with(json(200, &fixture!("supervisor_status_unhealthy.json")))
        .mount(&server)
        .await;
    let payload = client.supervisors().status(ID).await.unwrap().payload;
    assert!(!payload.is_running_and_healthy());
    assert_eq!(payload.detailed_state, Some(DetailedState::UnableToConnectToStream));
    assert_eq!(
        payload.recent_errors[0].exception_class.as_deref(),
        Some("org.apache.kafka.common.errors.TimeoutException")
    );
    assert_eq!(payload.recent_errors[0].extra["streamException"], true);
}

#[tokio::test]
async fn health_503_with_a_body_is_an_answer() {
    let (server, client) = druid().await;
    Mock::given(method("GET"))
        .and(path(at("/health")))
        .respond_with(json(503, &json!({ "healthy": false })))
        .expect(1)
        .mount(&server)
        .await;
    assert!(!client.supervisors().health(ID).await.unwrap());
}

#[tokio::test]
async fn health_200_is_healthy() {
    let (server, client) = druid().await;
    Mock::given(method("GET"))
        .and(path(at("/health")))
        .respond_with(json(200, &json!({ "healthy": true })))
        .mount(&server)
        .await;
    assert!(client.supervisors().health(ID).await.unwrap());
}

#[tokio::test]
async fn stats_parse_errors_and_history() {
    let (server, client) = druid().await;
    Mock::given(method("GET"))
        .and(path(at("/stats")))
        .respond_with(json(200, &fixture!("supervisor_stats.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(at("/parseErrors")))
        .respond_with(json(200, &fixture!("supervisor_parse_errors.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(at("/history")))
        .respond_with(json(200, &fixture!("supervisor_history.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{SUPERVISOR}/history")))
        .respond_with(json(200, &fixture!("supervisor_history_all.json")))
        .mount(&server)
        .await;

    let stats = client.supervisors().stats(ID).await.unwrap();
    let task = &stats["0"]["index_kafka_settlement_transactions_ab72ae4127c591c_flcbhdlh"];
    let totals = task.totals.as_ref().unwrap().build_segments.unwrap();
    assert!((totals.unparseable - 76.0).abs() < f64::EPSILON);
    let five = task.moving_averages.as_ref().unwrap().build_segments.as_ref().unwrap()["5m"];
    assert!((five.processed - 3.958).abs() < 1e-9);

    let errors = client.supervisors().parse_errors(ID).await.unwrap();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0].error_type.as_deref(), Some("unparseable"));
    assert!(errors[0].details[0].contains("invalid tag"));

    let history = client.supervisors().history(ID).await.unwrap();
    assert_eq!(history[0].version.as_deref(), Some("2026-11-27T09:51:02.970Z"));
    assert_eq!(history[1].spec.datasource(), Some(ID));
    let all = client.supervisors().history_all().await.unwrap();
    assert_eq!(all[ID].len(), 2);
    assert!(all["wikipedia"].is_empty());
}

#[tokio::test]
async fn control_calls() {
    let (server, client) = druid().await;
    for action in ["suspend", "resume"] {
        Mock::given(method("POST"))
            .and(path(at(&format!("/{action}"))))
            .respond_with(json(200, &fixture!("supervisor_spec.json")))
            .expect(1)
            .mount(&server)
            .await;
    }
    for action in ["reset", "terminate", "resetOffsets"] {
        Mock::given(method("POST"))
            .and(path(at(&format!("/{action}"))))
            .respond_with(json(200, &json!({ "id": ID })))
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path(at("/taskGroups/handoff")))
        .and(body_json(json!({ "taskGroupIds": [0, 1] })))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    for action in ["suspendAll", "resumeAll", "terminateAll"] {
        Mock::given(method("POST"))
            .and(path(format!("{SUPERVISOR}/{action}")))
            .respond_with(json(200, &json!({ "status": "success" })))
            .expect(1)
            .mount(&server)
            .await;
    }

    let supervisors = client.supervisors();
    assert_eq!(supervisors.suspend(ID).await.unwrap().datasource(), Some(ID));
    supervisors.resume(ID).await.unwrap();
    assert_eq!(supervisors.reset(ID).await.unwrap(), ID);
    assert_eq!(supervisors.terminate(ID).await.unwrap(), ID);
    let offsets = [("0".to_owned(), 100), ("1".to_owned(), 250)].into_iter().collect();
    assert_eq!(supervisors.reset_offsets(ID, "settlement-transactions", &offsets).await.unwrap(), ID);
    assert_eq!(
        received_body(&server, &at("/resetOffsets")).await,
        json!({"type": "kafka", "partitions": {"type": "end", "stream": "settlement-transactions", "partitionOffsetMap": {"0": 100, "1": 250}}})
    );
    supervisors.handoff(ID, &[0, 1]).await.unwrap();
    supervisors.suspend_all().await.unwrap();
    supervisors.resume_all().await.unwrap();
    supervisors.terminate_all().await.unwrap();
}

#[tokio::test]
async fn suspending_twice_surfaces_druids_message() {
    let (server, client) = druid().await;
    Mock::given(method("POST"))
        .and(path(at("/suspend")))
        .respond_with(json(400, &json!({ "error": format!("[{ID}] is already suspended") })))
        .expect(1)
        .mount(&server)
        .await;
    let err = client.supervisors().suspend(ID).await.unwrap_err();
    assert!(err.to_string().ends_with("is already suspended"), "{err}");
}

#[tokio::test]
async fn status_of_many_supervisors_keeps_their_order() {
    let (server, client) = druid().await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex(r"^/druid/indexer/v1/supervisor/s\d+/status$"))
        .respond_with(json(200, &fixture!("supervisor_status_running.json")))
        .expect(40)
        .mount(&server)
        .await;
    let ids: Vec<String> = (0..40).map(|index| format!("s{index}")).collect();
    let results = client.supervisors().status_many(&ids, 8).await;
    let returned: Vec<&str> = results.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(returned, ids.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(results.iter().all(|(_, result)| result.is_ok()));
}

#[tokio::test]
async fn a_response_that_is_not_the_documented_shape_names_the_field() {
    let (server, client) = druid().await;
    let mut status = fixture!("supervisor_status_running.json");
    status["payload"]["activeTasks"][0]["remainingSeconds"] = json!("soon");
    Mock::given(method("GET")).and(path(at("/status"))).respond_with(json(200, &status)).mount(&server).await;
    let err = client.supervisors().status(ID).await.unwrap_err().to_string();
    assert!(err.contains("payload.activeTasks[0].remainingSeconds"), "{err}");
}

#[tokio::test]
async fn druid_33_answers_a_missing_supervisor_in_plain_text() {
    // Seen from a real Druid 33.0.0 Overlord: text/plain, not a JSON error.
    let (server, client) = druid().await;
    Mock::given(method("GET"))
        .and(path(at("/status")))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_raw(format!("Cannot find any supervisor with id: [{ID}]"), "text/plain"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(at("")))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_raw(format!("Cannot find any supervisor with id: [{ID}]"), "text/plain"),
        )
        .mount(&server)
        .await;
    assert_eq!(client.supervisors().get_opt(ID).await.unwrap(), None);
    let err = client.supervisors().status(ID).await.unwrap_err();
    assert!(err.is_not_found());
    assert!(
        err.to_string().ends_with(&format!("-> 404: Cannot find any supervisor with id: [{ID}]")),
        "{err}"
    );
}
