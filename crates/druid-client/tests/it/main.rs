//! druid-client against a wiremock Druid. Fixtures in `tests/fixtures` follow the shapes of
//! Druid's real responses; a catch-all route answers 500 "unexpected request" so a call the
//! test did not expect fails loudly.

mod retry;
mod sampler;
mod secrets;
mod sql;
mod status;
mod supervisors;
mod tasks;

use std::time::Duration;

use druid_client::{DruidClient, RetryPolicy};
use serde_json::Value;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A fixture file, parsed.
#[macro_export]
macro_rules! fixture {
    ($name:literal) => {
        serde_json::from_str::<serde_json::Value>(include_str!(concat!("../fixtures/", $name))).unwrap()
    };
}

/// Retries as in production, but with millisecond backoffs.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        deadline: Duration::from_secs(10),
    }
}

/// A mock Druid with the catch-all route, and a client pointed at it.
pub async fn druid() -> (MockServer, DruidClient) {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500).set_body_string("unexpected request"))
        .with_priority(u8::MAX)
        .named("catch-all")
        .mount(&server)
        .await;
    let client =
        DruidClient::from_reqwest(reqwest::Client::new(), &server.uri()).unwrap().with_retry(fast_retry());
    (server, client)
}

/// A JSON answer.
pub fn json(status: u16, body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

/// The JSON body of the only request received on `path`.
pub async fn received_body(server: &MockServer, path: &str) -> Value {
    let requests = server.received_requests().await.unwrap();
    let matching: Vec<_> = requests.iter().filter(|request| request.url.path() == path).collect();
    assert_eq!(matching.len(), 1, "requests on {path}: {}", matching.len());
    serde_json::from_slice(&matching[0].body).unwrap()
}
