//! A full deploy against an instant mock Druid and an in-memory registry: druidctl's own
//! time per deploy (validation, publish with the compatibility gate, render, verification,
//! channel move, history), everything except waiting on Druid.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use criterion::{Criterion, criterion_group, criterion_main};
use deploy_core::Project;
use deploy_core::config::Overrides;
use deploy_core::workflow::{Clock, DeployOptions, Silent, Workflow};
use druid_client::MockDruidApi;
use schema_registry::{MemoryStore, Registry};
use serde_json::json;

struct Instant;

#[async_trait]
impl Clock for Instant {
    fn now(&self) -> jiff::Timestamp {
        "2026-12-01T10:00:00Z".parse().unwrap()
    }
    async fn sleep(&self, _: Duration) {}
}

fn instant_druid() -> MockDruidApi {
    let status: druid_client::supervisors::SupervisorStatus =
        serde_json::from_value(json!({"id": "d", "payload": {"state": "RUNNING", "healthy": true,
        "activeTasks": [{"id": "t0"}]}}))
        .unwrap();
    let task_stats: druid_client::supervisors::SupervisorStats = serde_json::from_value(
        json!({"0": {"t0": {"movingAverages": {"buildSegments": {"5m": {"processed": 10.0}}},
        "totals": {"buildSegments": {"processed": 1000, "unparseable": 0}}}}}),
    )
    .unwrap();
    let mut druid = MockDruidApi::new();
    druid.expect_version().returning(|| Ok("34.0.0".into()));
    druid.expect_get_spec().returning(|_| Ok(None));
    druid.expect_submit_spec().returning(|_| Ok("d".into()));
    druid.expect_supervisor_status().returning(move |_| Ok(status.clone()));
    druid.expect_supervisor_health().returning(|_| Ok(true));
    druid.expect_supervisor_stats().returning(move |_| Ok(task_stats.clone()));
    druid.expect_tasks().returning(|_| Ok(vec![]));
    druid.expect_sql().returning(|_| Ok(vec![serde_json::from_value(json!({"rows": 10})).unwrap()]));
    druid
}

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let project = Project::open(&root.join("druidctl.toml")).unwrap();
    let dev = project.environment("dev", &Overrides::default()).unwrap();
    let registry = Registry::new(Arc::new(MemoryStore::new()));
    let druid = instant_druid();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let workflow = Workflow {
        druid: &druid,
        registry: &registry,
        environment: &dev,
        reporter: &Silent,
        clock: &Instant,
        actor: "bench".into(),
        poll_interval: Duration::ZERO,
    };
    let counter = AtomicU64::new(0);
    c.bench_function("full deploy against an instant Druid (compile, gate, publish, verify, promote)", |b| {
        b.iter(|| {
            let options = DeployOptions {
                version: Some(format!("v{}", counter.fetch_add(1, Ordering::Relaxed))),
                ..DeployOptions::default()
            };
            runtime.block_on(async {
                let checked = project.check().unwrap();
                black_box(workflow.deploy(&checked, &root, &options).await.unwrap())
            })
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
