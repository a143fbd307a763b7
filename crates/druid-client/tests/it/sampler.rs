//! The sampler API: the request goes to the Overlord as given, the answer (recorded from a
//! Druid 33 Kafka sampler over protobuf records, trimmed to three entries) reads back.

use druid_client::DruidApi as _;
use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{method, path};

use crate::{druid, fixture, json, received_body};

#[tokio::test]
async fn the_sampler_posts_the_request_and_reads_rows_and_parse_errors() {
    let (server, client) = druid().await;
    Mock::given(method("POST"))
        .and(path("/druid/indexer/v1/sampler"))
        .respond_with(json(200, &fixture!("sampler_kafka_protobuf.json")))
        .mount(&server)
        .await;
    let request = json!({
        "type": "kafka",
        "spec": {"type": "kafka", "dataSchema": {"dataSource": "d"}, "ioConfig": {"topic": "t"}},
        "samplerConfig": {"numRows": 3, "timeoutMs": 15000},
    });
    let response = client.sample(&request).await.unwrap();
    assert_eq!(received_body(&server, "/druid/indexer/v1/sampler").await, request);
    assert_eq!((response.num_rows_read, response.num_rows_indexed), (3, 2));
    assert_eq!(response.data.len(), 3);
    let row = response.data[0].parsed.as_ref().unwrap();
    assert!(row["__time"].is_i64(), "{row:?}");
    assert!(row["transactionId"].is_string(), "{row:?}");
    let bad = &response.data[2];
    assert!(bad.unparseable && bad.parsed.is_none());
    assert!(bad.error.as_deref().unwrap().starts_with("Unable to parse row"), "{bad:?}");
}

#[tokio::test]
async fn a_refused_sampler_request_is_an_error_with_druids_message() {
    let (server, client) = druid().await;
    Mock::given(method("POST"))
        .and(path("/druid/indexer/v1/sampler"))
        .respond_with(json(
            400,
            &json!({"error": "Could not resolve subtype of [simple type, class org.apache.druid.indexing.kafka.supervisor.KafkaSupervisorSpec]: missing type id property 'type' (for POJO property 'spec')"}),
        ))
        .mount(&server)
        .await;
    let err = client.sample(&json!({"type": "kafka", "spec": {}})).await.unwrap_err();
    assert!(err.to_string().contains("missing type id property"), "{err}");
}
