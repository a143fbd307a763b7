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
async fn druid_35_0_is_flagged() {
    let (server, client) = druid().await;
    let mut status = fixture!("status.json");
    status["version"] = json!("35.0.1");
    Mock::given(method("GET")).and(path("/status")).respond_with(json(200, &status)).mount(&server).await;
    assert!(client.server_status(Service::Router).await.unwrap().has_broken_protobuf_descriptors());
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
