//! How long preflight takes on a 12-partition topic compared with the Kafka fetch alone
//! (`make bench-preflight`, on the local stack): writes 1000 records to each of 12 partitions
//! of a new topic, then times, five times each, `kafka::sample` (the fetch) and the whole
//! prediction-only preflight (fetch, decode and predict with the candidate, report). Prints
//! the figures; asserts nothing. `make bench-preflight` runs the debug build (a release build
//! of the whole tree takes long here); the predictor alone in release is the `predict` bench.
//!
//! `preflight-timing [--brokers 127.0.0.1:19092] [--config druidctl.toml]`
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deploy_core::config::{KafkaSettings, Overrides};
use deploy_core::kafka::{self, Limits, Start};
use deploy_core::preflight::Options;
use deploy_core::{Project, Session};
use druid_client::testing::FakeDruid;
use druidctl_examples::records::{Generator, Shape};
use rskafka::client::ClientBuilder;
use rskafka::client::partition::{Compression, UnknownTopicHandling};
use rskafka::record::Record;
use schema_registry::{MemoryStore, Registry};

const PARTITIONS: i32 = 12;
const PER_PARTITION: usize = 1000;
const RUNS: usize = 5;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut brokers = "127.0.0.1:19092".to_owned();
    let mut config = std::path::PathBuf::from("druidctl.toml");
    let mut words = std::env::args().skip(1);
    while let Some(flag) = words.next() {
        let value = words.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--brokers" => brokers = value,
            "--config" => config = value.into(),
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    let project = Project::open(&config)?;
    let checked = project.check()?;
    let topic = format!("preflight-timing-{}", jiff::Timestamp::now().as_millisecond());

    let client = ClientBuilder::new(vec![brokers.clone()]).build().await?;
    client.controller_client()?.create_topic(&topic, PARTITIONS, 1, 10_000).await?;
    let mut generator = Generator::new(checked.message.clone(), 7, jiff::Timestamp::now().as_millisecond());
    for partition in 0..PARTITIONS {
        let partition_client =
            client.partition_client(&topic, partition, UnknownTopicHandling::Retry).await?;
        for _ in 0..(PER_PARTITION / 500) {
            let batch: Vec<Record> = (0..500)
                .map(|_| Record {
                    key: None,
                    value: Some(generator.record(Shape::Valid)),
                    headers: BTreeMap::default(),
                    timestamp: chrono::Utc::now(),
                })
                .collect();
            partition_client.produce(batch, Compression::NoCompression).await?;
        }
    }
    println!("{topic}: {PARTITIONS} partitions x {PER_PARTITION} records");

    let settings = KafkaSettings {
        topic: topic.clone(),
        bootstrap_servers: brokers.clone(),
        consumer_properties: BTreeMap::new(),
    };
    let limits = Limits { per_partition: PER_PARTITION, ..Limits::default() };
    let overrides = Overrides { kafka_bootstrap: Some(brokers.clone()), ..Overrides::default() };
    let mut environment = project.environment("dev", &overrides)?;
    environment.kafka.topic.clone_from(&topic);
    // No live version: the registry is empty and the fake Druid runs nothing.
    let session =
        Session::new(environment, Arc::new(FakeDruid::new()), Registry::new(Arc::new(MemoryStore::new())));
    let options = Options { sample: Some(PER_PARTITION), start: Start::Latest, druid_sampler: false };

    let mut fetches = Vec::new();
    let mut preflights = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let records = kafka::sample(&settings, Start::Latest, limits).await?;
        fetches.push(started.elapsed());
        assert_eq!(records.len(), PARTITIONS as usize * PER_PARTITION, "the whole sample is read");
        let started = Instant::now();
        let preflight = session.preflight(&checked, options).await?;
        preflights.push(started.elapsed());
        assert_eq!(preflight.report.records_sampled, PARTITIONS as usize * PER_PARTITION);
    }
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (fetch, preflight) = (median(&mut fetches), median(&mut preflights));
    let build = if cfg!(debug_assertions) { "debug build" } else { "release build" };
    println!(
        "median of {RUNS} ({build}): Kafka fetch {:.0} ms, preflight {:.0} ms: preflight adds {:.0} ms to the fetch",
        fetch.as_secs_f64() * 1000.0,
        preflight.as_secs_f64() * 1000.0,
        (preflight.as_secs_f64() - fetch.as_secs_f64()) * 1000.0
    );
    Ok(())
}
