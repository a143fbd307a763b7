//! The Druid commands against a wiremock Druid and a temporary registry.

use std::fmt::Write as _;
use std::sync::Arc;

use druid_client::DruidApi as _;
use druid_client::testing::FakeDruid;
use predicates::prelude::*;
use serde_json::Value;
use wiremock::MockServer;

use crate::{druidctl, edit, git, sample_repo};

const PASSWORD: &str = "s3cr3t-never-printed";

/// The shared fake Druid (`druid_client::testing`), served over HTTP on a loopback port:
/// it remembers what druidctl submits, so status, drift and history see a real sequence.
/// The server lives as long as the returned handle.
pub struct Druid {
    pub fake: Arc<FakeDruid>,
    server: MockServer,
}

impl Druid {
    pub fn uri(&self) -> String {
        self.server.uri()
    }
}

pub async fn druid() -> Druid {
    let fake = Arc::new(FakeDruid::new());
    let server = fake.serve().await;
    Druid { fake, server }
}

/// The sample repository with the dev window open every day (committed): tests run any day.
fn any_day_repo() -> tempfile::TempDir {
    let repo = sample_repo();
    edit(
        &repo.path().join("druidctl.toml"),
        r#"days = ["mon", "tue", "wed", "thu", "fri"]"#,
        r#"days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]"#,
    );
    git(repo.path(), &["commit", "-qam", "deploy any day"]);
    repo
}

pub(crate) fn with_druid(command: &mut assert_cmd::Command, server: &Druid) {
    command
        .env("DRUIDCTL_DRUID_URL", server.uri())
        .env("DRUIDCTL_DRUID_USER", "admin")
        .env("DRUIDCTL_DRUID_PASSWORD", PASSWORD)
        .env("DRUIDCTL_ACTOR", "ci-test");
}

fn never_shows_the_password(output: &std::process::Output) {
    for stream in [&output.stdout, &output.stderr] {
        assert!(!String::from_utf8_lossy(stream).contains(PASSWORD), "the password was printed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_status_verify_history_against_a_mock_druid() {
    let server = druid().await;
    let repo = sample_repo();
    let dir = repo.path();
    let commit = git(dir, &["rev-parse", "--short=7", "HEAD"]);

    // The dev window is Monday to Friday: the override keeps this test green any day.
    let mut deploy = druidctl(dir);
    deploy.args(["deploy", "--env", "dev", "--ignore-window", "--reason", "tests run every day"]);
    with_druid(&mut deploy, &server);
    let output = deploy.output().unwrap();
    never_shows_the_password(&output);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(&format!("deployed {commit} to dev (nothing -> {commit})")), "{stdout}");
    assert!(stdout.contains("unparseable_ratio") && stdout.contains("0.00 % (0 of 990)"), "{stdout}");

    let mut status = druidctl(dir);
    status.args(["status", "--env", "dev", "--output", "json"]);
    with_druid(&mut status, &server);
    let output = status.output().unwrap();
    never_shows_the_password(&output);
    let snapshot: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(snapshot["state"], "RUNNING");
    assert_eq!(snapshot["total_lag_records"], 10);
    assert_eq!(snapshot["lag_seconds"], 1.0); // 10 records at 10 rows/s
    assert_eq!(snapshot["lag_estimated"], true);

    let mut verify = druidctl(dir);
    verify.args(["verify", "--env", "dev"]);
    with_druid(&mut verify, &server);
    verify.assert().success().stdout(
        predicate::str::contains("sql_probe").and(predicate::str::contains("990 rows in the last hour")),
    );

    let mut history = druidctl(dir);
    history.args(["history", "--env", "dev", "-o", "json"]);
    let records: Value = serde_json::from_slice(&history.output().unwrap().stdout).unwrap();
    assert_eq!(records[0]["action"], "deploy");
    assert_eq!(records[0]["outcome"], "succeeded");
    assert_eq!(records[0]["by"], "ci-test");

    let mut suspend = druidctl(dir);
    suspend.args(["suspend", "--env", "dev"]);
    with_druid(&mut suspend, &server);
    suspend
        .assert()
        .success()
        .stdout(predicate::str::contains("settlement_transactions_dev (dev) suspended"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prod_needs_yes_off_a_terminal_and_json_is_event_lines() {
    let server = druid().await;
    let repo = sample_repo();
    // prod asks for confirmation after the checks that can refuse, with the plan in the
    // question; off a terminal without --yes it refuses (exit 2) and nothing is submitted.
    let mut deploy = druidctl(repo.path());
    deploy.args(["deploy", "--env", "prod", "--ignore-window", "--reason", "tests"]);
    deploy.env("DRUIDCTL_REGISTRY", "file://.registry");
    with_druid(&mut deploy, &server);
    deploy.assert().code(2).stderr(
        predicate::str::contains("pass --yes")
            .and(predicate::str::contains("Deploy to prod (settlement_transactions): stable no version -> "))
            .and(predicate::str::contains("; a new supervisor")),
    );
    assert!(server.fake.submitted().is_empty(), "nothing was submitted");

    let mut json = druidctl(repo.path());
    json.args(["deploy", "--env", "dev", "--ignore-window", "--reason", "tests", "--output", "json"]);
    with_druid(&mut json, &server);
    let output = json.output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let events: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(
        events.iter().any(|event| event["event"] == "check" && event["check"]["name"] == "running_tasks")
    );
    assert_eq!(events.last().unwrap()["result"]["outcome"], "deployed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_druid_exits_3_and_publishes_nothing() {
    let repo = sample_repo();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut deploy = druidctl(repo.path());
    deploy
        .args(["deploy", "--env", "dev", "--ignore-window", "--reason", "tests"])
        .env("DRUIDCTL_DRUID_URL", format!("http://127.0.0.1:{port}"))
        .env("DRUIDCTL_DRUID_USER", "admin")
        .env("DRUIDCTL_DRUID_PASSWORD", PASSWORD);
    let output = deploy.output().unwrap();
    never_shows_the_password(&output);
    assert_eq!(output.status.code(), Some(3), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stderr).contains("Druid failed while reaching Druid"));
    assert!(!repo.path().join(".registry/schemas").exists(), "nothing was published");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_to_previous_from_the_command_line() {
    let server = druid().await;
    let repo = sample_repo();
    let dir = repo.path();
    let first = git(dir, &["rev-parse", "--short=7", "HEAD"]);
    let deploy = |dir: &std::path::Path| {
        let mut deploy = druidctl(dir);
        deploy.args(["deploy", "--env", "dev", "--ignore-window", "--reason", "tests"]);
        with_druid(&mut deploy, &server);
        deploy.assert().success();
    };
    deploy(dir);
    edit(
        &dir.join("config/dimensions.json"),
        r#"{ "name": "country" },"#,
        r#"{ "name": "country" }, { "name": "acquirerRef", "from": "acquirerId" },"#,
    );
    git(dir, &["commit", "-qam", "a new dimension"]);
    deploy(dir);
    let mut rollback = druidctl(dir);
    rollback.args(["rollback", "--env", "dev", "--schema-version", "previous"]);
    with_druid(&mut rollback, &server);
    rollback.assert().success().stdout(predicate::str::contains(format!("rolled dev back to {first}")));
    let mut history = druidctl(dir);
    history.args(["history", "--env", "dev"]);
    history
        .assert()
        .success()
        .stdout(predicate::str::contains("rollback").and(predicate::str::contains("succeeded")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_prints_alerts_and_serves_prometheus_metrics() {
    let server = druid().await;
    let repo = sample_repo();
    let mut deploy = druidctl(repo.path());
    deploy.args(["deploy", "--env", "dev", "--ignore-window", "--reason", "tests"]);
    with_druid(&mut deploy, &server);
    deploy.assert().success();
    let mut monitor = druidctl(repo.path());
    monitor.args(["monitor", "--env", "dev"]);
    with_druid(&mut monitor, &server);
    monitor
        .assert()
        .success()
        .stdout(predicate::str::contains("ingestion_lag").and(predicate::str::contains("unparseable_ratio")));

    let mut status_all = druidctl(repo.path());
    status_all.args(["status", "--all", "--env", "dev"]);
    with_druid(&mut status_all, &server);
    status_all.assert().success().stdout(
        predicate::str::contains("settlement_transactions_dev").and(predicate::str::contains("RUNNING")),
    );
    let mut fleet = druidctl(repo.path());
    fleet.args(["status", "--all", "--env", "dev", "--output", "json"]);
    with_druid(&mut fleet, &server);
    let fleet: Value = serde_json::from_slice(&fleet.output().unwrap().stdout).unwrap();
    let row = &fleet["pipelines"][0];
    assert_eq!(
        (row["pipeline"].as_str(), row["datasource"].as_str()),
        (Some("-"), Some("settlement_transactions_dev"))
    );
    assert_eq!((row["state"].as_str(), row["drift"].as_str()), (Some("RUNNING"), Some("in-sync")));
    assert_eq!(row["live_version"], row["channel_version"]);
    assert_eq!(row["last_action"].as_str().map(|action| action.starts_with("deploy succeeded")), Some(true));
    assert_eq!(fleet["unmanaged"], serde_json::json!([]));

    // --prometheus keeps watching; scrape it, then stop it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // Stopped by its guard on every way out, a failed assertion included.
    let child = Child(
        std::process::Command::new(assert_cmd::cargo::cargo_bin("druidctl"))
            .args([
                "monitor",
                "--env",
                "dev",
                "--interval",
                "1s",
                "--prometheus",
                &format!("127.0.0.1:{port}"),
            ])
            .current_dir(repo.path())
            .env("DRUIDCTL_DRUID_URL", server.uri())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut body = String::new();
    for _ in 0..100 {
        if let Ok(response) = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await {
            body = response.text().await.unwrap();
            if body.contains("druidctl_ingestion_lag_seconds{") {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    drop(child);
    let scrape = prometheus_parse::Scrape::parse(body.lines().map(|line| Ok(line.to_owned()))).unwrap();
    let lag = scrape
        .samples
        .iter()
        .find(|sample| sample.metric == "druidctl_ingestion_lag_seconds")
        .expect("scraped");
    assert_eq!(lag.labels.get("env"), Some("dev"));
    assert!(
        matches!(lag.value, prometheus_parse::Value::Gauge(value) if (value - 1.0).abs() < 1e-9),
        "{:?}",
        lag.value
    );
    assert!(scrape.samples.iter().any(|sample| sample.metric == "druidctl_alerts_breached"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_supervisor_says_so_and_controls_are_idempotent() {
    let server = druid().await;
    let repo = sample_repo();
    // Nothing deployed yet: not "check the Druid URL" but "deploy first".
    let mut status = druidctl(repo.path());
    status.args(["status", "--env", "dev"]);
    with_druid(&mut status, &server);
    status.assert().code(2).stderr(
        predicate::str::contains("no supervisor `settlement_transactions_dev`")
            .and(predicate::str::contains("druidctl deploy --env dev"))
            .and(predicate::str::contains("Druid URL").not()),
    );
    let mut deploy = druidctl(repo.path());
    deploy.args(["deploy", "--env", "dev", "--ignore-window", "--reason", "tests"]);
    with_druid(&mut deploy, &server);
    deploy.assert().success();
    for (command, expected) in [
        ("suspend", "settlement_transactions_dev (dev) suspended"),
        ("suspend", "settlement_transactions_dev (dev) was already suspended: nothing to do"),
        ("resume", "settlement_transactions_dev (dev) resumed"),
        ("resume", "settlement_transactions_dev (dev) was already running: nothing to do"),
    ] {
        let mut control = druidctl(repo.path());
        control.args([command, "--env", "dev"]);
        with_druid(&mut control, &server);
        control.assert().success().stdout(predicate::str::contains(expected));
    }
    // Druid was asked once each; the no-ops are recorded as such.
    assert_eq!(server.fake.calls(druid_client::testing::Call::Suspend), 1);
    assert_eq!(server.fake.calls(druid_client::testing::Call::Resume), 1);
    let mut history = druidctl(repo.path());
    history.args(["history", "--env", "dev", "-o", "json"]);
    let records: Value = serde_json::from_slice(&history.output().unwrap().stdout).unwrap();
    let outcomes: Vec<_> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|record| (record["action"].clone(), record["outcome"].clone()))
        .collect();
    assert!(
        outcomes.ends_with(&[
            ("suspend".into(), "succeeded".into()),
            ("suspend".into(), "no-op".into()),
            ("resume".into(), "succeeded".into()),
            ("resume".into(), "no-op".into()),
        ]),
        "{outcomes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_automatic_rollback_says_the_environment_is_unhealthy() {
    use druid_client::testing::Rows;
    let server = druid().await;
    let repo = sample_repo();
    let dir = repo.path();
    let deploy = || {
        let mut deploy = druidctl(dir);
        deploy.args(["deploy", "--env", "dev", "--ignore-window", "--reason", "tests"]);
        with_druid(&mut deploy, &server);
        deploy.output().unwrap()
    };
    assert!(deploy().status.success());
    edit(
        &dir.join("config/dimensions.json"),
        r#"{ "name": "country" },"#,
        r#"{ "name": "country" }, { "name": "acquirerRef", "from": "acquirerId" },"#,
    );
    git(dir, &["commit", "-qam", "a new dimension"]);
    // The new version and the restored one both read 5 % garbage.
    server.fake.poison(2, Rows::new(950, 50)).poison(3, Rows::new(950, 50));
    let output = deploy();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap();
    assert!(last.contains("was restored but fails verification too (unparseable_ratio)"), "{last}");
    assert!(last.contains("dev is UNHEALTHY") && last.contains("druidctl suspend --env dev"), "{last}");
    assert!(!last.contains("rolled back to"), "{last}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("rolling back ") && stderr.contains("rolled back "), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_exit_codes_say_change_refusal_or_nothing() {
    let server = druid().await;
    let repo = any_day_repo();
    let dir = repo.path();
    let plan = |extra: &[&str]| {
        let mut plan = druidctl(dir);
        plan.args(["plan", "--env", "dev"]).args(extra);
        with_druid(&mut plan, &server);
        plan.output().unwrap()
    };
    // Nothing deployed: changes (4 with --exit-code, 0 without).
    assert_eq!(plan(&["--exit-code"]).status.code(), Some(4));
    assert_eq!(plan(&[]).status.code(), Some(0));
    let json: Value = serde_json::from_slice(&plan(&["--output", "json"]).stdout).unwrap();
    assert_eq!((json["changes"].clone(), json["refused"].clone()), (Value::Bool(true), Value::Null));
    let mut deploy = druidctl(dir);
    deploy.args(["deploy", "--env", "dev"]);
    with_druid(&mut deploy, &server);
    deploy.assert().success();
    // Deployed: nothing to do.
    let nothing = plan(&["--exit-code"]);
    assert_eq!(nothing.status.code(), Some(0), "{}", String::from_utf8_lossy(&nothing.stdout));
    // A mapping error: refused (1), and the problem is printed, not just counted.
    edit(&dir.join("config/dimensions.json"), r#"{ "name": "country" },"#, r#"{ "name": "countryy" },"#);
    let refused = plan(&["--exit-code"]);
    assert_eq!(refused.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&refused.stdout);
    assert!(stdout.contains("countryy") && stdout.contains("did you mean `country`?"), "{stdout}");
    assert!(stdout.contains("deploy would: refuse: "), "{stdout}");
    let json: Value = serde_json::from_slice(&plan(&["--output", "json"]).stdout).unwrap();
    assert_eq!(json["refused"]["kind"], "invalid-mapping");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_survives_druid_errors_and_says_when() {
    use std::io::BufRead as _;
    let server = druid().await;
    let repo = sample_repo();
    let mut deploy = druidctl(repo.path());
    deploy.args(["deploy", "--env", "dev", "--ignore-window", "--reason", "tests"]);
    with_druid(&mut deploy, &server);
    deploy.assert().success();
    let mut too_fast = druidctl(repo.path());
    too_fast.args(["monitor", "--env", "dev", "--watch", "--interval", "0s"]);
    too_fast.assert().code(2).stderr(predicate::str::contains("at least 1s"));
    // The next status read fails (a 400 is not retried by the client).
    server.fake.fail(druid_client::testing::Call::SupervisorStatus, 1, 400, r#"{"error":"boom"}"#);
    let mut child = Child(
        std::process::Command::new(assert_cmd::cargo::cargo_bin("druidctl"))
            .args(["monitor", "--env", "dev", "--watch", "--interval", "1s", "--output", "json"])
            .current_dir(repo.path())
            .env("DRUIDCTL_DRUID_URL", server.uri())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || {
        std::io::BufReader::new(stdout).lines().take(2).map(Result::unwrap).collect::<Vec<_>>()
    });
    let lines = tokio::time::timeout(std::time::Duration::from_secs(30), lines).await.unwrap().unwrap();
    drop(child);
    let ticks: Vec<Value> = lines.iter().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(ticks[0]["kind"], "failed", "{ticks:?}");
    assert!(ticks[0]["error"].as_str().unwrap().contains("boom"), "{ticks:?}");
    assert_eq!(ticks[0]["retry_in_secs"], 2);
    assert_eq!(ticks[1]["kind"], "report", "it kept going: {ticks:?}");
    assert_eq!(ticks[1]["report"]["breached"], false);
    for tick in &ticks {
        let at = tick["at"].as_str().unwrap();
        assert!(at.parse::<jiff::Timestamp>().is_ok() && at.ends_with('Z'), "{at}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prod_refuses_before_asking_and_a_declined_prompt_exits_5() {
    let server = druid().await;
    let repo = sample_repo();
    let dir = repo.path();
    // Refused anyway (the mapping is wrong): no question is asked, the deploy's own error.
    edit(&dir.join("config/dimensions.json"), r#"{ "name": "country" },"#, r#"{ "name": "countryy" },"#);
    let mut deploy = druidctl(dir);
    deploy.args(["deploy", "--env", "prod", "--ignore-window", "--reason", "tests"]);
    deploy.env("DRUIDCTL_REGISTRY", "file://.registry");
    with_druid(&mut deploy, &server);
    deploy.assert().code(1).stderr(
        predicate::str::contains("does not match the schema")
            .and(predicate::str::contains("pass --yes").not()),
    );
    git(dir, &["checkout", "--", "config/dimensions.json"]);
    // On a terminal (`script` gives one), answering no exits 5 and submits nothing.
    let druidctl_bin = assert_cmd::cargo::cargo_bin("druidctl");
    let command = format!(
        "{} deploy --env prod --ignore-window --reason tests; echo \"[exit $?]\"",
        druidctl_bin.display()
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(dir)
        .env("DRUIDCTL_DRUID_URL", server.uri())
        .env("DRUIDCTL_REGISTRY", "file://.registry")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The answer, typed on the terminal once the question is there.
    std::thread::sleep(std::time::Duration::from_millis(500));
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"n\n").unwrap();
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("Deploy to prod (settlement_transactions)") && text.contains("? [y/N]"), "{text}");
    assert!(text.contains("declined: nothing was done") && text.contains("[exit 5]"), "{text}");
    assert!(server.fake.submitted().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rollback_prompt_says_what_previous_is() {
    let server = druid().await;
    let repo = sample_repo();
    let dir = repo.path();
    let prod = |args: &[&str]| {
        let mut command = druidctl(dir);
        command.args(args).env("DRUIDCTL_REGISTRY", "file://.registry");
        with_druid(&mut command, &server);
        command.output().unwrap()
    };
    let deploy = ["deploy", "--env", "prod", "--ignore-window", "--reason", "tests", "--yes"];
    assert!(prod(&deploy).status.success());
    let first = git(dir, &["rev-parse", "--short=7", "HEAD"]);
    edit(
        &dir.join("config/dimensions.json"),
        r#"{ "name": "country" },"#,
        r#"{ "name": "country" }, { "name": "acq", "from": "acquirerId" },"#,
    );
    git(dir, &["commit", "-qam", "a new dimension"]);
    let second = git(dir, &["rev-parse", "--short=7", "HEAD"]);
    assert!(prod(&deploy).status.success());
    let asked = prod(&["rollback", "--env", "prod"]);
    assert_eq!(asked.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&asked.stderr);
    assert!(
        stderr
            .contains(&format!("Roll prod (settlement_transactions) back: {second} -> {first} (`previous`)")),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_from_the_command_line() {
    let server = druid().await;
    let repo = any_day_repo();
    let dir = repo.path();
    let run = |args: &[&str]| {
        let mut command = druidctl(dir);
        command.args(args);
        with_druid(&mut command, &server);
        let output = command.output().unwrap();
        never_shows_the_password(&output);
        output
    };
    let text = |output: &std::process::Output| {
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
    };
    assert!(run(&["deploy", "--env", "dev"]).status.success());
    // Nothing to cut over yet: exit 1, and the hint says how a migration starts.
    let none = run(&["migrate", "cutover", "--env", "dev"]);
    assert_eq!(none.status.code(), Some(1), "{}", text(&none));
    assert!(text(&none).contains("changes in the project file"), "{}", text(&none));

    // The breaking commit with a new datasource and topic.
    edit(
        &dir.join("schemas/proto/settlement_transaction.proto"),
        "string country = 14;",
        "string country = 17;",
    );
    edit(
        &dir.join("druidctl.toml"),
        r#"datasource = "settlement_transactions_dev""#,
        r#"datasource = "settlement_transactions_dev_v2""#,
    );
    git(dir, &["commit", "-qam", "country moves to 17, in a new datasource"]);
    let plan = run(&["plan", "--env", "dev"]);
    assert!(plan.status.success(), "{}", text(&plan));
    assert!(
        text(&plan).contains("migration: start a migration: from settlement_transactions_dev"),
        "{}",
        text(&plan)
    );
    let deploy = run(&["deploy", "--env", "dev"]);
    assert!(deploy.status.success(), "{}", text(&deploy));
    let status: Value =
        serde_json::from_slice(&run(&["migrate", "status", "--env", "dev", "-o", "json"]).stdout).unwrap();
    assert_eq!(status["state"]["migration"]["state"], "dual");
    assert_eq!(status["sides"][0]["placement"]["datasource"], "settlement_transactions_dev");
    assert_eq!(status["sides"][0]["ingestion"]["state"], "RUNNING");
    let human = text(&run(&["status", "--env", "dev"]));
    assert!(human.contains("old side") && human.contains("settlement_transactions_dev: RUNNING"), "{human}");
    let sql = run(&["migrate", "sql", "--env", "dev"]);
    let stdout = String::from_utf8_lossy(&sql.stdout);
    assert!(stdout.starts_with("SELECT\n  \"__time\","), "{stdout}");
    assert!(stdout.contains("FROM \"settlement_transactions_dev\"\nUNION ALL\n"), "{stdout}");
    assert!(String::from_utf8_lossy(&sql.stderr).contains("-- country string <- country (same-name"));

    // Abort, then (the project file unchanged) the next deploy starts it again; cutover ends it.
    let abort = run(&["migrate", "abort", "--env", "dev"]);
    assert!(abort.status.success(), "{}", text(&abort));
    assert!(text(&abort).contains("the project file still names"), "{}", text(&abort));
    assert!(run(&["deploy", "--env", "dev"]).status.success());
    let cutover = run(&["migrate", "cutover", "--env", "dev"]);
    assert!(cutover.status.success(), "{}", text(&cutover));
    assert!(
        text(&cutover).contains("cut over: settlement_transactions_dev terminated"),
        "{}",
        text(&cutover)
    );
    let history = text(&run(&["history", "--env", "dev"]));
    for action in ["migration-abort", "cutover"] {
        assert!(history.contains(action), "{history}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_from_the_command_line() {
    let server = druid().await;
    let repo = any_day_repo();
    let dir = repo.path();
    let mut text = std::fs::read_to_string(dir.join("druidctl.toml")).unwrap();
    for name in ["payments", "refunds", "payouts"] {
        let _ = write!(
            text,
            "\n[pipelines.{name}.environments.dev]\ndatasource = \"{name}_dev\"\nkafka.topic = \"{name}-dev\"\n\
             [pipelines.{name}.environments.staging]\ndatasource = \"{name}_staging\"\n\
             [pipelines.{name}.environments.prod]\ndatasource = \"{name}\"\n"
        );
    }
    std::fs::write(dir.join("druidctl.toml"), text).unwrap();
    git(dir, &["commit", "-qam", "three pipelines"]);
    let run = |args: &[&str]| {
        let mut command = druidctl(dir);
        command.args(args);
        with_druid(&mut command, &server);
        command.output().unwrap()
    };
    let text = |output: &std::process::Output| {
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
    };
    // Several pipelines and no selection: the error names them.
    let unselected = run(&["plan", "--env", "dev"]);
    assert_eq!(unselected.status.code(), Some(2));
    assert!(
        text(&unselected).contains("pass --pipeline NAME (one of: payments, payouts, refunds)"),
        "{}",
        text(&unselected)
    );
    let typo = run(&["plan", "--env", "dev", "--pipeline", "refund"]);
    assert!(text(&typo).contains("did you mean `refunds`?"), "{}", text(&typo));
    // One pipeline deploys alone; then --all deploys the other two and leaves it.
    assert!(run(&["deploy", "--env", "dev", "--pipeline", "payments"]).status.success());
    let all = run(&["deploy", "--env", "dev", "--all", "--parallel", "2"]);
    assert!(all.status.success(), "{}", text(&all));
    let table = String::from_utf8_lossy(&all.stdout);
    let outcome = |pipeline: &str| {
        table
            .lines()
            .find(|line| line.trim_start().starts_with(pipeline))
            .unwrap()
            .split_whitespace()
            .nth(4)
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        (outcome("payments"), outcome("refunds"), outcome("payouts")),
        ("unchanged".into(), "deployed".into(), "deployed".into()),
        "{table}"
    );
    // plan --all: every plan in one document, in order; nothing left to change.
    let plans = run(&["plan", "--env", "dev", "--all", "--exit-code", "-o", "json"]);
    assert_eq!(plans.status.code(), Some(0), "{}", text(&plans));
    let plans: Value = serde_json::from_slice(&plans.stdout).unwrap();
    let names: Vec<&str> =
        plans.as_array().unwrap().iter().filter_map(|plan| plan["pipeline"].as_str()).collect();
    assert_eq!(names, ["payments", "payouts", "refunds"]);
    assert!(plans.as_array().unwrap().iter().all(|plan| plan["plan"]["changes"] == false), "{plans}");
    let history = run(&["history", "--env", "dev", "--pipeline", "refunds", "-o", "json"]);
    let records: Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(records.as_array().unwrap().len(), 1, "each pipeline keeps its own history");
    // In sync; a console edit of refunds is drift (exit 1), --apply heals it (exit 0).
    let reconcile = run(&["reconcile", "--env", "dev"]);
    assert!(reconcile.status.success(), "{}", text(&reconcile));
    assert!(text(&reconcile).contains("3 in sync, 0 drifted"), "{}", text(&reconcile));
    let mut edited = server.fake.get_spec("refunds_dev").await.unwrap().unwrap();
    edited.spec.as_mut().unwrap().io_config.task_duration = Some("PT4H".into());
    server.fake.edit_live_spec("refunds_dev", edited);
    let drifted = run(&["reconcile", "--env", "dev"]);
    assert_eq!(drifted.status.code(), Some(1), "{}", text(&drifted));
    assert!(
        text(&drifted).contains("~ /spec/ioConfig/taskDuration: \"PT4H\" -> \"PT1H\""),
        "{}",
        text(&drifted)
    );
    let healed = run(&["reconcile", "--env", "dev", "--apply"]);
    assert!(healed.status.success(), "{}", text(&healed));
    assert!(text(&healed).contains("healed"), "{}", text(&healed));
    // --all on a read-only command runs each pipeline under a heading.
    let verify = run(&["verify", "--env", "dev", "--all"]);
    assert!(verify.status.success(), "{}", text(&verify));
    assert_eq!(String::from_utf8_lossy(&verify.stderr).matches("== pipeline ").count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_shows_every_pipeline_and_reconcile_watch_serves_metrics() {
    let server = druid().await;
    let repo = any_day_repo();
    let dir = repo.path();
    let mut text = std::fs::read_to_string(dir.join("druidctl.toml")).unwrap();
    for name in ["payments", "refunds"] {
        let _ = write!(
            text,
            "\n[pipelines.{name}.environments.dev]\ndatasource = \"{name}_dev\"\n\
             [pipelines.{name}.environments.staging]\ndatasource = \"{name}_staging\"\n\
             [pipelines.{name}.environments.prod]\ndatasource = \"{name}\"\n"
        );
    }
    std::fs::write(dir.join("druidctl.toml"), text).unwrap();
    git(dir, &["commit", "-qam", "two pipelines"]);
    let mut deploy = druidctl(dir);
    deploy.args(["deploy", "--env", "dev", "--all"]);
    with_druid(&mut deploy, &server);
    deploy.assert().success();

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // Children stopped by their guard on every way out.
    let spawn = |args: &[&str]| {
        Child(
            std::process::Command::new(assert_cmd::cargo::cargo_bin("druidctl"))
                .args(args)
                .current_dir(dir)
                .env("DRUIDCTL_DRUID_URL", server.uri())
                .env("DRUIDCTL_DRUID_PASSWORD", PASSWORD)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let address = format!("127.0.0.1:{port}");
    let child = spawn(&["serve", "--env", "dev", "--listen", &address, "--interval", "1s"]);
    let base = format!("http://{address}");
    let mut status = Value::Null;
    for _ in 0..100 {
        if let Ok(response) = reqwest::get(format!("{base}/api/status")).await
            && response.status().is_success()
        {
            status = response.json().await.unwrap();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let page = reqwest::get(format!("{base}/")).await.unwrap().text().await.unwrap();
    let history = reqwest::get(format!("{base}/pipelines/refunds/history")).await.unwrap();
    let history_status = history.status();
    let history = history.text().await.unwrap();
    let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    let missing = reqwest::get(format!("{base}/pipelines/nope/history")).await.unwrap().status();
    drop(child);
    // /api/status is the document `status --all -o json` prints.
    let mut cli = druidctl(dir);
    cli.args(["status", "--all", "--env", "dev", "-o", "json"]);
    with_druid(&mut cli, &server);
    let printed: Value = serde_json::from_slice(&cli.output().unwrap().stdout).unwrap();
    assert_eq!(status["pipelines"].as_array().unwrap().len(), 2, "{status}");
    for (served, printed) in
        status["pipelines"].as_array().unwrap().iter().zip(printed["pipelines"].as_array().unwrap())
    {
        for key in
            ["pipeline", "datasource", "channel_version", "live_version", "drift", "state", "last_action"]
        {
            assert_eq!(served[key], printed[key], "{key}");
        }
    }
    assert!(
        page.contains("<td><a href=\"/pipelines/payments/history\">payments</a></td><td>payments_dev</td>"),
        "{page}"
    );
    assert_eq!(page.matches("<tr class=\"ok\">").count(), 2, "{page}");
    assert!(!page.contains("<script"), "readable without JavaScript");
    assert!(
        history_status.is_success() && history.contains("deploy") && history.contains("succeeded"),
        "{history}"
    );
    assert_eq!(missing, reqwest::StatusCode::NOT_FOUND);
    let scrape = prometheus_parse::Scrape::parse(metrics.lines().map(|line| Ok(line.to_owned()))).unwrap();
    let in_sync = scrape
        .samples
        .iter()
        .find(|sample| sample.metric == "druidctl_pipelines" && sample.labels.get("state") == Some("in-sync"))
        .expect("scraped");
    assert!(matches!(in_sync.value, prometheus_parse::Value::Gauge(value) if (value - 2.0).abs() < 1e-9));
    assert!(scrape.samples.iter().any(|sample| sample.metric == "druidctl_reconcile_last_timestamp_seconds"));

    // reconcile --watch with metrics: a console edit shows as drift age.
    let mut edited = server.fake.get_spec("refunds_dev").await.unwrap().unwrap();
    edited.spec.as_mut().unwrap().io_config.replicas = Some(3);
    server.fake.edit_live_spec("refunds_dev", edited);
    let child =
        spawn(&["reconcile", "--env", "dev", "--watch", "--interval", "1s", "--prometheus", &address]);
    let mut body = String::new();
    for _ in 0..100 {
        if let Ok(response) = reqwest::get(format!("{base}/metrics")).await {
            body = response.text().await.unwrap();
            if body.contains("druidctl_pipeline_drift_age_seconds{") {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    drop(child);
    assert!(
        body.contains(
            "druidctl_pipeline_in_sync{env=\"dev\",pipeline=\"refunds\",supervisor=\"refunds_dev\"} 0"
        ),
        "{body}"
    );
    assert!(body.contains("druidctl_pipelines{env=\"dev\",state=\"drifted\"} 1"), "{body}");
}

#[tokio::test]
async fn a_quiet_topic_deploys_unverified_and_require_evidence_exits_1() {
    let server = druid().await;
    // The new tasks read nothing: one look (observe_secs = 0 in these tests) decides nothing.
    server.fake.set_rows(druid_client::testing::Rows { processed: 0, unparseable: 0, rates: [0.0; 3] });
    server.fake.set_sql_rows(0);
    let repo = any_day_repo();
    let mut deploy = druidctl(repo.path());
    deploy.args(["deploy", "--env", "dev"]);
    with_druid(&mut deploy, &server);
    deploy.assert().success().stdout(
        predicate::str::contains("verdict: UNVERIFIED in 0.0 s: 0 of 0 unparseable")
            .and(predicate::str::contains("UNVERIFIED: no record read by the new tasks in 0 s")),
    );
    let mut history = druidctl(repo.path());
    history.args(["history", "--env", "dev", "-o", "json"]);
    with_druid(&mut history, &server);
    let output = history.assert().success().get_output().stdout.clone();
    let records: Value = serde_json::from_slice(&output).unwrap();
    let last = records.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["outcome"].as_str(), last["verdict"]["decision"].as_str()),
        (Some("unverified"), Some("unverified"))
    );
    // Pipelines that want evidence fail on it; the spec stays live either way.
    let mut verify = druidctl(repo.path());
    verify.args(["verify", "--env", "dev", "--require-evidence", "-o", "json"]);
    with_druid(&mut verify, &server);
    let output = verify.assert().code(1).get_output().stdout.clone();
    let report: Value = serde_json::from_slice(&output).unwrap();
    assert_eq!(
        (report["passed"].as_bool(), report["verdict"]["decision"].as_str()),
        (Some(true), Some("unverified"))
    );
    assert_eq!(server.fake.submitted().len(), 1, "nothing rolled back");
}

/// Kills a spawned druidctl on every way out of a test, panics included.
pub struct Child(pub std::process::Child);

/// `druidctl serve --env dev` on a free loopback port, reconciling every second against
/// `druid_url`; the child (killed when dropped) and the base URL.
pub fn spawn_serve(dir: &std::path::Path, druid_url: &str, password: Option<&str>) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let address = format!("127.0.0.1:{port}");
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("druidctl"));
    command
        .args(["serve", "--env", "dev", "--listen", &address, "--interval", "1s"])
        .current_dir(dir)
        .env("DRUIDCTL_DRUID_URL", druid_url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(password) = password {
        command.env("DRUIDCTL_DRUID_PASSWORD", password);
    }
    (Child(command.spawn().unwrap()), format!("http://{address}"))
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_turns_unhealthy_after_failed_rounds_and_sends_its_security_headers() {
    let server = druid().await;
    let repo = any_day_repo();
    let dir = repo.path();
    // Every reconcile round fails (a 400 is not retried): Druid refuses `?full`.
    server.fake.fail(
        druid_client::testing::Call::SupervisorsFull,
        10_000,
        400,
        r#"{"error":"overlord says no"}"#,
    );
    let (_child, base) = spawn_serve(dir, &server.uri(), None);
    let mut answer = None;
    for _ in 0..300 {
        if let Ok(response) = reqwest::get(format!("{base}/healthz")).await
            && response.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE
        {
            answer = Some(response);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let response = answer.expect("/healthz never turned unhealthy");
    let headers = response.headers().clone();
    let body = response.text().await.unwrap();
    assert!(
        body.starts_with("unhealthy: 3 reconcile rounds failed in a row")
            && body.contains("overlord says no"),
        "{body}"
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["content-security-policy"].to_str().unwrap().starts_with("default-src 'none'"),
        "{headers:?}"
    );
    let status = reqwest::get(format!("{base}/api/status")).await.unwrap();
    assert_eq!(status.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    let status: Value = status.json().await.unwrap();
    assert!(status["error"].as_str().unwrap().contains("overlord says no"), "{status}");
    assert!(status["failed_rounds"].as_u64().unwrap() >= 3, "{status}");
}
