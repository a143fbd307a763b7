//! Embedding druidctl's crates in a service: a `Session` over the shared fake Druid
//! (`druid_client::testing::FakeDruid`, in process) and a local-disk registry in a temporary
//! directory; deploy two versions, verify, roll back, print the status and the history.
//! Swap `FakeDruid` for `Session::connect(environment)` to act on a real cluster.
//!
//! `cargo run -p druidctl-examples --bin deploy-cycle [path/to/druidctl.toml]`
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use deploy_core::config::{Overrides, RegistryLocation};
use deploy_core::deploy::DeployOptions;
use deploy_core::events::{Event, Reporter};
use deploy_core::{Project, Session};
use druid_client::testing::FakeDruid;
use schema_registry::{LocalStore, Registry};

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

async fn run(config: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let scratch = tempfile::tempdir()?;
    druidctl_examples::copy_sample(config, scratch.path())?;
    let overrides = Overrides {
        registry: Some(format!("file://{}", scratch.path().join("registry").display())),
        ..Overrides::default()
    };
    let project = Project::open(&scratch.path().join("druidctl.toml"))?;
    let mut dev = project.environment("dev", &overrides)?;
    // The fake's counters never move: the verdict is given on one look (its 990 clean
    // records are enough evidence; a real topic is watched until they are).
    dev.thresholds.observe_secs = 0;
    dev.thresholds.min_observe_secs = 0;
    dev.thresholds.healthy_polls = 1;
    // No Kafka behind the fake: `druidctl preflight` and its tests cover reading the topic.
    dev.preflight.enabled = false;
    let RegistryLocation::File(registry_dir) = &dev.registry else { unreachable!("a file registry") };
    let registry = Registry::new(Arc::new(LocalStore::new(registry_dir)));
    let session = Session::new(dev, Arc::new(FakeDruid::new()), registry)
        .with_reporter(Arc::new(Print))
        .with_actor("deploy-cycle example")
        .with_poll_interval(Duration::from_millis(100));
    // The example runs any day: the dev window (Monday to Friday) is overridden, recorded.
    let options = |version: &str| DeployOptions {
        version: Some(version.into()),
        ignore_window: Some("example".into()),
        ..DeployOptions::default()
    };

    println!("deploy v1");
    let outcome = session.deploy(&project.check()?, scratch.path(), &options("v1")).await?;
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
    session.deploy(&project.check()?, scratch.path(), &options("v2")).await?;

    println!("roll back to the previous version");
    let (restored, verification) = session.rollback("previous").await?;
    println!("  -> {restored}, verification passed: {}", verification.passed());
    if restored != "v1" || !verification.passed() {
        return Err("rollback did not restore v1".into());
    }

    let snapshot = session.status().await?;
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
    if !snapshot.drift.in_sync {
        return Err("the live spec does not match the channel after the rollback".into());
    }
    println!("\nhistory");
    for record in session.history().await? {
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
