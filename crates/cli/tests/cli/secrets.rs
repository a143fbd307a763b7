//! A distinct secret planted in each place one can hide, then the commands that print
//! specs, settings and errors, in text and JSON, quiet and verbose: none of the secrets may
//! appear in any output or registry file.

use std::path::Path;

use druid_client::DruidApi as _;
use serde_json::json;

use crate::druid::druid;
use crate::{druidctl, edit, git, sample_repo};

const DRUID_PASSWORD: &str = "planted-druid-password-1";
const URL_PASSWORD: &str = "planted-url-password-2";
const SASL_PASSWORD: &str = "planted-sasl-password-3";
const LIVE_SASL_PASSWORD: &str = "planted-live-sasl-password-4";
const TOML_PASSWORD: &str = "planted-toml-password-5";
const WEBHOOK_SECRET: &str = "planted-webhook-secret-6";
const SECRETS: [&str; 6] =
    [DRUID_PASSWORD, URL_PASSWORD, SASL_PASSWORD, LIVE_SASL_PASSWORD, TOML_PASSWORD, WEBHOOK_SECRET];

/// The notification receiver's URL, a secret itself (set once by the test).
static HOOK: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn jaas(password: &str) -> String {
    format!(
        r#"org.apache.kafka.common.security.plain.PlainLoginModule required username=\"svc\" password=\"{password}\";"#
    )
}

fn assert_clean(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} prints {secret}:\n{text}");
    }
}

fn run(dir: &Path, url: &str, args: &[&str]) -> (Option<i32>, String) {
    let (code, text) = run_raw(dir, url, args);
    assert_clean(&args.join(" "), &text);
    (code, text)
}

fn run_raw(dir: &Path, url: &str, args: &[&str]) -> (Option<i32>, String) {
    let output = druidctl(dir)
        .args(args)
        .env("DRUIDCTL_DRUID_URL", url)
        .env("DRUIDCTL_DRUID_USER", "admin")
        .env("DRUIDCTL_DRUID_PASSWORD", DRUID_PASSWORD)
        .env("DRUIDCTL_ACTOR", "ci-test")
        .env("DRUIDCTL_NOTIFY_WEBHOOK", HOOK.get().map_or("", String::as_str))
        .output()
        .unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.code(), text)
}

#[tokio::test]
async fn no_planted_secret_reaches_any_output_or_the_registry() {
    let server = druid().await;
    let repo = sample_repo();
    let dir = repo.path();
    edit(
        &dir.join("druidctl.toml"),
        r#"days = ["mon", "tue", "wed", "thu", "fri"]"#,
        r#"days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]"#,
    );
    edit(
        &dir.join("druidctl.toml"),
        "kafka.topic = \"settlement-transactions-dev\"\n",
        &format!(
            "kafka.topic = \"settlement-transactions-dev\"\nkafka.consumer_properties = {{ \"security.protocol\" = \"SASL_SSL\", \"sasl.jaas.config\" = \"{}\" }}\n",
            jaas(SASL_PASSWORD)
        ),
    );
    git(dir, &["commit", "-qam", "SASL on dev"]);
    // Every event goes to a local receiver whose URL is a secret too.
    let receiver = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    HOOK.set(format!("{}/hook/{WEBHOOK_SECRET}", receiver.uri())).unwrap();
    // The Druid URL carries a password too (user-info): every printer must hide it.
    let url = server.uri().replace("http://", &format!("http://admin:{URL_PASSWORD}@"));

    let (code, _) = run(dir, &url, &["deploy", "--env", "dev"]);
    assert_eq!(code, Some(0));
    // A console edit: the live spec's SASL password changes behind druidctl's back.
    let mut live = server.fake.get_spec("settlement_transactions_dev").await.unwrap().unwrap();
    let mut value = serde_json::to_value(&live).unwrap();
    value["spec"]["ioConfig"]["consumerProperties"]["sasl.jaas.config"] =
        json!(jaas(LIVE_SASL_PASSWORD).replace("\\\"", "\""));
    live = serde_json::from_value(value).unwrap();
    server.fake.edit_live_spec("settlement_transactions_dev", live);

    let (_, plan) = run(dir, &url, &["plan", "--env", "dev"]);
    assert!(plan.contains("(secret changed)"), "the change stays visible:\n{plan}");
    for args in [
        &["plan", "--env", "dev", "-o", "json"][..],
        &["plan", "--env", "dev", "-v"],
        &["plan", "--env", "dev", "-vv"],
        &["reconcile", "--env", "dev"],
        &["reconcile", "--env", "dev", "-o", "json"],
        &["config", "view", "--env", "dev", "--show-origin"],
        &["config", "view", "--env", "dev", "--show-origin", "-o", "json"],
        &["status", "--env", "dev", "-v"],
        &["status", "--env", "dev", "-o", "json"],
        &["history", "--env", "dev", "-o", "json"],
        &["render", "--env", "dev"],
        &["verify", "--env", "dev", "-vv"],
        &["incident", "--env", "dev", "--since", "2h"],
        &["version", "--env", "dev", "-v"],
        &["history", "--env", "dev", "-vv"],
        &["status", "--all", "--env", "dev", "-o", "json"],
        &["monitor", "--env", "dev", "-v"],
        &["monitor", "--env", "dev", "-o", "json"],
        &["logs", "--env", "dev", "-v"],
        &["parse-errors", "--env", "dev", "-o", "json"],
        &["migrate", "status", "--env", "dev", "-o", "json"],
        &["notify", "test", "--env", "dev", "-v"],
        &["schemas", "list", "--env", "dev", "-o", "json"],
        &["validate", "--env", "dev", "-vv"],
        &["check", "--against", "develop-latest", "--env", "dev", "-o", "json"],
        &["plan", "--all", "--env", "dev", "-o", "json"],
        &["suspend", "--env", "dev", "-v"],
        &["resume", "--env", "dev", "-o", "json"],
        // Puts the channel's version back over the console edit: its events and lines too.
        &["deploy", "--env", "dev", "-o", "json", "-vv"],
    ] {
        // Each ran for real (a usage error would print nothing worth grepping).
        let (code, text) = run(dir, &url, args);
        assert!(matches!(code, Some(0 | 1)), "{args:?} exited {code:?}:\n{text}");
    }
    // The planted secret is really there: asked for, render prints it.
    let (_, shown) = run_raw(dir, &url, &["render", "--env", "dev", "--show-secrets"]);
    assert!(shown.contains(SASL_PASSWORD), "{shown}");
    // Druid unreachable: the error names the URL without its password.
    let (code, text) = run(
        dir,
        "http://admin:planted-url-password-2@127.0.0.1:9/?token=planted-query-token-6",
        &["status", "--env", "dev", "-v"],
    );
    assert_eq!(code, Some(3), "{text}");
    assert!(!text.contains("planted-query-token-6") && text.contains("token=****"), "{text}");
    // A syntax error on a password line does not echo it.
    std::fs::write(dir.join("broken.toml"), format!("[defaults]\npassword = \"{TOML_PASSWORD}\n")).unwrap();
    for format in ["text", "json"] {
        let (code, text) = run(dir, &url, &["--config", "broken.toml", "validate", "-o", format]);
        assert_eq!(code, Some(2), "{text}");
        assert!(text.contains("line 2"), "{text}");
    }
    // The notifications received carry none of them, and there were some.
    let received = receiver.received_requests().await.unwrap();
    assert!(received.len() >= 2, "{} events", received.len());
    for request in &received {
        assert_clean("a notification", &String::from_utf8_lossy(&request.body));
    }
    // Nor do the served pages.
    let (_serve, base) = crate::druid::spawn_serve(dir, &url, Some(DRUID_PASSWORD));
    let mut served = false;
    for _ in 0..200 {
        if reqwest::get(format!("{base}/api/status"))
            .await
            .is_ok_and(|response| response.status().is_success())
        {
            served = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(served, "serve answered no status");
    for page in ["/", "/api/status", "/metrics", "/healthz", "/pipelines/-/history"] {
        let text = reqwest::get(format!("{base}{page}")).await.unwrap().text().await.unwrap();
        assert_clean(page, &text);
    }
    // Nor does the registry keep any of them.
    for entry in walkdir::WalkDir::new(dir.join(".registry")) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let bytes = std::fs::read(entry.path()).unwrap();
            assert_clean(&entry.path().display().to_string(), &String::from_utf8_lossy(&bytes));
        }
    }
}
