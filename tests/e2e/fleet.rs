//! Three pipelines from one project file on the real stack (docs/fleet.md,
//! docs/reconcile.md): `deploy --all` deploys them, each topic's records land in its own
//! datasource, `reconcile` finds them in sync, then a spec edited behind druidctl's back
//! drifted and attributed to the console, and `reconcile --apply` heals it.

use std::fmt::Write as _;
use std::process::Output;
use std::sync::Arc;

use druid_client::sql::SqlQuery;
use druidctl_examples::kafka::Topic;
use druidctl_examples::records::Generator;
use serde_json::{Map, Value};

use crate::support::{self, KAFKA};

const PIPELINES: [&str; 3] = ["payments", "refunds", "payouts"];

fn druidctl(root: &std::path::Path, args: &[&str]) -> Output {
    std::process::Command::new(crate::druidctl_binary()).args(args).current_dir(root).output().unwrap()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[tokio::test]
#[ignore = "needs the local stack: make dev-up && make test-e2e"]
async fn three_pipelines_deploy_reconcile_and_heal_a_console_edit() {
    assert!(support::stack_answers(), "the local stack is down: run `make dev-up` first");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for part in ["schemas", "config"] {
        druidctl_tests::copy_dir(&druidctl_tests::repo_root().join(part), &root.join(part));
    }
    let stamp = jiff::Timestamp::now().as_millisecond();
    let datasource = |name: &str| format!("e2e_fleet_{name}_{stamp}");
    let mut config = format!(
        "{}\n[environments.e2e]\ndatasource = \"unused\"\nchannel = \"stable\"\nkafka.topic = \"unused\"\n",
        support::project_head(root)
    );
    for name in PIPELINES {
        let id = datasource(name);
        let _ = write!(
            config,
            "\n[pipelines.{name}.environments.e2e]\ndatasource = \"{id}\"\nkafka.topic = \"{id}\"\n"
        );
    }
    std::fs::write(root.join("druidctl.toml"), config).unwrap();
    let project = deploy_core::Project::open(&root.join("druidctl.toml")).unwrap();
    let environment = project
        .pipeline("payments")
        .unwrap()
        .environment("e2e", &deploy_core::config::Overrides::default())
        .unwrap();
    let druid = deploy_core::connect::druid_client(&environment).unwrap();
    support::remove_leftovers(&druid).await;

    // The topics exist and hold records before the supervisors start.
    let schema = project.compile().unwrap();
    let message = schema.message("settlement.v1.SettlementTransaction").unwrap();
    for (seed, name) in PIPELINES.iter().enumerate() {
        let mut generator = Generator::new(message.clone(), seed as u64, jiff::Timestamp::now().as_second());
        let records: Vec<Vec<u8>> =
            (0..20 + seed * 5).map(|_| prost::Message::encode_to_vec(&generator.message())).collect();
        Topic::open(KAFKA, &datasource(name)).await.unwrap().write(records).await.unwrap();
    }

    let deploy = druidctl(root, &["deploy", "--env", "e2e", "--all", "--parallel", "3"]);
    assert!(deploy.status.success(), "{}", text(&deploy));
    let table = String::from_utf8_lossy(&deploy.stdout);
    assert_eq!(table.matches(" deployed ").count(), 3, "{table}");

    // Each datasource holds exactly its topic's records.
    for (seed, name) in PIPELINES.iter().enumerate() {
        let expected = 20 + seed as u64 * 5;
        let query = format!("SELECT COUNT(*) AS n FROM \"{}\"", datasource(name));
        let started = std::time::Instant::now();
        let mut count = 0;
        while count < expected && started.elapsed() < support::ROWS_DEADLINE {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            if let Ok(rows) = druid.sql().rows::<Map<String, Value>>(&SqlQuery::new(&query)).await {
                count = rows.first().and_then(|row| row["n"].as_u64()).unwrap_or(0);
            }
        }
        assert_eq!(count, expected, "{name}");
    }

    let reconcile = druidctl(root, &["reconcile", "--env", "e2e"]);
    assert!(reconcile.status.success(), "{}", text(&reconcile));
    assert!(text(&reconcile).contains("3 in sync, 0 drifted, 0 missing"), "{}", text(&reconcile));

    // Someone changes refunds' task duration in the console (the same POST it makes).
    let refunds = datasource("refunds");
    let mut edited = druid.supervisors().get_opt(&refunds).await.unwrap().unwrap();
    edited.spec.as_mut().unwrap().io_config.task_duration = Some("PT2H".into());
    druid.supervisors().submit(&edited, false).await.unwrap();
    let drifted = druidctl(root, &["reconcile", "--env", "e2e", "-o", "json"]);
    assert_eq!(drifted.status.code(), Some(1), "{}", text(&drifted));
    let report: Value = serde_json::from_slice(&drifted.stdout).unwrap();
    let entry = report["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["supervisor"] == refunds.as_str())
        .unwrap();
    assert_eq!(entry["state"], "drifted");
    assert_eq!(entry["diff"][0]["path"], "/spec/ioConfig/taskDuration");
    assert!(entry["changed"].as_str().unwrap().contains("outside druidctl"), "{entry}");

    let healed = druidctl(root, &["reconcile", "--env", "e2e", "--apply"]);
    assert!(healed.status.success(), "{}", text(&healed));
    let live = druid.supervisors().get_opt(&refunds).await.unwrap().unwrap();
    let duration = live.spec.unwrap().io_config.task_duration.unwrap();
    assert!(duration == "PT1H" || duration == "PT3600S", "{duration}");
    let after = druidctl(root, &["reconcile", "--env", "e2e"]);
    assert!(after.status.success(), "{}", text(&after));

    // The served page in a real browser: every pipeline has its row; the screenshot is kept
    // (target/e2e-artifacts/serve.png) for CI to show.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let address = format!("127.0.0.1:{port}");
    let mut serve = std::process::Command::new(crate::druidctl_binary())
        .args(["serve", "--env", "e2e", "--listen", &address, "--interval", "10s"])
        .current_dir(root)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://{address}/");
    let started = std::time::Instant::now();
    while !reqwest::get(format!("{url}api/status")).await.is_ok_and(|response| response.status().is_success())
    {
        assert!(started.elapsed() < support::ROWS_DEADLINE, "serve did not answer");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let dom = chromium(&["--dump-dom", &url]);
    let artifacts = druidctl_tests::repo_root().join("target/e2e-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("serve.png");
    chromium(&[&format!("--screenshot={}", screenshot.display()), "--window-size=1500,700", &url]);
    serve.kill().unwrap();
    let _ = serve.wait();
    for name in PIPELINES {
        assert!(dom.contains(&format!("<td>{}</td>", datasource(name))), "{name} has no row:\n{dom}");
    }
    assert_eq!(dom.matches("<tr class=\"ok\">").count(), 3, "{dom}");
    let png = std::fs::read(&screenshot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{} bytes", png.len());
    #[allow(clippy::print_stderr)] // where CI finds the artefact
    {
        eprintln!("screenshot of the served page: {}", screenshot.display());
    }

    let druid = Arc::new(druid);
    for name in PIPELINES {
        support::remove(&druid, &datasource(name)).await;
    }
}

/// Headless Chromium (Debian's package; `.ci/run` installs it) with `args`; its stdout.
fn chromium(args: &[&str]) -> String {
    let browser = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| {
            std::process::Command::new(name).arg("--version").output().is_ok_and(|out| out.status.success())
        })
        .expect("no Chromium: `apt-get install chromium` (.ci/run does)");
    let output = std::process::Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"])
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{browser} {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}
