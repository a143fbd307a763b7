use super::*;
use crate::spec::{DataSchema, DimensionsSpec, IngestionSpec, KafkaIoConfig, TimestampSpec};

fn spec(id: &str, tasks: u32) -> SupervisorSpec {
    SupervisorSpec::kafka(IngestionSpec {
        data_schema: DataSchema {
            data_source: id.into(),
            timestamp_spec: TimestampSpec {
                column: "createdAt".into(),
                format: Some("iso".into()),
                missing_value: None,
                extra: Map::new(),
            },
            dimensions_spec: DimensionsSpec {
                dimensions: vec![],
                dimension_exclusions: None,
                extra: Map::new(),
            },
            metrics_spec: None,
            granularity_spec: None,
            extra: Map::new(),
        },
        io_config: KafkaIoConfig {
            kind: Some("kafka".into()),
            topic: Some("t".into()),
            consumer_properties: None,
            input_format: None,
            task_count: Some(tasks),
            replicas: Some(1),
            task_duration: None,
            use_earliest_offset: None,
            extra: Map::new(),
        },
        tuning_config: None,
        extra: Map::new(),
    })
}

#[tokio::test]
async fn remembers_specs_and_scripts_ingestion() {
    let druid = FakeDruid::new();
    druid.tasks_after_polls(1).poison(2, Rows::new(950, 50));
    druid.submit_spec(&spec("ds", 2)).await.unwrap();
    assert!(druid.supervisor_status("ds").await.unwrap().payload.active_tasks.is_empty());
    assert_eq!(druid.supervisor_status("ds").await.unwrap().payload.active_tasks.len(), 2);
    druid.submit_spec(&spec("ds", 1)).await.unwrap();
    druid.supervisor_status("ds").await.unwrap();
    let status = druid.supervisor_status("ds").await.unwrap();
    let stats = druid.supervisor_stats("ds").await.unwrap();
    let task = &status.payload.active_tasks[0].id;
    let totals = stats["0"][task].totals.as_ref().unwrap().build_segments.unwrap();
    assert_eq!((totals.processed, totals.unparseable), (950.0, 50.0));
    assert_eq!(druid.supervisor_history("ds").await.unwrap().len(), 2);
    druid.suspend("ds").await.unwrap();
    assert_eq!(druid.suspend("ds").await.unwrap_err().status(), Some(400));
    druid.fail(Call::Sql, 1, 500, "boom");
    assert_eq!(druid.sql(&SqlQuery::new("SELECT 1")).await.unwrap_err().status(), Some(500));
    assert!(druid.sql(&SqlQuery::new("SELECT 1")).await.is_ok());
    assert_eq!(druid.calls(Call::Sql), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_same_over_http() {
    let fake = Arc::new(FakeDruid::new());
    let server = fake.serve().await;
    let client = crate::DruidClient::new(&crate::ClientConfig::new(&server.uri()).unwrap()).unwrap();
    assert_eq!(client.supervisors().get_opt("ds").await.unwrap(), None);
    client.supervisors().submit(&spec("ds", 1), false).await.unwrap();
    assert_eq!(fake.submitted().len(), 1);
    let status = client.supervisors().status("ds").await.unwrap();
    assert_eq!(status.payload.active_tasks.len(), 1);
    assert_eq!(DruidApi::version(&client).await.unwrap(), "33.0.0");
    let missing = client.supervisors().status("nope").await.unwrap_err();
    assert_eq!(missing.status(), Some(404));
}
