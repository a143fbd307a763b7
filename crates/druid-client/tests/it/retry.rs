use std::time::Duration;

use druid_client::{DruidClient, Error, RetryPolicy};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::{druid, fast_retry, fixture, json};

const STATUS: &str = "/druid/indexer/v1/supervisor/settlement_transactions/status";
const SUSPEND: &str = "/druid/indexer/v1/supervisor/settlement_transactions/suspend";

#[tokio::test]
async fn an_empty_503_from_a_non_leader_overlord_is_retried() {
    let (server, client) = druid().await;
    Mock::given(method("GET"))
        .and(path(STATUS))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(STATUS))
        .respond_with(json(200, &fixture!("supervisor_status_running.json")))
        .expect(1)
        .mount(&server)
        .await;
    let status = client.supervisors().status("settlement_transactions").await.unwrap();
    assert_eq!(status.id, "settlement_transactions");
}

#[tokio::test]
async fn retries_stop_at_the_attempt_limit_and_say_so() {
    let (server, client) = druid().await;
    Mock::given(method("GET"))
        .and(path(STATUS))
        .respond_with(ResponseTemplate::new(503))
        .expect(4)
        .mount(&server)
        .await;
    let err = client.supervisors().status("settlement_transactions").await.unwrap_err();
    let Error::Http { status, attempts, body, .. } = &err else { panic!("{err:?}") };
    assert_eq!((*status, *attempts), (503, 4));
    assert!(body.is_empty());
    assert!(err.to_string().contains("after 4 attempts"), "{err}");
}

#[tokio::test]
async fn an_html_502_from_a_proxy_keeps_its_status() {
    let (server, client) = druid().await;
    let html = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>";
    Mock::given(method("GET"))
        .and(path(STATUS))
        .respond_with(ResponseTemplate::new(502).set_body_raw(html, "text/html"))
        .mount(&server)
        .await;
    let err = client
        .with_retry(RetryPolicy::none())
        .supervisors()
        .status("settlement_transactions")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(502));
    assert!(err.is_retryable());
    assert!(err.druid_error().is_none());
    assert!(err.to_string().contains("502 Bad Gateway"), "{err}");
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried() {
    let (server, client) = druid().await;
    Mock::given(method("GET"))
        .and(path(STATUS))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0"))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(STATUS))
        .respond_with(json(200, &fixture!("supervisor_status_running.json")))
        .expect(1)
        .mount(&server)
        .await;
    client.supervisors().status("settlement_transactions").await.unwrap();
}

#[tokio::test]
async fn a_500_on_a_non_idempotent_call_is_not_retried() {
    let (server, client) = druid().await;
    Mock::given(method("POST"))
        .and(path(SUSPEND))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .expect(1)
        .mount(&server)
        .await;
    let err = client.supervisors().suspend("settlement_transactions").await.unwrap_err();
    assert_eq!(err.status(), Some(500));
}

#[tokio::test]
async fn a_503_on_a_non_idempotent_call_is_retried_because_druid_did_not_act() {
    let (server, client) = druid().await;
    Mock::given(method("POST"))
        .and(path(SUSPEND))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(SUSPEND))
        .respond_with(json(200, &fixture!("supervisor_spec.json")))
        .expect(1)
        .mount(&server)
        .await;
    client.supervisors().suspend("settlement_transactions").await.unwrap();
}

#[tokio::test]
async fn a_timeout_is_retried_for_reads_but_not_for_actions() {
    let (server, _) = druid().await;
    let http = reqwest::Client::builder().timeout(Duration::from_millis(200)).build().unwrap();
    let client = DruidClient::from_reqwest(http, &server.uri()).unwrap().with_retry(fast_retry());
    let slow = || json(200, &fixture!("supervisor_spec.json")).set_delay(Duration::from_secs(2));
    Mock::given(method("POST")).and(path(SUSPEND)).respond_with(slow()).expect(1).mount(&server).await;
    Mock::given(method("GET")).and(path(STATUS)).respond_with(slow()).expect(4).mount(&server).await;

    let err = client.supervisors().suspend("settlement_transactions").await.unwrap_err();
    assert!(matches!(err, Error::Transport { timed_out: true, attempts: 1, .. }), "{err:?}");
    let err = client.supervisors().status("settlement_transactions").await.unwrap_err();
    assert!(matches!(err, Error::Transport { timed_out: true, attempts: 4, .. }), "{err:?}");
    assert!(err.to_string().contains("timed out"), "{err}");
}

#[tokio::test]
async fn an_unreachable_druid_is_a_transport_error_after_retries() {
    // A port nothing listens on: bind, note the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let client = DruidClient::from_reqwest(reqwest::Client::new(), &format!("http://127.0.0.1:{port}"))
        .unwrap()
        .with_retry(fast_retry());
    let err = client.supervisors().suspend("settlement_transactions").await.unwrap_err();
    // Nothing reached Druid, so even an action is retried.
    assert!(matches!(err, Error::Transport { connect: true, attempts: 4, .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(err.to_string().starts_with(&format!("POST http://127.0.0.1:{port}/druid/indexer/v1/supervisor/settlement_transactions/suspend: no response")), "{err}");
}

#[tokio::test]
async fn the_deadline_bounds_retries() {
    let (server, client) = druid().await;
    let client = client.with_retry(RetryPolicy {
        max_attempts: 1000,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(20),
        deadline: Duration::from_millis(300),
    });
    Mock::given(method("GET"))
        .and(path(STATUS))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let Error::Http { attempts, .. } =
        client.supervisors().status("settlement_transactions").await.unwrap_err()
    else {
        panic!("expected an HTTP error");
    };
    assert!((2..1000).contains(&attempts), "{attempts} attempts");
}
