//! Status of 500 supervisors from a local server, at several concurrency bounds; prints the
//! wall time of each run. It measures the client (connection reuse, decoding, the bound), not
//! Druid: the server is a local stub answering a real status payload.
#![allow(clippy::print_stdout, clippy::cast_precision_loss)]

use std::time::Instant;

use druid_client::DruidClient;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SUPERVISORS: usize = 500;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let server = MockServer::start().await;
        let status: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/supervisor_status_running.json")).unwrap();
        Mock::given(method("GET"))
            .and(path_regex(r"^/druid/indexer/v1/supervisor/[^/]+/status$"))
            .respond_with(ResponseTemplate::new(200).set_body_json(status))
            .mount(&server)
            .await;
        let client = DruidClient::from_reqwest(reqwest::Client::new(), &server.uri()).unwrap();
        let ids: Vec<String> = (0..SUPERVISORS).map(|index| format!("datasource_{index:03}")).collect();

        println!("status of {SUPERVISORS} supervisors from a local stub");
        for concurrency in [1, 4, 16, 64] {
            let mut best = f64::MAX;
            for _ in 0..3 {
                let started = Instant::now();
                let results = client.supervisors().status_many(&ids, concurrency).await;
                let elapsed = started.elapsed().as_secs_f64();
                assert!(results.iter().all(|(_, result)| result.is_ok()), "a status call failed");
                best = best.min(elapsed);
            }
            println!(
                "  concurrency {concurrency:>2}: {:>7.1} ms wall (best of 3), {:>6.0} status/s",
                best * 1000.0,
                SUPERVISORS as f64 / best
            );
        }
    });
}
