//! The whole workflow embedded in a program: deploy two versions, verify, roll back, and
//! print a status dashboard, against a local mock Druid (wiremock, which remembers the spec
//! it was sent) and a local-disk registry in a temporary directory.
//!
//! `cargo run -p druidctl-examples --bin deploy-cycle [path/to/druidctl.toml]`
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deploy_core::config::Overrides;
use deploy_core::workflow::{DeployOptions, Event, Reporter, SystemClock, Workflow};
use deploy_core::{Project, connect};
use schema_registry::{LocalStore, Registry};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Prints each step as it happens.
struct Print;

impl Reporter for Print {
    fn report(&self, event: Event) {
        match event {
            Event::Step { step, detail } => println!("  {step:?}: {detail}"),
            Event::Check { check } => {
                println!("    {:<18} {:<40} {:?}", check.name, check.value, check.verdict);
            }
            Event::Warning { message } => println!("  warning: {message}"),
        }
    }
}

/// GET answers the last spec POSTed (404 before the first).
#[derive(Clone, Default)]
struct LiveSpec(Arc<Mutex<Option<Value>>>);

impl Respond for LiveSpec {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut live = self.0.lock().expect("live spec lock");
        if request.method.as_str() == "POST" {
            *live = serde_json::from_slice(&request.body).ok();
            return ResponseTemplate::new(200).set_body_json(json!({"id": "settlement_transactions_dev"}));
        }
        match &*live {
            Some(spec) => ResponseTemplate::new(200).set_body_json(spec),
            None => ResponseTemplate::new(404)
                .set_body_json(json!({"error": "[settlement_transactions_dev] does not exist"})),
        }
    }
}

async fn mock_druid() -> MockServer {
    let server = MockServer::start().await;
    let live = LiveSpec::default();
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    let supervisor = "/druid/indexer/v1/supervisor/settlement_transactions_dev";
    Mock::given(method("POST"))
        .and(path("/druid/indexer/v1/supervisor"))
        .respond_with(live.clone())
        .mount(&server)
        .await;
    Mock::given(method("GET")).and(path(supervisor)).respond_with(live).mount(&server).await;
    Mock::given(method("GET"))
        .and(path("/status"))
        .respond_with(ok(json!({"version": "34.0.0"})))
        .mount(&server)
        .await;
    Mock::given(method("GET")).and(path(format!("{supervisor}/status"))).respond_with(ok(json!({"id": "settlement_transactions_dev",
        "payload": {"state": "RUNNING", "detailedState": "RUNNING", "healthy": true, "aggregateLag": 42, "minimumLag": {"0": 42},
            "activeTasks": [{"id": "index_kafka_settlement_transactions_dev_0", "type": "ACTIVE"}], "publishingTasks": [], "recentErrors": []}}))).mount(&server).await;
    Mock::given(method("GET"))
        .and(path(format!("{supervisor}/health")))
        .respond_with(ok(json!({"healthy": true})))
        .mount(&server)
        .await;
    Mock::given(method("GET")).and(path(format!("{supervisor}/stats"))).respond_with(ok(json!({"0": {"index_kafka_settlement_transactions_dev_0": {
        "movingAverages": {"buildSegments": {"1m": {"processed": 21.0}, "5m": {"processed": 20.0}, "15m": {"processed": 19.5}}},
        "totals": {"buildSegments": {"processed": 12000, "unparseable": 3, "thrownAway": 0, "processedWithError": 0, "processedBytes": 1_200_000}}}}}))).mount(&server).await;
    Mock::given(method("GET"))
        .and(path("/druid/indexer/v1/tasks"))
        .respond_with(ok(json!([])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/druid/v2/sql"))
        .respond_with(ok(json!([{"rows": 12000}])))
        .mount(&server)
        .await;
    server
}

fn copy_sample(config: &Path, into: &Path) -> std::io::Result<PathBuf> {
    let root = config.parent().unwrap_or(Path::new("."));
    std::fs::copy(config, into.join("druidctl.toml"))?;
    for part in ["schemas/proto", "config"] {
        std::fs::create_dir_all(into.join(part))?;
        for entry in std::fs::read_dir(root.join(part))? {
            let entry = entry?;
            std::fs::copy(entry.path(), into.join(part).join(entry.file_name()))?;
        }
    }
    Ok(into.join("druidctl.toml"))
}

async fn run(config: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let scratch = tempfile::tempdir()?;
    let config = copy_sample(config, scratch.path())?;
    let druid_server = mock_druid().await;
    let overrides = Overrides {
        druid_url: Some(druid_server.uri()),
        registry: Some(format!("file://{}", scratch.path().join("registry").display())),
        ..Overrides::default()
    };
    let project = Project::open(&config)?;
    let mut dev = project.environment("dev", &overrides)?;
    // The mock Druid's counters never move: nothing to watch before the verdict.
    dev.thresholds.observe_secs = 0;
    let druid = connect::druid_client(&dev)?;
    let deploy_core::config::RegistryLocation::File(registry_dir) = &dev.registry else {
        unreachable!("a file registry")
    };
    let registry = Registry::new(Arc::new(LocalStore::new(registry_dir)));
    let workflow = Workflow {
        druid: &druid,
        registry: &registry,
        environment: &dev,
        reporter: &Print,
        clock: &SystemClock,
        actor: "deploy-cycle example".into(),
        poll_interval: Duration::from_millis(100),
    };
    // The example runs any day: the dev window (Monday to Friday) is overridden, recorded.
    let options = |version: &str| DeployOptions {
        version: Some(version.into()),
        ignore_window: Some("example".into()),
        ..DeployOptions::default()
    };

    println!("deploy v1");
    let outcome = workflow.deploy(&project.check()?, scratch.path(), &options("v1")).await?;
    println!("  -> {}", serde_json::to_string(&outcome)?.chars().take(80).collect::<String>());

    println!("deploy v2 (a new dimension)");
    let dimensions = scratch.path().join("config/dimensions.json");
    let text = std::fs::read_to_string(&dimensions)?;
    std::fs::write(
        &dimensions,
        text.replace(
            r#"{ "name": "country" },"#,
            r#"{ "name": "country" }, { "name": "acquirerRef", "from": "acquirerId" },"#,
        ),
    )?;
    workflow.deploy(&project.check()?, scratch.path(), &options("v2")).await?;

    println!("roll back to the previous version");
    let (restored, verification) = workflow.rollback("previous").await?;
    println!("  -> {restored}, verification passed: {}", verification.passed());
    if restored != "v1" || !verification.passed() {
        return Err("rollback did not restore v1".into());
    }

    let snapshot = workflow.status().await?;
    let status = snapshot.ingestion;
    println!("\nstatus dashboard");
    println!("  {:<14} {}", "environment", status.environment);
    println!(
        "  {:<14} {} ({})",
        "state",
        status.state.unwrap_or_default(),
        if status.healthy == Some(true) { "healthy" } else { "unhealthy" }
    );
    println!("  {:<14} {} active / {} expected", "tasks", status.active_tasks, status.expected_tasks);
    println!(
        "  {:<14} {} records (~{:.1} s)",
        "lag",
        status.total_lag.unwrap_or_default(),
        status.lag_seconds.unwrap_or_default()
    );
    println!("  {:<14} {:.1} rows/s (5m)", "rate", status.rates["5m"]);
    println!("  {:<14} {:.3} %", "unparseable", status.unparseable_ratio * 100.0);
    println!(
        "  {:<14} live {} / channel {}",
        "version",
        snapshot.drift.live_version.unwrap_or_default(),
        snapshot.drift.expected_version.unwrap_or_default()
    );
    println!("\nhistory");
    for record in registry.history("dev").await? {
        println!(
            "  {} {:<20} {:<10} {} -> {}",
            record.at,
            record.action,
            record.outcome,
            record.from.unwrap_or_default(),
            record.to.unwrap_or_default()
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let config = std::env::args().nth(1).map_or_else(|| PathBuf::from("druidctl.toml"), PathBuf::from);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    match runtime.block_on(run(&config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
