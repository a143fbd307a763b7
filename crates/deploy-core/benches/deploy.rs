//! A full deploy against the shared fake Druid (instant) and an in-memory registry: druidctl's own
//! time per deploy (validation, publish with the compatibility gate, render, verification,
//! channel move, history), everything except waiting on Druid.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use criterion::{Criterion, criterion_group, criterion_main};
use deploy_core::clock::Clock;
use deploy_core::config::Overrides;
use deploy_core::deploy::DeployOptions;
use deploy_core::{Project, Session};
use druid_client::testing::FakeDruid;
use schema_registry::{MemoryStore, Registry};

struct Instant;

#[async_trait]
impl Clock for Instant {
    fn now(&self) -> jiff::Timestamp {
        "2026-12-01T10:00:00Z".parse().unwrap()
    }
    async fn sleep(&self, _: Duration) {}
}

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let project = Project::open(&root.join("druidctl.toml")).unwrap();
    let mut dev = project.environment("dev", &Overrides::default()).unwrap();
    // The deploy workflow against the fake, without reading a topic (no Kafka here).
    dev.preflight.enabled = false;
    // The instant clock never moves: the verdict is given on one look (the fake's 990 clean
    // records are enough evidence).
    dev.thresholds.observe_secs = 0;
    dev.thresholds.min_observe_secs = 0;
    dev.thresholds.healthy_polls = 1;
    let registry = Registry::new(Arc::new(MemoryStore::new()));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let session = Session::new(dev, Arc::new(FakeDruid::new()), registry)
        .with_clock(Arc::new(Instant))
        .with_actor("bench")
        .with_poll_interval(Duration::ZERO);
    let counter = AtomicU64::new(0);
    c.bench_function("full deploy against an instant Druid (compile, gate, publish, verify, promote)", |b| {
        b.iter(|| {
            let options = DeployOptions {
                version: Some(format!("v{}", counter.fetch_add(1, Ordering::Relaxed))),
                ..DeployOptions::default()
            };
            runtime.block_on(async {
                let checked = project.check().unwrap();
                black_box(session.deploy(&checked, &root, &options).await.unwrap())
            })
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
