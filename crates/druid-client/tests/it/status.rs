use druid_client::Service;
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::{druid, fixture, json};

#[tokio::test]
async fn version_health_and_readiness() {
    let (server, client) = druid().await;
    Mock::given(method("GET"))
        .and(path("/status"))
        .respond_with(json(200, &fixture!("status.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/status/health"))
        .respond_with(json(200, &json!(true)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/status/selfDiscovered"))
        .respond_with(json(200, &json!({ "selfDiscovered": true })))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/status/selfDiscovered"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&server)
        .await;

    let status = client.server_status(Service::Overlord).await.unwrap();
    assert_eq!(status.version, "34.0.0");
    assert!(!status.has_broken_protobuf_descriptors());
    assert_eq!(status.modules.len(), 2);
    assert!(client.is_healthy(Service::Broker).await.unwrap());
    assert!(client.is_self_discovered(Service::Coordinator).await.unwrap());
    assert!(!client.is_self_discovered(Service::Coordinator).await.unwrap());
}

#[tokio::test]
async fn each_release_reads_from_status_with_its_row_of_the_table() {
    // (version as /status says it, skipRestartIfUnmodified, several supervisors per
    // datasource, protobuf descriptors broken, strict dimension types)
    let rows = [
        ("32.0.1", false, false, false, false),
        ("33.0.0", true, false, false, false),
        ("34.0.0", true, true, false, false),
        ("35.0.0", true, true, true, true),
        ("35.0.1", true, true, true, true),
        ("36.0.0", true, true, false, true),
    ];
    for (version, skip, several, broken, strict) in rows {
        let (server, client) = druid().await;
        let mut status = fixture!("status.json");
        status["version"] = json!(version);
        Mock::given(method("GET")).and(path("/status")).respond_with(json(200, &status)).mount(&server).await;
        let status = client.server_status(Service::Router).await.unwrap();
        let caps = status.release().unwrap().capabilities();
        assert_eq!(
            (
                caps.skip_restart_if_unmodified,
                caps.several_supervisors_per_datasource,
                caps.protobuf_descriptors_broken,
                caps.strict_dimension_types
            ),
            (skip, several, broken, strict),
            "{version}"
        );
        assert_eq!(status.has_broken_protobuf_descriptors(), broken);
    }
}

#[tokio::test]
async fn coordinator_datasources() {
    let (server, client) = druid().await;
    Mock::given(method("GET"))
        .and(path("/druid/coordinator/v1/datasources"))
        .and(query_param("simple", ""))
        .respond_with(json(200, &fixture!("datasources_simple.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/druid/coordinator/v1/datasources"))
        .respond_with(json(200, &json!(["settlement_transactions"])))
        .with_priority(10)
        .mount(&server)
        .await;
    assert_eq!(client.datasources().await.unwrap(), ["settlement_transactions"]);
    let simple = client.datasources_simple().await.unwrap();
    let segments = simple[0].properties.segments.as_ref().unwrap();
    assert_eq!((segments.count, segments.size), (3, 711_891));
}

#[tokio::test]
async fn services_can_live_at_different_addresses() {
    let (overlord, _) = druid().await;
    let (broker, _) = druid().await;
    Mock::given(method("GET"))
        .and(path("/druid/indexer/v1/supervisor"))
        .respond_with(json(200, &json!([])))
        .expect(1)
        .mount(&overlord)
        .await;
    Mock::given(method("POST"))
        .and(path("/druid/v2/sql"))
        .respond_with(json(200, &json!([{ "n": 1 }])))
        .expect(1)
        .mount(&broker)
        .await;
    let config = druid_client::ClientConfig {
        overlord_url: Some(overlord.uri().parse().unwrap()),
        broker_url: Some(broker.uri().parse().unwrap()),
        coordinator_url: Some(overlord.uri().parse().unwrap()),
        ..druid_client::ClientConfig::default()
    };
    let client = druid_client::DruidClient::new(&config).unwrap();
    assert!(client.supervisors().list().await.unwrap().is_empty());
    let rows: Vec<serde_json::Value> =
        client.sql().rows(&druid_client::sql::SqlQuery::new("SELECT 1 AS n")).await.unwrap();
    assert_eq!(rows, [json!({ "n": 1 })]);
}
